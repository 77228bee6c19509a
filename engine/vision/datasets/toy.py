"""Synthetic 2-D classification sets for demos: ``make_moons``, ``make_circles``, ``make_spirals``,
``make_xor``, ``make_blobs`` return ``(X float32 [N, 2], y int64 [N])``; ``Toy2D(kind, ...)`` wraps
one as a ``TensorDataset``.  Randomness comes from ``seed`` if given, else ``generator`` (an
``engine.Generator``), else the global generator (so ``manual_seed`` makes them reproducible)."""
import math

import numpy as np

from ...tensor import Tensor
from ...utils.data import TensorDataset


def _rng(generator=None, seed=None):
    if seed is not None:
        return np.random.default_rng(seed)
    from ...ops.random import _gen
    return _gen(generator)


def _split(n_samples, n_classes):
    sizes = [n_samples // n_classes] * n_classes
    for i in range(n_samples % n_classes):
        sizes[i] += 1
    return sizes


def _finish(x, y, noise, rng, shuffle):
    if noise:
        x = x + rng.normal(0.0, noise, size=x.shape)
    if shuffle:
        p = rng.permutation(len(y))
        x, y = x[p], y[p]
    return Tensor._make(np.ascontiguousarray(x, dtype=np.float32)), Tensor._make(np.ascontiguousarray(y, dtype=np.int64))


def _check_n(n_samples):
    if not isinstance(n_samples, (int, np.integer)) or n_samples <= 0:
        raise ValueError(f"n_samples should be a positive integer, but got n_samples={n_samples}")


def make_moons(n_samples=100, noise=0.0, generator=None, seed=None, shuffle=True):
    """Two interleaving half circles."""
    _check_n(n_samples)
    rng = _rng(generator, seed)
    n_out, n_in = _split(n_samples, 2)
    t_out, t_in = np.linspace(0, math.pi, n_out), np.linspace(0, math.pi, n_in)
    x = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)])
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    return _finish(x, y, noise, rng, shuffle)


def make_circles(n_samples=100, noise=0.0, factor=0.5, generator=None, seed=None, shuffle=True):
    """A small circle (label 1) inside a large one (label 0); ``factor`` is the radius ratio."""
    _check_n(n_samples)
    if not 0 <= factor < 1:
        raise ValueError("'factor' has to be between 0 and 1.")
    rng = _rng(generator, seed)
    n_out, n_in = _split(n_samples, 2)
    t_out = np.linspace(0, 2 * math.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * math.pi, n_in, endpoint=False)
    x = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        factor * np.stack([np.cos(t_in), np.sin(t_in)], 1)])
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    return _finish(x, y, noise, rng, shuffle)


def make_spirals(n_samples=100, noise=0.0, n_classes=2, turns=1.0, generator=None, seed=None, shuffle=True):
    """``n_classes`` interleaved spiral arms from the centre out to radius 1."""
    _check_n(n_samples)
    rng = _rng(generator, seed)
    xs, ys = [], []
    for k, n in enumerate(_split(n_samples, n_classes)):
        r = np.linspace(0.05, 1.0, n)
        t = 2 * math.pi * (turns * r + k / n_classes)
        xs.append(np.stack([r * np.cos(t), r * np.sin(t)], 1))
        ys.append(np.full(n, k))
    return _finish(np.concatenate(xs), np.concatenate(ys), noise, rng, shuffle)


def make_xor(n_samples=100, noise=0.0, generator=None, seed=None, shuffle=True):
    """Points uniform in [-1, 1]^2; label 1 where the coordinates' signs differ."""
    _check_n(n_samples)
    rng = _rng(generator, seed)
    x = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = (x[:, 0] * x[:, 1] < 0).astype(np.int64)
    return _finish(x, y, noise, rng, shuffle)


def make_blobs(n_samples=100, noise=0.5, centers=3, generator=None, seed=None, shuffle=True):
    """Gaussian blobs (std ``noise``) around ``centers`` points: an int puts them evenly on a
    circle of radius 2, or give the centres as a list of (x, y)."""
    _check_n(n_samples)
    rng = _rng(generator, seed)
    if isinstance(centers, (int, np.integer)):
        ang = 2 * math.pi * np.arange(centers) / centers
        centers = 2.0 * np.stack([np.cos(ang), np.sin(ang)], 1)
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
    sizes = _split(n_samples, len(centers))
    x = np.concatenate([np.repeat(c[None], n, 0) for c, n in zip(centers, sizes)])
    y = np.concatenate([np.full(n, k) for k, n in enumerate(sizes)])
    return _finish(x, y, noise, rng, shuffle)


TOY_KINDS = {"moons": make_moons, "circles": make_circles, "spirals": make_spirals, "xor": make_xor,
             "blobs": make_blobs}


class Toy2D(TensorDataset):
    """``Toy2D("moons", n_samples=200, noise=0.1, seed=0)``: items are ``(x float32 [2], y int64 [])``."""

    def __init__(self, kind="moons", n_samples=200, noise=None, generator=None, seed=None, **kwargs):
        if kind not in TOY_KINDS:
            raise ValueError(f"unknown toy dataset {kind!r}; choose one of {', '.join(TOY_KINDS)}")
        if noise is None:
            noise = 0.5 if kind == "blobs" else 0.1
        x, y = TOY_KINDS[kind](n_samples=n_samples, noise=noise, generator=generator, seed=seed, **kwargs)
        super().__init__(x, y)
        self.kind, self.noise = kind, noise
        self.data, self.targets = x, y
        self.classes = [str(c) for c in sorted(set(y.tolist()))]

    def __repr__(self):
        return f"Dataset Toy2D\n    Kind: {self.kind}\n    Number of datapoints: {len(self)}\n    Noise: {self.noise}"

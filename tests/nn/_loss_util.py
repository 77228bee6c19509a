"""Helpers shared by the loss tests: which library a tensor belongs to, constants of that library,
class targets and the input shapes of the class losses."""
import numpy as np
import torch

import engine
import engine.nn
import engine.nn.functional

REDS = ["mean", "sum", "none"]

# (input shape, target shape) of NLL / cross entropy: (N, C), (C,), and (N, C, d1, ...).  The loss tests
# compare with check_op's defaults (tests/engine/parity.py): their reductions run over <= 24 elements
# (2*2*2*3 here, 4*5 for the pair losses) and the class losses over C = 5 exp/log terms, within that
# argument's K <= 64 with one libm call per term.
CLASS_SHAPES = [((4, 5), (4,)), ((5,), ()), ((3, 5, 4), (3, 4)), ((2, 5, 3, 2), (2, 3, 2)),
                ((2, 4, 2, 2, 3), (2, 2, 2, 3))]


def is_t(x):
    return isinstance(x, torch.Tensor)


def lib(x):
    return torch if is_t(x) else engine


def nnF(x):
    return torch.nn.functional if is_t(x) else engine.nn.functional


def nn_of(x):
    return torch.nn if is_t(x) else engine.nn


def const(x, arr, float_like=True):
    """A constant of the library of ``x``; float arrays take the dtype of ``x``."""
    t = lib(x).from_numpy(np.array(arr, copy=True))
    if float_like and t.is_floating_point():
        t = t.to(x.dtype)
    return t


def targets(shape, C, ignore=None, frac=0.3, seed=0):
    """Random class indices in [0, C); with ``ignore``, about ``frac`` of them set to it (never all)."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, C, size=shape).astype(np.int64)
    if ignore is not None and t.size:
        m = rng.random(shape) < frac
        t = np.where(m, ignore, t)
        t.reshape(-1)[0] = 0 if ignore != 0 else 1  # never all ignored
    return t


def cls_kwargs(x, C, weight, seed=0):
    """``weight=`` of the class losses (positive, per class) when ``weight`` is set."""
    return {"weight": const(x, np.random.default_rng(seed).random(C) + 0.2)} if weight else {}

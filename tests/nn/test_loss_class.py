"""Parity of NLL and cross entropy with class-index targets: 1-D to 5-D inputs, weight, ignore_index,
label smoothing, every reduction; forward, input gradients and gradcheck."""
import numpy as np
import pytest
import torch

import engine
import engine.nn
import engine.nn.functional
from parity import check_gradcheck, check_op

REDS = ["mean", "sum", "none"]


def is_t(x):
    return isinstance(x, torch.Tensor)


def lib(x):
    return torch if is_t(x) else engine


def nnF(x):
    return torch.nn.functional if is_t(x) else engine.nn.functional


def const(x, arr):
    """A constant of the library of ``x``; float arrays take the dtype of ``x``."""
    t = lib(x).from_numpy(np.array(arr, copy=True))
    return t.to(x.dtype) if t.is_floating_point() else t


def targets(shape, C, ignore=None, frac=0.3, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, C, size=shape).astype(np.int64)
    if ignore is not None and t.size:
        m = rng.random(shape) < frac
        t = np.where(m, ignore, t)
        t.reshape(-1)[0] = 0 if ignore != 0 else 1  # never all ignored
    return t


# -- NLL and cross entropy ---------------------------------------------------------------------
CLASS_SHAPES = [((4, 5), (4,)), ((5,), ()), ((3, 5, 4), (3, 4)), ((2, 5, 3, 2), (2, 3, 2)),
                ((2, 4, 2, 2, 3), (2, 2, 2, 3))]


def _cls_kwargs(x, C, weight, seed=0):
    return {"weight": const(x, np.random.default_rng(seed).random(C) + 0.2)} if weight else {}


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("weight", [False, True])
@pytest.mark.parametrize("ignore", [None, 1, -100])
@pytest.mark.parametrize("shapes", CLASS_SHAPES, ids=lambda s: str(len(s[0])) + "d")
def test_nll_loss(shapes, ignore, weight, red):
    ishape, tshape = shapes
    C = ishape[1] if len(ishape) > 1 else ishape[0]
    tgt = targets(tshape, C, ignore)

    def f(x):
        kw = _cls_kwargs(x, C, weight)
        if ignore is not None:
            kw["ignore_index"] = ignore
        return nnF(x).nll_loss(x, const(x, tgt), reduction=red, **kw)

    check_op(f, [ishape], noncontig=(False, True) if red == "mean" else False)
    check_gradcheck(f, [ishape])


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("ls", [0.0, 0.15])
@pytest.mark.parametrize("weight", [False, True])
@pytest.mark.parametrize("ignore", [None, 2])
@pytest.mark.parametrize("shapes", CLASS_SHAPES, ids=lambda s: str(len(s[0])) + "d")
def test_cross_entropy_indices(shapes, ignore, weight, ls, red):
    ishape, tshape = shapes
    C = ishape[1] if len(ishape) > 1 else ishape[0]
    tgt = targets(tshape, C, ignore)

    def f(x):
        kw = _cls_kwargs(x, C, weight)
        if ignore is not None:
            kw["ignore_index"] = ignore
        return nnF(x).cross_entropy(x, const(x, tgt), reduction=red, label_smoothing=ls, **kw)

    check_op(f, [ishape], low=-3, high=3, noncontig=(False, True) if red == "mean" else False)
    check_gradcheck(f, [ishape])

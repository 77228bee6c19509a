"""Parity of NLL and cross entropy with class-index targets: 1-D to 5-D inputs, weight, ignore_index,
label smoothing, every reduction; forward, input gradients and gradcheck."""
import pytest

from _loss_util import CLASS_SHAPES, REDS, cls_kwargs, const, nnF, targets
from parity import check_gradcheck, check_op


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("weight", [False, True])
@pytest.mark.parametrize("ignore", [None, 1, -100])
@pytest.mark.parametrize("shapes", CLASS_SHAPES, ids=lambda s: str(len(s[0])) + "d")
def test_nll_loss(shapes, ignore, weight, red):
    ishape, tshape = shapes
    C = ishape[1] if len(ishape) > 1 else ishape[0]
    tgt = targets(tshape, C, ignore)

    def f(x):
        kw = cls_kwargs(x, C, weight)
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
        kw = cls_kwargs(x, C, weight)
        if ignore is not None:
            kw["ignore_index"] = ignore
        return nnF(x).cross_entropy(x, const(x, tgt), reduction=red, label_smoothing=ls, **kw)

    check_op(f, [ishape], low=-3, high=3, noncontig=(False, True) if red == "mean" else False)
    check_gradcheck(f, [ishape])

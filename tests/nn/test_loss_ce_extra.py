"""Cross entropy with probability targets, degenerate inputs (all targets ignored, empty batches, non-finite
logits, uint8 targets, half), and the fused log_softmax path under retained graphs and hooks."""
import numpy as np
import pytest
import torch

import engine
import engine.nn
import engine.nn.functional
from _loss_util import REDS, cls_kwargs, const, nnF
from parity import check_gradcheck, check_op

@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("ls", [0.0, 0.2])
@pytest.mark.parametrize("weight", [False, True])
@pytest.mark.parametrize("ishape", [(4, 5), (5,), (2, 5, 3), (2, 5, 2, 3)], ids=lambda s: f"{len(s)}d")
def test_cross_entropy_probs(ishape, weight, ls, red):
    C = ishape[1] if len(ishape) > 1 else ishape[0]
    cd = 1 if len(ishape) > 1 else 0

    def f(x, y):
        p = y.softmax(cd)
        return nnF(x).cross_entropy(x, p, reduction=red, label_smoothing=ls, **cls_kwargs(x, C, weight))

    check_op(f, [ishape, ishape], low=-3, high=3)
    check_gradcheck(f, [ishape, ishape])


def test_cross_entropy_uint8_target_and_half():
    tgt = np.array([1, 0, 4], np.uint8)
    check_op(lambda x: nnF(x).cross_entropy(x, const(x, tgt)), [(3, 5)])
    check_op(lambda x: nnF(x).cross_entropy(x, const(x, tgt.astype(np.int64))), [(3, 5)], dtypes=("float16",),
             grad=False)


@pytest.mark.parametrize("red", REDS)
def test_all_ignored_and_empty(red):
    tgt = np.array([-100, -100, -100])
    check_op(lambda x: nnF(x).cross_entropy(x, const(x, tgt), reduction=red), [(3, 5)])
    check_op(lambda x: nnF(x).cross_entropy(x, const(x, tgt), reduction=red, label_smoothing=0.1), [(3, 5)])
    check_op(lambda x: nnF(x).cross_entropy(x, const(x, np.zeros(0, np.int64)), reduction=red), [(0, 5)])
    check_op(lambda x: nnF(x).nll_loss(x, const(x, np.zeros((0, 3, 4), np.int64)), reduction=red), [(0, 5, 3, 4)])
    check_op(lambda x, y: nnF(x).cross_entropy(x, y, reduction=red), [(0, 5), (0, 5)])
    check_op(lambda x, y: nnF(x).mse_loss(x, y, reduction=red), [(0,), (0,)])


def test_nll_1d_input_1d_target():
    for red in REDS:
        check_op(lambda x: nnF(x).nll_loss(x, const(x, np.array([2])), reduction=red), [(5,)], grad=False)
    msgs = []
    for L in (torch, engine):
        x = L.zeros(5, requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            L.nn.functional.nll_loss(x, L.tensor([2])).backward()
        msgs.append(str(info.value))
    assert msgs[1] == msgs[0]


@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan])
def test_cross_entropy_nonfinite_logits(special):
    xa = np.random.default_rng(0).standard_normal((3, 5))
    xa[1, 2] = special
    tgt = np.array([1, 2, 4])
    for red in REDS:
        check_op(lambda x: nnF(x).cross_entropy(x + const(x, xa), const(x, tgt), reduction=red), [(3, 5)])


def test_cross_entropy_retain_graph_and_hooks():
    xa = np.random.default_rng(0).standard_normal((4, 6))
    tgt = np.array([1, 2, 5, 0])
    grads = []
    for L in (torch, engine):
        x = L.tensor(xa, requires_grad=True)
        y = x * 2
        y.register_hook(lambda g: g * 3)
        loss = L.nn.functional.cross_entropy(y, L.tensor(tgt))
        loss.backward(retain_graph=True)
        loss.backward()
        logp = (x * 2).log_softmax(1)
        logp.register_hook(lambda g: g * 0.5)
        L.nn.functional.nll_loss(logp, L.tensor(tgt)).backward()
        # the log_softmax output used twice: gradients summed before its node runs
        x2 = L.tensor(xa, requires_grad=True)
        lp = L.nn.functional.cross_entropy(x2, L.tensor(tgt), reduction="none")
        (lp * L.tensor([1.0, -2.0, 0.5, 3.0], dtype=L.float64)).sum().backward()
        grads.append((x.grad.numpy().copy(), x2.grad.numpy().copy()))
    # float64: softmax over 6 logits and a few elementwise products/sums of the same sign per value (<= 5):
    # <= 30u = 3.3e-15 relative, 1.7e-14 absolute on values <= 5
    for a, b in zip(*grads):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)

"""Parity of pooling (functional and modules) with PyTorch: values, indices, grads, grad_fn names,
double backward, printing and error messages."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import engine
import engine.nn.functional as EF
from _nn_core_util import both, run_both
from parity import check_gradcheck, check_op


def F(x):
    return TF if isinstance(x, torch.Tensor) else EF


MAX2D = [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(2, 3), stride=(1, 2)),
    dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True), dict(kernel_size=2, ceil_mode=True),
    dict(kernel_size=3, stride=1),
]


@pytest.mark.parametrize("shape", [(2, 3, 9, 8), (3, 7, 7)])
@pytest.mark.parametrize("kw", MAX2D)
def test_max_pool2d(kw, shape):
    check_op(lambda x: F(x).max_pool2d(x, **kw), [shape])
    check_op(lambda x: F(x).max_pool2d(x, return_indices=True, **kw), [shape])
    check_gradcheck(lambda x: EF.max_pool2d(x, **kw), [shape])


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, dilation=2, ceil_mode=True)])
def test_max_pool1d(kw):
    check_op(lambda x: F(x).max_pool1d(x, **kw), [(2, 3, 9)])
    check_op(lambda x: F(x).max_pool1d(x, return_indices=True, **kw), [(3, 9)])
    check_gradcheck(lambda x: EF.max_pool1d(x, **kw), [(2, 3, 9)])


def test_max_pool_ties_and_nan():
    a = np.array([[[[1.0, 1.0, 0.0], [1.0, 2.0, 2.0], [np.nan, 0.0, 3.0]]]], dtype=np.float32)
    for kw in (dict(kernel_size=2, stride=1), dict(kernel_size=3, padding=1, stride=1)):
        t = TF.max_pool2d(torch.tensor(a), return_indices=True, **kw)
        e = EF.max_pool2d(engine.tensor(a), return_indices=True, **kw)
        # max is a selection (exact comparisons, copies): values and indices are exact on any machine
        np.testing.assert_array_equal(e[0].numpy(), t[0].numpy())
        np.testing.assert_array_equal(e[1].numpy(), t[1].numpy())


AVG2D = [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=2, padding=1,
                                                                         ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 1), divisor_override=4),
]


@pytest.mark.parametrize("shape", [(2, 3, 9, 8), (3, 7, 7)])
@pytest.mark.parametrize("kw", AVG2D)
def test_avg_pool2d(kw, shape):
    check_op(lambda x: F(x).avg_pool2d(x, **kw), [shape])
    check_gradcheck(lambda x: EF.avg_pool2d(x, **kw), [shape])


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                                          count_include_pad=False)])
def test_avg_pool1d(kw):
    check_op(lambda x: F(x).avg_pool1d(x, **kw), [(2, 3, 9)])
    check_gradcheck(lambda x: EF.avg_pool1d(x, **kw), [(2, 3, 9)])


def test_avg_pool_integer():
    x = np.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5) * 3 - 40
    t = TF.avg_pool2d(torch.tensor(x), 2)
    e = EF.avg_pool2d(engine.tensor(x), 2)
    assert e.dtype is engine.int64
    np.testing.assert_array_equal(e.numpy(), t.numpy())


@pytest.mark.parametrize("size", [(4, 3), 1, (1, 1), 3, (None, 2), (9, 8)])
def test_adaptive_avg_pool2d(size):
    # size 1 averages K = 9*8 = 72 terms (beyond parity.py's 64): the float32 sum's random walk, u*1.2*K/sqrt(3)
    # = 2.9e-6 rms, is divided by 72 with it; float64 2*K*u*S = 2*72*2**-53*72*2 = 2.3e-12 before the division
    check_op(lambda x: F(x).adaptive_avg_pool2d(x, size), [(2, 3, 9, 8)])
    check_op(lambda x: F(x).adaptive_avg_pool2d(x, size), [(3, 5, 7)])
    check_gradcheck(lambda x: EF.adaptive_avg_pool2d(x, size), [(1, 2, 9, 8)])


@pytest.mark.parametrize("size", [(4, 3), 1, (3, 5), (9, 8)])
def test_adaptive_max_pool2d(size):
    check_op(lambda x: F(x).adaptive_max_pool2d(x, size, return_indices=True), [(2, 3, 9, 8)])
    check_op(lambda x: F(x).adaptive_max_pool2d(x, size), [(3, 5, 7)])
    check_gradcheck(lambda x: EF.adaptive_max_pool2d(x, size), [(1, 2, 9, 8)])


@pytest.mark.parametrize("size", [1, 4, 9])
def test_adaptive_1d(size):
    check_op(lambda x: F(x).adaptive_avg_pool1d(x, size), [(2, 3, 9)])
    check_op(lambda x: F(x).adaptive_max_pool1d(x, size, return_indices=True), [(2, 3, 9)])
    check_gradcheck(lambda x: EF.adaptive_avg_pool1d(x, size), [(2, 3, 9)])
    check_gradcheck(lambda x: EF.adaptive_max_pool1d(x, size), [(2, 3, 9)])


def test_pool3d():
    check_op(lambda x: F(x).max_pool3d(x, 2, return_indices=True), [(2, 2, 4, 5, 4)])
    check_op(lambda x: F(x).avg_pool3d(x, 2, padding=1), [(2, 2, 4, 5, 4)])
    check_op(lambda x: F(x).adaptive_avg_pool3d(x, (2, 3, 2)), [(2, 2, 4, 5, 4)])


def test_lp_pool():
    check_op(lambda x: F(x).lp_pool2d(x, 2, 2), [(2, 3, 6, 6)], low=0.5, high=2)
    check_op(lambda x: F(x).lp_pool1d(x, 3, 2), [(2, 3, 6)], low=0.5, high=2)


@pytest.mark.parametrize("fn,name", [
    (lambda F, x: F.max_pool2d(x, 2), "MaxPool2DWithIndicesBackward0"),
    (lambda F, x: F.max_pool2d(x[0], 2), "MaxPool2DWithIndicesBackward0"),
    (lambda F, x: F.max_pool1d(x[0], 2), "SqueezeBackward1"),
    (lambda F, x: F.avg_pool2d(x, 2), "AvgPool2DBackward0"),
    (lambda F, x: F.avg_pool1d(x[0], 2), "SqueezeBackward1"),
    (lambda F, x: F.adaptive_avg_pool2d(x, 3), "AdaptiveAvgPool2DBackward0"),
    (lambda F, x: F.adaptive_avg_pool2d(x, 1), "MeanBackward1"),
    (lambda F, x: F.adaptive_max_pool2d(x, 3), "AdaptiveMaxPool2DBackward0"),
])
def test_grad_fn_names(fn, name):
    e = fn(EF, engine.randn(2, 3, 8, 8, requires_grad=True))
    t = fn(TF, torch.randn(2, 3, 8, 8, requires_grad=True))
    assert type(e.grad_fn).__name__ == name == type(t.grad_fn).__name__


@pytest.mark.parametrize("fn", [
    lambda x: EF.max_pool2d(x, 3, 2, 1),
    lambda x: EF.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    lambda x: EF.adaptive_avg_pool2d(x, (3, 2)),
    lambda x: EF.adaptive_max_pool2d(x, (3, 2)),
])
def test_double_backward(fn):
    x = engine.tensor(np.random.default_rng(0).standard_normal((1, 2, 7, 6)), requires_grad=True)
    assert engine.autograd.gradgradcheck(lambda x: fn(x).pow(2), (x,))


MODULES = [
    (lambda nn: nn.MaxPool2d(2), (2, 3, 8, 8)),
    (lambda nn: nn.MaxPool2d((2, 3), stride=1, padding=1, dilation=1, ceil_mode=True), (2, 3, 7, 8)),
    (lambda nn: nn.MaxPool1d(3, stride=2), (2, 3, 9)),
    (lambda nn: nn.AvgPool2d(3, 1, 1, ceil_mode=True, count_include_pad=False, divisor_override=2), (2, 3, 6, 6)),
    (lambda nn: nn.AvgPool2d(2), (3, 6, 6)),
    (lambda nn: nn.AvgPool1d(2), (2, 3, 8)),
    (lambda nn: nn.AdaptiveAvgPool2d((None, 3)), (2, 3, 6, 7)),
    (lambda nn: nn.AdaptiveAvgPool2d(1), (2, 3, 6, 7)),
    (lambda nn: nn.AdaptiveAvgPool1d(2), (2, 3, 7)),
    (lambda nn: nn.AdaptiveMaxPool2d((2, 3)), (2, 3, 6, 7)),
    (lambda nn: nn.AdaptiveMaxPool1d(3), (2, 3, 7)),
    (lambda nn: nn.LPPool2d(2, 3), (2, 3, 6, 6)),
    (lambda nn: nn.MaxPool3d(2), (1, 2, 4, 4, 4)),
    (lambda nn: nn.AvgPool3d(2), (1, 2, 4, 4, 4)),
]


@pytest.mark.parametrize("factory,shape", MODULES)
def test_module_parity(factory, shape):
    tm, em = both(factory)
    assert repr(tm) == repr(em)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) + 3
    # float32, data N(3, 1) (|x| <= 7, mostly one sign): windows of <= 6*7 = 42 terms, 2*K*u = 5e-6 relative
    # < rtol 1e-4 (LPPool adds a pow/sqrt, <= 4 ulp); max pools and their grads are selections and copies
    run_both(tm, em, x, atol=1e-4)


def test_module_return_indices():
    tm, em = both(lambda nn: nn.MaxPool2d(2, return_indices=True))
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    (tv, ti), (ev, ei) = tm(torch.tensor(x)), em(engine.tensor(x))
    np.testing.assert_array_equal(ei.numpy(), ti.numpy())  # a selection: exact
    np.testing.assert_array_equal(ev.numpy(), tv.numpy())
    assert ei.dtype is engine.int64


ERRORS = [
    lambda F, R: F.max_pool2d(R(2, 3, 8, 8), 3, padding=2),
    lambda F, R: F.max_pool2d(R(2, 3, 2, 2), 3),
    lambda F, R: F.max_pool2d(R(2, 3), 2),
    lambda F, R: F.max_pool2d(R(2, 3, 8, 8), 2, stride=0),
    lambda F, R: F.max_pool2d(R(2, 3, 8, 8), 0, stride=1),
    lambda F, R: F.max_pool2d(R(2, 3, 8, 8), 2, dilation=0),
    lambda F, R: F.max_pool2d(R(2, 3, 8, 8), (2, 2, 2)),
    lambda F, R: F.max_pool1d(R(2, 3, 4, 4), 2),
    lambda F, R: F.max_pool1d(R(2, 3, 2), 3),
    lambda F, R: F.max_pool1d(R(2, 3, 8), 2, padding=2),
    lambda F, R: F.max_pool1d(R(2, 3, 8), 0, stride=1),
    lambda F, R: F.max_pool1d(R(2, 3, 8), 2, stride=0),
    lambda F, R: F.avg_pool2d(R(2, 3, 8, 8), 3, padding=2),
    lambda F, R: F.avg_pool2d(R(2, 3, 2, 2), 3),
    lambda F, R: F.avg_pool2d(R(2, 3, 8, 8), 2, divisor_override=0),
    lambda F, R: F.avg_pool1d(R(2, 3, 2), 3),
    lambda F, R: F.avg_pool1d(R(2, 3, 4, 4), 2),
    lambda F, R: F.adaptive_avg_pool2d(R(2, 3), 2),
    lambda F, R: F.adaptive_avg_pool1d(R(2, 3, 4, 4), 2),
    lambda F, R: F.adaptive_max_pool2d(R(2, 3), 2),
    lambda F, R: F.adaptive_avg_pool2d(R(2, 3, 0, 4), 2),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors(i):
    fn = ERRORS[i]
    with pytest.raises(RuntimeError) as t:
        fn(TF, torch.randn)
    with pytest.raises(RuntimeError) as e:
        fn(EF, engine.randn)
    assert str(e.value) == str(t.value)


def test_avg_pool2d_rank_error():
    with pytest.raises(IndexError) as t:
        TF.avg_pool2d(torch.randn(2, 3), 2)
    with pytest.raises(IndexError) as e:
        EF.avg_pool2d(engine.randn(2, 3), 2)
    assert str(e.value) == str(t.value)

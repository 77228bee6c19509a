"""Parity of convolutions (functional and modules) with PyTorch: values, grads, grad_fn names,
double backward, default initialisation, printing and error messages."""
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


CONV2D = [
    ((2, 3, 8, 8), (4, 3, 3, 3), {}),
    ((2, 3, 9, 8), (4, 3, 3, 2), dict(stride=2, padding=1)),
    ((2, 3, 9, 10), (4, 3, 3, 3), dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1))),
    ((2, 4, 7, 7), (6, 2, 3, 3), dict(groups=2, padding=1)),
    ((1, 4, 6, 6), (4, 1, 3, 3), dict(groups=4)),
    ((2, 3, 8, 8), (4, 3, 4, 4), dict(padding="same")),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding="same", dilation=2)),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding="valid")),
    ((3, 8, 8), (4, 3, 3, 3), dict(padding=1)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs,ws,kw", CONV2D)
def test_conv2d(xs, ws, kw, bias):
    shapes = [xs, ws] + ([(ws[0],)] if bias else [])
    # forward K = C_in*kH*kW <= 48; weight and bias grads sum N*H_out*W_out <= 2*8*8 = 128 terms (x*g, x in
    # U(-2, 2), g ~ N(0, 1)) against check_op's 10x grad tolerances: float32 2*K*u = 1.5e-5 relative, random
    # walk u*1.2*K/sqrt(3) = 5e-6 rms (atol 1e-4 = 20 rms); float64 2*K*u*S = 2*128*2**-53*128*9 = 3e-11
    check_op(lambda x, w, *b: F(x).conv2d(x, w, b[0] if b else None, **kw), shapes)
    small = [(1,) + tuple(xs[1:]) if len(xs) == 4 else xs] + shapes[1:]
    check_gradcheck(lambda x, w, *b: EF.conv2d(x, w, b[0] if b else None, **kw), small)


CONV1D = [((2, 3, 9), (4, 3, 3), {}), ((2, 3, 9), (4, 3, 2), dict(stride=2, padding=1, dilation=2)),
          ((2, 4, 9), (4, 2, 3), dict(groups=2)), ((3, 9), (4, 3, 3), dict(padding="same"))]


@pytest.mark.parametrize("xs,ws,kw", CONV1D)
def test_conv1d(xs, ws, kw):
    shapes = [xs, ws, (ws[0],)]
    check_op(lambda x, w, b: F(x).conv1d(x, w, b, **kw), shapes)
    check_gradcheck(lambda x, w, b: EF.conv1d(x, w, b, **kw), shapes)


CONVT = [
    ((2, 3, 5, 5), (3, 4, 3, 3), {}),
    ((2, 3, 5, 6), (3, 2, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 4, 5), (4, 3, 3, 2), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2)),
    ((2, 3, 4, 4), (3, 2, 3, 3), dict(stride=2, dilation=2, output_padding=1)),
    ((3, 4, 4), (3, 2, 2, 2), dict(stride=2)),
]


@pytest.mark.parametrize("xs,ws,kw", CONVT)
def test_conv_transpose2d(xs, ws, kw):
    g = kw.get("groups", 1)
    shapes = [xs, ws, (ws[1] * g,)]
    check_op(lambda x, w, b: F(x).conv_transpose2d(x, w, b, **kw), shapes)
    check_gradcheck(lambda x, w, b: EF.conv_transpose2d(x, w, b, **kw), shapes)


def test_conv_transpose1d():
    kw = dict(stride=2, padding=1, output_padding=1)
    check_op(lambda x, w, b: F(x).conv_transpose1d(x, w, b, **kw), [(2, 3, 6), (3, 4, 3), (4,)])
    check_gradcheck(lambda x, w, b: EF.conv_transpose1d(x, w, b, **kw), [(2, 3, 6), (3, 4, 3), (4,)])


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=(2, 3), stride=2, padding=1),
                                dict(kernel_size=2, dilation=2, stride=(1, 2))])
def test_unfold_fold(kw):
    check_op(lambda x: F(x).unfold(x, **kw), [(2, 3, 7, 8)])
    check_gradcheck(lambda x: EF.unfold(x, **kw), [(1, 2, 5, 6)])
    cols = torch.nn.functional.unfold(torch.zeros(2, 3, 7, 8), **kw).shape
    check_op(lambda c: F(c).fold(c, (7, 8), **kw), [tuple(cols)])
    check_gradcheck(lambda c: EF.fold(c, (7, 8), **kw), [tuple(cols)])


@pytest.mark.parametrize("fn,name", [
    (lambda F, x, w: F.conv2d(x, w), "ConvolutionBackward0"),
    (lambda F, x, w: F.conv2d(x[0], w), "SqueezeBackward1"),
    (lambda F, x, w: F.conv_transpose2d(x, w.transpose(0, 1)), "ConvolutionBackward0"),
    (lambda F, x, w: F.unfold(x, 2), "Im2ColBackward0"),
])
def test_grad_fn_names(fn, name):
    x = engine.randn(2, 3, 6, 6, requires_grad=True)
    w = engine.randn(4, 3, 3, 3, requires_grad=True)
    tx, tw = torch.randn(2, 3, 6, 6, requires_grad=True), torch.randn(4, 3, 3, 3, requires_grad=True)
    assert type(fn(EF, x, w).grad_fn).__name__ == name == type(fn(TF, tx, tw).grad_fn).__name__


@pytest.mark.parametrize("fn", [
    lambda x, w: EF.conv2d(x, w, stride=2, padding=1),
    lambda x, w: EF.conv2d(x, w, padding=1, dilation=2),
    lambda x, w: EF.conv_transpose2d(x, w.transpose(0, 1), stride=2, padding=1, output_padding=1),
])
def test_double_backward(fn):
    rng = np.random.default_rng(0)
    x = engine.tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    w = engine.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    assert engine.autograd.gradgradcheck(fn, (x, w))


def test_double_backward_matches_torch():
    rng = np.random.default_rng(0)
    xa, wa = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    res = []
    for lib, Fn in ((torch, TF), (engine, EF)):
        x, w = lib.tensor(xa, requires_grad=True), lib.tensor(wa, requires_grad=True)
        y = Fn.conv2d(x, w, stride=2, padding=1)
        gx, gw = lib.autograd.grad(y.pow(2).sum(), (x, w), create_graph=True)
        (gx.sin().sum() + gw.pow(2).sum()).backward()
        res.append((gx.detach().numpy(), gw.detach().numpy(), x.grad.numpy(), w.grad.numpy()))
    # float64.  x.grad and w.grad reach 3.6e4: each chains ~1000 products (4 out channels * 27 taps * 9
    # positions) with sum|terms| S <= 9e5, 2*K*u*S = 2*1000*2**-53*9e5 = 2e-7 -> atol 1e-6 (3e-11 of
    # their size); gx, gw: K <= 36, S <= 660, 5e-12
    for a, b in zip(*res):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-6)


# -- modules ----------------------------------------------------------------------------------
MODULES = [
    (lambda nn: nn.Conv2d(1, 6, 5), (4, 1, 12, 12)),
    (lambda nn: nn.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), dilation=(1, 2), bias=False), (2, 3, 11, 13)),
    (lambda nn: nn.Conv2d(4, 8, 3, padding="same", groups=2), (2, 4, 7, 7)),
    (lambda nn: nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), (2, 3, 6, 6)),
    (lambda nn: nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode="replicate"), (2, 3, 6, 6)),
    (lambda nn: nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"), (2, 3, 6, 6)),
    (lambda nn: nn.Conv2d(3, 4, 3), (3, 6, 6)),
    (lambda nn: nn.Conv1d(3, 5, 3, stride=2, padding=1), (2, 3, 10)),
    (lambda nn: nn.Conv1d(2, 4, 2, padding="same", padding_mode="reflect"), (2, 2, 9)),
    (lambda nn: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), (2, 3, 5, 5)),
    (lambda nn: nn.ConvTranspose2d(4, 6, (2, 3), stride=(2, 1), groups=2, bias=False), (2, 4, 4, 5)),
    (lambda nn: nn.ConvTranspose1d(3, 4, 3, stride=2), (2, 3, 6)),
    (lambda nn: nn.Conv3d(2, 3, 2, padding=1), (1, 2, 4, 4, 4)),
]


@pytest.mark.parametrize("factory,shape", MODULES)
def test_module_parity(factory, shape):
    tm, em = both(factory)
    assert [(k, tuple(v.shape)) for k, v in tm.named_parameters()] == \
           [(k, tuple(v.shape)) for k, v in em.named_parameters()]
    assert repr(tm) == repr(em)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    # float32; forward K <= 3*3*5 = 45, weight/bias grads sum N*H_out*W_out <= 4*8*8 = 256 terms of N(0, 1)
    # products: 2*K*u = 3e-5 relative < rtol 1e-4, random walk u*K/sqrt(3) = 8.9e-6 rms (atol 1e-4 = 11 rms)
    run_both(tm, em, x, atol=1e-4)


def test_conv_transpose_output_size():
    tm, em = both(lambda nn: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1))
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    to = tm(torch.tensor(x), output_size=[10, 10])
    eo = em(engine.tensor(x), output_size=[10, 10])
    assert tuple(eo.shape) == tuple(to.shape) == (2, 4, 10, 10)
    # K <= 3 channels * 2*2 taps = 12 terms of |x*w| <= 3.5/6 (N(0, 1) input, |w| <= 1/sqrt(36)):
    # 2*K*u*S = 2*12*2**-24*7 = 1e-5 worst case -> atol 2e-5
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), atol=2e-5)
    with pytest.raises(ValueError, match="requested an output size of"):
        em(engine.tensor(x), output_size=[12, 12])


@pytest.mark.parametrize("factory", [lambda nn: nn.Conv2d(3, 16, 5), lambda nn: nn.Conv1d(4, 8, 3, groups=2),
                                     lambda nn: nn.ConvTranspose2d(6, 4, 3, groups=2)])
def test_default_init(factory):
    import math

    engine.manual_seed(0)
    m = factory(engine.nn)
    w = m.weight.detach().numpy()
    fan_in = w[0].size if not m.transposed else w.shape[1] * w[0, 0].size
    bound = 1 / math.sqrt(fan_in)
    # w = float32(-b + 2b*U), U from numpy's generator in float64 (correctly rounded: the same bits on any
    # machine); the cast may round onto float32(b) <= b*(1 + 2**-24) < b + 1e-7
    assert w.std() > 0 and np.abs(w).max() <= bound + 1e-7 and np.abs(w).max() > 0.8 * bound
    b = m.bias.detach().numpy()
    assert np.abs(b).max() <= bound + 1e-7
    assert m.weight.requires_grad and m.weight.dtype is engine.float32


@pytest.mark.parametrize("args", [
    (lambda nn: nn.Conv2d(3, 4, 3, groups=2), ValueError, "in_channels must be divisible by groups"),
    (lambda nn: nn.Conv2d(4, 3, 3, groups=2), ValueError, "out_channels must be divisible by groups"),
    (lambda nn: nn.Conv2d(3, 4, 3, padding="foo"), ValueError, "Invalid padding string 'foo'"),
    (lambda nn: nn.Conv2d(3, 4, 3, stride=2, padding="same"), ValueError, "not supported for strided"),
    (lambda nn: nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"), ValueError, "Only \"zeros\" padding mode"),
])
def test_module_errors(args):
    factory, exc, msg = args
    with pytest.raises(exc) as t:
        factory(torch.nn)
    with pytest.raises(exc) as e:
        factory(engine.nn)
    assert msg in str(t.value) and str(t.value) == str(e.value)


ERRORS = [
    lambda F, R: F.conv2d(R(4, 1, 12, 12), R(6, 3, 5, 5)),
    lambda F, R: F.conv2d(R(1, 12, 12), R(6, 3, 5, 5)),
    lambda F, R: F.conv2d(R(2, 3), R(6, 3, 5, 5)),
    lambda F, R: F.conv1d(R(2, 3, 4, 4), R(6, 3, 5)),
    lambda F, R: F.conv2d(R(2, 3, 8, 8), R(6, 3, 5)),
    lambda F, R: F.conv2d(R(2, 3, 4, 4), R(6, 3, 5, 5)),
    lambda F, R: F.conv1d(R(2, 3, 4), R(6, 3, 5)),
    lambda F, R: F.conv2d(R(2, 3, 4, 4), R(6, 3, 7, 7), padding=1),
    lambda F, R: F.conv2d(R(2, 3, 8, 8), R(6, 3, 5, 5), R(5)),
    lambda F, R: F.conv2d(R(2, 4, 8, 8), R(3, 2, 3, 3), groups=2),
    lambda F, R: F.conv2d(R(2, 6, 8, 8), R(4, 2, 3, 3), groups=2),
    lambda F, R: F.conv2d(R(2, 3, 8, 8), R(6, 3, 3, 3), padding=-1),
    lambda F, R: F.conv2d(R(2, 3, 8, 8), R(6, 3, 3, 3), stride=0),
    lambda F, R: F.conv2d(R(2, 3, 8, 8), R(6, 3, 3, 3), dilation=0),
    lambda F, R: F.conv2d(R(2, 3, 8, 8), R(6, 3, 3, 3), stride=2, padding="same"),
    lambda F, R: F.conv2d(R(2, 3, 8, 8), R(6, 3, 3, 3), padding="foo"),
    lambda F, R: F.conv2d(R(2, 3, 8, 8), R(6, 3, 3, 3), stride=(1, 2, 3)),
    lambda F, R: F.conv2d(R(2, 3, 8, 8).double(), R(6, 3, 5, 5)),
    lambda F, R: F.conv2d(R(2, 3, 8, 8), R(6, 3, 5, 5).double()),
    lambda F, R: F.conv2d(R(2, 3, 8, 8), R(6, 3, 5, 5), R(6).double()),
    lambda F, R: F.conv_transpose2d(R(2, 3, 8, 8), R(3, 4, 3, 3), stride=2, output_padding=2),
    lambda F, R: F.conv_transpose2d(R(2, 3, 8, 8), R(4, 4, 3, 3)),
    lambda F, R: F.conv_transpose2d(R(3, 8), R(3, 4, 3, 3)),
    lambda F, R: F.conv_transpose2d(R(2, 3, 8, 8), R(3, 4, 3, 3), bias=R(3)),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors(i):
    fn = ERRORS[i]
    with pytest.raises(RuntimeError) as t:
        fn(TF, torch.randn)
    with pytest.raises(RuntimeError) as e:
        fn(EF, engine.randn)
    assert str(e.value) == str(t.value)


def test_integer_conv():
    x = np.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5) % 7
    w = np.arange(4 * 3 * 3 * 3).reshape(4, 3, 3, 3) % 5 - 2
    t = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1)
    e = EF.conv2d(engine.tensor(x), engine.tensor(w), padding=1)
    assert e.dtype is engine.int64
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_output_contiguous_and_viewable():
    x = engine.randn(2, 3, 8, 8)
    y = EF.conv2d(x, engine.randn(4, 3, 3, 3))
    assert y.is_contiguous()
    assert tuple(y.view(2, -1).shape) == (2, 144)

"""Parity of F.pad, F.interpolate, pixel_shuffle and their modules with PyTorch: values, grads,
grad_fn names, double backward, printing and error messages."""
import warnings

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


CONST = [((2, 3, 4, 5), (1, 2)), ((2, 3, 4, 5), (1, -2, 2, 0)), ((2, 3, 4), (0, 1, 1, 0, 2, 1)), ((5,), (2, 3)),
         ((2, 3, 4, 5), (-1, -1, -1, -1))]


@pytest.mark.parametrize("value", [None, 2.5])
@pytest.mark.parametrize("shape,pad", CONST)
def test_constant_pad(shape, pad, value):
    kw = {} if value is None else dict(value=value)
    check_op(lambda x: F(x).pad(x, pad, **kw), [shape])
    check_gradcheck(lambda x: EF.pad(x, pad, **kw), [shape])


NONCONST = [((2, 3, 5), (1, 2)), ((3, 5), (2, 1)), ((2, 3, 5, 6), (1, 2, 2, 1)), ((3, 5, 6), (0, 2, 3, 1)),
            ((1, 2, 4, 4, 4), (1, 2, 0, 1, 1, 1)), ((2, 3, 5, 6), (-1, 2, 1, 0))]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", NONCONST)
def test_mode_pad(shape, pad, mode):
    check_op(lambda x: F(x).pad(x, pad, mode=mode), [shape])
    check_gradcheck(lambda x: EF.pad(x, pad, mode=mode), [shape])


@pytest.mark.parametrize("mode,name", [
    ("constant", "ConstantPadNdBackward0"), ("reflect", "ReflectionPad2DBackward0"),
    ("replicate", "ReplicationPad2DBackward0"), ("circular", "CopySlices")])
def test_pad_grad_fn(mode, name):
    e = EF.pad(engine.randn(2, 3, 4, 4, requires_grad=True), (1, 1, 2, 1), mode=mode)
    t = TF.pad(torch.randn(2, 3, 4, 4, requires_grad=True), (1, 1, 2, 1), mode=mode)
    assert type(e.grad_fn).__name__ == name == type(t.grad_fn).__name__


def test_pad_integer():
    x = np.arange(12).reshape(3, 4)
    for kw in (dict(value=2.7), dict(value=-1)):
        t = TF.pad(torch.tensor(x), (1, 1, 1, 0), **kw)
        e = EF.pad(engine.tensor(x), (1, 1, 1, 0), **kw)
        assert e.dtype is engine.int64
        np.testing.assert_array_equal(e.numpy(), t.numpy())


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate"])
def test_pad_double_backward(mode):
    x = engine.tensor(np.random.default_rng(0).standard_normal((1, 2, 4, 5)), requires_grad=True)
    assert engine.autograd.gradgradcheck(lambda x: EF.pad(x, (1, 2, 2, 1), mode=mode).pow(2), (x,))


PAD_ERRORS = [
    (lambda F, R: F.pad(R(2, 3, 4, 4), (1, 1, 1)), RuntimeError),
    (lambda F, R: F.pad(R(2, 3), (1, 1, 1, 1, 1, 1)), RuntimeError),
    (lambda F, R: F.pad(R(1, 1, 3, 3), (3, 3, 3, 3), mode="reflect"), RuntimeError),
    (lambda F, R: F.pad(R(1, 1, 3, 3), (1, 1, 3, 3), mode="reflect"), RuntimeError),
    (lambda F, R: F.pad(R(1, 1, 3), (3, 3), mode="reflect"), RuntimeError),
    (lambda F, R: F.pad(R(3, 3), (1, 1, 1, 1), mode="reflect"), NotImplementedError),
    (lambda F, R: F.pad(R(1, 1, 3, 3, 3), (1, 1, 1, 1), mode="replicate"), NotImplementedError),
    (lambda F, R: F.pad(R(1, 1, 3, 3), (1, 1, 1, 1), mode="foo"), NotImplementedError),
    (lambda F, R: F.pad(R(1, 1, 3, 3), (4, 4, 1, 1), mode="circular"), RuntimeError),
    (lambda F, R: F.pad(R(1, 1, 3, 3), (1, 1, 1, 1), mode="reflect", value=1.0), RuntimeError),
    (lambda F, R: F.pad(R(1, 1, 3, 3), (-2, -2)), RuntimeError),
]


@pytest.mark.parametrize("i", range(len(PAD_ERRORS)))
def test_pad_errors(i):
    fn, exc = PAD_ERRORS[i]
    with pytest.raises(exc) as t:
        fn(TF, torch.randn)
    with pytest.raises(exc) as e:
        fn(EF, engine.randn)
    assert str(e.value) == str(t.value)


# -- interpolate ------------------------------------------------------------------------------
INTERP = [
    ("nearest", dict(scale_factor=2)), ("nearest", dict(scale_factor=1.7)), ("nearest", dict(size=(5, 11))),
    ("nearest", dict(scale_factor=0.5)), ("nearest", dict(scale_factor=(2, 0.6))),
    ("nearest-exact", dict(scale_factor=1.7)), ("nearest-exact", dict(size=(4, 13))),
    ("bilinear", dict(scale_factor=2)), ("bilinear", dict(scale_factor=1.7)), ("bilinear", dict(size=(5, 11))),
    ("bilinear", dict(scale_factor=2, align_corners=True)), ("bilinear", dict(size=(5, 11), align_corners=True)),
    ("bilinear", dict(scale_factor=0.6)), ("bilinear", dict(scale_factor=1.5, recompute_scale_factor=True)),
    ("area", dict(size=(4, 3))), ("area", dict(scale_factor=0.5)),
]


# check_op's defaults hold for interpolate although the linear modes carry more than summation rounding:
# PyTorch computes the source index scale*(dst + 0.5) - 0.5 and the weights in float32 (opmath) and may fuse it
# into an FMA, so a weight differs by <= 1 ulp of the index (<= 4.8e-7 for indices < 8).  Per axis that is
# <= 4.8e-7*|x1 - x0| (<= 4, U(-2, 2) data) + 2 roundings of |x| <= 2 = 2.2e-6, <= 3 axes: 6.6e-6 < atol
# 1e-5; a gradient sums <= 16 cotangents |g| <= 4.5 per axis pair: 16*4.5*2*4.8e-7 = 6.9e-5 < 1e-4.
# nearest and nearest-exact pick indices by floor of correctly rounded float32 products (no FMA shape):
# the same selection on any machine, exact copies.
@pytest.mark.parametrize("mode,kw", INTERP)
def test_interpolate_2d(mode, kw):
    check_op(lambda x: F(x).interpolate(x, mode=mode, **kw), [(2, 3, 9, 8)])
    check_gradcheck(lambda x: EF.interpolate(x, mode=mode, **kw), [(1, 2, 9, 8)])


@pytest.mark.parametrize("mode,kw", [("nearest", dict(scale_factor=3)), ("linear", dict(scale_factor=2.5)),
                                     ("linear", dict(size=4, align_corners=True)), ("area", dict(size=4))])
def test_interpolate_1d(mode, kw):
    check_op(lambda x: F(x).interpolate(x, mode=mode, **kw), [(2, 3, 7)])
    check_gradcheck(lambda x: EF.interpolate(x, mode=mode, **kw), [(2, 3, 7)])


@pytest.mark.parametrize("mode", ["nearest", "trilinear"])
def test_interpolate_3d(mode):
    check_op(lambda x: F(x).interpolate(x, scale_factor=(2, 1.5, 0.5), mode=mode), [(1, 2, 3, 4, 6)])


@pytest.mark.parametrize("mode,name", [
    ("nearest", "UpsampleNearest2DBackward0"), ("bilinear", "UpsampleBilinear2DBackward0"),
    ("nearest-exact", "UpsampleNearestExact2DBackward0")])
def test_interpolate_grad_fn(mode, name):
    e = EF.interpolate(engine.randn(2, 3, 4, 4, requires_grad=True), scale_factor=2, mode=mode)
    t = TF.interpolate(torch.randn(2, 3, 4, 4, requires_grad=True), scale_factor=2, mode=mode)
    assert type(e.grad_fn).__name__ == name == type(t.grad_fn).__name__


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_interpolate_double_backward(mode):
    x = engine.tensor(np.random.default_rng(0).standard_normal((1, 2, 4, 5)), requires_grad=True)
    assert engine.autograd.gradgradcheck(lambda x: EF.interpolate(x, scale_factor=1.5, mode=mode).pow(2), (x,))


def test_upsample_aliases():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, kw in (("upsample", dict(scale_factor=2)), ("upsample", dict(size=7, mode="bilinear")),
                         ("upsample_nearest", dict(scale_factor=2)), ("upsample_bilinear", dict(size=(6, 9)))):
            t = getattr(TF, name)(torch.tensor(x), **kw)
            e = getattr(EF, name)(engine.tensor(x), **kw)
            # bilinear (4 -> 7, index < 4.5): weights 1 ulp = 1.2e-7 apart, |x1 - x0| <= 7 for N(0, 1) data:
            # per axis 1.2e-7*7 + 2 roundings of |x| <= 3.5 (4.2e-7) = 1.3e-6, 2 axes 2.5e-6 -> atol 1e-5
            np.testing.assert_allclose(e.numpy(), t.numpy(), atol=1e-5)
    with pytest.warns(UserWarning, match="deprecated"):
        EF.upsample(engine.tensor(x), scale_factor=2)


INTERP_ERRORS = [
    (lambda F, R: F.interpolate(R(1, 1, 3, 3), size=4, scale_factor=2), ValueError),
    (lambda F, R: F.interpolate(R(1, 1, 3, 3)), ValueError),
    (lambda F, R: F.interpolate(R(1, 1, 3), scale_factor=2, mode="bilinear"), NotImplementedError),
    (lambda F, R: F.interpolate(R(1, 1, 3, 3), scale_factor=2, mode="linear"), NotImplementedError),
    (lambda F, R: F.interpolate(R(1, 1, 3, 3), scale_factor=2, align_corners=True), ValueError),
    (lambda F, R: F.interpolate(R(1, 1, 3, 3), size=(2, 3, 4)), ValueError),
    (lambda F, R: F.interpolate(R(1, 1, 3, 3), scale_factor=(2, 3, 4)), ValueError),
    (lambda F, R: F.interpolate(R(1, 1, 3, 3), scale_factor=2, mode="foo"), NotImplementedError),
    (lambda F, R: F.interpolate(R(3, 3), scale_factor=2), NotImplementedError),
]


@pytest.mark.parametrize("i", range(len(INTERP_ERRORS)))
def test_interpolate_errors(i):
    fn, exc = INTERP_ERRORS[i]
    with pytest.raises(exc) as t:
        fn(TF, torch.randn)
    with pytest.raises(exc) as e:
        fn(EF, engine.randn)
    assert str(e.value) == str(t.value)


def test_pixel_shuffle():
    check_op(lambda x: F(x).pixel_shuffle(x, 2), [(2, 8, 3, 4)])
    check_op(lambda x: F(x).pixel_unshuffle(x, 2), [(2, 2, 4, 6)])


# -- modules ----------------------------------------------------------------------------------
MODULES = [
    (lambda nn: nn.ZeroPad2d(1), (2, 3, 4, 4)),
    (lambda nn: nn.ZeroPad2d((1, 2, 3, 0)), (2, 3, 4, 4)),
    (lambda nn: nn.ZeroPad1d(2), (2, 3, 4)),
    (lambda nn: nn.ConstantPad2d(2, 3.5), (2, 3, 4, 4)),
    (lambda nn: nn.ConstantPad1d((1, 2), 1), (2, 3, 4)),
    (lambda nn: nn.ConstantPad3d(1, 0.5), (1, 2, 3, 3, 3)),
    (lambda nn: nn.ReflectionPad2d(2), (2, 3, 4, 4)),
    (lambda nn: nn.ReflectionPad1d((1, 2)), (2, 3, 4)),
    (lambda nn: nn.ReplicationPad2d((1, 0, 2, 1)), (2, 3, 4, 4)),
    (lambda nn: nn.ReplicationPad3d(1), (1, 2, 3, 3, 3)),
    (lambda nn: nn.CircularPad2d(1), (2, 3, 4, 4)),
    (lambda nn: nn.Upsample(scale_factor=2), (2, 3, 4, 4)),
    (lambda nn: nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True), (2, 3, 4, 4)),
    (lambda nn: nn.Upsample(scale_factor=1.5, mode="bilinear"), (2, 3, 4, 4)),
    (lambda nn: nn.UpsamplingNearest2d(scale_factor=2), (2, 3, 4, 4)),
    (lambda nn: nn.UpsamplingBilinear2d(size=5), (2, 3, 4, 4)),
    (lambda nn: nn.PixelShuffle(2), (2, 8, 3, 3)),
    (lambda nn: nn.Unfold(3, padding=1), (2, 3, 4, 4)),
    (lambda nn: nn.Fold((4, 5), 2), (2, 12, 12)),
]


@pytest.mark.parametrize("factory,shape", MODULES)
def test_module_parity(factory, shape):
    tm, em = both(factory)
    assert repr(tm) == repr(em)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    # pads, shuffles and nearest upsampling copy; Fold sums <= 4 overlaps.  Bilinear (scale 1.5, index <= 3.5):
    # weights <= 1 ulp = 1.2e-7 apart (see test_interpolate_2d), forward per axis 1.2e-7*7 + 4.2e-7, 2 axes
    # 2.5e-6; input grads sum <= 9 cotangents |g| <= 3.5: 9*3.5*2.4e-7 = 7.6e-6 + a 9-term float32 sum
    # (random walk ~3e-7) -> atol = rtol = 2e-5
    run_both(tm, em, x, atol=2e-5)

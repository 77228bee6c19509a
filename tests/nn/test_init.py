"""nn.init against real PyTorch: gains, fans, errors exactly; distributions statistically
(fixed seeds, large tensors) since the engine's generator is not PyTorch's."""
import math
import warnings

import numpy as np
import pytest
import torch

import engine

EI, TI = engine.nn.init, torch.nn.init


def _np(t):
    return np.asarray(t.detach()._data, dtype=np.float64)


@pytest.mark.parametrize("args", [("linear",), ("conv2d",), ("conv_transpose3d",), ("sigmoid",), ("tanh",),
                                  ("relu",), ("leaky_relu",), ("leaky_relu", 0.2), ("leaky_relu", 3),
                                  ("selu",)])
def test_calculate_gain(args):
    # the same Python float expressions (e.g. math.sqrt(2.0 / (1 + slope ** 2))): correctly rounded, exact
    assert EI.calculate_gain(*args) == TI.calculate_gain(*args)


@pytest.mark.parametrize("call", [
    lambda I, lib: I.calculate_gain("foo"),
    lambda I, lib: I.calculate_gain("leaky_relu", True),
    lambda I, lib: I.calculate_gain("leaky_relu", "x"),
    lambda I, lib: I._calculate_fan_in_and_fan_out(lib.empty(3)),
    lambda I, lib: I.kaiming_uniform_(lib.empty(3, 4), mode="fan_avg"),
    lambda I, lib: I.xavier_normal_(lib.empty(5)),
    lambda I, lib: I.eye_(lib.empty(2, 2, 2)),
    lambda I, lib: I.dirac_(lib.empty(2, 2)),
    lambda I, lib: I.dirac_(lib.empty(3, 2, 3), groups=2),
    lambda I, lib: I.orthogonal_(lib.empty(3)),
    lambda I, lib: I.sparse_(lib.empty(3), 0.5),
])
def test_errors(call):
    with pytest.raises(Exception) as te:
        call(TI, torch)
    with pytest.raises(Exception) as ee:
        call(EI, engine)
    assert type(ee.value) is type(te.value) and str(ee.value) == str(te.value)


@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5), (6, 2, 3, 3), (2, 3, 1, 2, 2)])
def test_fans(shape):
    assert EI._calculate_fan_in_and_fan_out(engine.empty(shape)) == TI._calculate_fan_in_and_fan_out(torch.empty(shape))


N = (400, 500)  # 200k samples: sample std within ~0.3% of the true std


# Statistical checks on fixed-seed draws.  The engine's samples are numpy's generator mapped by correctly
# rounded float64 arithmetic (the same values on any machine up to an ulp in rare libm-computed tails);
# what is left to rounding are the float64 sums of mean/std (~1e-12), far below the margins: with n = 2e5
# the sampling sd of the mean is 0.29*(hi - lo)/447 = 6.5e-4*(hi - lo) for a uniform (bound 15 sd) and
# std/447 = 2.2e-3*std for a normal (bound 4.5 sd), of the std 1.6e-3*std (bound 6 sd).
def _check_uniform(x, lo, hi):
    assert x.min() >= lo and x.max() <= hi
    assert abs(x.mean() - (lo + hi) / 2) < 0.01 * (hi - lo)
    assert abs(x.std() - (hi - lo) / math.sqrt(12)) < 0.01 * (hi - lo)


def _check_normal(x, mean, std):
    assert abs(x.mean() - mean) < 0.01 * std + 1e-12
    assert abs(x.std() - std) < 0.01 * std


@pytest.mark.parametrize("a,b", [(0.0, 1.0), (-3.0, 2.0)])
def test_uniform(a, b):
    engine.manual_seed(0)
    t = engine.empty(N, requires_grad=True)
    r = EI.uniform_(t, a, b)
    assert r is t and t.requires_grad and t.grad_fn is None
    _check_uniform(_np(t), a, b)


@pytest.mark.parametrize("mean,std", [(0.0, 1.0), (2.0, 0.1)])
def test_normal(mean, std):
    engine.manual_seed(0)
    _check_normal(_np(EI.normal_(engine.empty(N), mean, std)), mean, std)


def test_generator_argument_is_used():
    g1 = engine.Generator().manual_seed(5)
    g2 = engine.Generator().manual_seed(5)
    a = EI.normal_(engine.empty(10), generator=g1)
    b = EI.normal_(engine.empty(10), generator=g2)
    assert np.array_equal(_np(a), _np(b))
    engine.manual_seed(1)
    c = EI.kaiming_uniform_(engine.empty(5, 4))
    engine.manual_seed(1)
    d = EI.kaiming_uniform_(engine.empty(5, 4))
    assert np.array_equal(_np(c), _np(d))


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier(gain):
    engine.manual_seed(0)
    fan_in, fan_out = N[1], N[0]
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    _check_uniform(_np(EI.xavier_uniform_(engine.empty(N), gain=gain)), -std * math.sqrt(3), std * math.sqrt(3))
    _check_normal(_np(EI.xavier_normal_(engine.empty(N), gain=gain)), 0.0, std)


@pytest.mark.parametrize("a,mode,nl", [(0, "fan_in", "leaky_relu"), (math.sqrt(5), "fan_in", "leaky_relu"),
                                       (0, "fan_out", "relu"), (0.1, "FAN_IN", "leaky_relu"), (0, "fan_in", "tanh")])
def test_kaiming(a, mode, nl):
    engine.manual_seed(0)
    shape = (200, 100, 2, 5)
    fan_in, fan_out = 100 * 10, 200 * 10
    fan = fan_in if mode.lower() == "fan_in" else fan_out
    std = TI.calculate_gain(nl, a) / math.sqrt(fan)
    _check_uniform(_np(EI.kaiming_uniform_(engine.empty(shape), a=a, mode=mode, nonlinearity=nl)),
                   -std * math.sqrt(3), std * math.sqrt(3))
    _check_normal(_np(EI.kaiming_normal_(engine.empty(shape), a=a, mode=mode, nonlinearity=nl)), 0.0, std)


def test_kaiming_zero_element_warns():
    for I, lib in ((TI, torch), (EI, engine)):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            I.kaiming_uniform_(lib.empty(0, 3))
        assert [str(x.message) for x in w] == ["Initializing zero-element tensors is a no-op"]


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.0, 1.0, -0.1, 0.1), (1.0, 2.0, 0.0, 5.0),
                                          (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal(mean, std, a, b):
    engine.manual_seed(0)
    torch.manual_seed(0)
    e = _np(EI.trunc_normal_(engine.empty(N), mean, std, a, b))
    t = TI.trunc_normal_(torch.empty(N), mean, std, a, b).double().numpy()
    # float32 samples lie in [float32(a), float32(b)]: float32(-0.1) < -0.1, so compare with those bounds
    assert e.min() >= np.float32(a) and e.max() <= np.float32(b)
    # same distribution as PyTorch's: compare moments with torch's own samples (two independent fixed-seed
    # samples of 2e5: sd of the difference of means <= sqrt(2)*(b - a)/sqrt(12)/447 = 9e-4*(b - a), 11 sd)
    assert abs(e.mean() - t.mean()) < 0.01 * (b - a)
    assert abs(e.std() - t.std()) < 0.01 * (b - a)


def test_constant_ones_zeros_eye_dirac():
    for fn, tf in ((lambda t: EI.constant_(t, 0.3), lambda t: TI.constant_(t, 0.3)), (EI.ones_, TI.ones_),
                   (EI.zeros_, TI.zeros_), (EI.eye_, TI.eye_)):
        e = fn(engine.empty(3, 5, requires_grad=True))
        t = tf(torch.empty(3, 5, requires_grad=True))
        # constants 0.3 -> float32(0.3), 0, 1: the same float32 in both, exact
        assert np.array_equal(_np(e), t.detach().double().numpy()) and e.requires_grad and e.grad_fn is None
    for shape, groups in (((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((2, 2, 3, 3, 3), 1), ((4, 4, 2, 2), 2)):
        e = EI.dirac_(engine.empty(shape), groups)
        t = TI.dirac_(torch.empty(shape), groups)
        assert np.array_equal(_np(e), t.double().numpy())


@pytest.mark.parametrize("shape", [(30, 20), (20, 30), (10, 3, 4), (25, 25)])
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_orthogonal(shape, gain):
    engine.manual_seed(0)
    w = _np(EI.orthogonal_(engine.empty(shape), gain=gain)).reshape(shape[0], -1)
    rows, cols = w.shape
    prod = w @ w.T if rows <= cols else w.T @ w
    # Q from a float64 QR (orthogonal to ~30*2**-53) rounded to float32 and scaled by 1 or 0.5 (exact):
    # |(w w^T - g^2 I)_ij| <= 2*2**-24 * |w_i| |w_j| = 1.2e-7 * g^2 (Cauchy-Schwarz), plus a float64 product
    np.testing.assert_allclose(prod, gain ** 2 * np.eye(min(rows, cols)), atol=1e-5)


def test_sparse():
    engine.manual_seed(0)
    w = _np(EI.sparse_(engine.empty(10, 400), sparsity=0.3, std=0.5))
    assert ((w == 0).sum(axis=0) >= 3).all()
    nz = w[w != 0]
    assert abs(nz.std() - 0.5) < 0.03  # 2800 fixed-seed normals: sampling sd of the std 0.5/75 = 6.7e-3, 4.5 sd


def test_deprecated_aliases_warn():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        EI.normal(engine.empty(2, 2))
    assert any("deprecated" in str(x.message) for x in w)


def test_init_is_not_recorded_in_graph():
    p = engine.nn.Parameter(engine.empty(3, 3))
    for fn in (EI.uniform_, EI.normal_, EI.xavier_uniform_, EI.kaiming_normal_, EI.orthogonal_, EI.trunc_normal_,
               EI.zeros_, EI.eye_):
        assert fn(p) is p and p.is_leaf and p.requires_grad

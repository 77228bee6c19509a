"""Parity of pointwise math with PyTorch: values, dtypes, broadcasting, gradients (incl. at the
kinks PyTorch defines), grad_fn names, in-place forms and error cases."""
import math

import numpy as np
import pytest
import torch

import engine
from parity import check_error, check_gradcheck, check_op


def lib(x):
    return torch if isinstance(x, torch.Tensor) else engine


# name -> (low, high) input range away from poles and kinks
UNARY = {
    "abs": (-2, 2), "sign": (-2, 2), "sgn": (-2, 2), "exp": (-2, 2), "exp2": (-2, 2), "expm1": (-2, 2),
    "log": (0.1, 3), "log2": (0.1, 3), "log10": (0.1, 3), "log1p": (-0.5, 2), "sqrt": (0.1, 3),
    "rsqrt": (0.2, 3), "square": (-2, 2), "sin": (-3, 3), "cos": (-3, 3), "tan": (-1.2, 1.2),
    "asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atan": (-3, 3), "sinh": (-2, 2), "cosh": (-2, 2),
    "tanh": (-3, 3), "sigmoid": (-4, 4), "relu": (-2, 2), "floor": (-3, 3), "ceil": (-3, 3),
    "round": (-3, 3), "trunc": (-3, 3), "frac": (-3, 3), "reciprocal": (0.3, 3), "erf": (-3, 3),
    "nan_to_num": (-2, 2), "absolute": (-2, 2), "arcsin": (-0.9, 0.9), "arctan": (-2, 2), "fix": (-3, 3),
}
SHAPES = [(3, 4), (), (2, 3, 5)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_method_and_function(name, shape):
    lo, hi = UNARY[name]
    grad = name != "sgn"  # torch's sgn gradient is a ZeroTensor that cannot be read back; checked below
    check_op(lambda x: getattr(x, name)(), [shape], low=lo, high=hi, grad=grad)
    check_op(lambda x: getattr(lib(x), name)(x), [shape], low=lo, high=hi, seed=1, grad=grad)


def test_sgn_gradient_is_zero():
    x = engine.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    x.sgn().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck(name):
    lo, hi = UNARY[name]
    check_gradcheck(lambda x: getattr(engine, name)(x), [(3, 4)], low=lo, high=hi)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "tanh", "sigmoid", "erf", "atan", "reciprocal",
                                  "rsqrt", "asin", "log1p", "relu", "abs"])
def test_unary_double_backward(name):
    lo, hi = UNARY[name]
    lo = max(lo, 0.2) if name in ("log", "sqrt", "rsqrt", "reciprocal") else lo

    def second(x):
        L = lib(x)
        y = getattr(L, name)(x)
        (g,) = L.autograd.grad(y.sum(), x, create_graph=True)
        return (g * g * x).sum()

    check_op(second, [(3, 4)], low=lo, high=hi)


@pytest.mark.parametrize("dt", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("name", sorted(set(UNARY) - {"abs", "absolute", "relu", "floor", "ceil", "round", "trunc",
                                                     "fix", "frac", "sign", "sgn", "square", "nan_to_num"}))
def test_unary_integer_inputs_give_float(name, dt):
    lo, hi = UNARY[name]
    # the result is float32: one libm call per element, <= 4 ulp each side: <= 8*2**-23 = 9.5e-7 relative;
    # the zeros (sin 0, log 1, acos 1...) are exact
    check_op(lambda x: getattr(x, name)(), [(5,)], grad=False, input_dtypes=[dt], dtypes=("float64",),
             low=max(lo, 0) if dt == "uint8" else lo, high=hi, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("dt", ["int64", "int32", "int8", "uint8"])
@pytest.mark.parametrize("name", ["abs", "relu", "floor", "ceil", "round", "trunc", "sign", "sgn", "square",
                                  "nan_to_num"])
def test_unary_integer_inputs_keep_dtype(name, dt):
    check_op(lambda x: getattr(x, name)(), [(6,)], grad=False, input_dtypes=[dt], dtypes=("float64",), low=-3,
             high=3)


@pytest.mark.parametrize("name", ["sign", "sgn", "square", "nan_to_num"])
def test_unary_bool_inputs(name):
    check_op(lambda x: getattr(x, name)(), [(6,)], grad=False, input_dtypes=["bool"], dtypes=("float64",))


@pytest.mark.parametrize("name", ["exp", "sqrt", "sigmoid", "erf", "tanh", "abs", "floor", "round"])
def test_unary_float16(name):
    check_op(lambda x: getattr(x, name)(), [(8,)], grad=False, dtypes=("float16",), low=0.1, high=3)


@pytest.mark.parametrize("fn", [
    lambda L: L.tensor([-1.0, 0.0, -0.0, 2.0]).abs(), lambda L: L.tensor([-1.0, 0.0, float("nan"), 2.0]).sign(),
    lambda L: L.tensor([float("nan"), float("inf"), -float("inf"), 1.0]).nan_to_num(),
    lambda L: L.tensor([float("nan"), float("inf"), -float("inf"), 1.0]).nan_to_num(1.0, 2.0, -3.0),
    lambda L: L.tensor([float("nan"), float("inf"), -1.0], dtype=L.float16).nan_to_num(),
    lambda L: L.tensor([0.0, -1.0, 4.0, float("inf")]).sqrt(),
    lambda L: L.tensor([0.0, -1.0, 1.0, float("inf")]).log(),
    lambda L: L.tensor([-100.0, 100.0, 0.0, float("nan")]).sigmoid(),
    lambda L: L.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 3.5]).round(),
    lambda L: L.tensor([-2.7, -0.2, 0.2, 2.7]).frac(),
    lambda L: L.tensor([0.0, -0.0]).reciprocal(),
    lambda L: L.tensor([-3, 0, 5]).relu(),
])
def test_special_values(fn):
    t, e = fn(torch), fn(engine)
    assert str(e.dtype) == str(t.dtype)
    # exact results: special values, sqrt (correctly rounded), rounding functions, x - trunc(x), and
    # sigmoid's 1/(1 + exp(-x)) at 0, +-100 (0.5, 1, 0: exp(100) overflows to inf in float32)
    np.testing.assert_array_equal(np.asarray(e._data), t.numpy())


@pytest.mark.parametrize("decimals", [1, 2, 3, -1, -2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_decimals(decimals, dtype):
    vals = [0.5, 1.5, 2.5, -0.5, 1.25, 1.35, 1.005, 125.0, 135.0, 1234.5678, -987.654, 0.0451]
    t = torch.tensor(vals, dtype=getattr(torch, dtype))
    e = engine.tensor(vals, dtype=getattr(engine, dtype))
    # nearbyint(x * 10**d) / 10**d (d < 0: x / 10**-d, then *): the same correctly rounded ops on both
    # sides, bitwise equal on any machine
    np.testing.assert_array_equal(np.asarray(e.round(decimals=decimals)._data),
                                  t.round(decimals=decimals).numpy())
    check_op(lambda x: x.round(decimals=decimals), [(3, 4)], low=-50, high=50)
    x = engine.tensor([1.234], requires_grad=True)
    assert engine.round(x, decimals=decimals).grad_fn.name() == "RoundBackward1"


def test_erf_accuracy():
    x64 = np.concatenate([np.linspace(-7, 7, 20001), np.logspace(-30, 1.2, 500), -np.logspace(-30, 1.2, 500),
                          [0.0, -0.0, np.inf, -np.inf, np.nan, 2.5, -2.5, 2.4999999]])
    t = torch.erf(torch.from_numpy(x64)).numpy()
    e = np.asarray(engine.erf(engine.from_numpy(x64.copy()))._data)
    # The engine's series/continued fraction uses only correctly rounded +, *, / (the same on any machine)
    # and one exp: on this grid it is within 1.3e-15 relative of erf (mpmath); exp may move it by <= 4 ulp
    # (8.9e-16), torch's erf (glibc or Sleef u10) is within 1 ulp (2.2e-16): <= 2.4e-15 apart
    np.testing.assert_allclose(e, t, rtol=4e-15, atol=0, equal_nan=True)
    x32 = x64.astype(np.float32)
    t32 = torch.erf(torch.from_numpy(x32)).numpy()
    e32 = np.asarray(engine.erf(engine.from_numpy(x32.copy()))._data)
    assert e32.dtype == np.float32
    # float32: the engine rounds its float64 value once (0.5 ulp + 1e-15), torch's erff is within 1 ulp:
    # <= 1.5 ulp <= 1.5*2**-23 = 1.8e-7 relative
    np.testing.assert_allclose(e32, t32, rtol=2e-7, atol=1e-30, equal_nan=True)
    # 0.5 ulp of 0.52 in float32 = 5.7e-8 relative
    assert engine.erf(engine.tensor(0.5)).item() == pytest.approx(math.erf(0.5), rel=1e-7)
    assert engine.erf(engine.tensor([])).shape == (0,)


@pytest.mark.parametrize("op,name", [
    ("abs", "AbsBackward0"), ("sign", "SignBackward0"), ("sgn", "SgnBackward0"), ("exp", "ExpBackward0"),
    ("exp2", "Exp2Backward0"), ("log", "LogBackward0"), ("log2", "Log2Backward0"), ("log10", "Log10Backward0"),
    ("log1p", "Log1PBackward0"), ("expm1", "Expm1Backward0"), ("sqrt", "SqrtBackward0"),
    ("rsqrt", "RsqrtBackward0"), ("square", "PowBackward0"), ("sin", "SinBackward0"), ("cos", "CosBackward0"),
    ("tan", "TanBackward0"), ("asin", "AsinBackward0"), ("acos", "AcosBackward0"), ("atan", "AtanBackward0"),
    ("sinh", "SinhBackward0"), ("cosh", "CoshBackward0"), ("tanh", "TanhBackward0"),
    ("sigmoid", "SigmoidBackward0"), ("relu", "ReluBackward0"), ("floor", "FloorBackward0"),
    ("ceil", "CeilBackward0"), ("round", "RoundBackward0"), ("trunc", "TruncBackward0"), ("frac", "FracBackward0"),
    ("reciprocal", "ReciprocalBackward0"), ("erf", "ErfBackward0"), ("nan_to_num", "NanToNumBackward0"),
])
def test_grad_fn_names(op, name):
    for L in (torch, engine):
        x = L.tensor([0.3, 0.6], requires_grad=True)
        y = getattr(L, op)(x)
        assert y.grad_fn.name() == name
        assert type(y.grad_fn).__name__ == name
        assert f"grad_fn=<{name}>" in repr(y)


@pytest.mark.parametrize("expr,name", [
    (lambda L, x, y: L.clamp(x, 0, 1), "ClampBackward1"), (lambda L, x, y: L.clamp(x, min=0), "ClampBackward1"),
    (lambda L, x, y: L.clamp(x, max=0), "ClampBackward1"), (lambda L, x, y: L.clip(x, -1, 1), "ClampBackward1"),
    (lambda L, x, y: L.clamp(x, y), "ClampBackward0"), (lambda L, x, y: L.clamp(x, y, y + 1), "ClampBackward0"),
    (lambda L, x, y: L.clamp(x, None, y), "ClampBackward0"),
    (lambda L, x, y: L.clamp(x, L.tensor(0.0), 1.0), "ClampBackward1"),
    (lambda L, x, y: L.clamp_min(x, 0), "ClampMinBackward0"), (lambda L, x, y: L.clamp_max(x, 0), "ClampMaxBackward0"),
    (lambda L, x, y: L.clamp_min(x, y), "ClampMinBackward1"), (lambda L, x, y: L.clamp_max(x, y), "ClampMaxBackward1"),
    (lambda L, x, y: L.maximum(x, y), "MaximumBackward0"), (lambda L, x, y: L.minimum(x, y), "MinimumBackward0"),
    (lambda L, x, y: L.fmax(x, y), "FmaxBackward0"), (lambda L, x, y: L.fmin(x, y), "FminBackward0"),
    (lambda L, x, y: L.atan2(x, y), "Atan2Backward0"), (lambda L, x, y: L.where(x > 0, x, y), "WhereBackward0"),
    (lambda L, x, y: L.where(x > 0, x, 0.0), "WhereBackward0"), (lambda L, x, y: L.round(x, decimals=1),
                                                                  "RoundBackward1"),
])
def test_binary_grad_fn_names(expr, name):
    for L in (torch, engine):
        x = L.tensor([0.3, -0.6], requires_grad=True)
        y = L.tensor([0.1, 0.2], requires_grad=True)
        assert expr(L, x, y).grad_fn.name() == name


# -- gradients at the edges ---------------------------------------------------------------------
EDGE = [0.0, 1.0, -1.0, 2.0, -0.0, 0.5]


@pytest.mark.parametrize("fn", [
    lambda x: x.abs(), lambda x: x.relu(), lambda x: x.sign(), lambda x: x.clamp(0, 1), lambda x: x.clamp(min=0),
    lambda x: x.clamp(max=1), lambda x: x.clamp(1, 0), lambda x: x.clamp_min(0.5), lambda x: x.clamp_max(0.5),
    lambda x: x.floor(), lambda x: x.round(), lambda x: x.frac(), lambda x: x.sqrt(),
    lambda x: lib(x).maximum(x, lib(x).zeros(6)), lambda x: lib(x).minimum(x, lib(x).ones(6)),
    lambda x: lib(x).fmax(x, lib(x).zeros(6)), lambda x: lib(x).fmin(x, lib(x).ones(6)),
    lambda x: x.nan_to_num(), lambda x: lib(x).where(x > 0, x, x * 2),
])
def test_edge_gradients(fn):
    grads = []
    for L in (torch, engine):
        x = L.tensor(EDGE, requires_grad=True)
        fn(x).sum().backward()
        grads.append(np.asarray(x.grad.detach()._data if L is engine else x.grad.numpy()))
    # gradients at kinks are 0, +-1, 2 or sqrt's 1/(2*sqrt(x)): correctly rounded ops, exact on any machine
    np.testing.assert_array_equal(grads[1], grads[0])


@pytest.mark.parametrize("op", ["maximum", "minimum", "fmax", "fmin"])
def test_minmax_ties_and_nan(op):
    nan = float("nan")
    a_vals, b_vals = [0.0, 1.0, 2.0, nan, 3.0, nan, 5.0], [0.0, 2.0, 1.0, 1.0, nan, nan, 5.0]
    res = []
    for L in (torch, engine):
        a = L.tensor(a_vals, requires_grad=True)
        b = L.tensor(b_vals, requires_grad=True)
        y = getattr(L, op)(a, b)
        (y * L.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])).sum().backward()
        res.append([np.asarray(v.detach().numpy() if L is torch else v.detach()._data) for v in (y, a.grad, b.grad)])
    for t, e in zip(res[0], res[1]):
        np.testing.assert_array_equal(e, t)  # selections and small-integer (halved at ties) gradients: exact


def test_clamp_tensor_bound_gradients():
    x_vals, lo_vals, hi_vals = [0.0, 1.0, 2.0, -1.0, 0.5, 3.0], [0.0, 0.0, 3.0, 0.0, 0.5, 1.0], \
        [1.0, 1.0, 1.0, 2.0, 0.5, 2.0]
    res = []
    for L in (torch, engine):
        x, lo, hi = (L.tensor(v, requires_grad=True) for v in (x_vals, lo_vals, hi_vals))
        y = L.clamp(x, lo, hi)
        z1 = L.clamp(x * 1, min=lo * 1)
        z2 = L.clamp(x * 1, max=hi * 1)
        (y.sum() + (z1 * 2).sum() + (z2 * 3).sum()).backward()
        res.append([np.asarray(v.detach().numpy() if L is torch else v.detach()._data)
                    for v in (y, x.grad, lo.grad, hi.grad)])
    for t, e in zip(res[0], res[1]):
        np.testing.assert_array_equal(e, t)  # selections and sums of 1, 2, 3: exact


# -- binary ops: broadcasting, dtypes, gradients ------------------------------------------------
BCAST = [[(3, 4), (3, 4)], [(3, 4), (4,)], [(2, 1, 4), (3, 1)], [(), (2, 3)], [(5,), ()]]


@pytest.mark.parametrize("shapes", BCAST)
@pytest.mark.parametrize("op", ["maximum", "minimum", "fmax", "fmin", "atan2"])
def test_binary(op, shapes):
    check_op(lambda x, y: getattr(lib(x), op)(x, y), shapes)
    check_op(lambda x, y: getattr(x, op)(y), shapes, seed=3)
    check_gradcheck(lambda x, y: getattr(engine, op)(x, y), shapes)


@pytest.mark.parametrize("dts", [("int64", "float32"), ("int64", "bool"), ("bool", "bool"), ("int32", "int64"),
                                 ("uint8", "int8"), ("float16", "float64"), ("int64", "int64")])
@pytest.mark.parametrize("op", ["maximum", "minimum", "fmax", "fmin", "atan2"])
def test_binary_promotion(op, dts):
    # max/min select (exact); atan2 is one libm call, <= 4 ulp each side: <= 8*2**-23 = 9.5e-7 relative
    # in float32; atan2(0, x) is 0 or fl(pi) on both sides
    check_op(lambda x, y: getattr(lib(x), op)(x, y), [(4,), (4,)], grad=False, input_dtypes=list(dts),
             dtypes=("float64",), low=-3, high=3, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4), (3, 4)], [(3, 4), (4,), (3, 1)], [(2, 3), (), ()],
                                    [(4,), (2, 1), (2, 4)]])
def test_clamp_tensor_bounds(shapes):
    check_op(lambda x, lo, hi: x.clamp(lo, hi - 0.5 + 3), shapes)
    check_op(lambda x, lo, hi: lib(x).clamp(x, min=lo), shapes)
    check_op(lambda x, lo, hi: lib(x).clamp(x, max=hi), shapes)
    check_op(lambda x, lo, hi: lib(x).clamp(x, hi, lo), shapes)  # crossed bounds
    check_op(lambda x, lo, hi: x.clamp_min(lo), shapes)
    check_op(lambda x, lo, hi: x.clamp_max(hi), shapes)
    check_gradcheck(lambda x, lo, hi: x.clamp(lo, hi + 2), shapes)
    check_gradcheck(lambda x, lo, hi: x.clamp_min(lo), shapes)
    check_gradcheck(lambda x, lo, hi: x.clamp_max(hi), shapes)


@pytest.mark.parametrize("fn", [
    lambda x: x.clamp(-0.5, 0.5), lambda x: x.clamp(min=-0.3), lambda x: x.clamp(max=0.3),
    lambda x: x.clip(-1, 1), lambda x: lib(x).clip(x, -1, 1), lambda x: lib(x).clamp(x, 0.2, -0.2),
    lambda x: x.clamp_min(0.1), lambda x: x.clamp_max(0.1), lambda x: lib(x).clamp_min(x, 0.1),
    lambda x: lib(x).clamp_max(x, -0.1),
])
def test_clamp_scalar(fn):
    check_op(fn, [(3, 4)])
    check_op(fn, [(2, 5, 3)], seed=4)


def test_clamp_gradcheck_scalar():
    # values between 0.1 and 0.9 stay away from the bounds +-0.95
    check_gradcheck(lambda x: x.clamp(-0.95, 0.95), [(3, 4)], low=-0.9, high=0.9)
    check_gradcheck(lambda x: x.clamp(min=-0.95) * x, [(3, 4)], low=-2, high=2)


@pytest.mark.parametrize("args", [(0, 1), (0.5, None), (None, 2), (-1, None), (0.0, 2.5)])
@pytest.mark.parametrize("dt", ["int64", "uint8", "bool", "int32", "float16"])
def test_clamp_dtypes(dt, args):
    check_op(lambda x: lib(x).clamp(x, *args), [(6,)], grad=False, input_dtypes=[dt], dtypes=("float64",),
             low=-3, high=3)


def test_clamp_dtypes_tensor_bounds():
    check_op(lambda x, lo: lib(x).clamp(x, lo), [(4,), (4,)], grad=False, input_dtypes=["int64", "float32"],
             dtypes=("float64",))
    check_op(lambda x, lo: lib(x).clamp(x, max=lo), [(4,), ()], grad=False, input_dtypes=["int32", "float64"],
             dtypes=("float64",))


# -- where ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 4), (4,)], [(2, 1, 4), (3, 1)], [(), (2, 3)]])
def test_where_tensors(shapes):
    check_op(lambda x, y: lib(x).where(x > y, x, y), shapes)
    check_op(lambda x, y: lib(x).where(x > 0, y, x), shapes)
    check_op(lambda x, y: x.where(y > 0, y), shapes)
    check_gradcheck(lambda x, y: engine.where(x > y, x * 2, y), shapes)


@pytest.mark.parametrize("fn", [
    lambda x: lib(x).where(x > 0, x, 0.0), lambda x: lib(x).where(x > 0, 1.0, x), lambda x: lib(x).where(x > 0, 2, x),
    lambda x: lib(x).where(x > 0, x, -1), lambda x: x.where(x > 0, 0.5), lambda x: x.where(x < 0, True),
])
def test_where_scalar_args(fn):
    check_op(fn, [(3, 4)])
    check_op(fn, [(5,)], seed=2)


@pytest.mark.parametrize("a,b", [(1.0, 0.0), (1, 0), (True, False), (2, 0.5), (1.5, True)])
def test_where_both_scalars(a, b):
    for shape in [(3, 4), ()]:
        check_op(lambda x: lib(x).where(x > 0, a, b), [shape], grad=False)


@pytest.mark.parametrize("dts", [("int64", "float32"), ("int8", "int64"), ("uint8", "bool"), ("float16", "float64")])
def test_where_promotion(dts):
    check_op(lambda x, y: lib(x).where(x > 1, x, y), [(4,), (4,)], grad=False, input_dtypes=list(dts),
             dtypes=("float64",), low=0, high=3)
    check_op(lambda x, y: lib(x).where(x > 1, x, 2.5), [(4,), (4,)], grad=False, input_dtypes=list(dts),
             dtypes=("float64",), low=0, high=3)


def test_where_uint8_condition_and_nonzero_form():
    for L in (torch, engine):
        c = L.tensor([1, 0, 1], dtype=L.uint8)
        with pytest.warns(UserWarning) if L is torch else _null():
            r = L.where(c, L.ones(3), L.zeros(3))
        assert r.tolist() == [1.0, 0.0, 1.0]


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_where_gradient_with_inf_grad_elsewhere():
    # the unselected branch gets an exact zero, even where the incoming gradient is inf
    res = []
    for L in (torch, engine):
        x = L.tensor([1.0, -1.0, 2.0], requires_grad=True)
        y = L.where(x > 0, x, L.zeros(3))
        y.backward(L.tensor([float("inf"), float("inf"), 1.0]))
        res.append(x.grad.tolist())
    assert res[0] == res[1]


# -- in-place forms ---------------------------------------------------------------------------------
INPLACE = ["abs_", "sign_", "exp_", "exp2_", "expm1_", "sin_", "cos_", "tanh_", "sigmoid_", "relu_",
           "floor_", "ceil_", "round_", "trunc_", "frac_", "atan_", "erf_", "square_", "sinh_", "nan_to_num_"]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_unary(name):
    def fn(x):
        z = x * 1
        r = getattr(z, name)()
        assert r is z
        return z * 2

    check_op(fn, [(3, 4)])


@pytest.mark.parametrize("name,lo,hi", [("sqrt_", 0.1, 3), ("rsqrt_", 0.2, 3), ("log_", 0.1, 3),
                                        ("log2_", 0.1, 3), ("log10_", 0.1, 3), ("log1p_", -0.5, 2),
                                        ("reciprocal_", 0.3, 3), ("asin_", -0.9, 0.9), ("acos_", -0.9, 0.9),
                                        ("tan_", -1.2, 1.2)])
def test_inplace_unary_ranges(name, lo, hi):
    def fn(x):
        z = x * 1
        getattr(z, name)()
        return z

    check_op(fn, [(3, 4)], low=lo, high=hi)


@pytest.mark.parametrize("fn", [
    lambda z, y: z.clamp_(-0.5, 0.5), lambda z, y: z.clamp_(min=0), lambda z, y: z.clamp_(max=0.2),
    lambda z, y: z.clip_(-1, 1), lambda z, y: z.clamp_min_(0.0), lambda z, y: z.clamp_max_(0.0),
    lambda z, y: z.clamp_(y), lambda z, y: z.clamp_(y, y + 1), lambda z, y: z.clamp_min_(y),
    lambda z, y: z.clamp_max_(y), lambda z, y: z.round_(decimals=1), lambda z, y: z.atan2_(y),
    lambda z, y: z.nan_to_num_(0.0, 1.0, -1.0),
])
def test_inplace_binary_forms(fn):
    def wrapped(x, y):
        z = x * 1
        r = fn(z, y)
        assert r is z
        return z

    check_op(wrapped, [(3, 4), (4,)])


@pytest.mark.parametrize("name", ["relu_", "exp_", "sigmoid_", "tanh_", "clamp_", "abs_"])
def test_inplace_functions_and_names(name):
    for L in (torch, engine):
        x = L.tensor([0.5, -0.5], requires_grad=True)
        z = x * 1
        fn = getattr(L, name)
        r = fn(z, 0, 1) if name == "clamp_" else fn(z)
        assert r is z
    tz, ez = None, None
    for L in (torch, engine):
        x = L.tensor([0.5, -0.5], requires_grad=True)
        z = x * 1
        getattr(z, name)(*((0, 1) if name == "clamp_" else ()))
        if L is torch:
            tz = z.grad_fn.name()
        else:
            ez = z.grad_fn.name()
    assert tz == ez


def test_inplace_version_and_leaf_errors():
    for L in (torch, engine):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            x.relu_()
        y = x.exp()
        y.exp_()
        with pytest.raises(RuntimeError):
            y.sum().backward()
        i = L.tensor([1, 2])
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
            i.exp_()
        i.relu_()
        i.clamp_(0, 1)
        assert i.tolist() == [1, 1]


# -- out= ----------------------------------------------------------------------------------------------
def test_out_keyword():
    for L in (torch, engine):
        x = L.tensor([1.0, 4.0])
        o = L.empty(2)
        r = L.sqrt(x, out=o)
        assert r is o and o.tolist() == [1.0, 2.0]
        L.clamp(x, 2, 3, out=o)
        assert o.tolist() == [2.0, 3.0]
        L.maximum(x, L.tensor([2.0, 2.0]), out=o)
        assert o.tolist() == [2.0, 4.0]


# -- errors ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn,dt,exc", [
    (lambda x: x.abs(), "bool", NotImplementedError), (lambda x: x.floor(), "bool", NotImplementedError),
    (lambda x: x.ceil(), "bool", NotImplementedError), (lambda x: x.round(), "bool", NotImplementedError),
    (lambda x: x.trunc(), "bool", NotImplementedError), (lambda x: x.frac(), "int64", NotImplementedError),
    (lambda x: x.frac(), "bool", NotImplementedError), (lambda x: x.relu(), "bool", RuntimeError),
    (lambda x: x.round(decimals=2), "int64", NotImplementedError),
    (lambda x: lib(x).clamp(x), "float32", RuntimeError), (lambda x: x.clamp(None, None), "float32", RuntimeError),
    (lambda x: x.clamp_(None, None), "float32", RuntimeError),
    (lambda x: lib(x).maximum(x, 2), "float32", TypeError), (lambda x: lib(x).fmin(x, 2.0), "float32", TypeError),
    (lambda x: lib(x).atan2(x, 1), "float32", TypeError), (lambda x: lib(x).clamp_min(x, None), "float32", TypeError),
    (lambda x: lib(x).exp(2.0), "float32", TypeError), (lambda x: lib(x).where(x, x, x), "float32", RuntimeError),
    (lambda x: lib(x).clamp(x, lib(x).zeros(3), 1.0), "float32", TypeError),
    (lambda x: x.clamp(True, False), "bool", NotImplementedError), (lambda x: x.clamp(True), "bool", NotImplementedError),
    (lambda x: x.clamp(max=True), "bool", NotImplementedError), (lambda x: x.clamp(x, x), "bool", NotImplementedError),
])
def test_errors(fn, dt, exc):
    t_msg, e_msg = check_error(fn, [(4,)], exc, dtypes=(dt,))
    assert e_msg == t_msg


@pytest.mark.parametrize("fn", [
    lambda x, y: lib(x).maximum(x, y), lambda x, y: lib(x).fmax(x, y), lambda x, y: lib(x).atan2(x, y),
    lambda x, y: lib(x).clamp(x, y), lambda x, y: lib(x).clamp(x, None, y), lambda x, y: lib(x).where(x > 0, x, y),
    lambda x, y: lib(x).where(y > 0, x, y), lambda x, y: lib(x).minimum(y, x),
])
def test_broadcast_errors(fn):
    t_msg, e_msg = check_error(fn, [(2, 3), (4,)], RuntimeError)
    assert e_msg == t_msg


def test_zero_grad_factory_compat():
    from engine.ops.pointwise import ZeroGradBackward

    node = ZeroGradBackward("DivBackward2")
    assert type(node).__name__ == "DivBackward2" and node.name() == "DivBackward2"
    x = engine.tensor([1.5, 2.5], requires_grad=True)
    y = x.div(engine.tensor([0.5, 2.0]), rounding_mode="trunc")
    assert y.grad_fn.name() == "DivBackward2"
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


# -- edge cases: atan2 at the origin, round overloads, where with wrapped scalars --------------
def test_atan2_gradient_at_origin_is_zero():
    check_op(lambda x, y: lib(x).atan2(x * 0, y * 0), [(3,), (3,)])
    check_gradcheck(lambda x, y: x.atan2(y), [(2, 3), (3,)], low=0.5, high=2.0)


def test_round_decimals_zero_is_its_own_overload():
    check_op(lambda x: lib(x).round(x, decimals=0), [(3, 4)], low=-3, high=3)
    for L in (torch, engine):
        x = L.tensor([0.5, 1.5, 2.25], requires_grad=True)
        assert L.round(x).grad_fn.name() == "RoundBackward0"
        assert L.round(x, decimals=0).grad_fn.name() == "RoundBackward1"
        assert x.detach().clone().round_(decimals=1).tolist() == L.round(x.detach(), decimals=1).tolist()
    check_error(lambda x: lib(x).round(x, decimals=0), [(3,)], NotImplementedError, dtypes=("int64",),
                match="\"round_vml_cpu\" not implemented for 'Long'")


@pytest.mark.parametrize("scalar", [5, 2.5, True])
@pytest.mark.parametrize("dt", ["int32", "float16", "uint8", "float64"])
@pytest.mark.parametrize("shape", [(), (4,)])
def test_where_python_scalar_is_wrapped(scalar, dt, shape):
    check_op(lambda c, y: lib(y).where(c > 0, scalar, y), [shape, shape], grad=False,
             input_dtypes=["float64", dt], dtypes=("float64",), low=-1, high=3)
    check_op(lambda c, y: lib(y).where(c > 0, y, scalar), [shape, shape], grad=False,
             input_dtypes=["float64", dt], dtypes=("float64",), low=-1, high=3)

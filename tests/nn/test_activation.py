"""Activations vs PyTorch: values, dtypes, gradients, grad_fn names, in-place forms, errors,
module printing, softmax's implicit-dim warning; gradcheck of every functional form in float64."""
import warnings

import numpy as np
import pytest
import torch

import engine
import engine.nn as enn
import engine.nn.functional as EF
from parity import check_error, check_gradcheck, check_op

TF = torch.nn.functional


def F(x):
    return TF if isinstance(x, torch.Tensor) else EF


def nn(x):
    return torch.nn if isinstance(x, torch.Tensor) else enn


# name -> (kwargs, low, high)
ACTS = {
    "relu": ({}, -2, 2), "leaky_relu": ({}, -2, 2), "leaky_relu_slope": ({"negative_slope": 0.2}, -2, 2),
    "elu": ({}, -3, 2), "elu_alpha": ({"alpha": 0.5}, -3, 2), "selu": ({}, -3, 2), "celu": ({"alpha": 2.0}, -3, 2),
    "gelu": ({}, -4, 4), "gelu_tanh": ({"approximate": "tanh"}, -4, 4), "silu": ({}, -6, 6), "mish": ({}, -6, 6),
    "sigmoid": ({}, -5, 5), "tanh": ({}, -3, 3), "softplus": ({}, -5, 5),
    "softplus_beta": ({"beta": 2.0, "threshold": 3.0}, -3, 3), "hardtanh": ({}, -2, 2),
    "hardtanh_range": ({"min_val": -0.5, "max_val": 1.5}, -2, 2), "relu6": ({}, -3, 9),
    "hardsigmoid": ({}, -5, 5), "hardswish": ({}, -5, 5), "logsigmoid": ({}, -6, 6),
    "threshold": ({"threshold": 0.3, "value": -1.0}, -2, 2), "softsign": ({}, -3, 3), "tanhshrink": ({}, -3, 3),
    "hardshrink": ({"lambd": 0.7}, -2, 2), "softshrink": ({"lambd": 0.4}, -2, 2),
}


def _fn(name):
    kw, _, _ = ACTS[name]
    base = name.split("_slope")[0].split("_alpha")[0].split("_tanh")[0].split("_beta")[0].split("_range")[0]
    if name == "leaky_relu_slope":
        base = "leaky_relu"
    return lambda x: getattr(F(x), base)(x, **kw)


@pytest.mark.parametrize("name", sorted(ACTS))
@pytest.mark.parametrize("shape", [(3, 4, 5), ()])
def test_functional_parity(name, shape):
    _, lo, hi = ACTS[name]
    check_op(_fn(name), [shape], low=lo, high=hi)


@pytest.mark.parametrize("name", sorted(ACTS))
def test_gradcheck(name):
    _, lo, hi = ACTS[name]
    check_gradcheck(_fn(name), [(2, 3, 4)], low=lo, high=hi)


@pytest.mark.parametrize("name", sorted(ACTS))
def test_grad_fn_name(name):
    f = _fn(name)
    t = torch.randn(3, 4, requires_grad=True)
    e = engine.randn(3, 4, requires_grad=True)
    assert type(f(e).grad_fn).__name__ == type(f(t).grad_fn).__name__


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu", "mish", "elu", "softplus", "logsigmoid",
                                  "hardswish"])
def test_double_backward(name):
    f = _fn(name)
    a = np.random.default_rng(3).uniform(-3, 3, (4, 5))
    res = []
    for lib in (torch, engine):
        x = lib.tensor(a, requires_grad=True)
        (g,) = lib.autograd.grad(f(x).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        res.append((g.detach().numpy() if lib is torch else np.asarray(g.detach()._data),
                    gg.numpy() if lib is torch else np.asarray(gg._data)))
    # float64, elementwise (no sums): g and gg are a few libm calls (<= 4 ulp each) and ~10 roundings
    # of values <= ~3 apart, <= ~50 ulp = 1e-14 relative and 3e-14 absolute where they cancel
    np.testing.assert_allclose(res[1][0], res[0][0], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-7, atol=1e-9)


def test_kinks_match_torch():
    vals = [-3.0, -1.0, 0.0, 1.0, 3.0, 6.0, 0.3, 20.0, 21.0]
    for name, f in [("relu", lambda m, x: m.relu(x)), ("leaky", lambda m, x: m.leaky_relu(x)),
                    ("hardtanh", lambda m, x: m.hardtanh(x)), ("relu6", lambda m, x: m.relu6(x)),
                    ("hardsigmoid", lambda m, x: m.hardsigmoid(x)), ("hardswish", lambda m, x: m.hardswish(x)),
                    ("threshold", lambda m, x: m.threshold(x, 0.3, 5.0)), ("elu", lambda m, x: m.elu(x)),
                    ("softplus", lambda m, x: m.softplus(x)), ("hardshrink", lambda m, x: m.hardshrink(x, 1.0))]:
        t = torch.tensor(vals, requires_grad=True)
        e = engine.tensor(vals, requires_grad=True)
        f(TF, t).sum().backward()
        f(EF, e).sum().backward()
        # float32 grads at and near kinks: exact slopes (0, 1, 0.01, 1/6, ...) or one exp (<= 4 ulp) and
        # <= 2 roundings per library: the two differ by <= 12 ulp <= 12*2**-23 = 1.4e-6 relative
        np.testing.assert_allclose(np.asarray(e.grad._data), t.grad.numpy(), rtol=2e-6, err_msg=name)


INPLACE = [
    ("relu_", lambda m, x: m.relu_(x)), ("relu_kw", lambda m, x: m.relu(x, inplace=True)),
    ("leaky_relu_", lambda m, x: m.leaky_relu_(x, 0.1)), ("elu_", lambda m, x: m.elu_(x)),
    ("selu", lambda m, x: m.selu(x, inplace=True)), ("celu", lambda m, x: m.celu(x, inplace=True)),
    ("hardtanh_", lambda m, x: m.hardtanh_(x)), ("relu6", lambda m, x: m.relu6(x, inplace=True)),
    ("threshold_", lambda m, x: m.threshold_(x, 0.1, -2.0)), ("silu", lambda m, x: m.silu(x, inplace=True)),
    ("mish", lambda m, x: m.mish(x, inplace=True)), ("hardswish", lambda m, x: m.hardswish(x, inplace=True)),
    ("hardsigmoid", lambda m, x: m.hardsigmoid(x, inplace=True)),
]


@pytest.mark.parametrize("name,f", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace(name, f):
    a = np.random.default_rng(1).uniform(-3, 3, (4, 5)).astype(np.float32)
    g = np.random.default_rng(2).standard_normal((4, 5)).astype(np.float32)
    out = []
    for lib, m in ((torch, TF), (engine, EF)):
        x = lib.tensor(a, requires_grad=True)
        y = x * 1
        r = f(m, y)
        assert r is y
        assert y._version == 1
        r.backward(lib.tensor(g))
        out.append((type(r.grad_fn).__name__, r.detach().numpy() if lib is torch else np.asarray(r._data),
                    x.grad.numpy() if lib is torch else np.asarray(x.grad._data)))
    assert out[1][0] == out[0][0]
    # float32, elementwise: <= 3 libm calls (<= 4 ulp each) and <= 10 roundings per value, <= 22 ulp per
    # library = 2.6e-6 relative < rtol 1e-5; where two O(1) terms cancel (zeros of the grads of mish,
    # silu, hardswish; elu's exp(x) - 1 near 0) the error is absolute: 2 * 22 * 2**-24 * |g| <= 3 = 7.9e-6
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[1][2], out[0][2], rtol=1e-5, atol=1e-5)


def test_inplace_on_leaf_errors():
    check_error(lambda x: F(x).relu_(x.requires_grad_()), [(3,)], RuntimeError, "leaf Variable")
    check_error(lambda x: F(x).elu(x.requires_grad_(), inplace=True), [(3,)], RuntimeError, "leaf Variable")


@pytest.mark.parametrize("name,kernel", [("leaky_relu", "leaky_relu_cpu"), ("elu", "elu_cpu"),
                                         ("gelu", "GeluKernelImpl"), ("silu", "silu_cpu"),
                                         ("softplus", "softplus_cpu"), ("hardsigmoid", "hardsigmoid_cpu"),
                                         ("hardswish", "hardswish_cpu"), ("mish", "mish_cpu"),
                                         ("logsigmoid", "log_sigmoid_cpu")])
def test_integer_input_errors(name, kernel):
    t, e = check_error(lambda x: getattr(F(x), name)(x), [(3,)], NotImplementedError, dtypes=("int64",))
    assert t == e == f"\"{kernel}\" not implemented for 'Long'"


@pytest.mark.parametrize("name", ["relu", "hardtanh", "relu6"])
def test_integer_input_kept(name):
    check_op(lambda x: getattr(F(x), name)(x), [(3, 4)], dtypes=("int64",), grad=False)
    check_op(lambda x: F(x).threshold(x, 1, 0), [(3, 4)], dtypes=("int64",), grad=False)


def test_argument_errors():
    t, e = check_error(lambda x: F(x).gelu(x, approximate="foo"), [(3,)], RuntimeError)
    assert t == e
    t, e = check_error(lambda x: F(x).hardtanh(x, 2.0, 1.0), [(3,)], ValueError)
    assert t == e


def test_float16_and_float64():
    for name in ["gelu", "silu", "elu", "softplus", "hardswish", "mish", "leaky_relu"]:
        check_op(_fn(name), [(4, 5)], dtypes=("float16", "float64"), grad=False)


# -- prelu ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,n", [((2, 3, 4), 3), ((2, 3, 4), 1), ((5, 3), 3), ((4,), 1), ((), 1),
                                     ((2, 3, 2, 2), 3)])
def test_prelu(shape, n):
    check_op(lambda x, w: F(x).prelu(x, w), [shape, (n,)])
    check_gradcheck(lambda x, w: EF.prelu(x, w), [shape, (n,)])
    t = torch.randn(shape, requires_grad=True)
    assert type(EF.prelu(engine.randn(shape, requires_grad=True), engine.ones(n)).grad_fn).__name__ == \
        type(TF.prelu(t, torch.ones(n)).grad_fn).__name__ == "PreluKernelBackward0"


def test_prelu_errors():
    t, e = check_error(lambda x, w: F(x).prelu(x, w), [(2, 3, 4), (2,)], RuntimeError)
    assert t == e
    t, e = check_error(lambda x, w: F(x).prelu(x, w), [(3,), (3,)], RuntimeError)
    assert t == e
    t, e = check_error(lambda x, w: F(x).prelu(x, w), [(2, 3), (3,)], RuntimeError, dtypes=("float64", "float32"))
    assert t == e


@pytest.mark.parametrize("n,init", [(1, 0.25), (3, 0.1)])
def test_prelu_module(n, init):
    tm, em = torch.nn.PReLU(n, init), enn.PReLU(n, init)
    assert repr(tm) == repr(em)
    assert [k for k, _ in tm.named_parameters()] == [k for k, _ in em.named_parameters()]
    np.testing.assert_array_equal(np.asarray(em.weight._data), tm.weight.detach().numpy())  # fill: float32(init)
    a = np.random.default_rng(0).standard_normal((2, 3, 5)).astype(np.float32)
    tx, ex = torch.tensor(a, requires_grad=True), engine.tensor(a, requires_grad=True)
    tm(tx).pow(2).sum().backward()
    em(ex).pow(2).sum().backward()
    # x.grad = 2*y*slope elementwise (2 roundings); weight.grad sums <= 30 terms 2*w*x**2 of one sign (x < 0):
    # no cancellation, 2*K*u = 2*30*2**-24 = 3.6e-6 relative < rtol 1e-5
    np.testing.assert_allclose(np.asarray(ex.grad._data), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(em.weight.grad._data), tm.weight.grad.numpy(), rtol=1e-5, atol=1e-5)


# -- rrelu, glu -------------------------------------------------------------------------------
def test_rrelu():
    check_op(lambda x: F(x).rrelu(x, 0.1, 0.3, training=False), [(3, 4)])
    engine.manual_seed(0)
    x = engine.randn(1000, requires_grad=True)
    y = EF.rrelu(x, 0.1, 0.3, training=True)
    assert type(y.grad_fn).__name__ == "RreluWithNoiseBackward0"
    xa, ya = np.asarray(x._data), np.asarray(y._data)
    neg = xa < 0
    np.testing.assert_array_equal(ya[~neg], xa[~neg])
    ratio = ya[neg] / xa[neg]
    # ratio = fl(fl(x*r)/x) is within 2 ulp (2.4e-7 relative) of the float32 noise r in [0.1, 0.3]
    assert ratio.min() >= 0.1 - 1e-6 and ratio.max() <= 0.3 + 1e-6 and ratio.std() > 0.03
    y.sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad._data), ya / xa, rtol=1e-5)  # r vs fl(fl(x*r)/x): 2 ulp


@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_glu(dim):
    check_op(lambda x: F(x).glu(x, dim), [(4, 6, 2)])
    check_gradcheck(lambda x: EF.glu(x, dim), [(4, 6, 2)])
    t, e = check_error(lambda x: F(x).glu(x, dim), [(3, 5, 3)], RuntimeError)
    assert t == e


# -- softmax family ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family(name, dim):
    check_op(lambda x: getattr(F(x), name)(x, dim), [(3, 4, 5)], low=-5, high=5)
    check_op(lambda x: getattr(F(x), name)(x, dim, dtype=(torch.float64 if isinstance(x, torch.Tensor)
                                                            else engine.float64)), [(3, 4, 5)], dtypes=("float32",))
    check_gradcheck(lambda x: getattr(EF, name)(x, dim), [(3, 4)])


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 2)])
def test_softmax_implicit_dim_warns(name, shape):
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    results = []
    for lib, m in ((torch, TF), (engine, EF)):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            y = getattr(m, name)(lib.tensor(a))
        assert len(w) == 1 and w[0].category is UserWarning
        assert w[0].filename == __file__
        results.append((str(w[0].message), y.numpy() if lib is torch else np.asarray(y._data)))
    assert results[0][0] == results[1][0]
    # softmax family over <= 5 elements, one exp/log each: parity.py's float32 defaults (log_softmax
    # values near 0 carry ~ulp(|x - max| <= 6) = 4.8e-7 absolute per library, above the old atol 1e-6)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-4, atol=1e-5)


def test_softmax_module_implicit_dim_warns_at_caller():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        enn.Softmax()(engine.randn(2, 3))
    assert len(w) == 1 and "Implicit dimension choice for softmax" in str(w[0].message)
    assert w[0].filename == __file__


def test_softmax_int_error():
    t, e = check_error(lambda x: F(x).softmax(x, 1, dtype=(torch.int64 if isinstance(x, torch.Tensor)
                                                            else engine.int64)), [(2, 3)], NotImplementedError)
    assert t == e


# -- modules ----------------------------------------------------------------------------------
MODULES = [
    ("ReLU", ()), ("ReLU", (True,)), ("LeakyReLU", ()), ("LeakyReLU", (0.2, True)), ("ELU", ()), ("ELU", (2, True)),
    ("SELU", ()), ("CELU", ()), ("GELU", ()), ("GELU", ("tanh",)), ("SiLU", ()), ("SiLU", (True,)), ("Mish", ()),
    ("Sigmoid", ()), ("Tanh", ()), ("Softmax", ()), ("Softmax", (1,)), ("LogSoftmax", (-1,)), ("Softmin", (1,)),
    ("Softplus", ()), ("Softplus", (2, 10)), ("Hardtanh", ()), ("Hardtanh", (-2, 2, True)), ("ReLU6", ()),
    ("ReLU6", (True,)), ("PReLU", ()), ("PReLU", (3, 0.1)), ("Hardsigmoid", ()), ("Hardswish", (True,)),
    ("Tanhshrink", ()), ("Softsign", ()), ("Threshold", (0.1, 20)), ("Threshold", (0.1, 20.0, True)),
    ("LogSigmoid", ()), ("Hardshrink", ()), ("Softshrink", (0.3,)), ("GLU", ()), ("RReLU", ()), ("Softmax2d", ()),
]


@pytest.mark.parametrize("name,args", MODULES, ids=[f"{n}{a}" for n, a in MODULES])
def test_module_repr(name, args):
    assert repr(getattr(enn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


@pytest.mark.parametrize("name,args", [m for m in MODULES if m[0] not in ("Softmax", "RReLU", "PReLU")
                                       or m[1]], ids=lambda v: str(v))
def test_module_forward(name, args):
    shape = (2, 3, 4, 2)
    inplace = "True" in str(args)
    dtypes = ("float32",) if name == "PReLU" else ("float32", "float64")
    if inplace:
        check_op(lambda x: getattr(nn(x), name)(*args)(x * 1), [shape], dtypes=dtypes)
    else:
        check_op(lambda x: getattr(nn(x), name)(*args)(x), [shape], dtypes=dtypes)


def test_sequential_print():
    def build(m):
        return m.Sequential(m.Linear(3, 4), m.ReLU(), m.Dropout(0.1), m.BatchNorm1d(4), m.GELU(), m.Softmax(dim=1))
    if not hasattr(enn, "Sequential") or not hasattr(enn, "Linear"):
        build = lambda m: m.ModuleList([m.ReLU(), m.Dropout(0.1), m.BatchNorm1d(4), m.GELU(), m.Softmax(dim=1)])  # noqa
    assert repr(build(enn)) == repr(build(torch.nn))

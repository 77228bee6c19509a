"""Parity of reductions and softmax with PyTorch: values, dtypes, named tuples, gradients, errors."""
import warnings

import numpy as np
import pytest
import torch

import engine
from parity import assert_same, check_error, check_gradcheck, check_op


def M(x):
    """The library a tensor belongs to (for function forms)."""
    return torch if isinstance(x, torch.Tensor) else engine


def check_arr(fn, arrays, grad=True, atol=1e-6, rtol=1e-5, seed=0):
    """Like check_op but on given numpy arrays (NaN, zeros, ties...).

    Tolerance: the arrays are hand-written, <= 4 elements per reduced row, mostly small dyadic values whose
    sums and products are exact; a result takes <= ~6 roundings and <= 2 exp/log calls (<= 4 ulp each):
    float32 <= ~16 ulp = 16*2**-23 = 1.9e-6 relative < rtol 1e-5 (float64: 3.6e-15).  Gradients, with N(0,1)
    output gradients, may cancel: K <= 4 terms whose sizes sum to S differ by <= 2*(K+2)*2**-24*S, which for
    the float32 prod/cumprod arrays here is <= 2.5% of the gradients' atol 1e-5 + rtol 1e-4*|g|.
    """
    ts, es = [], []
    for a in arrays:
        t, e = torch.from_numpy(a.copy()), engine.from_numpy(a.copy())
        if grad and a.dtype.kind == "f":
            t.requires_grad_(True)
            e.requires_grad_(True)
        ts.append(t)
        es.append(e)
    tout, eout = fn(*ts), fn(*es)
    assert_same(tout, eout, atol, rtol)
    if not grad:
        return
    touts = tout if isinstance(tout, (tuple, list)) else [tout]
    eouts = eout if isinstance(eout, (tuple, list)) else [eout]
    sel = [(t, e) for t, e in zip(touts, eouts) if isinstance(t, torch.Tensor) and t.requires_grad]
    rng = np.random.default_rng(seed)
    gs = [rng.standard_normal(tuple(t.shape)).astype(str(t.dtype).split(".")[1]) for t, _ in sel]
    torch.autograd.backward([t for t, _ in sel], [torch.from_numpy(g.copy()) for g in gs])
    engine.autograd.backward([e for _, e in sel], [engine.from_numpy(g.copy()) for g in gs])
    for t, e in zip(ts, es):
        if t.requires_grad:
            assert_same(t.grad, e.grad, atol * 10, rtol * 10, "grad")


# shape, dim cases valid for reductions with a dim
DIM_CASES = [((), None), ((), 0), ((), -1), ((5,), 0), ((1,), None), ((3, 4), 0), ((3, 4), -1), ((3, 4), (0, 1)),
             ((2, 1, 3), 1), ((2, 1, 3), (0, 2)), ((2, 3, 4), (-1, 0)), ((2, 3, 4), None), ((3, 4), ()),
             ((2, 3, 4), [1])]
INT_DIM_CASES = [((), 0), ((5,), 0), ((5,), -1), ((3, 4), 0), ((3, 4), -1), ((2, 1, 3), 1), ((2, 3, 4), 2),
                 ((1, 1), 0)]


def _kw(dim):
    return {} if dim is None else {"dim": dim}


# -- sum / mean / nansum --------------------------------------------------------------------------
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", DIM_CASES)
@pytest.mark.parametrize("op", ["sum", "mean", "nansum"])
def test_sum_mean(op, shape, dim, keepdim):
    if dim is None and not keepdim:
        check_op(lambda x: getattr(x, op)(), [shape])
        check_op(lambda x: getattr(M(x), op)(x), [shape], noncontig=True)
    else:
        d = dim if dim is not None else tuple(range(len(shape)))
        check_op(lambda x: getattr(x, op)(d, keepdim=keepdim), [shape])
        check_op(lambda x: getattr(M(x), op)(x, dim=d, keepdim=keepdim), [shape], noncontig=True)
    check_gradcheck(lambda x: getattr(x, op)(**_kw(dim)), [shape])


def test_sum_grad_fn_names():
    x = engine.ones(2, 3, requires_grad=True)
    assert x.sum().grad_fn.name() == "SumBackward0"
    assert x.sum(0).grad_fn.name() == "SumBackward1"
    assert x.mean().grad_fn.name() == "MeanBackward0"
    assert x.mean(1).grad_fn.name() == "MeanBackward1"
    assert x.nansum().grad_fn.name() == "NansumBackward0"


@pytest.mark.parametrize("dt", ["int64", "int32", "uint8", "bool", "int8", "float16"])
def test_sum_dtypes(dt):
    for fn in (lambda x: x.sum(), lambda x: x.sum(0), lambda x: x.sum(dtype=M(x).float64),
               lambda x: x.sum((0, 1), True, dtype=M(x).float32), lambda x: x.prod(), lambda x: x.prod(1),
               lambda x: x.prod(dtype=M(x).float64), lambda x: x.nansum(1), lambda x: x.mean(dtype=M(x).float64),
               lambda x: x.cumsum(1), lambda x: x.cumprod(0), lambda x: x.cumsum(0, dtype=M(x).float32)):
        # integer inputs: sums/products of 12 values <= 3 are exact (mean: one division).  float16 (inputs in
        # [0, 3): no cancellation, no overflow: prod = 0.023): <= 12 roundings to 11 bits even if a side
        # accumulates in half: 12*2**-11 = 5.9e-3 relative < 1e-2
        check_op(fn, [(3, 4)], grad=False, input_dtypes=[dt], dtypes=("float64",), low=0, high=3,
                 atol=1e-2 if dt == "float16" else None, rtol=1e-2 if dt == "float16" else None)


def test_sum_dtype_grad():
    check_op(lambda x: x.sum(dtype=M(x).float64), [(3, 4)], dtypes=("float32",))
    check_op(lambda x: x.mean(0, dtype=M(x).float64), [(3, 4)], dtypes=("float32",))


def test_sum_empty():
    for shape in [(0,), (0, 3), (2, 0)]:
        check_op(lambda x: x.sum(), [shape])
        check_op(lambda x: x.sum(0), [shape])
        check_op(lambda x: x.prod(-1), [shape])
        with np.errstate(all="ignore"):
            check_op(lambda x: x.mean(0), [shape])
            check_op(lambda x: x.mean(), [shape])


def test_nansum_nan():
    a = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 2.0]])
    check_arr(lambda x: x.nansum(), [a])
    check_arr(lambda x: x.nansum(1, keepdim=True), [a])
    check_arr(lambda x: M(x).nansum(x, 0), [a])


def test_mean_int_error():
    _, msg = check_error(lambda x: x.mean(), [(3,)], dtypes=("int64",))
    assert msg == ("mean(): could not infer output dtype. Input dtype must be either a floating point or complex "
                   "dtype. Got: Long")


# -- prod -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", INT_DIM_CASES)
def test_prod(shape, dim, keepdim):
    check_op(lambda x: x.prod(dim, keepdim), [shape], low=0.5, high=1.5)
    check_op(lambda x: M(x).prod(x), [shape], low=0.5, high=1.5)
    check_gradcheck(lambda x: x.prod(dim, keepdim), [shape], low=0.5, high=1.5)
    check_gradcheck(lambda x: x.prod(), [shape], low=0.5, high=1.5)


@pytest.mark.parametrize("arr", [
    [[1.0, 0.0, 3.0], [2.0, 4.0, 5.0]], [[0.0, 0.0, 3.0], [2.0, 0.0, 5.0]], [[0.0, 2.0, 3.0], [0.0, 0.0, 0.0]],
    [[0.0]], [[1.5, -2.0, 0.5]],
])
def test_prod_zeros(arr):
    a = np.array(arr)
    for fn in (lambda x: x.prod(), lambda x: x.prod(0), lambda x: x.prod(1, keepdim=True)):
        check_arr(fn, [a])
        check_arr(fn, [a.astype(np.float32)])
        t = engine.tensor(arr, dtype=engine.float64, requires_grad=True)
        assert engine.autograd.gradcheck(fn, (t,))
        assert engine.autograd.gradgradcheck(fn, (t,))


def test_prod_errors():
    check_error(lambda x: x.prod((0, 1)), [(2, 3)], exc=TypeError)
    check_error(lambda x: x.prod(2), [(2, 3)], exc=IndexError,
                match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)")


# -- max / min ------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", INT_DIM_CASES)
def test_max_min_dim(op, shape, dim, keepdim):
    check_op(lambda x: getattr(x, op)(dim, keepdim), [shape])
    check_op(lambda x: getattr(M(x), op)(x, dim=dim, keepdim=keepdim), [shape], noncontig=True)
    check_gradcheck(lambda x: getattr(x, op)(dim, keepdim)[0], [shape])


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("shape", [(), (1,), (5,), (3, 4), (2, 3, 4)])
def test_max_min_full(op, shape):
    check_op(lambda x: getattr(x, op)(), [shape])
    check_op(lambda x: getattr(M(x), op)(x), [shape], noncontig=True)
    check_gradcheck(lambda x: getattr(x, op)(), [shape])


def test_max_min_named_tuple():
    for name in ("max", "min"):
        a = np.array([[1.0, 3.0, 2.0], [4.0, 0.0, 5.0]], dtype=np.float32)
        t = torch.from_numpy(a.copy()).requires_grad_()
        e = engine.from_numpy(a.copy()).requires_grad_()
        tr, er = getattr(t, name)(1), getattr(e, name)(1)
        assert repr(tr) == repr(er) and str(tr) == str(er)
        assert repr(getattr(t, name)(0, True)) == repr(getattr(e, name)(0, True))
        assert isinstance(er, tuple) and len(er) == 2
        v, i = er
        assert v is er.values and i is er.indices and er[0] is v and er[-1] is i
        assert type(er).__name__ == name and type(er).__module__ == "torch.return_types"
        assert er.values.grad_fn.name() == f"{name.capitalize()}Backward0"
        assert er.indices.grad_fn is None and not er.indices.requires_grad
        assert getattr(e, name)().grad_fn.name() == f"{name.capitalize()}Backward1"
    assert isinstance(engine.tensor([1.0]).max(0), engine.return_types.max)


def test_max_ties():
    a = np.array([[2.0, 2.0, 1.0, 2.0], [0.0, 3.0, 3.0, -1.0]])
    check_arr(lambda x: x.max(), [a])  # evenly split among ties
    check_arr(lambda x: x.min(), [-a])
    check_arr(lambda x: x.max(1), [a])  # gradient goes to the returned index
    check_arr(lambda x: x.min(1, keepdim=True), [-a])
    check_arr(lambda x: x.amax(1), [a])
    check_arr(lambda x: x.amin((0, 1)), [-a])
    check_arr(lambda x: x.amax(), [np.ones((2, 3))])


def test_max_nan():
    a = np.array([[1.0, np.nan, 3.0], [0.0, 2.0, -1.0]])
    check_arr(lambda x: x.max(), [a])
    check_arr(lambda x: x.max(1), [a])
    check_arr(lambda x: x.min(1), [a])
    check_arr(lambda x: x.argmax(1), [a], grad=False)
    check_arr(lambda x: x.argmin(), [a], grad=False)
    check_arr(lambda x: x.amax(1), [a], grad=False)


def test_max_binary():
    check_op(lambda x, y: x.max(y), [(3, 4), (4,)], grad=False)
    check_op(lambda x, y: M(x).min(x, y), [(3, 4), (3, 4)], grad=False)
    check_op(lambda x, y: M(x).max(x, other=y), [(3, 4), (3, 4)], grad=False)


@pytest.mark.parametrize("dt", ["int64", "int8", "uint8", "bool", "float16"])
def test_max_dtypes(dt):
    for fn in (lambda x: x.max(), lambda x: x.min(1), lambda x: x.amax(0), lambda x: x.amin()):
        check_op(fn, [(3, 4)], grad=False, input_dtypes=[dt], dtypes=("float64",), low=0, high=9)


def test_max_errors():
    check_error(lambda x: x.max(2), [(2, 3)], exc=IndexError,
                match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)")
    check_error(lambda x: x.max(), [(0, 3)],
                match=r"max\(\): Expected reduction dim to be specified for input.numel\(\) == 0")
    check_error(lambda x: x.min(-2), [(0, 3)], exc=IndexError,
                match=r"min\(\): Expected reduction dim 0 to have non-zero size.")
    check_error(lambda x: x.max(dim=(0,)), [(2, 3)], exc=TypeError)
    check_op(lambda x: x.max(1), [(0, 3)])


# -- amax / amin / argmax / argmin ------------------------------------------------------------------
@pytest.mark.parametrize("op", ["amax", "amin"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", DIM_CASES)
def test_amax_amin(op, shape, dim, keepdim):
    d = () if dim is None else dim
    check_op(lambda x: getattr(x, op)(d, keepdim), [shape])
    check_op(lambda x: getattr(M(x), op)(x, dim=d, keepdim=keepdim), [shape], noncontig=True)
    check_gradcheck(lambda x: getattr(x, op)(d, keepdim), [shape])


def test_amax_errors():
    check_error(lambda x: x.amax(), [(0, 3)])
    check_error(lambda x: x.amax(0), [(0, 3)], exc=IndexError, match="amax")
    check_error(lambda x: x.amin((1, 1)), [(2, 3)], match="dim 1 appears multiple times in the list of dims")
    check_error(lambda x: x.amin((0, 2)), [(2, 3)], exc=IndexError,
                match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)")


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", INT_DIM_CASES + [((3, 4), None), ((), None), ((2, 3, 4), None)])
def test_argmax_argmin(op, shape, dim, keepdim):
    check_op(lambda x: getattr(x, op)(dim, keepdim), [shape], grad=False)
    check_op(lambda x: getattr(M(x), op)(x, dim=dim, keepdim=keepdim), [shape], grad=False, noncontig=True)
    check_op(lambda x: getattr(x, op)(dim), [shape], grad=False, input_dtypes=["int64"], dtypes=("float64",))


def test_argmax_ties_and_errors():
    a = np.array([[2.0, 2.0, 1.0], [0.0, 3.0, 3.0]])
    check_arr(lambda x: x.argmax(), [a], grad=False)
    check_arr(lambda x: x.argmax(1), [a], grad=False)
    check_arr(lambda x: x.argmin(0), [a], grad=False)
    check_error(lambda x: x.argmax(), [(0, 3)], exc=IndexError,
                match=r"argmax\(\): Expected reduction dim to be specified for input.numel\(\) == 0.")
    check_error(lambda x: x.argmax(), [(3,)], dtypes=("bool",), match=r"argmax\(\): does not support bool input")
    check_error(lambda x: x.argmin(2), [(2, 3)], exc=IndexError, match="Dimension out of range")
    check_error(lambda x: x.argmin((0,)), [(2, 3)], exc=TypeError)


# -- var / std ------------------------------------------------------------------------------------------
VAR_CASES = [((5,), None), ((3, 4), 0), ((3, 4), -1), ((3, 4), (0, 1)), ((2, 3, 4), (0, 2)), ((2, 3, 4), None),
             ((2, 1, 3), 2)]


@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", VAR_CASES)
def test_var_std(op, shape, dim, keepdim):
    check_op(lambda x: getattr(x, op)(dim, keepdim=keepdim), [shape])
    check_op(lambda x: getattr(x, op)(dim, False, keepdim), [shape])
    check_op(lambda x: getattr(M(x), op)(x, dim, correction=0, keepdim=keepdim), [shape], noncontig=True)
    check_op(lambda x: getattr(M(x), op)(x, dim=dim, correction=2, keepdim=keepdim), [shape])
    check_gradcheck(lambda x: getattr(x, op)(dim, keepdim=keepdim), [shape])
    check_gradcheck(lambda x: getattr(x, op)(dim, correction=0), [shape])


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_forms(op):
    check_op(lambda x: getattr(x, op)(), [(3, 4)])
    check_op(lambda x: getattr(x, op)(False), [(3, 4)])
    check_op(lambda x: getattr(x, op)(unbiased=False), [(3, 4)])
    check_op(lambda x: getattr(M(x), op)(x, 1, True, True), [(3, 4)])
    check_op(lambda x: getattr(x, op)(keepdim=True), [(3, 4)])
    check_op(lambda x: getattr(x, op)(correction=0), [()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(lambda x: getattr(x, op)(), [(1,)], grad=False)
        check_op(lambda x: getattr(x, op)(0, correction=3), [(2, 2)], grad=False)
    with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
        getattr(engine.ones(1), op)()
    check_error(lambda x: getattr(x, op)(), [(3,)], dtypes=("int64",),
                match="std and var only support floating point and complex dtypes")
    check_error(lambda x: getattr(x, op)(3), [(3, 2)], exc=IndexError, match="Dimension out of range")


def test_std_zero_grad():
    a = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    check_arr(lambda x: x.std(1), [a])
    check_arr(lambda x: M(x).std_mean(x, 1), [a])


@pytest.mark.parametrize("op", ["var_mean", "std_mean"])
@pytest.mark.parametrize("shape,dim", VAR_CASES)
def test_var_mean(op, shape, dim):
    check_op(lambda x: getattr(M(x), op)(x, dim), [shape])
    check_op(lambda x: getattr(M(x), op)(x, dim, keepdim=True, correction=0), [shape], noncontig=True)
    check_op(lambda x: getattr(M(x), op)(x, dim)[0], [shape])
    check_op(lambda x: getattr(M(x), op)(x, dim)[1], [shape])
    check_gradcheck(lambda x: getattr(M(x), op)(x, dim), [shape])
    v, m = getattr(engine, op)(engine.ones(3, 2, requires_grad=True) * 2, 0)
    assert v.grad_fn is m.grad_fn and v.grad_fn.name() == ("VarMeanBackward0" if op == "var_mean"
                                                          else "StdMeanBackward0")


# -- norm ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [2, 1, 3, 0.5, float("inf"), float("-inf"), "fro", 0])
@pytest.mark.parametrize("shape,dim", [((5,), None), ((3, 4), None), ((3, 4), 1), ((3, 4), (0, 1)),
                                       ((2, 3, 4), (0, 2)), ((), None)])
def test_norm(p, shape, dim):
    for keepdim in (False, True):
        check_op(lambda x: x.norm(p, dim, keepdim), [shape], low=0.3, high=2.0)
        check_op(lambda x: M(x).norm(x, p=p, dim=dim, keepdim=keepdim), [shape], low=-2.0, high=-0.3,
                 noncontig=True)
    if p != 0:
        check_gradcheck(lambda x: x.norm(p, dim), [shape], low=0.3, high=2.0)


def test_norm_misc():
    check_op(lambda x: x.norm(), [(3, 4)])
    check_op(lambda x: x.norm(dtype=M(x).float64), [(3, 4)], dtypes=("float32",))
    assert engine.ones(2, requires_grad=True).norm().grad_fn.name() == "LinalgVectorNormBackward0"
    check_arr(lambda x: x.norm(), [np.zeros((2, 3))])
    check_arr(lambda x: x.norm(dim=1), [np.array([[0.0, 0.0], [3.0, 4.0]])])
    check_arr(lambda x: x.norm(float("inf")), [np.array([[1.0, -3.0], [3.0, 2.0]])])
    check_op(lambda x: x.norm(), [(0, 3)])
    check_error(lambda x: x.norm(), [(3,)], dtypes=("int64",),
                match="linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long")
    check_error(lambda x: x.norm(float("inf")), [(0,)], match="inf norm on an empty tensor")
    check_error(lambda x: x.norm(dim=(0, 0)), [(2, 3)], match="dim 0 appears multiple times")


# -- logsumexp ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", [(s, d) for s, d in DIM_CASES if d is not None and d != ()])
def test_logsumexp(shape, dim, keepdim):
    check_op(lambda x: x.logsumexp(dim, keepdim), [shape], low=-5, high=5)
    check_op(lambda x: M(x).logsumexp(x, dim=dim, keepdim=keepdim), [shape], noncontig=True)
    check_gradcheck(lambda x: x.logsumexp(dim, keepdim), [shape])


def test_logsumexp_stable():
    inf = float("inf")
    check_arr(lambda x: x.logsumexp(1), [np.array([[1000.0, 1000.0], [-1000.0, -1001.0]])])
    check_arr(lambda x: x.logsumexp(0), [np.array([-inf, -inf])], grad=False)
    check_arr(lambda x: x.logsumexp(0), [np.array([inf, 1.0])], grad=False)
    check_op(lambda x: x.logsumexp(1), [(3, 4)], grad=False, input_dtypes=["int64"], dtypes=("float32",))
    check_error(lambda x: x.logsumexp(2), [(2, 3)], exc=IndexError, match="Dimension out of range")


# -- cumsum / cumprod ---------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@pytest.mark.parametrize("shape,dim", INT_DIM_CASES)
def test_cumulative(op, shape, dim):
    check_op(lambda x: getattr(x, op)(dim), [shape], low=0.5, high=1.5)
    check_op(lambda x: getattr(M(x), op)(x, dim=dim), [shape], noncontig=True)
    check_gradcheck(lambda x: getattr(x, op)(dim), [shape], low=0.5, high=1.5)
    t = engine.from_numpy(np.random.default_rng(1).uniform(0.5, 1.5, shape)).requires_grad_()
    assert engine.autograd.gradgradcheck(lambda x: getattr(x, op)(dim), (t,))


@pytest.mark.parametrize("arr", [
    [[1.0, 0.0, 3.0, 2.0], [2.0, 4.0, 0.0, 0.0]], [[0.0, 2.0, 0.0, 3.0]], [[0.0, 0.0, 0.0, 0.0]],
    [[1.5, -2.0, 0.5, 0.0]],
])
def test_cumprod_zeros(arr):
    a = np.array(arr)
    for fn in (lambda x: x.cumprod(1), lambda x: x.cumprod(0), lambda x: x.cumprod(-1) * 2):
        check_arr(fn, [a])
        check_arr(fn, [a.astype(np.float32)])
        t = engine.tensor(arr, dtype=engine.float64, requires_grad=True)
        assert engine.autograd.gradcheck(fn, (t,))
        assert engine.autograd.gradgradcheck(fn, (t,))


def test_cumulative_errors():
    check_error(lambda x: x.cumsum(2), [(2, 3)], exc=IndexError,
                match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)")
    check_error(lambda x: x.cumprod(-3), [(2, 3)], exc=IndexError, match="Dimension out of range")
    assert engine.ones(2, requires_grad=True).cumsum(0).grad_fn.name() == "CumsumBackward0"
    assert engine.ones(2, requires_grad=True).cumprod(0).grad_fn.name() == "CumprodBackward0"


# -- all / any / count_nonzero ----------------------------------------------------------------------
@pytest.mark.parametrize("dt", ["bool", "float32", "int64", "uint8"])
@pytest.mark.parametrize("shape,dim", [(s, d) for s, d in DIM_CASES if d != ()])
def test_all_any(dt, shape, dim):
    for op in ("all", "any"):
        check_op(lambda x: getattr(x, op)(**_kw(dim)), [shape], grad=False, input_dtypes=[dt],
                 dtypes=("float64",), low=0, high=1)
        if dim is not None:
            check_op(lambda x: getattr(M(x), op)(x, dim, keepdim=True), [shape], grad=False, input_dtypes=[dt],
                     dtypes=("float64",), low=0, high=1, noncontig=True)
    check_op(lambda x: x.count_nonzero(**_kw(dim)), [shape], grad=False, input_dtypes=[dt], dtypes=("float64",),
             low=0, high=1)


def test_all_any_errors():
    check_error(lambda x: x.all(2), [(2, 3)], exc=IndexError, match="Dimension out of range")
    check_error(lambda x: x.count_nonzero(5), [(2, 3)], exc=IndexError, match="Dimension out of range")


# -- median -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (1,), (5,), (4,), (3, 4), (2, 3, 5)])
def test_median_full(shape):
    check_op(lambda x: x.median(), [shape])
    check_op(lambda x: M(x).median(x), [shape], noncontig=True)
    check_op(lambda x: x.median(), [shape], grad=False, input_dtypes=["int64"], dtypes=("float64",), low=-9,
             high=9)
    check_gradcheck(lambda x: x.median(), [shape])


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", INT_DIM_CASES)
def test_median_dim(shape, dim, keepdim):
    check_op(lambda x: x.median(dim, keepdim), [shape])
    check_op(lambda x: M(x).median(x, dim=dim, keepdim=keepdim), [shape], noncontig=True)
    check_gradcheck(lambda x: x.median(dim, keepdim)[0], [shape])


def test_median_ties_nan_errors():
    check_arr(lambda x: x.median(), [np.array([2.0, 2.0, 1.0, 2.0])])
    check_arr(lambda x: x.median(), [np.array([2.0, 1.0, 2.0, 3.0])])
    check_arr(lambda x: x.median(), [np.array([1.0, np.nan, 3.0])], grad=False)
    check_arr(lambda x: x.median(0), [np.array([[1.0, np.nan, 3.0], [0.0, 2.0, np.nan]])], grad=False)
    e = engine.ones(2, 2, requires_grad=True)
    assert e.median().grad_fn.name() == "MedianBackward0"
    assert e.median(0).values.grad_fn.name() == "MedianBackward1"
    t = torch.tensor([[1.0, 4.0, 2.0], [0.0, 5.0, 3.0]])
    assert repr(t.median(1)) == repr(engine.tensor([[1.0, 4.0, 2.0], [0.0, 5.0, 3.0]]).median(1))
    check_op(lambda x: x.median(), [(0,)], grad=False)
    check_error(lambda x: x.median(0), [(0, 3)], exc=IndexError,
                match=r"median\(\): Expected reduction dim 0 to have non-zero size.")
    check_error(lambda x: x.median(2), [(2, 3)], exc=IndexError, match="Dimension out of range")
    check_error(lambda x: x.median(), [(3,)], exc=NotImplementedError, dtypes=("bool",))


# -- softmax / log_softmax ----------------------------------------------------------------------------
SOFT_CASES = [((), 0), ((5,), 0), ((5,), -1), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 1), ((2, 1, 3), -1),
              ((1, 1), 0)]


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", SOFT_CASES)
def test_softmax(op, shape, dim):
    check_op(lambda x: getattr(x, op)(dim), [shape], low=-4, high=4)
    check_op(lambda x: getattr(M(x), op)(x, dim), [shape], noncontig=True)
    check_op(lambda x: getattr(M(x), op)(x, dim=dim), [shape])
    check_op(lambda x: getattr(x, op)(dim, dtype=M(x).float64), [shape], dtypes=("float32",))
    check_gradcheck(lambda x: getattr(x, op)(dim), [shape])
    t = engine.from_numpy(np.random.default_rng(2).normal(size=shape)).requires_grad_()
    assert engine.autograd.gradgradcheck(lambda x: getattr(x, op)(dim), (t,))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_stability_and_errors(op):
    inf = float("inf")
    check_arr(lambda x: getattr(x, op)(1), [np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1e4, -999.0]])])
    check_arr(lambda x: getattr(x, op)(1), [np.array([[-inf, 0.0, 1.0]])], grad=False)
    with np.errstate(all="ignore"):
        check_arr(lambda x: getattr(x, op)(1), [np.array([[-inf, -inf]])], grad=False)
    # both compute half softmax in float32 and round once: <= 1 half ulp (2**-10 = 9.8e-4 relative) apart
    check_op(lambda x: getattr(x, op)(1), [(3, 4)], dtypes=("float16",), grad=False, atol=1e-3, rtol=1e-2)
    check_op(lambda x: getattr(x, op)(1, M(x).float32), [(3, 4)], grad=False, input_dtypes=["int64"],
             dtypes=("float32",))
    name = "SoftmaxBackward0" if op == "softmax" else "LogSoftmaxBackward0"
    assert getattr(engine.ones(2, requires_grad=True), op)(0).grad_fn.name() == name
    check_error(lambda x: getattr(x, op)(2), [(2, 3)], exc=IndexError,
                match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)")
    for d in (0, 1):
        t, e = check_error(lambda x: getattr(x, op)(d), [(2, 3)], exc=NotImplementedError, dtypes=("int64",))
        assert t == e
    check_error(lambda x: getattr(x, op)(), [(2, 3)], exc=TypeError)


# -- create_graph through selecting reductions ------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda x: x.max(1)[0], lambda x: x.amax(0), lambda x: x.max(), lambda x: x.median(0)[0], lambda x: x.var(1),
    lambda x: x.std(0), lambda x: x.norm(dim=1), lambda x: x.norm(3), lambda x: x.logsumexp(1),
    lambda x: x.prod(1), lambda x: x.mean(0), lambda x: x.sum(), lambda x: engine.var_mean(x, 1)[0] * 2 +
    engine.var_mean(x, 1)[1], lambda x: x.nansum(0),
])
def test_gradgradcheck(fn):
    t = engine.from_numpy(np.random.default_rng(3).uniform(0.5, 2.0, (3, 4))).requires_grad_()
    assert engine.autograd.gradgradcheck(fn, (t,))


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "amax", "argmax", "std", "var", "prod", "all", "any",
                                "nansum", "logsumexp", "cumsum", "median", "softmax", "log_softmax", "cumprod"])
def test_numpy_axis_alias(op):
    check_op(lambda x: getattr(x, op)(axis=0), [(3, 4)], grad=op not in ("all", "any", "argmax"))
    if op not in ("cumsum", "cumprod", "softmax", "log_softmax"):
        check_op(lambda x: getattr(M(x), op)(x, axis=1, keepdims=True), [(3, 4)], grad=False)


def test_out_keyword_is_written_not_ignored():
    x = engine.tensor([[1.0, 5.0], [7.0, 2.0]])  # small integers: sums, maxima, cumsums exact below
    o = engine.zeros(())
    assert engine.sum(x, out=o) is o and o.item() == 15.0
    v, i = engine.zeros(2), engine.zeros(2, dtype=engine.int64)
    r = engine.max(x, 1, out=(v, i))
    assert v.tolist() == [5.0, 7.0] and i.tolist() == [1, 0] and r.values is v
    o = engine.zeros(2, 2)
    engine.cumsum(x, 0, out=o)
    assert o.tolist() == torch.tensor([[1.0, 5.0], [7.0, 2.0]]).cumsum(0).tolist()
    with pytest.raises(RuntimeError, match="out=... arguments don't support automatic differentiation"):
        engine.sum(x.requires_grad_(), out=engine.zeros(()))


def test_softmax_rows_with_infinities_match_torch():
    rows = [[float("inf"), 1.0], [float("-inf"), float("-inf")], [1.0, 2.0], [float("-inf"), 0.0]]
    for fn in ("softmax", "log_softmax"):
        t = getattr(torch, fn)(torch.tensor(rows), 1)
        e = getattr(engine, fn)(engine.tensor(rows), 1)
        # -inf/nan rows are exact (exp(-inf) = 0, exp(0) = 1).  Row [1, 2] in float32: exp and log <= 4 ulp each
        # side; log(s), s = 1 + e**-1, turns s's 1.9e-7 relative error into 6e-7 of |log s| = 0.31: <= 1.1e-6
        # per side, 2.2e-6 apart
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=5e-6, equal_nan=True)

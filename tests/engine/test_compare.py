"""Parity of comparisons, closeness tests, logical and bitwise ops with PyTorch: values, bool and
promoted dtypes, broadcasting, Python scalars, operators (plain, reflected, in-place), errors."""
import numpy as np
import pytest
import torch

import engine
from parity import check_error, check_op

BCAST = [[(3, 4), (3, 4)], [(3, 4), (4,)], [(2, 1, 4), (3, 1)], [(), (2, 3)], [(5,), ()]]
DTYPE_PAIRS = [("float32", "float32"), ("float64", "float32"), ("int64", "float32"), ("int32", "int64"),
               ("uint8", "int8"), ("bool", "int64"), ("bool", "bool"), ("float16", "float64")]


def lib(x):
    return torch if isinstance(x, torch.Tensor) else engine


CMP = {"eq": lambda x, y: x == y, "ne": lambda x, y: x != y, "lt": lambda x, y: x < y,
       "le": lambda x, y: x <= y, "gt": lambda x, y: x > y, "ge": lambda x, y: x >= y}


@pytest.mark.parametrize("shapes", BCAST)
@pytest.mark.parametrize("op", list(CMP))
def test_comparison_operators_broadcast(op, shapes):
    # integer-valued floats so that equality actually happens
    check_op(lambda x, y: CMP[op](x.round(), y.round()), shapes, grad=False, low=-2, high=2)
    check_op(lambda x, y: getattr(lib(x), op)(x, y), shapes, grad=False)


@pytest.mark.parametrize("dts", DTYPE_PAIRS)
@pytest.mark.parametrize("op", list(CMP))
def test_comparison_mixed_dtypes(op, dts):
    check_op(CMP[op], [(6,), (6,)], grad=False, input_dtypes=list(dts), dtypes=("float64",), low=0, high=3)


@pytest.mark.parametrize("alias,name", [("greater", "gt"), ("greater_equal", "ge"), ("less", "lt"),
                                        ("less_equal", "le"), ("not_equal", "ne"), ("eq", "eq")])
def test_aliases_and_methods(alias, name):
    check_op(lambda x, y: getattr(lib(x), alias)(x, y), [(3, 4), (4,)], grad=False)
    check_op(lambda x, y: getattr(x, alias)(y), [(3, 4), (4,)], grad=False)
    check_op(lambda x: getattr(x, name)(0.5), [(3, 4)], grad=False)


@pytest.mark.parametrize("dt", ["float32", "int64", "uint8", "bool", "float16"])
@pytest.mark.parametrize("scalar", [1, 1.5, True, 0])
def test_comparison_with_scalars(dt, scalar):
    fns = [lambda x: x == scalar, lambda x: x != scalar, lambda x: x < scalar, lambda x: scalar < x,
           lambda x: scalar >= x, lambda x: x.le(scalar), lambda x: x > np.float64(scalar)]
    for fn in fns:
        check_op(fn, [(7,)], grad=False, input_dtypes=[dt], dtypes=("float64",), low=0, high=2)


def test_comparison_results_do_not_require_grad():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    for r in (x > 1, x == x, x.isnan(), engine.isclose(x, x), x.logical_not()):
        assert r.dtype is engine.bool and not r.requires_grad and r.grad_fn is None


def test_eq_with_non_tensor_falls_back_like_torch():
    for L in (torch, engine):
        t = L.tensor([1, 2, 3])
        assert (t == None) is False  # noqa: E711
        assert (t != None) is True  # noqa: E711
        assert (t == "a") is False
        assert (t == [1, 2, 3]) is False
    assert hash(engine.ones(2)) != hash(engine.ones(2))
    e = engine.ones(2)
    assert {e: 1}[e] == 1


def test_nan_comparisons():
    nan = float("nan")
    for fn in (lambda L: L.tensor([nan, 1.0]) == L.tensor([nan, 1.0]),
               lambda L: L.tensor([nan, 1.0]) != L.tensor([nan, 1.0]),
               lambda L: L.tensor([nan, 1.0]) < 2, lambda L: L.tensor([nan, 1.0]) >= 1):
        assert fn(torch).tolist() == fn(engine).tolist()


@pytest.mark.parametrize("fn", [
    lambda x, y: x.eq_(y), lambda x, y: x.lt_(y), lambda x, y: x.ge_(0.5), lambda x, y: x.greater_(y),
    lambda x, y: x.not_equal_(y), lambda x, y: x.logical_and_(y), lambda x, y: x.logical_or_(y),
    lambda x, y: x.logical_xor_(y), lambda x, y: x.logical_not_(),
])
def test_inplace_comparisons_keep_dtype(fn):
    check_op(lambda x, y: fn(x.clone(), y), [(3, 4), (4,)], grad=False)
    check_op(lambda x, y: fn(x.clone(), y), [(3,), (3,)], grad=False, input_dtypes=["int64", "int64"],
             dtypes=("float64",), low=0, high=2)


def test_out_argument():
    for L in (torch, engine):
        out = L.empty(3, dtype=L.bool)
        r = L.lt(L.tensor([1.0, 2.0, 3.0]), 2.5, out=out)
        assert r is out and out.tolist() == [True, True, False]


# -- equal / isclose / allclose -----------------------------------------------------------------
def test_equal():
    for L in (torch, engine):
        t = L.tensor([1, 2, 3])
        assert L.equal(t, t.clone()) is True
        assert L.equal(t, t.float()) is True
        assert L.equal(t, L.tensor([1, 2, 4])) is False
        assert L.equal(t, L.tensor([1, 2])) is False
        assert L.equal(L.tensor([float("nan")]), L.tensor([float("nan")])) is False
        assert t.equal(t) is True


@pytest.mark.parametrize("kw", [{}, {"rtol": 0.1}, {"atol": 0.5}, {"rtol": 0, "atol": 0}, {"equal_nan": True}])
@pytest.mark.parametrize("shapes", [[(4, 5), (4, 5)], [(4, 5), (5,)], [(), (3,)]])
def test_isclose(kw, shapes):
    def fn(x, y):
        L = lib(x)
        y2 = y + 1e-6 * L.ones_like(y)
        y2 = L.where(y2 > 1.5, L.full_like(y2, float("nan")), y2)
        x2 = L.where(x > 1.5, L.full_like(x, float("nan")), x)
        return L.isclose(x2, y2, **kw), x2.isclose(y, **kw), L.isclose(x2, x2 * 1.05, **kw)

    # boolean results: both sides evaluate |x - y| <= atol + rtol*|y| with a few correctly rounded ops on the
    # same inputs (<= ~1e-7 relative apart in any order); every pair here is >= 1.6e-3 (relative) away from
    # its threshold, so both decide alike on any machine
    check_op(fn, shapes, grad=False)


@pytest.mark.parametrize("dt", ["int64", "uint8", "bool", "int32"])
def test_isclose_integer_and_bool(dt):
    for kw in ({}, {"atol": 1}, {"rtol": 0.5}, {"rtol": 0, "atol": 0}):
        check_op(lambda x, y: torch_or(x).isclose(x, y, **kw), [(8,), (8,)], grad=False,
                 input_dtypes=[dt, dt], dtypes=("float64",), low=0, high=4)


def torch_or(x):
    return lib(x)


def test_allclose():
    for L in (torch, engine):
        a = L.tensor([1.0, 2.0, float("nan")])
        assert L.allclose(a, a) is False
        assert L.allclose(a, a, equal_nan=True) is True
        assert L.allclose(L.tensor([1.0, 2.0]), L.tensor([1.0, 2.00001])) is True
        assert L.allclose(L.tensor([1.0, 2.0]), L.tensor([1.0, 2.001])) is False
        assert L.tensor([1.0]).allclose(L.tensor([1.05]), rtol=0.1) is True
        assert L.allclose(L.tensor([float("inf")]), L.tensor([float("inf")])) is True


def test_closeness_errors():
    _, msg = check_error(lambda x, y: torch_or(x).allclose(x, y.double()), [(3,), (3,)], RuntimeError,
                         match="Float did not match Double")
    check_error(lambda x, y: torch_or(x).isclose(x, y, rtol=-1), [(3,), (3,)], RuntimeError,
                match="rtol must be greater than or equal to zero, but got -1")
    check_error(lambda x, y: torch_or(x).isclose(x, y, atol=-1), [(3,), (3,)], RuntimeError,
                match="atol must be greater than or equal to zero, but got -1")
    check_error(lambda x, y: torch_or(x).isclose(x, y), [(3,), (2,)], RuntimeError,
                match=r"The size of tensor a \(3\) must match the size of tensor b \(2\)")


# -- value tests ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "isposinf", "isneginf"])
@pytest.mark.parametrize("dt", ["float32", "float64", "float16", "int64", "bool"])
def test_value_tests(name, dt):
    def fn(x):
        L = lib(x)
        if x.is_floating_point():
            x = L.where(x > 1, L.full_like(x, float("inf")), x)
            x = L.where(x < -1, L.full_like(x, float("-inf")), x)
            x = L.where((x > 0) & (x < 0.5), L.full_like(x, float("nan")), x)
        return getattr(L, name)(x), getattr(x, name)()

    check_op(fn, [(4, 6)], grad=False, input_dtypes=[dt], dtypes=("float64",))


# -- logical ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shapes", BCAST)
@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_binary(name, shapes):
    check_op(lambda x, y: getattr(lib(x), name)(x.round(), y.round()), shapes, grad=False)
    check_op(lambda x, y: getattr(x.round(), name)(y), shapes, grad=False)


@pytest.mark.parametrize("dts", DTYPE_PAIRS)
@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_mixed_dtypes(name, dts):
    check_op(lambda x, y: getattr(lib(x), name)(x, y), [(6,), (6,)], grad=False, input_dtypes=list(dts),
             dtypes=("float64",), low=0, high=2)


@pytest.mark.parametrize("dt", ["float32", "int64", "bool", "uint8"])
def test_logical_not(dt):
    check_op(lambda x: (lib(x).logical_not(x), x.logical_not()), [(3, 4)], grad=False, input_dtypes=[dt],
             dtypes=("float64",), low=0, high=2)
    check_op(lambda x: x.logical_not(), [(3, 4)], grad=False, noncontig=True)


def test_logical_errors():
    check_error(lambda x: lib(x).logical_and(x, 1), [(3,)], TypeError,
                match=r"logical_and\(\): argument 'other' \(position 2\) must be Tensor, not int")
    check_error(lambda x, y: lib(x).logical_or(x, y), [(3,), (4,)], RuntimeError,
                match=r"The size of tensor a \(3\) must match")


# -- bitwise ----------------------------------------------------------------------------------
BIT = {"and": lambda x, y: x & y, "or": lambda x, y: x | y, "xor": lambda x, y: x ^ y}
INT_PAIRS = [("int64", "int64"), ("int32", "int64"), ("uint8", "int8"), ("bool", "int64"), ("bool", "bool"),
             ("int16", "uint8")]


@pytest.mark.parametrize("dts", INT_PAIRS)
@pytest.mark.parametrize("op", list(BIT))
def test_bitwise_operators(op, dts):
    for shapes in ([(3, 4), (4,)], [(2, 1), ()], [(), (5,)]):
        check_op(BIT[op], shapes, grad=False, input_dtypes=list(dts), dtypes=("float64",), low=0, high=7)
        check_op(lambda x, y: getattr(lib(x), "bitwise_" + op)(x, y), shapes, grad=False,
                 input_dtypes=list(dts), dtypes=("float64",), low=0, high=7)


@pytest.mark.parametrize("dt", ["int64", "bool", "uint8", "int8"])
@pytest.mark.parametrize("scalar", [3, True, 0])
def test_bitwise_with_scalars(dt, scalar):
    fns = [lambda x: x & scalar, lambda x: scalar & x, lambda x: x | scalar, lambda x: scalar | x,
           lambda x: x ^ scalar, lambda x: scalar ^ x, lambda x: x.bitwise_and(scalar)]
    for fn in fns:
        check_op(fn, [(7,)], grad=False, input_dtypes=[dt], dtypes=("float64",), low=0, high=5)


@pytest.mark.parametrize("dt", ["int64", "bool", "uint8", "int32"])
def test_bitwise_not_and_invert(dt):
    check_op(lambda x: (~x, lib(x).bitwise_not(x), x.bitwise_not()), [(3, 4)], grad=False, input_dtypes=[dt],
             dtypes=("float64",), low=-3, high=5)


def test_shifts():
    for fn in (lambda x, y: x << y, lambda x, y: x >> y, lambda x, y: x << 2, lambda x, y: 1 << y,
               lambda x, y: lib(x).bitwise_left_shift(x, y), lambda x, y: lib(x).bitwise_right_shift(x, 1)):
        check_op(fn, [(3, 4), (4,)], grad=False, input_dtypes=["int64", "int64"], dtypes=("float64",),
                 low=0, high=5)


def test_inplace_bitwise_operators():
    def fn(x, y):
        z = x.clone()
        z &= y
        z |= 6
        z ^= y
        z.bitwise_and_(7)
        z.bitwise_or_(y)
        z.bitwise_xor_(1)
        return z

    check_op(fn, [(3, 4), (4,)], grad=False, input_dtypes=["int64", "int64"], dtypes=("float64",), low=0, high=9)

    def fb(x, y):
        z = x.clone()
        z &= y
        z |= True
        z ^= y
        return z

    check_op(fb, [(3, 4), (4,)], grad=False, input_dtypes=["bool", "bool"], dtypes=("float64",))


def test_bitwise_errors():
    check_error(lambda x, y: x & y, [(3,), (3,)], NotImplementedError,
                match="\"bitwise_and_cpu\" not implemented for 'Float'")
    check_error(lambda x: x | 1.5, [(3,)], NotImplementedError, dtypes=("int64",),
                match="\"bitwise_or_cpu\" not implemented for 'Float'")
    check_error(lambda x: ~x, [(3,)], TypeError,
                match=r"~ \(operator.invert\) is only implemented on integer and Boolean-type tensors")
    check_error(lambda x: lib(x).bitwise_not(x), [(3,)], NotImplementedError,
                match="\"bitwise_not_cpu\" not implemented for 'Float'")
    check_error(lambda x, y: x ^ y, [(3,), (2,)], RuntimeError, dtypes=("int64",),
                match=r"The size of tensor a \(3\) must match")
    check_error(lambda x: x << 1, [(3,)], NotImplementedError, match="\"lshift_cpu\" not implemented for 'Float'")
    check_error(lambda x, y: x.__iand__(y), [(3,), (2, 3)], RuntimeError, dtypes=("int64",),
                match="doesn't match the broadcast shape")


# -- comparison errors ------------------------------------------------------------------------
def test_comparison_errors():
    check_error(lambda x, y: x < y, [(3,), (2,)], RuntimeError,
                match=r"The size of tensor a \(3\) must match the size of tensor b \(2\) at non-singleton dimension 0")
    _, msg = check_error(lambda x: x < None, [(3,)], TypeError,
                         match="'<' not supported between instances of 'Tensor' and 'NoneType'")
    check_error(lambda x: lib(x).eq(x, None), [(3,)], TypeError,
                match=r"eq\(\) received an invalid combination of arguments - got \(Tensor, NoneType\)")
    check_error(lambda x: lib(x).gt(2, x), [(3,)], TypeError,
                match=r"gt\(\) received an invalid combination of arguments - got \(int, Tensor\)")
    check_error(lambda x, y: x.lt_(y), [(3,), (2, 3)], RuntimeError, match="doesn't match the broadcast shape")


def test_inplace_comparison_on_leaf_requiring_grad():
    for L in (torch, engine):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            x.lt_(0)


def test_operators_used_by_autograd_formulas():
    # comparisons and & are used inside backward formulas (e.g. pow's): they must work on
    # gradients flowing through create_graph too.
    ta = torch.tensor([0.0, 2.0, 3.0], requires_grad=True)
    tb = torch.tensor([1.0, 0.0, 2.0], requires_grad=True)
    (ta ** tb).sum().backward()
    ea = engine.tensor([0.0, 2.0, 3.0], requires_grad=True)
    eb = engine.tensor([1.0, 0.0, 2.0], requires_grad=True)
    (ea ** eb).sum().backward()
    # float32 grads b*a^(b-1) and a^b*log(a): pow and log <= 4 ulp each + 1 multiply: <= 8.5*2**-23 = 1e-6
    # relative per side, 2e-6 apart; the zeros (0*a^-1, torch's masked 0^1*log 0) are exact
    np.testing.assert_allclose(ea.grad.tolist(), ta.grad.tolist(), rtol=3e-6)
    np.testing.assert_allclose(eb.grad.tolist(), tb.grad.tolist(), rtol=3e-6)


@pytest.mark.parametrize("scalar", [-1, -56, 300, 7])
def test_int_scalar_wraps_to_tensor_dtype(scalar):
    t = torch.tensor([1, 200, 44], dtype=torch.uint8)
    e = engine.tensor([1, 200, 44], dtype=engine.uint8)
    for op in ("__gt__", "__eq__", "__le__"):
        assert getattr(e, op)(scalar).tolist() == getattr(t, op)(scalar).tolist()

"""Parity of tensor creation with PyTorch: dtype inference, shapes, values, memory sharing and
error types/messages."""
import warnings

import numpy as np
import pytest
import torch

import engine
from parity import assert_same

warnings.filterwarnings("ignore", category=UserWarning)


def both(src, atol=1e-6, rtol=1e-6):
    """Evaluate the expression ``src`` with ``L`` bound to torch and to engine; compare results.

    Tolerance: creation copies or converts values (exact), or computes each element with <= 2 correctly
    rounded ops (start + i*step, FMA or not) and at most one pow (logspace, <= 4 ulp): <= ~5 ulp, i.e.
    1.1e-15 relative in float64 and 6e-7 in float32 (whose rtol assert_same raises to 1e-5); an element
    that should be 0 (arange(-0.5, 0.5, 0.1)) is off by <= ulp(0.5) = 1.1e-16 (computed in double), < atol.
    Integer dtypes truncate doubles that are exact (integer arange, 10**k, endpoints, the middle 5.0 of
    linspace(0, 10, 7) with or without FMA), within 2.2e-16 of 0 (truncated to 0 either way) or >= 0.33 from
    an integer: exact.
    """
    env = {"np": np}
    t = eval(src, dict(env, L=torch))
    e = eval(src, dict(env, L=engine))
    assert_same(t, e, atol, rtol, src)
    return t, e


def both_raise(src):
    env = {"np": np}
    with pytest.raises(Exception) as ti:
        eval(src, dict(env, L=torch))
    with pytest.raises(type(ti.value)) as ei:
        eval(src, dict(env, L=engine))
    assert str(ei.value) == str(ti.value), src


TENSOR_DATA = [
    "[True, False]", "[1, 2]", "[1, 2.5]", "[True, 2]", "[True, 2.0]", "[[1, 2], [3, 4]]", "[[1, 2], [3, 4.5]]",
    "[]", "[[]]", "3", "3.5", "True", "(1, 2)", "[(1, 2), (3, 4)]", "range(4)", "-1", "2**63 - 1", "[-2**63]",
    "[L.tensor(1), L.tensor(2)]", "[L.tensor(1.), L.tensor(2)]", "[L.tensor(1), 2.5]",
    "[L.tensor(1., dtype=L.float64), 2]", "[L.tensor(1, dtype=L.int32), 2]",
    "[L.tensor(1, dtype=L.int32), L.tensor(2, dtype=L.int16)]", "[L.tensor([1.]), L.tensor([2.])]",
    "[[L.tensor(1.)], [L.tensor(2.)]]",
    "[np.float32(1), np.float64(2)]", "[np.int32(1), 2]", "[np.float16(1), 2]", "[np.float16(1), 2.5]",
    "[np.int16(1), np.int8(2)]", "[np.uint8(1), np.int8(2)]", "np.float32(2.5)", "np.int16(2)", "np.bool_(True)",
    "np.array([1, 2], dtype=np.int16)", "np.array([1, 2], dtype=np.uint8)", "np.array([1, 2], dtype=np.float16)",
    "np.array([1, 2], dtype=np.int8)", "np.array([1, 0], dtype=np.bool_)", "np.array([1., 2., 3., 4.])[::2]",
    "np.array([[1, 2]]).T", "np.array(3.5)", "[np.array([1, 2]), np.array([3, 4])]", "1e400",
]


@pytest.mark.parametrize("data", TENSOR_DATA)
def test_tensor_inference(data):
    both(f"L.tensor({data})")


@pytest.mark.parametrize("data", TENSOR_DATA[:12])
@pytest.mark.parametrize("dt", ["float64", "int64", "bool", "int32", "float16", "uint8"])
def test_tensor_dtype_override(data, dt):
    both(f"L.tensor({data}, dtype=L.{dt})")


@pytest.mark.parametrize("data", ["[1., 2]", "[1, 2]", "np.float32(1.)", "[np.float32(1.)]", "3.5", "[[1.5]]"])
def test_tensor_default_dtype(data):
    torch.set_default_dtype(torch.float64)
    engine.set_default_dtype(engine.float64)
    try:
        both(f"L.tensor({data})")
        both("L.zeros(2)")
        both("L.arange(0., 1, 0.25)")
        both("L.linspace(0, 1, 3)")
        both("L.full((2,), 1.5)")
        both("L.Tensor([1, 2])")
        both("L.eye(2)")
        assert engine.randn(2).dtype is engine.float64
    finally:
        torch.set_default_dtype(torch.float32)
        engine.set_default_dtype(engine.float32)


@pytest.mark.parametrize("src", [
    "L.tensor([[1, 2], [3]])", "L.tensor([[1, 2], 3])", "L.tensor([1, [2, 3]])", "L.tensor([1., [2, 3]])",
    "L.tensor([[[1]], [[2, 3]]])", "L.tensor([[1., 2], [3]])", "L.tensor([[1, 2], []])",
    "L.tensor([L.tensor([1, 2]), L.tensor([3, 4])])", "L.tensor('abc')", "L.tensor([1, 'a'])", "L.tensor(None)",
    "L.tensor([None])", "L.tensor({1: 2})", "L.tensor({1, 2})", "L.tensor([np.array(1.5), 2])",
    "L.tensor([2**63])", "L.tensor(2**63)", "L.tensor([-2**63 - 1])",
    "L.tensor([1, 2], requires_grad=True)",
])
def test_tensor_errors(src):
    both_raise(src)


def test_tensor_requires_grad_and_copy():
    t, e = both("L.tensor([1., 2.], requires_grad=True)")
    assert e.requires_grad and e.is_leaf
    a = np.array([1.0, 2.0])
    x = engine.tensor(a)
    a[0] = 9
    assert x.tolist() == [1.0, 2.0]
    y = engine.tensor([1.0, 2.0])
    z = engine.tensor(y)
    assert z is not y and not np.shares_memory(z._data, y._data)


SIZE_FORMS = ["2, 3", "(2, 3)", "[2, 3]", "L.Size([2, 3])", "()", "[]", "0", "3, 0", "np.int64(3), 2",
              "(np.int64(3), 2)", "L.tensor(2), 2", "size=(2, 3)", "size=[2]"]


@pytest.mark.parametrize("size", SIZE_FORMS)
@pytest.mark.parametrize("fn", ["zeros", "ones", "empty"])
def test_filled(fn, size):
    if fn == "empty":  # uninitialised values: compare shape and dtype
        both(f"L.{fn}({size}).shape")
        both(f"str(L.{fn}({size}).dtype)")
        both(f"str(L.{fn}({size}, dtype=L.int32).dtype)")
        return
    both(f"L.{fn}({size})")
    for dt in ("int32", "float64", "bool", "int64", "float16", "uint8"):
        both(f"L.{fn}({size}, dtype=L.{dt})")


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty"])
@pytest.mark.parametrize("size", ["2, -3", "(2, -3)", "-1", "2, 3.0", "(2, 3.0)", "2.0", "'a'"])
def test_size_errors(fn, size):
    both_raise(f"L.{fn}({size})")


def test_requires_grad_factories():
    for src in ("L.zeros(2, 3, requires_grad=True)", "L.ones(2, requires_grad=True)",
                "L.full((2,), 1., requires_grad=True)", "L.arange(1., 4, requires_grad=True)",
                "L.linspace(0, 1, 3, requires_grad=True)", "L.eye(2, requires_grad=True)",
                "L.ones_like(L.tensor([1., 2]), requires_grad=True)"):
        t, e = both(src)
        assert e.requires_grad and e.is_leaf
    for src in ("L.zeros(2, 3, dtype=L.int64, requires_grad=True)", "L.full((2,), 1, requires_grad=True)",
                "L.arange(1, 4, requires_grad=True)", "L.tensor([1, 2], requires_grad=True)",
                "L.zeros_like(L.tensor([1., 2]), dtype=L.int64, requires_grad=True)"):
        both_raise(src)


@pytest.mark.parametrize("src", [
    "L.full((2, 3), 1.5)", "L.full((2, 3), 7)", "L.full((2, 3), True)", "L.full((2,), 7, dtype=L.float32)",
    "L.full([2], 2.5, dtype=L.int64)", "L.full((2,), L.tensor(3))", "L.full((2,), L.tensor(3., dtype=L.float64))",
    "L.full((2,), L.tensor(True))", "L.full((2,), np.float64(2))", "L.full((2,), np.int32(2))", "L.full((), 3)",
    "L.full((2, 2), float('nan'))", "L.full(size=(2,), fill_value=3)", "L.full((2,), -1, dtype=L.uint8)",
])
def test_full(src):
    both(src)


def test_full_errors():
    both_raise("L.full(2, 2.5)")
    both_raise("L.full((2, -3), 1.)")


@pytest.mark.parametrize("src", [
    "L.zeros_like(L.tensor([1, 2]))", "L.zeros_like(L.tensor([1, 2]), dtype=L.float32)",
    "L.ones_like(L.tensor([1., 2]), dtype=L.int64)", "L.full_like(L.tensor([1, 2]), 2.7)",
    "L.full_like(L.tensor([1., 2]), 2)", "L.full_like(L.tensor([[1., 2]]), 2, dtype=L.float64)",
    "L.empty_like(L.tensor([1., 2])).shape", "str(L.empty_like(L.tensor([1, 2]), dtype=L.bool).dtype)",
    "L.ones_like(L.tensor([[1., 2]]).T)",
])
def test_like(src):
    both(src)


@pytest.mark.parametrize("src", [
    "L.eye(3)", "L.eye(2, 3)", "L.eye(3, 2, dtype=L.int64)", "L.eye(0)", "L.eye(2, dtype=L.bool)",
    "L.eye(n=2, m=3)", "L.eye(1)",
])
def test_eye(src):
    both(src)


@pytest.mark.parametrize("src", ["L.eye(-1)", "L.eye(2, -1)", "L.eye(2.0)"])
def test_eye_errors(src):
    both_raise(src)


@pytest.mark.parametrize("src", [
    "L.arange(5)", "L.arange(1, 5)", "L.arange(0, 1, 0.1)", "L.arange(1, 2.5, 0.5)", "L.arange(5.)",
    "L.arange(0, 10, 3)", "L.arange(10, 0, -3)", "L.arange(0, 5, dtype=L.float64)", "L.arange(0.5, 5, dtype=L.int64)",
    "L.arange(-1.5, 3.2, 0.7)", "L.arange(L.tensor(3))", "L.arange(0, 1, 1/3)", "L.arange(0, 0)",
    "L.arange(0.0, 0.9999999, 0.1)", "L.arange(0, 10, 3, dtype=L.float32)", "L.arange(1, 10, 2.5, dtype=L.int64)",
    "L.arange(-0.5, 0.5, 0.1)", "L.arange(10**8, 10**8 + 5, 1.0)", "L.arange(1, 2, 0.1, dtype=L.float64)",
    "L.arange(L.tensor(1.), 4)", "L.arange(L.tensor(1), 4)", "L.arange(np.int32(1), 4)", "L.arange(np.float64(1), 4)",
    "L.arange(start=1, end=4)", "L.arange(end=4)", "L.arange(0, 1, 0.1).shape", "L.arange(1, 0, -0.1)",
    "L.arange(0, 5, 1, dtype=L.int32)", "L.arange(0, 300, 50, dtype=L.float16)",
])
def test_arange(src):
    both(src, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("src", ["L.arange(0, 5, 0)", "L.arange(0, -1, 0.3)", "L.arange(0, 10, -1)",
                                 "L.arange(0, 5, dtype=L.bool)", "L.arange(0, float('inf'))",
                                 "L.arange(0.1, 1.0, 0.3, dtype=L.int64)"])
def test_arange_errors(src):
    both_raise(src)


@pytest.mark.parametrize("src", [
    "L.linspace(0, 1, 5)", "L.linspace(0, 1, 7)", "L.linspace(-3.3, 10.1, 11)", "L.linspace(0, 10, 4, dtype=L.int64)",
    "L.linspace(0, 10, 7, dtype=L.int64)", "L.linspace(-5, 5, 7, dtype=L.int32)", "L.linspace(0, 1, 1)",
    "L.linspace(0, 1, 0)", "L.linspace(2, 2, 3)", "L.linspace(0, 1, 5, dtype=L.float64)",
    "L.linspace(L.tensor(0.), L.tensor(1.), 3)", "L.linspace(10, 0, 4)", "L.linspace(0, 1, 5, dtype=L.float16)",
    "L.linspace(start=0, end=1, steps=3)", "L.linspace(-1e3, 1e3, 101)", "L.linspace(0.1, 0.3, 1000)",
    "L.logspace(0, 2, 3)", "L.logspace(0, 2, 3, base=2)", "L.logspace(-1, 1, 5, dtype=L.float64)",
    "L.logspace(0, 3, 4, dtype=L.int64)", "L.logspace(0.1, 0.7, 5)", "L.logspace(-2, 2, 9, base=3.0)",
])
def test_linspace_logspace(src):
    both(src, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("src", ["L.linspace(0, 1, -1)", "L.linspace(0., 1., 2.5)", "L.logspace(0, 1, -2)"])
def test_linspace_errors(src):
    env = {"np": np}
    with pytest.raises(Exception) as ti:
        eval(src, dict(env, L=torch))
    with pytest.raises(type(ti.value)):
        eval(src, dict(env, L=engine))


@pytest.mark.parametrize("src", [
    "L.Tensor(2, 3).shape", "L.Tensor([1, 2])", "L.Tensor([True, False])", "L.Tensor()", "L.Tensor((1, 2))",
    "L.Tensor(np.array([1, 2]))", "L.Tensor(L.tensor([1., 2.]))", "L.Tensor(L.Size([2, 3])).shape",
    "L.DoubleTensor([1, 2])", "L.LongTensor([1.7, 2])", "L.LongTensor(2).shape", "L.Tensor([[1, 2], [3, 4]])",
])
def test_legacy_constructor(src):
    both(src)


@pytest.mark.parametrize("src", ["L.Tensor('a')", "L.Tensor(2, 3.0)", "L.Tensor(-1)", "L.Tensor(2.5)",
                                 "L.Tensor([[1, 2], [3]])"])
def test_legacy_errors(src):
    both_raise(src)


def test_legacy_tensor_aliases():
    x = engine.tensor([1.0, 2.0])
    y = engine.Tensor(x)
    y._data[0] = 5
    assert x.tolist() == [5.0, 2.0]


@pytest.mark.parametrize("src", [
    "L.tensor([1, 2]).new_tensor([3.5])", "L.tensor([1., 2]).new_tensor([3])",
    "L.tensor([1., 2], dtype=L.float64).new_zeros(2, 3)", "L.tensor([1., 2], dtype=L.float64).new_zeros((2, 3))",
    "L.tensor([1, 2]).new_ones(2)", "L.tensor([1, 2]).new_full((2,), 3.7)", "L.tensor([1., 2]).new_full((2,), 3)",
    "L.tensor([1, 2]).new_empty((2, 3)).shape", "L.tensor([1., 2]).new_zeros(2, dtype=L.int32)",
    "L.tensor([1., 2.]).new_tensor([1, 2], dtype=L.int32)", "L.tensor([1., 2.]).new_tensor(L.tensor([1, 2]))",
    "L.tensor([1., 2.]).new_zeros([])", "L.tensor([1., 2.]).new_full([2], True)",
    "L.tensor([1., 2.]).new_full((2,), 7, dtype=L.int64)", "str(L.tensor([1., 2.]).new_empty(2, 3).dtype)",
    "L.tensor([1., 2.]).new_ones(2, 3, dtype=L.bool)", "L.tensor([1., 2]).new_ones(2, requires_grad=True)",
])
def test_new_methods(src):
    both(src)


def test_from_numpy_shares_memory():
    a = np.zeros(3)
    t = engine.from_numpy(a)
    t.add_(1)
    assert a.tolist() == [1.0, 1.0, 1.0]
    a[1] = 7
    assert t.tolist() == [1.0, 7.0, 1.0]
    n = t.numpy()
    n[2] = 9
    assert t.tolist() == [1.0, 7.0, 9.0]
    s = engine.from_numpy(np.array([1.0, 2.0, 3.0, 4.0])[::2])
    assert s.tolist() == [1.0, 3.0]
    assert engine.from_numpy(np.array(3.0)).shape == ()
    for dt in (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_):
        both(f"L.from_numpy(np.zeros(2, dtype=np.{np.dtype(dt).name if dt is not np.bool_ else 'bool_'}))")
    with pytest.raises(TypeError):
        engine.from_numpy([1, 2])


def test_as_tensor_sharing():
    b = np.zeros(3, dtype=np.float32)
    u = engine.as_tensor(b)
    b[0] = 2
    assert u.tolist() == [2.0, 0.0, 0.0]
    u2 = engine.as_tensor(b, dtype=engine.float64)
    b[1] = 2
    assert u2.tolist() == [2.0, 0.0, 0.0]
    t3 = engine.tensor([1.0, 2])
    assert engine.as_tensor(t3) is t3
    assert engine.as_tensor(t3, dtype=engine.float64).dtype is engine.float64
    both("L.as_tensor([1, 2])")
    both("L.as_tensor([1, 2], dtype=L.float32)")
    both("L.as_tensor(np.array([1, 2]), dtype=L.float64)")
    both("L.asarray([1, 2.5])")
    both("L.asarray(np.array([1, 2]))")
    a = np.ones(2)
    assert np.shares_memory(engine.asarray(a)._data, a)


@pytest.mark.parametrize("src", ["L.scalar_tensor(3)", "L.scalar_tensor(True)", "L.scalar_tensor(2.5)",
                                 "L.scalar_tensor(3, dtype=L.int64)"])
def test_scalar_tensor(src):
    both(src)


def test_range_deprecated():
    with pytest.warns(UserWarning):
        e = engine.range(0, 1, 0.25)
    t = torch.range(0, 1, 0.25)
    assert_same(t, e, 1e-7, 1e-7)  # i * 0.25: exact
    assert_same(torch.range(0, 3), engine.range(0, 3), 0, 0)  # integers: exact


def test_out_argument():
    out = engine.empty(2, 3)
    r = engine.zeros(2, 3, out=out)
    assert r is out
    out = engine.empty(0)
    engine.arange(4, out=out)
    assert out.tolist() == [0.0, 1.0, 2.0, 3.0]

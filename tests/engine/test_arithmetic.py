"""Parity of arithmetic operators with PyTorch: values, dtypes, broadcasting, gradients."""
import pytest
import torch

import engine
from parity import check_error, check_gradcheck, check_op

BCAST = [[(3, 4), (3, 4)], [(3, 4), (4,)], [(2, 1, 4), (3, 1)], [(), (2, 3)], [(5,), ()]]


@pytest.mark.parametrize("shapes", BCAST)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary(op, shapes):
    fns = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
           "div": lambda x, y: x / y}
    check_op(fns[op], shapes, low=0.5, high=2.0)
    check_gradcheck(fns[op], shapes, low=0.5, high=2.0)


@pytest.mark.parametrize("fn", [
    lambda x: x + 2, lambda x: 2 + x, lambda x: x - 1.5, lambda x: 3 - x, lambda x: x * 3, lambda x: 0.5 * x,
    lambda x: x / 4, lambda x: 2 / x, lambda x: -x, lambda x: x ** 2, lambda x: x ** 3, lambda x: x ** 0.5,
    lambda x: 2 ** x, lambda x: x.pow(-1.5), lambda x: torch_or(x).add(x, x, alpha=2),
    lambda x: x.sub(x * 2, alpha=0.5), lambda x: x % 0.7,
    lambda x: torch_or(x).rsub(x, 2.0, alpha=3.0), lambda x: torch_or(x).rsub(x, 2.0, alpha=-0.5),
])
def test_scalar_forms(fn):
    check_op(fn, [(3, 4)], low=0.5, high=2.0)


def torch_or(x):
    return torch if isinstance(x, torch.Tensor) else engine


@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 4), (4,)]])
def test_pow_tensor(shapes):
    check_op(lambda x, y: x ** y, shapes, low=0.5, high=2.0)
    check_gradcheck(lambda x, y: x ** y, shapes, low=0.5, high=2.0)


def test_lerp():
    check_op(lambda x, y: x.lerp(y, 0.3), [(3, 4), (4,)])
    check_op(lambda x, y, w: x.lerp(y, w), [(3, 4), (4,), (3, 1)])
    check_gradcheck(lambda x, y, w: x.lerp(y, w), [(3, 4), (4,), (3, 1)])


@pytest.mark.parametrize("dts", [("int64", "float32"), ("int32", "int64"), ("uint8", "int8"), ("bool", "int64"),
                                 ("float16", "float64"), ("float32", "float64"), ("int64", "bool")])
@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(3,), ()], [(), (3,)]])
def test_promotion(dts, shapes):
    for fn in (lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x / y):
        check_op(fn, shapes, grad=False, input_dtypes=list(dts), dtypes=("float64",), low=1, high=3)


@pytest.mark.parametrize("dt", ["int64", "int32", "uint8", "bool", "float16"])
def test_scalar_promotion(dt):
    for fn in (lambda x: x + 1, lambda x: x * 2.5, lambda x: x / 2, lambda x: x + True):
        check_op(fn, [(4,)], grad=False, input_dtypes=[dt], dtypes=("float64",), low=1, high=3)


def test_integer_division_modes():
    check_op(lambda x, y: x // y, [(6,), (6,)], grad=False, input_dtypes=["int64", "int64"], low=1, high=9)
    check_op(lambda x, y: x % y, [(6,), (6,)], grad=False, input_dtypes=["int64", "int64"], low=1, high=9)
    check_op(lambda x, y: x.div(y, rounding_mode="trunc"), [(6,), (6,)], grad=False, low=-9, high=9)
    check_op(lambda x, y: x.div(y, rounding_mode="floor"), [(6,), (6,)], grad=False, low=-9, high=9)


def test_floor_divide_has_no_derivative():
    for lib in (torch, engine):
        x = lib.tensor([1.5, 2.5], requires_grad=True)
        y = x // 0.3
        assert y.grad_fn.name() == "torch::autograd::NotImplemented"
        assert type(y.grad_fn).__name__ == "NotImplemented"
        with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
            y.sum().backward()


def test_inplace_forms():
    def fn(x, y):
        z = x * 1
        z.add_(y)
        z.mul_(y)
        z.sub_(1.5)
        z.div_(y)
        z += 1
        z *= y
        z -= y
        z /= 2
        return z

    check_op(fn, [(3, 4), (4,)], low=0.5, high=2.0)


def test_broadcast_mismatch_error():
    check_error(lambda x, y: x + y, [(3, 4), (5,)], RuntimeError, match=r"size of tensor a \(4\) must match")
    check_error(lambda x, y: x.add_(y), [(4,), (3, 4)], RuntimeError, match=r"doesn't match the broadcast shape")


def test_inplace_on_leaf_error():
    x = engine.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        x.add_(1)
    with engine.no_grad():
        x.add_(1)
    assert x.tolist() == [2.0, 2.0, 2.0]


def test_bool_sub_and_neg_errors():
    check_error(lambda x, y: x - y, [(3,), (3,)], RuntimeError, dtypes=("bool",), match="Subtraction")
    check_error(lambda x: -x, [(3,)], RuntimeError, dtypes=("bool",), match="Negation")


def test_integer_zero_division_raises():
    check_error(lambda x, y: x // y, [(3,), (3,)], RuntimeError, dtypes=("int64",),
                engine_fn=lambda x, y: x // (y * 0)) if False else None
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        engine.tensor([1, 2]) // engine.tensor([0, 1])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.tensor([1, 2]) // torch.tensor([0, 1])

"""Arithmetic: ``+ - * / // % **``, their reflected and in-place forms, ``neg``, ``lerp``…

Each backward formula is one line of Tensor ops; broadcasting is undone by the executor.
"""
import numpy as np

from ._util import (write_out as _out, Node, Tensor, as_tensor_arg, broadcast_error, float_result_dtype, inplace, needs_grad, promote, record,
                    xp_of)


def _lhs(input, other):
    """torch.add(2, x): make the first argument a tensor."""
    if not isinstance(input, Tensor):
        input = as_tensor_arg(input, other if isinstance(other, Tensor) else None)
    return input



def _operand(x):
    """A replayed operand: a number the node does not keep counts as 0 (it does not change the
    derivative with respect to the other operand)."""
    return 0.0 if x is None else x

class AddBackward0(Node):
    forward = "result = self + alpha * other"
    formula = "grad_self = grad; grad_other = alpha * grad"

    def replay(self, xs, out_shape):
        return add(_operand(xs[0]), _operand(xs[1]), alpha=self.alpha)

    def __init__(self, alpha=1):
        super().__init__()
        self.alpha = alpha

    def backward(self, grad):
        return grad, (grad if self.alpha == 1 else grad * self.alpha)


class SubBackward0(Node):
    forward = "result = self - alpha * other"
    formula = "grad_self = grad; grad_other = -alpha * grad"

    def replay(self, xs, out_shape):
        return sub(_operand(xs[0]), _operand(xs[1]), alpha=self.alpha)

    def __init__(self, alpha=1):
        super().__init__()
        self.alpha = alpha

    def backward(self, grad):
        return grad, (-grad if self.alpha == 1 else grad * -self.alpha)


class RsubBackward1(Node):
    forward = "result = other - alpha * self  (other: a number)"
    formula = "grad_self = -alpha * grad"

    def __init__(self, alpha=1):
        super().__init__()
        self.alpha = alpha

    def replay(self, xs, out_shape):
        return rsub(xs[0], 0.0, alpha=self.alpha)

    def backward(self, grad):
        return (-grad if self.alpha == 1 else grad * -self.alpha,)


class MulBackward0(Node):
    forward = "result = self * other"
    formula = "grad_self = grad * other; grad_other = grad * self"

    def replay(self, xs, out_shape):
        return mul(xs[0], xs[1])

    def backward(self, grad):
        a, b = self.saved()
        nf = self.next_functions
        return (grad * b if nf[0][0] is not None else None,
                grad * a if nf[1][0] is not None else None)


class MulBackward1(Node):
    """Multiplication by a Python number."""

    forward = "result = self * other  (other: a number)"
    formula = "grad_self = grad * other"

    def replay(self, xs, out_shape):
        return mul(xs[0], self.other)

    def __init__(self, other):
        super().__init__()
        self.other = other
        self._saved = ()  # PyTorch saves the wrapped scalar: a second backward raises

    def backward(self, grad):
        return (grad * self.other,)


class DivBackward0(Node):
    forward = "result = self / other"
    formula = "grad_self = grad / other; grad_other = -grad * self / other**2"

    def replay(self, xs, out_shape):
        return div(xs[0], xs[1])

    def backward(self, grad):
        a, b = self.saved()
        nf = self.next_functions
        ga = grad / b if nf[0][0] is not None else None
        gb = -grad * a / (b * b) if nf[1][0] is not None else None
        return ga, gb


class DivBackward1(Node):
    forward = "result = self / other  (other: a number)"
    formula = "grad_self = grad / other"

    def replay(self, xs, out_shape):
        return div(xs[0], self.other)

    def __init__(self, other):
        super().__init__()
        self.other = other
        self._saved = ()  # PyTorch saves the wrapped scalar: a second backward raises

    def backward(self, grad):
        return (grad / self.other,)


class NegBackward0(Node):
    forward = "result = -self"
    formula = "grad_self = -grad"

    def replay(self, xs, out_shape):
        return neg(xs[0])

    def backward(self, grad):
        return (-grad,)


class PowBackward0(Node):
    forward = "result = self ** exponent  (exponent: a number)"
    formula = "grad_self = grad * exponent * self**(exponent - 1)"

    def replay(self, xs, out_shape):
        return pow(xs[0], self.exponent)

    def __init__(self, exponent):
        super().__init__()
        self.exponent = exponent

    def backward(self, grad):
        (a,) = self.saved()
        e = self.exponent
        if e == 0:
            return (grad * 0,)
        if e == 2:
            return (grad * (a * 2),)
        return (grad * (e * a ** (e - 1)),)


class PowBackward1(Node):
    forward = "result = self ** exponent"
    formula = ("grad_self = grad * where(exponent == 0, 0, exponent * self**(exponent - 1)); "
               "grad_exponent = grad * where((self == 0) & (exponent >= 0), 0, result * log(self))")

    def replay(self, xs, out_shape):
        return pow(xs[0], xs[1])

    def backward(self, grad):
        a, b, result = self.saved()
        nf = self.next_functions
        ga = gb = None
        if nf[0][0] is not None:
            from .pointwise import where

            ga = grad * where(b == 0, 0.0, b * a ** (b - 1))
        if nf[1][0] is not None:
            from .pointwise import where

            ga_log = where((a == 0) & (b >= 0), 0.0, result * a.log())
            gb = grad * ga_log
        return ga, gb


class PowBackward2(Node):
    """Python number raised to a tensor."""

    forward = "result = self ** exponent  (self: a number)"
    formula = "grad_exponent = grad * result * log(self)  (0 when self == 0)"

    def replay(self, xs, out_shape):
        return pow(self.base, xs[-1])

    def __init__(self, base):
        super().__init__()
        self.base = base

    def backward(self, grad):
        (result,) = self.saved()
        import math

        if self.base == 0:
            from .pointwise import where

            return (grad * where(result == 0, 0.0, 0.0),)
        return (grad * result * math.log(self.base),)


def add(input, other, *, alpha=1, out=None):
    input = _lhs(input, other)
    ad, bd = promote(input, other)
    if alpha != 1:
        bd = bd * alpha
    try:
        r = Tensor._make(ad + bd)
    except ValueError:
        raise broadcast_error(ad.shape, bd.shape) from None
    if needs_grad(input, other if isinstance(other, Tensor) else None):
        record(AddBackward0(alpha), (input, other if isinstance(other, Tensor) else None), r)
    return _out(r, out)


def sub(input, other, *, alpha=1, out=None):
    input = _lhs(input, other)
    if input.dtype.name == "bool" and isinstance(other, Tensor) and other.dtype.name == "bool":
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
            "`logical_xor()` operator instead."
        )
    ad, bd = promote(input, other)
    if alpha != 1:
        bd = bd * alpha
    try:
        r = Tensor._make(ad - bd)
    except ValueError:
        raise broadcast_error(ad.shape, bd.shape) from None
    if needs_grad(input, other if isinstance(other, Tensor) else None):
        record(SubBackward0(alpha), (input, other if isinstance(other, Tensor) else None), r)
    return _out(r, out)


def rsub(input, other, alpha=1):
    """``other - input``."""
    if isinstance(other, Tensor):
        return sub(other, input, alpha=alpha)
    ad, bd = promote(input, other)
    r = Tensor._make(bd - ad * alpha)
    if needs_grad(input):
        record(RsubBackward1(alpha), (input,), r)
    return r


def mul(input, other, *, out=None):
    input = _lhs(input, other)
    ad, bd = promote(input, other)
    try:
        r = Tensor._make(ad * bd)
    except ValueError:
        raise broadcast_error(ad.shape, bd.shape) from None
    if isinstance(other, Tensor):
        if needs_grad(input, other):
            node = MulBackward0()
            node.save(input if other._rg else None, other if input._rg else None)
            record(node, (input, other), r)
    elif needs_grad(input):
        record(MulBackward0._scalar(other), (input,), r)
    return _out(r, out)


MulBackward0._scalar = MulBackward1
MulBackward1.__name__ = MulBackward1.__qualname__ = "MulBackward0"  # PyTorch names both MulBackward0


def div(input, other, *, rounding_mode=None, out=None):
    input = _lhs(input, other)
    if rounding_mode is not None:
        if rounding_mode == "floor":
            return floor_divide(input, other)
        if rounding_mode == "trunc":
            return _trunc_divide(input, other)
        raise RuntimeError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'"
        )
    ad, bd = promote(input, other)
    fd = float_result_dtype(ad.dtype)
    if ad.dtype != fd:
        ad = ad.astype(fd)
        if isinstance(other, Tensor):
            bd = bd.astype(fd)
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            r = Tensor._make(ad / bd)
        except ValueError:
            raise broadcast_error(ad.shape, bd.shape) from None
    if isinstance(other, Tensor):
        if needs_grad(input, other):
            node = DivBackward0()
            node.save(input if other._rg else None, other)
            record(node, (input, other), r)
    elif needs_grad(input):
        record(DivBackward1(other), (input,), r)
    return _out(r, out)


DivBackward1.__name__ = DivBackward1.__qualname__ = "DivBackward0"


def true_divide(input, other):
    return div(input, other)


def rdiv(input, other):
    """``other / input`` for a Python number ``other``."""
    return div(as_tensor_arg(other, input), input) if not isinstance(other, Tensor) else div(other, input)


def _int_zero_check(bd):
    if isinstance(bd, (int, np.integer)) and not isinstance(bd, bool):
        if bd == 0:
            raise RuntimeError("ZeroDivisionError")
    elif hasattr(bd, "dtype") and bd.dtype.kind in "iub" and (bd == 0).any():
        raise RuntimeError("ZeroDivisionError")


def floor_divide(input, other, *, out=None):
    input = _lhs(input, other)
    ad, bd = promote(input, other)
    if ad.dtype.kind in "iub":
        _int_zero_check(bd)
    with np.errstate(divide="ignore", invalid="ignore"):
        if ad.dtype.kind == "f":
            r = xp_of(ad).floor(ad / bd)
        else:
            r = ad // bd
    r = Tensor._make(r.astype(ad.dtype, copy=False))
    if needs_grad(input, other if isinstance(other, Tensor) else None):
        record(NotImplementedBackward("floor_divide"), (input, other if isinstance(other, Tensor) else None), r)
    return _out(r, out)


def _trunc_divide(input, other):
    ad, bd = promote(input, other)
    if ad.dtype.kind in "iub":
        _int_zero_check(bd)
        r = xp_of(ad).trunc(ad / bd).astype(ad.dtype)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = xp_of(ad).trunc(ad / bd)
    r = Tensor._make(r.astype(ad.dtype, copy=False))
    if needs_grad(input, other if isinstance(other, Tensor) else None):
        from .pointwise import ZeroGradBackward

        record(ZeroGradBackward("DivBackward2"), (input, other if isinstance(other, Tensor) else None), r)
    return r


class NotImplementedBackward(Node):
    """Grad_fn of ops PyTorch does not differentiate: backward raises PyTorch's error."""

    forward = "result = op(self, other)  (an op PyTorch does not differentiate)"
    formula = "grads = raise RuntimeError('derivative for aten::op is not implemented')"

    def __init__(self, op):
        super().__init__()
        self.op = op

    def name(self):
        return "torch::autograd::NotImplemented"

    def backward(self, *grads):
        raise RuntimeError(f"derivative for aten::{self.op} is not implemented")


NotImplementedBackward.__name__ = NotImplementedBackward.__qualname__ = "NotImplemented"


class RemainderBackward0(Node):
    forward = "result = remainder(self, other) = self - floor(self / other) * other"
    formula = "grad_self = grad; grad_other = -grad * floor(self / other)"

    def backward(self, grad):
        a, b = self.saved()
        nf = self.next_functions
        gb = None
        if nf[1][0] is not None:
            gb = -grad * (a / b).floor()
        return grad, gb


class RemainderBackward1(Node):
    forward = "result = remainder(self, other)  (or fmod; other: a number)"
    formula = "grad_self = grad"

    def backward(self, grad):
        return (grad,)


RemainderBackward1.__name__ = RemainderBackward1.__qualname__ = "RemainderBackward0"


def remainder(input, other, *, out=None):
    input = _lhs(input, other)
    ad, bd = promote(input, other)
    if ad.dtype.kind in "iub":
        _int_zero_check(bd)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = Tensor._make(xp_of(ad).remainder(ad, bd))
    if isinstance(other, Tensor):
        if needs_grad(input, other):
            node = RemainderBackward0()
            node.save(input, other)
            record(node, (input, other), r)
    elif needs_grad(input):
        record(RemainderBackward1(), (input,), r)
    return _out(r, out)


def fmod(input, other):
    ad, bd = promote(input, other)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = Tensor._make(xp_of(ad).fmod(ad, bd))
    if needs_grad(input):
        record(RemainderBackward1(), (input,), r)
    return r


def neg(input, *, out=None):
    if input.dtype.name == "bool":
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, "
            "use the `~` or `logical_not()` operator instead."
        )
    r = Tensor._make(-input._data)
    if needs_grad(input):
        record(NegBackward0(), (input,), r)
    return _out(r, out)


negative = neg


def pow(input, exponent, *, out=None):  # noqa: A001 - PyTorch's name
    if not isinstance(input, Tensor):
        return _scalar_pow(input, exponent)
    if isinstance(exponent, Tensor):
        ad, bd = promote(input, exponent)
        if ad.dtype.kind in "iu" and bd.dtype.kind in "iu" and (bd < 0).any():
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            r = Tensor._make(xp_of(ad).power(ad, bd))
        if needs_grad(input, exponent):
            node = PowBackward1()
            node.save(input, exponent, r)
            record(node, (input, exponent), r)
        return _out(r, out)
    ad, e = promote(input, exponent)
    if ad.dtype.kind in "iu" and isinstance(e, int) and e < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if e == 2:
            rd = ad * ad
        elif e == 1:
            rd = ad.copy()
        elif e == 0.5:
            rd = xp_of(ad).sqrt(ad)
        else:
            rd = ad ** e
    r = Tensor._make(rd)
    if needs_grad(input):
        node = PowBackward0(exponent)
        node.save(input)
        record(node, (input,), r)
    return _out(r, out)


def _scalar_pow(base, exponent):
    bd, ed = promote(exponent, base)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = Tensor._make(xp_of(bd).power(ed, bd) if not isinstance(ed, np.ndarray) else ed ** bd)
    if r.dtype is not exponent.dtype and not r.is_floating_point() and exponent.is_floating_point():
        r = Tensor._make(r._data.astype(exponent._data.dtype))
    if needs_grad(exponent):
        node = PowBackward2(base)
        node.save(r)
        record(node, (exponent,), r)
    return r


float_power = None  # filled below


def _float_power(input, exponent):
    a = input.double() if isinstance(input, Tensor) else input
    e = exponent.double() if isinstance(exponent, Tensor) else float(exponent)
    return pow(a, e)


float_power = _float_power


class LerpBackward0(Node):
    forward = "result = self + weight * (end - self)  (weight: a number)"
    formula = "grad_self = grad * (1 - weight); grad_end = grad * weight"

    def __init__(self, weight):
        super().__init__()
        self.weight = weight

    def backward(self, grad):
        w = self.weight
        return grad * (1 - w), grad * w


class LerpBackward1(Node):
    forward = "result = self + weight * (end - self)"
    formula = "grad_self = grad * (1 - weight); grad_end = grad * weight; grad_weight = grad * (end - self)"

    def backward(self, grad):
        a, b, w = self.saved()
        return grad * (1 - w), grad * w, grad * (b - a)


def lerp(input, end, weight):
    if isinstance(weight, Tensor):
        r = add(input, mul(sub(end, input), weight))
        out = Tensor._make(r._data)
        if needs_grad(input, end, weight):
            node = LerpBackward1()
            node.save(input, end, weight)
            record(node, (input, end, weight), out)
        return out
    ad, bd = promote(input, end)
    out = Tensor._make(ad + weight * (bd - ad))
    if needs_grad(input, end):
        record(LerpBackward0(weight), (input, end), out)
    return out


# -- method and operator table --------------------------------------------------------------
def _radd(self, other):
    return add(self, other)


def _rmul(self, other):
    return mul(self, other)


def _rsub(self, other):
    return rsub(self, other)


def _rtruediv(self, other):
    return rdiv(self, other)


def _rfloordiv(self, other):
    return floor_divide(as_tensor_arg(other, self), self)


def _rmod(self, other):
    return remainder(as_tensor_arg(other, self), self)


def _rpow(self, other):
    return _scalar_pow(other, self)


def _iop(fn):
    def method(self, other, **kw):
        return inplace(self, lambda s, o: fn(s, o, **kw), other)

    return method


def _pos(self):
    return self


METHODS = {
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div, "divide": div,
    "true_divide": true_divide, "floor_divide": floor_divide, "remainder": remainder, "fmod": fmod,
    "neg": neg, "negative": neg, "pow": pow, "float_power": float_power, "lerp": lerp,
    "__add__": add, "__radd__": _radd, "__sub__": sub, "__rsub__": _rsub, "__mul__": mul, "__rmul__": _rmul,
    "__truediv__": div, "__rtruediv__": _rtruediv, "__div__": div, "__floordiv__": floor_divide,
    "__rfloordiv__": _rfloordiv, "__mod__": remainder, "__rmod__": _rmod, "__pow__": pow, "__rpow__": _rpow,
    "__neg__": neg, "__pos__": _pos,
    "add_": _iop(add), "sub_": _iop(sub), "subtract_": _iop(sub), "mul_": _iop(mul), "multiply_": _iop(mul),
    "div_": _iop(div), "divide_": _iop(div), "true_divide_": _iop(true_divide),
    "floor_divide_": _iop(floor_divide), "remainder_": _iop(remainder), "fmod_": _iop(fmod),
    "pow_": _iop(pow), "lerp_": lambda self, end, weight: inplace(self, lambda s, e: lerp(s, e, weight), end),
    "neg_": lambda self: inplace(self, neg), "negative_": lambda self: inplace(self, neg),
    "__iadd__": _iop(add), "__isub__": _iop(sub), "__imul__": _iop(mul), "__itruediv__": _iop(div),
    "__ifloordiv__": _iop(floor_divide), "__imod__": _iop(remainder), "__ipow__": _iop(pow),
}
FUNCTIONS = {
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div, "divide": div,
    "true_divide": true_divide, "floor_divide": floor_divide, "remainder": remainder, "fmod": fmod,
    "neg": neg, "negative": neg, "pow": pow, "float_power": float_power, "lerp": lerp, "rsub": rsub,
}

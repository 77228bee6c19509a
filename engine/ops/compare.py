"""Comparisons (``== != < <= > >=``, eq/ne/lt…), closeness (equal, isclose, allclose), value
tests (isnan, isinf…), logical ops and bitwise ops (``& | ^ ~ << >>``).

None of them is differentiable: results never require grad.  Comparisons and logical ops give
bool tensors; bitwise ops keep the promoted integer/bool dtype.
"""
import numpy as np

from .. import dtypes as _dt
from ..autograd.grad_mode import GradMode
from ._util import write_out as _out, Number, Tensor, _can_cast, _short, as_tensor_arg, broadcast_error, inplace, promote, xp_of

_ndarray = np.ndarray


def _other_scalar(v):
    """A Python number for a number-like argument, or None if it is not one."""
    if isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, Number) and not isinstance(v, complex):
        return v
    return None


def _invalid_args(name, input, other):
    return TypeError(
        f"{name}() received an invalid combination of arguments - got ({_tname(input)}, {_tname(other)}), but "
        "expected one of:\n"
        " * (Tensor input, Tensor other, *, Tensor out = None)\n"
        " * (Tensor input, Number other, *, Tensor out = None)\n"
    )


def _tname(v):
    return "Tensor" if isinstance(v, Tensor) else type(v).__name__


def _apply(fn, ad, bd):
    try:
        return fn(ad, bd)
    except ValueError:
        raise broadcast_error(ad.shape, bd.shape) from None


# -- comparisons ------------------------------------------------------------------------------
def _comparison(name, npname):
    npfn = getattr(np, npname)

    def op(input, other, *, out=None):
        if not isinstance(input, Tensor):
            raise _invalid_args(name, input, other)
        if not isinstance(other, Tensor):
            s = _other_scalar(other)
            if s is None:
                raise _invalid_args(name, input, other)
            other = s
        ad, bd = promote(input, other)
        if not isinstance(bd, (Tensor, _ndarray)) and ad.dtype.kind in "iu" and type(bd) is int:
            bd = np.asarray(bd).astype(ad.dtype)  # PyTorch wraps the number to the tensor's dtype first
        fn = npfn if type(ad) is _ndarray else getattr(xp_of(ad), npname)
        r = Tensor._make(_apply(fn, ad, bd))
        return r if out is None else _out(r, out)

    op.__name__ = op.__qualname__ = name
    return op


eq = _comparison("eq", "equal")
ne = _comparison("ne", "not_equal")
lt = _comparison("lt", "less")
le = _comparison("le", "less_equal")
gt = _comparison("gt", "greater")
ge = _comparison("ge", "greater_equal")


def _operator(fn):
    """``a < b`` with a non-number, non-tensor ``b`` lets Python decide (== gives False)."""

    def method(self, other):
        if not isinstance(other, Tensor) and _other_scalar(other) is None:
            return NotImplemented
        return fn(self, other)

    return method


def equal(input, other):
    """True when both tensors have the same shape and the same values."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"equal(): argument 'other' (position 2) must be Tensor, not {_tname(other)}")
    if input._data.shape != other._data.shape:
        return False
    ad, bd = promote(input, other)
    return bool((ad == bd).all())


def _check_tol(rtol, atol, input, other):
    if not isinstance(input, Tensor):
        raise TypeError(f"isclose(): argument 'input' (position 1) must be Tensor, not {_tname(input)}")
    if not isinstance(other, Tensor):
        raise TypeError(f"isclose(): argument 'other' (position 2) must be Tensor, not {_tname(other)}")
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"{_short(input._data.dtype)} did not match {_short(other._data.dtype)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")


def _isclose_data(ad, bd, rtol, atol, equal_nan):
    xp = xp_of(ad)
    with np.errstate(all="ignore"):
        close = _apply(xp.equal, ad, bd)
        if equal_nan and ad.dtype.kind == "f":
            close = close | (xp.isnan(ad) & xp.isnan(bd))
        if rtol == 0 and atol == 0:
            return close
        if ad.dtype.kind == "b":
            fd = _dt.get_default_dtype().np
            ad, bd = ad.astype(fd), bd.astype(fd)
        allowed = xp.abs(rtol * bd)
        if allowed.dtype.kind != "f":
            allowed = allowed.astype(_dt.get_default_dtype().np)
        allowed = atol + allowed
        if ad.dtype.kind == "u":  # unsigned difference without wrap-around
            actual = xp.abs(ad.astype(np.int64) - bd.astype(np.int64))
        else:
            actual = xp.abs(ad - bd)
        finite = xp.isfinite(actual) if actual.dtype.kind == "f" else True
        return close | (finite & (actual <= allowed))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    _check_tol(rtol, atol, input, other)
    return Tensor._make(xp_of(input._data).asarray(
        _isclose_data(input._data, other._data, rtol, atol, equal_nan)))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    _check_tol(rtol, atol, input, other)
    return bool(_isclose_data(input._data, other._data, rtol, atol, equal_nan).all())


# -- value tests ------------------------------------------------------------------------------
def _value_test(name, npname, non_float):
    def op(input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {_tname(input)}")
        a = input._data
        xp = xp_of(a)
        if a.dtype.kind == "f":
            return Tensor._make(getattr(xp, npname)(a))
        return Tensor._make(xp.full(a.shape, non_float, dtype=bool))

    op.__name__ = op.__qualname__ = name
    return op


isnan = _value_test("isnan", "isnan", False)
isinf = _value_test("isinf", "isinf", False)
isfinite = _value_test("isfinite", "isfinite", True)
isposinf = _value_test("isposinf", "isposinf", False)
isneginf = _value_test("isneginf", "isneginf", False)


def isreal(input):
    return _value_test("isreal", "isfinite", True)(input) if input._data.dtype.kind != "f" else \
        Tensor._make(xp_of(input._data).ones(input._data.shape, dtype=bool))


# -- logical ----------------------------------------------------------------------------------
def _logical(name, npname):
    def op(input, other, *, out=None):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {_tname(input)}")
        if not isinstance(other, Tensor):
            raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not {_tname(other)}")
        ad, bd = input._data, other._data
        if type(ad) is not type(bd):
            ad, bd = promote(input, other)
        r = Tensor._make(_apply(getattr(xp_of(ad), npname), ad, bd))
        return r if out is None else _out(r, out)

    op.__name__ = op.__qualname__ = name
    return op


logical_and = _logical("logical_and", "logical_and")
logical_or = _logical("logical_or", "logical_or")
logical_xor = _logical("logical_xor", "logical_xor")


def logical_not(input, *, out=None):
    if not isinstance(input, Tensor):
        raise TypeError(f"logical_not(): argument 'input' (position 1) must be Tensor, not {_tname(input)}")
    a = input._data
    r = Tensor._make(xp_of(a).logical_not(a))
    return r if out is None else _out(r, out)


# -- bitwise ----------------------------------------------------------------------------------
def _bitwise(name, npname, kernel):
    def op(input, other, *, out=None):
        if not isinstance(input, Tensor):
            s = _other_scalar(input)
            if s is None or not isinstance(other, Tensor):
                raise _invalid_args(name, input, other)
            input = as_tensor_arg(s, other)
        if not isinstance(other, Tensor):
            s = _other_scalar(other)
            if s is None:
                raise _invalid_args(name, input, other)
            other = s
        ad, bd = promote(input, other)
        if ad.dtype.kind == "f":
            raise NotImplementedError(f"\"{kernel}\" not implemented for '{_short(ad.dtype)}'")
        r = Tensor._make(_apply(getattr(xp_of(ad), npname), ad, bd))
        return r if out is None else _out(r, out)

    op.__name__ = op.__qualname__ = name
    return op


bitwise_and = _bitwise("bitwise_and", "bitwise_and", "bitwise_and_cpu")
bitwise_or = _bitwise("bitwise_or", "bitwise_or", "bitwise_or_cpu")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor", "bitwise_xor_cpu")
bitwise_left_shift = _bitwise("bitwise_left_shift", "left_shift", "lshift_cpu")
bitwise_right_shift = _bitwise("bitwise_right_shift", "right_shift", "rshift_cpu")


def bitwise_not(input, *, out=None):
    if not isinstance(input, Tensor):
        raise TypeError(f"bitwise_not(): argument 'input' (position 1) must be Tensor, not {_tname(input)}")
    a = input._data
    if a.dtype.kind == "f":
        raise NotImplementedError(f"\"bitwise_not_cpu\" not implemented for '{_short(a.dtype)}'")
    r = Tensor._make(xp_of(a).invert(a))
    return r if out is None else _out(r, out)


def _invert(self):
    if self._data.dtype.kind == "f":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return bitwise_not(self)


def _reflected(fn):
    def method(self, other):
        s = _other_scalar(other)
        if s is None:
            return NotImplemented
        return fn(as_tensor_arg(s, self), self)

    return method


def _binop(fn):
    def method(self, other):
        if not isinstance(other, Tensor) and _other_scalar(other) is None:
            return NotImplemented
        return fn(self, other)

    return method


def _ip(fn):
    def method(self, other):
        return inplace(self, fn, other) if isinstance(other, Tensor) else inplace(self, lambda s: fn(s, other))

    method.__name__ = fn.__name__ + "_"
    return method


def _logical_not_(self):
    return inplace(self, logical_not)


def _bitwise_not_(self):
    return inplace(self, bitwise_not)


# -- tables -----------------------------------------------------------------------------------
_CMP = {"eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "not_equal": ne, "less": lt,
        "less_equal": le, "greater": gt, "greater_equal": ge}
_OTHER = {
    "equal": equal, "isclose": isclose, "allclose": allclose, "isnan": isnan, "isinf": isinf, "isfinite": isfinite,
    "isposinf": isposinf, "isneginf": isneginf, "isreal": isreal, "logical_and": logical_and,
    "logical_or": logical_or, "logical_xor": logical_xor, "logical_not": logical_not, "bitwise_and": bitwise_and,
    "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not,
    "bitwise_left_shift": bitwise_left_shift, "bitwise_right_shift": bitwise_right_shift,
}
_BINARY_IP = {"logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor,
              "bitwise_and": bitwise_and, "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor,
              "bitwise_left_shift": bitwise_left_shift, "bitwise_right_shift": bitwise_right_shift}

METHODS = dict(_CMP)
METHODS.update(_OTHER)
METHODS.update({k + "_": _ip(v) for k, v in _CMP.items()})
METHODS.update({k + "_": _ip(v) for k, v in _BINARY_IP.items()})
METHODS.update({
    "logical_not_": _logical_not_, "bitwise_not_": _bitwise_not_,
    "__eq__": _operator(eq), "__ne__": _operator(ne), "__lt__": _operator(lt), "__le__": _operator(le),
    "__gt__": _operator(gt), "__ge__": _operator(ge),
    "__and__": _binop(bitwise_and), "__or__": _binop(bitwise_or), "__xor__": _binop(bitwise_xor),
    "__lshift__": _binop(bitwise_left_shift), "__rshift__": _binop(bitwise_right_shift),
    "__rand__": _reflected(bitwise_and), "__ror__": _reflected(bitwise_or), "__rxor__": _reflected(bitwise_xor),
    "__rlshift__": _reflected(bitwise_left_shift), "__rrshift__": _reflected(bitwise_right_shift),
    "__iand__": _ip(bitwise_and), "__ior__": _ip(bitwise_or), "__ixor__": _ip(bitwise_xor),
    "__ilshift__": _ip(bitwise_left_shift), "__irshift__": _ip(bitwise_right_shift),
    "__invert__": _invert,
})
FUNCTIONS = dict(_CMP)
FUNCTIONS.update(_OTHER)

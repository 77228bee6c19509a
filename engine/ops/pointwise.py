"""Pointwise math: unary functions (exp, log, sqrt, sin, tanh, sigmoid, relu, erf…), rounding,
clamp, maximum/minimum, atan2 and ``where``.  Comparisons and logical ops live in ``compare``.

Every op computes its forward on arrays; its grad_fn is a ``Node`` named as PyTorch names it
whose ``backward`` is written with Tensor ops (so ``create_graph=True`` differentiates it
again).  The formulas read as a table.
"""
import math

import numpy as np

from .. import dtypes as _dt
from ..autograd.grad_mode import GradMode as _GradMode
from ..autograd.graph import op_name
from ._util import (Node, Number, Tensor, as_tensor_arg, broadcast_error, inplace, needs_grad, promote, record,
                    scalar_type_name, xp_of)
from .arithmetic import _out, pow as _pow
# compare imports this module too: bind the module (possibly still initialising) and look the
# functions up when a backward runs.
from . import compare as _cmp  # noqa: E402

_ndarray = np.ndarray
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRTPI = 2.0 / math.sqrt(math.pi)
_INV_SQRTPI = 1.0 / math.sqrt(math.pi)
_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)


# -- helpers ----------------------------------------------------------------------------------
def _type_error(name, value, arg="input", pos=1):
    return TypeError(f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not {type(value).__name__}")


def _not_impl(kernel, np_dtype):
    return NotImplementedError(f'"{kernel}" not implemented for \'{scalar_type_name(np_dtype)}\'')


def _data(input, name):
    try:
        return input._data
    except AttributeError:
        raise _type_error(name, input) from None


def _zeros(grad):
    """A constant zero gradient shaped like ``grad`` (not ``grad * 0``: that turns inf into nan)."""
    g = grad._data
    return Tensor._make(xp_of(g).zeros(g.shape, g.dtype))


# -- zero-gradient nodes (piecewise-constant ops) ---------------------------------------------
class _ZeroGrad(Node):
    """Backward of piecewise-constant ops (floor, round, sign…): zero gradient for each input."""

    forward = "result = op(self)  (piecewise constant)"  # each class made by _zero_class has its own
    formula = "grad_self = 0"

    def backward(self, grad):
        z = _zeros(grad)
        return tuple(z if f is not None else None for f, _ in self.next_functions)


_zero_classes = {}

# (forward, formula) of each zero-gradient class, by name; others get "result = <op>(self)".
_ZERO_TEXTS = {
    "FloorBackward0": ("result = floor(self)", "grad_self = 0"),
    "CeilBackward0": ("result = ceil(self)", "grad_self = 0"),
    "RoundBackward0": ("result = round(self)", "grad_self = 0"),
    "RoundBackward1": ("result = round(self, decimals=decimals)", "grad_self = 0"),
    "TruncBackward0": ("result = trunc(self)", "grad_self = 0"),
    "SignBackward0": ("result = sign(self)", "grad_self = 0"),
    "SgnBackward0": ("result = sgn(self)", "grad_self = 0"),
    "DivBackward2": ("result = trunc(self / other)  (div with rounding_mode='trunc')",
                     "grad_self = 0; grad_other = 0"),
    "torch::autograd::NotImplemented": ("result = self.scatter(dim, index, src, reduce=reduce)",
                                        "grad_self = 0; grad_src = 0"),
}


def _zero_class(name):
    cls = _zero_classes.get(name)
    if cls is None:
        forward, formula = _ZERO_TEXTS.get(name, (f"result = {op_name(name)}(self)", _ZeroGrad.formula))
        cls = _zero_classes[name] = type(name, (_ZeroGrad,), {"__module__": __name__, "__qualname__": name,
                                                             "forward": forward, "formula": formula})
    return cls


def ZeroGradBackward(name):  # noqa: N802 - kept for callers that name the node
    """A zero-gradient node whose class is named ``name`` (``ZeroGradBackward("DivBackward2")``)."""
    return _zero_class(name)()


FloorBackward0 = _zero_class("FloorBackward0")
CeilBackward0 = _zero_class("CeilBackward0")
RoundBackward0 = _zero_class("RoundBackward0")
RoundBackward1 = _zero_class("RoundBackward1")
TruncBackward0 = _zero_class("TruncBackward0")
SignBackward0 = _zero_class("SignBackward0")
SgnBackward0 = _zero_class("SgnBackward0")


# -- where ------------------------------------------------------------------------------------
class WhereBackward0(Node):
    forward = "result = where(condition, self, other)"
    formula = "grad_self = where(condition, grad, 0); grad_other = where(condition, 0, grad)"

    def __init__(self, cond):
        super().__init__()
        self.cond = cond

    def backward(self, grad):
        c = self.cond
        nf = self.next_functions
        return (None,
                where(c, grad, 0.0) if nf[1][0] is not None else None,
                where(c, 0.0, grad) if nf[2][0] is not None else None)


def _bshape(*arrays):
    """Broadcast shape of arrays, raising PyTorch's message for the first pair that clashes."""
    shape = arrays[0].shape
    for a in arrays[1:]:
        s = a.shape
        if s != shape:
            try:
                shape = np.broadcast_shapes(shape, s)
            except ValueError:
                raise broadcast_error(shape, s) from None
    return shape


def where(condition, input=None, other=None, *, out=None):
    if input is None and other is None:
        from .indexing import nonzero

        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        raise _type_error("where", condition, "condition")
    c = condition._data
    if c.dtype.kind != "b":
        if c.dtype != np.uint8:
            raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor with dtype "
                               f"{scalar_type_name(c.dtype)}")
        c = c.astype(bool)
    ot = other if isinstance(other, Tensor) else None
    if ot is not None and not isinstance(input, Tensor) and isinstance(input, Number):
        # a Python number is a wrapped scalar: where(c, 5, int32 tensor) stays int32
        bd, ad = promote(other, input)
        ad = xp_of(bd).asarray(ad).astype(bd.dtype)
        input = None
    else:
        if not isinstance(input, Tensor):
            input = as_tensor_arg(input, ot if ot is not None else condition)
        if not isinstance(other, (Tensor, Number)):
            other = as_tensor_arg(other, input)
        ad, bd = promote(input, other)
        ot = other if isinstance(other, Tensor) else None
        if ot is None:
            bd = xp_of(ad).asarray(bd).astype(ad.dtype)
    if c.shape != ad.shape or ad.shape != bd.shape:
        _bshape(c, ad, bd)
    r = Tensor._make(xp_of(ad).where(c, ad, bd))
    if needs_grad(input, ot):
        record(WhereBackward0(condition), (condition, input, ot), r)
    return _out(r, out)


# -- unary ops --------------------------------------------------------------------------------
def _unary(name, fwd, node_cls=None, save=None, float_out=True, check=None):
    """A unary op from a forward on arrays ``fwd(xp, a)`` and a backward node class.

    ``float_out``: integer and bool inputs give the default float dtype; float16 is computed
    in float32 and rounded back.  ``save`` is "input", "result" or None.
    """

    def op(input, *, out=None):
        try:
            a = input._data
        except AttributeError:
            raise _type_error(name, input) from None
        dt = a.dtype
        if check is not None:
            check(dt)
        half = False
        if float_out:
            if dt.kind != "f":
                a = a.astype(_dt.get_default_dtype().np)
            elif dt is _F16 or dt == _F16:
                a = a.astype(_F32)
                half = True
        with np.errstate(all="ignore"):
            res = fwd(xp_of(a), a)
        if half:
            res = res.astype(_F16)
        r = Tensor._make(res)
        if node_cls is not None and input._rg and needs_grad(input):
            node = node_cls()
            if save == "input":
                node.save(input)
            elif save == "result":
                node.save(r)
            record(node, (input,), r)
        if out is not None:
            return _out(r, out)
        return r

    op.__name__ = op.__qualname__ = name
    return op


def _no_bool(kernel):
    def check(dt):
        if dt.kind == "b":
            raise _not_impl(kernel, dt)

    return check


def _float_only(kernel):
    def check(dt):
        if dt.kind != "f":
            raise _not_impl(kernel, dt)

    return check


def _relu_check(dt):
    if dt.kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")


class AbsBackward0(Node):
    forward = "result = abs(self)"
    formula = "grad_self = grad * sign(self)"

    def replay(self, xs, out_shape):
        return abs(xs[0])

    def backward(self, grad):
        (a,) = self.saved()
        return (grad * sign(a),)


class ExpBackward0(Node):
    forward = "result = exp(self)"
    formula = "grad_self = grad * result"

    def replay(self, xs, out_shape):
        return exp(xs[0])

    def backward(self, grad):
        (r,) = self.saved()
        return (grad * r,)


class Exp2Backward0(Node):
    forward = "result = 2 ** self"
    formula = "grad_self = grad * result * log(2)"

    def replay(self, xs, out_shape):
        return exp2(xs[0])

    def backward(self, grad):
        (r,) = self.saved()
        return (grad * (r * _LN2),)


class Expm1Backward0(Node):
    forward = "result = exp(self) - 1"
    formula = "grad_self = grad * (result + 1)"

    def replay(self, xs, out_shape):
        return expm1(xs[0])

    def backward(self, grad):
        (r,) = self.saved()
        return (grad * (r + 1),)


class LogBackward0(Node):
    forward = "result = log(self)"
    formula = "grad_self = grad / self"

    def replay(self, xs, out_shape):
        return log(xs[0])

    def backward(self, grad):
        (a,) = self.saved()
        return (grad / a,)


class Log2Backward0(Node):
    forward = "result = log2(self)"
    formula = "grad_self = grad / (self * log(2))"

    def replay(self, xs, out_shape):
        return log2(xs[0])

    def backward(self, grad):
        (a,) = self.saved()
        return (grad / (a * _LN2),)


class Log10Backward0(Node):
    forward = "result = log10(self)"
    formula = "grad_self = grad / (self * log(10))"

    def replay(self, xs, out_shape):
        return log10(xs[0])

    def backward(self, grad):
        (a,) = self.saved()
        return (grad / (a * _LN10),)


class Log1PBackward0(Node):
    forward = "result = log(1 + self)"
    formula = "grad_self = grad / (self + 1)"

    def replay(self, xs, out_shape):
        return log1p(xs[0])

    def backward(self, grad):
        (a,) = self.saved()
        return (grad / (a + 1),)


class SqrtBackward0(Node):
    forward = "result = sqrt(self)"
    formula = "grad_self = grad / (2 * result)"

    def replay(self, xs, out_shape):
        return sqrt(xs[0])

    def backward(self, grad):
        (r,) = self.saved()
        return (grad / (r * 2),)


class RsqrtBackward0(Node):
    forward = "result = 1 / sqrt(self)"
    formula = "grad_self = -0.5 * grad * result**3"

    def replay(self, xs, out_shape):
        return rsqrt(xs[0])

    def backward(self, grad):
        (r,) = self.saved()
        return (grad * (r * r * r) * -0.5,)


class SinBackward0(Node):
    forward = "result = sin(self)"
    formula = "grad_self = grad * cos(self)"

    def replay(self, xs, out_shape):
        return sin(xs[0])

    def backward(self, grad):
        (a,) = self.saved()
        return (grad * cos(a),)


class CosBackward0(Node):
    forward = "result = cos(self)"
    formula = "grad_self = -grad * sin(self)"

    def replay(self, xs, out_shape):
        return cos(xs[0])

    def backward(self, grad):
        (a,) = self.saved()
        return (grad * -sin(a),)


class TanBackward0(Node):
    forward = "result = tan(self)"
    formula = "grad_self = grad * (1 + result**2)"

    def replay(self, xs, out_shape):
        return tan(xs[0])

    def backward(self, grad):
        (r,) = self.saved()
        return (grad * (r * r + 1),)


class AsinBackward0(Node):
    forward = "result = asin(self)"
    formula = "grad_self = grad / sqrt(1 - self**2)"

    def replay(self, xs, out_shape):
        return asin(xs[0])

    def backward(self, grad):
        (a,) = self.saved()
        return (grad * rsqrt(1 - a * a),)


class AcosBackward0(Node):
    forward = "result = acos(self)"
    formula = "grad_self = -grad / sqrt(1 - self**2)"

    def replay(self, xs, out_shape):
        return acos(xs[0])

    def backward(self, grad):
        (a,) = self.saved()
        return (grad * -rsqrt(1 - a * a),)


class AtanBackward0(Node):
    forward = "result = atan(self)"
    formula = "grad_self = grad / (1 + self**2)"

    def replay(self, xs, out_shape):
        return atan(xs[0])

    def backward(self, grad):
        (a,) = self.saved()
        return (grad / (a * a + 1),)


class SinhBackward0(Node):
    forward = "result = sinh(self)"
    formula = "grad_self = grad * cosh(self)"

    def replay(self, xs, out_shape):
        return sinh(xs[0])

    def backward(self, grad):
        (a,) = self.saved()
        return (grad * cosh(a),)


class CoshBackward0(Node):
    forward = "result = cosh(self)"
    formula = "grad_self = grad * sinh(self)"

    def replay(self, xs, out_shape):
        return cosh(xs[0])

    def backward(self, grad):
        (a,) = self.saved()
        return (grad * sinh(a),)


class TanhBackward0(Node):
    forward = "result = tanh(self)"
    formula = "grad_self = grad * (1 - result**2)"

    def replay(self, xs, out_shape):
        return tanh(xs[0])

    def backward(self, grad):
        (r,) = self.saved()
        return (grad * (1 - r * r),)


class SigmoidBackward0(Node):
    forward = "result = 1 / (1 + exp(-self))"
    formula = "grad_self = grad * (1 - result) * result"

    def replay(self, xs, out_shape):
        return sigmoid(xs[0])

    def backward(self, grad):
        (r,) = self.saved()
        return (grad * ((1 - r) * r),)


class ReluBackward0(Node):
    forward = "result = max(self, 0)"
    formula = "grad_self = where(result > 0, grad, 0)"

    def replay(self, xs, out_shape):
        return relu(xs[0])

    def backward(self, grad):
        (r,) = self.saved()
        if not _GradMode.enabled and grad._data.dtype == r._data.dtype:
            # first-order backward: one pass over the arrays instead of three ops
            g = grad._data
            return (Tensor._make(g * (r._data > 0)),)
        return (where(_cmp.gt(r, 0), grad, 0.0),)


class FracBackward0(Node):
    forward = "result = self - trunc(self)"
    formula = "grad_self = grad"

    def backward(self, grad):
        return (grad,)


class ReciprocalBackward0(Node):
    forward = "result = 1 / self"
    formula = "grad_self = -grad * result**2"

    def replay(self, xs, out_shape):
        return reciprocal(xs[0])

    def backward(self, grad):
        (r,) = self.saved()
        return (grad * -(r * r),)


class ErfBackward0(Node):
    forward = "result = erf(self)"
    formula = "grad_self = grad * 2 / sqrt(pi) * exp(-self**2)"

    def replay(self, xs, out_shape):
        return erf(xs[0])

    def backward(self, grad):
        (a,) = self.saved()
        return (grad * (exp(-(a * a)) * _TWO_OVER_SQRTPI),)


class NanToNumBackward0(Node):
    forward = "result = nan_to_num(self, nan, posinf, neginf)"
    formula = "grad_self = where(isfinite(self), grad, 0)"

    def backward(self, grad):
        (a,) = self.saved()
        return (where(_cmp.isfinite(a), grad, 0.0),)


def _sign_fwd(xp, a):
    if a.dtype.kind == "b":
        return a.copy()
    if a.dtype.kind == "u":
        return (a > 0).astype(a.dtype)
    # (x > 0) - (x < 0): sign(nan) = 0 and sign(-0.0) = +0 as in PyTorch
    return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)


def _copy_if_int(f):
    def fwd(xp, a):
        return f(xp, a) if a.dtype.kind == "f" else a.copy()

    return fwd


def _sigmoid_fwd(xp, a):
    return 1 / (1 + xp.exp(-a))


def _relu_fwd(xp, a):
    r = xp.maximum(a, 0)
    return r if r.dtype == a.dtype else r.astype(a.dtype)


def _frac_fwd(xp, a):
    return a - xp.trunc(a)


# -- erf: own implementation, vectorised, accurate to a few ulp in float64 ---------------------
def _erf_array(x, double):
    """erf of a float64 array.

    |x| < 2.5: erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (2n+1)!!  (all terms positive,
    no cancellation); the number of terms follows from max |x| and the precision wanted.
    |x| >= 2.5: erfc from its continued fraction exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + ...))).
    """
    xp = xp_of(x)
    ax = xp.abs(x)
    small = ax < 2.5
    all_small = bool(small.all())
    out = xp.empty_like(x)
    if all_small or small.any():
        xs = x if all_small else x[small]
        x2 = xs * xs
        m = float(xp.abs(xs).max()) if xs.size else 0.0
        n_terms = int(9 + 12.5 * m) if double else int(5 + 9 * m)
        term = xs
        acc = xs
        two_x2 = 2.0 * x2
        for n in range(1, n_terms):
            term = term * two_x2 * (1.0 / (2 * n + 1))
            acc = acc + term
        val = _TWO_OVER_SQRTPI * xp.exp(-x2) * acc
        if all_small:
            return val
        out[small] = val
    big = ~small
    xb = ax[big]
    t = xb
    for k in range(32 if double else 16, 0, -1):
        t = xb + (0.5 * k) / t
    r = 1.0 - xp.exp(-xb * xb) * _INV_SQRTPI / t
    out[big] = xp.where(x[big] < 0, -r, r)
    return out


def _erf_fwd(xp, a):
    double = a.dtype == np.float64
    x = a if double else a.astype(np.float64)
    r = _erf_array(x, double)
    return r if double else r.astype(a.dtype)


abs = _unary("abs", lambda xp, a: xp.abs(a), AbsBackward0, "input", False, _no_bool("abs_cpu"))  # noqa: A001
absolute = abs
sign = _unary("sign", _sign_fwd, SignBackward0, None, False)
sgn = _unary("sgn", _sign_fwd, SgnBackward0, None, False)
exp = _unary("exp", lambda xp, a: xp.exp(a), ExpBackward0, "result")
exp2 = _unary("exp2", lambda xp, a: xp.exp2(a), Exp2Backward0, "result")
expm1 = _unary("expm1", lambda xp, a: xp.expm1(a), Expm1Backward0, "result")
log = _unary("log", lambda xp, a: xp.log(a), LogBackward0, "input")
log2 = _unary("log2", lambda xp, a: xp.log2(a), Log2Backward0, "input")
log10 = _unary("log10", lambda xp, a: xp.log10(a), Log10Backward0, "input")
log1p = _unary("log1p", lambda xp, a: xp.log1p(a), Log1PBackward0, "input")
sqrt = _unary("sqrt", lambda xp, a: xp.sqrt(a), SqrtBackward0, "result")
rsqrt = _unary("rsqrt", lambda xp, a: 1 / xp.sqrt(a), RsqrtBackward0, "result")
sin = _unary("sin", lambda xp, a: xp.sin(a), SinBackward0, "input")
cos = _unary("cos", lambda xp, a: xp.cos(a), CosBackward0, "input")
tan = _unary("tan", lambda xp, a: xp.tan(a), TanBackward0, "result")
asin = _unary("asin", lambda xp, a: xp.arcsin(a), AsinBackward0, "input")
acos = _unary("acos", lambda xp, a: xp.arccos(a), AcosBackward0, "input")
atan = _unary("atan", lambda xp, a: xp.arctan(a), AtanBackward0, "input")
sinh = _unary("sinh", lambda xp, a: xp.sinh(a), SinhBackward0, "input")
cosh = _unary("cosh", lambda xp, a: xp.cosh(a), CoshBackward0, "input")
tanh = _unary("tanh", lambda xp, a: xp.tanh(a), TanhBackward0, "result")
sigmoid = _unary("sigmoid", _sigmoid_fwd, SigmoidBackward0, "result")
relu = _unary("relu", _relu_fwd, ReluBackward0, "result", False, _relu_check)
floor = _unary("floor", _copy_if_int(lambda xp, a: xp.floor(a)), FloorBackward0, None, False,
               _no_bool("floor_vml_cpu"))
ceil = _unary("ceil", _copy_if_int(lambda xp, a: xp.ceil(a)), CeilBackward0, None, False, _no_bool("ceil_vml_cpu"))
trunc = _unary("trunc", _copy_if_int(lambda xp, a: xp.trunc(a)), TruncBackward0, None, False,
               _no_bool("trunc_vml_cpu"))
fix = trunc
frac = _unary("frac", _frac_fwd, FracBackward0, None, False, _float_only("frac_cpu"))
reciprocal = _unary("reciprocal", lambda xp, a: 1 / a, ReciprocalBackward0, "result")
erf = _unary("erf", _erf_fwd, ErfBackward0, "input")
arcsin, arccos, arctan = asin, acos, atan

_round0 = _unary("round", _copy_if_int(lambda xp, a: xp.rint(a)), RoundBackward0, None, False,
                 _no_bool("round_vml_cpu"))


def round(input, *, decimals=None, out=None):  # noqa: A001 - PyTorch's name
    if decimals is None:  # round(x) and round(x, decimals=0) are different overloads in PyTorch
        return _round0(input, out=out)
    a = _data(input, "round")
    if a.dtype.kind != "f":
        raise _not_impl("round_vml_cpu" if decimals == 0 else "round_cpu", a.dtype)
    xp = xp_of(a)
    with np.errstate(all="ignore"):
        if decimals == 0:
            res = xp.rint(a)
        elif decimals > 0:
            p = a.dtype.type(10.0 ** decimals)
            res = xp.rint(a * p) / p
        else:
            p = a.dtype.type(10.0 ** -decimals)
            res = xp.rint(a / p) * p
    r = Tensor._make(res.astype(a.dtype, copy=False))
    if needs_grad(input):
        record(RoundBackward1(), (input,), r)
    return _out(r, out)


def square(input, *, out=None):
    a = _data(input, "square")
    if a.dtype.kind == "b":
        input = Tensor._make(a.astype(np.int64))
    return _pow(input, 2, out=out)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    a = _data(input, "nan_to_num")
    if a.dtype.kind != "f":
        res = a.copy()
    else:
        res = xp_of(a).nan_to_num(a, copy=True, nan=nan, posinf=posinf, neginf=neginf)
    r = Tensor._make(res)
    if needs_grad(input):
        node = NanToNumBackward0()
        node.save(input)
        record(node, (input,), r)
    return _out(r, out)


# -- binary float ops ---------------------------------------------------------------------------
def _binary_arrays(name, input, other):
    if not isinstance(input, Tensor):
        raise _type_error(name, input)
    if not isinstance(other, Tensor):
        raise _type_error(name, other, "other", 2)
    return promote(input, other)


class Atan2Backward0(Node):
    forward = "result = atan2(self, other)"
    formula = "grad_self = grad * other / (self**2 + other**2); grad_other = -grad * self / (self**2 + other**2)"

    def backward(self, grad):
        a, b = self.saved()
        nf = self.next_functions
        den = a * a + b * b
        # PyTorch zeroes the reciprocal where it is infinite: the gradient at (0, 0) is 0, not nan.
        recip = where(Tensor._make(den._data == 0), 0.0, den.reciprocal())
        return (grad * (b * recip) if nf[0][0] is not None else None,
                grad * (-a * recip) if nf[1][0] is not None else None)


def atan2(input, other, *, out=None):
    ad, bd = _binary_arrays("atan2", input, other)
    if ad.dtype.kind != "f":
        fd = _dt.get_default_dtype().np
        ad, bd = ad.astype(fd), bd.astype(fd)
    try:
        r = Tensor._make(xp_of(ad).arctan2(ad, bd))
    except ValueError:
        raise broadcast_error(ad.shape, bd.shape) from None
    if needs_grad(input, other):
        node = Atan2Backward0()
        node.save(input, other)
        record(node, (input, other), r)
    return _out(r, out)


arctan2 = atan2


class MaximumBackward0(Node):
    forward = "result = maximum(self, other)"
    formula = ("grad_self = where(self < other, 0, where(self == other, grad / 2, grad)); "
               "grad_other = where(self > other, 0, where(self == other, grad / 2, grad))")
    _lose = "lt"  # where the input loses, its gradient is 0
    _win = "gt"

    def backward(self, grad):
        a, b = self.saved()
        nf = self.next_functions
        tie = _cmp.eq(a, b)
        split = where(tie, grad / 2, grad)
        return (where(getattr(_cmp, self._lose)(a, b), 0.0, split) if nf[0][0] is not None else None,
                where(getattr(_cmp, self._win)(a, b), 0.0, split) if nf[1][0] is not None else None)


class MinimumBackward0(MaximumBackward0):
    forward = "result = minimum(self, other)"
    formula = ("grad_self = where(self > other, 0, where(self == other, grad / 2, grad)); "
               "grad_other = where(self < other, 0, where(self == other, grad / 2, grad))")
    _lose = "gt"
    _win = "lt"


class FmaxBackward0(Node):
    forward = "result = fmax(self, other)  (NaN-ignoring maximum)"
    formula = ("grad_self = where((self >= other) | isnan(other), grad, 0); "
               "grad_other = where((self >= other) | isnan(other), 0, grad)")
    _cmp_name = "ge"

    def backward(self, grad):
        a, b = self.saved()
        nf = self.next_functions
        first = _cmp.logical_or(getattr(_cmp, self._cmp_name)(a, b), _cmp.isnan(b))
        return (where(first, grad, 0.0) if nf[0][0] is not None else None,
                where(first, 0.0, grad) if nf[1][0] is not None else None)


class FminBackward0(FmaxBackward0):
    forward = "result = fmin(self, other)  (NaN-ignoring minimum)"
    formula = ("grad_self = where((self <= other) | isnan(other), grad, 0); "
               "grad_other = where((self <= other) | isnan(other), 0, grad)")
    _cmp_name = "le"


def _minmax(name, npname, node_cls):
    def op(input, other, *, out=None):
        ad, bd = _binary_arrays(name, input, other)
        try:
            with np.errstate(invalid="ignore"):
                r = Tensor._make(getattr(xp_of(ad), npname)(ad, bd))
        except ValueError:
            raise broadcast_error(ad.shape, bd.shape) from None
        if needs_grad(input, other):
            node = node_cls()
            node.save(input, other)
            record(node, (input, other), r)
        return _out(r, out)

    op.__name__ = op.__qualname__ = name
    return op


maximum = _minmax("maximum", "maximum", MaximumBackward0)
minimum = _minmax("minimum", "minimum", MinimumBackward0)
fmax = _minmax("fmax", "fmax", FmaxBackward0)
fmin = _minmax("fmin", "fmin", FminBackward0)


# -- clamp ------------------------------------------------------------------------------------
class ClampBackward1(Node):
    """clamp with Python-number bounds."""

    forward = "result = clamp(self, min, max)  (min, max: numbers)"
    formula = "grad_self = where(min <= self <= max, grad, 0)"

    def replay(self, xs, out_shape):
        return clamp(xs[0], self.lo, self.hi)

    def __init__(self, lo, hi):
        super().__init__()
        self.lo, self.hi = lo, hi

    def backward(self, grad):
        (a,) = self.saved()
        lo, hi = self.lo, self.hi
        if lo is None:
            mask = _cmp.le(a, hi)
        elif hi is None:
            mask = _cmp.ge(a, lo)
        else:
            mask = _cmp.logical_and(_cmp.ge(a, lo), _cmp.le(a, hi))
        return (where(mask, grad, 0.0),)


class ClampBackward0(Node):
    """clamp with tensor bounds."""

    forward = "result = clamp(self, min, max)"
    formula = ("grad_self = where(min <= self <= max, grad, 0); grad_min = where(self < min < max, grad, 0); "
               "grad_max = where(self > max or max < min, grad, 0)")

    def backward(self, grad):
        a, lo, hi = self.saved()
        nf = self.next_functions
        gs = gl = gh = None
        if lo is not None and hi is not None:
            if nf[0][0] is not None:
                gs = where(_cmp.logical_and(_cmp.ge(a, lo), _cmp.le(a, hi)), grad, 0.0)
            if nf[1][0] is not None:
                gl = where(_cmp.logical_and(_cmp.lt(a, lo), _cmp.lt(lo, hi)), grad, 0.0)
            if nf[2][0] is not None:
                gh = where(_cmp.logical_or(_cmp.gt(a, hi), _cmp.lt(hi, lo)), grad, 0.0)
        elif lo is not None:
            m = _cmp.ge(a, lo)
            gs = where(m, grad, 0.0) if nf[0][0] is not None else None
            gl = where(m, 0.0, grad) if nf[1][0] is not None else None
        else:
            m = _cmp.le(a, hi)
            gs = where(m, grad, 0.0) if nf[0][0] is not None else None
            gh = where(m, 0.0, grad) if nf[2][0] is not None else None
        return gs, gl, gh


class ClampMinBackward0(Node):
    forward = "result = clamp(self, min=min)  (min: a number)"
    formula = "grad_self = where(self >= min, grad, 0)"

    def replay(self, xs, out_shape):
        return clamp_min(xs[0], self.lo)

    def __init__(self, lo):
        super().__init__()
        self.lo = lo

    def backward(self, grad):
        (a,) = self.saved()
        return (where(_cmp.ge(a, self.lo), grad, 0.0),)


class ClampMaxBackward0(Node):
    forward = "result = clamp(self, max=max)  (max: a number)"
    formula = "grad_self = where(self <= max, grad, 0)"

    def replay(self, xs, out_shape):
        return clamp_max(xs[0], self.hi)

    def __init__(self, hi):
        super().__init__()
        self.hi = hi

    def backward(self, grad):
        (a,) = self.saved()
        return (where(_cmp.le(a, self.hi), grad, 0.0),)


class ClampMinBackward1(Node):
    forward = "result = clamp(self, min=min)"
    formula = "grad_self = where(self >= min, grad, 0); grad_min = where(self < min, grad, 0)"
    _keep = "ge"

    def backward(self, grad):
        a, bound = self.saved()
        nf = self.next_functions
        m = getattr(_cmp, self._keep)(a, bound)
        return (where(m, grad, 0.0) if nf[0][0] is not None else None,
                where(m, 0.0, grad) if nf[1][0] is not None else None)


class ClampMaxBackward1(ClampMinBackward1):
    forward = "result = clamp(self, max=max)"
    formula = "grad_self = where(self <= max, grad, 0); grad_max = where(self > max, grad, 0)"
    _keep = "le"


def _scalar_bound(v, rd):
    # wraps like PyTorch (uint8 clamp at -1 is 255)
    return np.asarray(v).astype(rd)


_clamp_dtypes = {}


def _clamp_scalar(input, lo, hi, node):
    a = input._data
    key = (a.dtype, type(lo), type(hi), _dt._default[0])
    rd = _clamp_dtypes.get(key)
    if rd is None:
        rd = _clamp_dtypes[key] = _dt.result_type((_dt._from_np[a.dtype], a.ndim),
                                                  *[v for v in (lo, hi) if v is not None]).np
    if rd.kind == "b":
        kernel = "clamp_scalar_cpu" if lo is not None and hi is not None else \
            ("clamp_min_scalar_cpu" if lo is not None else "clamp_max_scalar_cpu")
        raise _not_impl(kernel, rd)
    if a.dtype != rd:
        a = a.astype(rd)
    xp = xp_of(a)
    r = a
    with np.errstate(invalid="ignore"):
        if lo is not None:
            r = xp.maximum(r, _scalar_bound(lo, rd))
        if hi is not None:
            r = xp.minimum(r, _scalar_bound(hi, rd))
    r = Tensor._make(r.astype(rd, copy=False))
    if needs_grad(input):
        node.save(input)
        record(node, (input,), r)
    return r


def _clamp_tensor(input, lo, hi, node):
    parts = [input] + [v for v in (lo, hi) if v is not None]
    rd = _dt.result_type(*[(t.dtype, t.ndim) for t in parts]).np
    if rd.kind == "b" and lo is not None and hi is not None:
        raise _not_impl("clamp_cpu", rd)
    arrs = [t._data if t._data.dtype == rd else t._data.astype(rd) for t in parts]
    _bshape(*arrs)
    xp = xp_of(arrs[0])
    r = arrs[0]
    i = 1
    with np.errstate(invalid="ignore"):
        if lo is not None:
            r = xp.maximum(r, arrs[i])
            i += 1
        if hi is not None:
            r = xp.minimum(r, arrs[i])
    r = Tensor._make(r)
    if needs_grad(input, lo, hi):
        if node is None:
            node = ClampBackward0()
            node.save(input, lo, hi)
            record(node, (input, lo, hi), r)
        else:
            node.save(input, lo if lo is not None else hi)
            record(node, (input, lo if lo is not None else hi), r)
    return r


def _as_number(v):
    """A 0-dim tensor bound counts as a number (as PyTorch's overload resolution does)."""
    return v.item() if isinstance(v, Tensor) and v._data.ndim == 0 else v


def clamp(input, min=None, max=None, *, out=None):  # noqa: A002 - PyTorch's names
    if not isinstance(input, Tensor):
        raise _type_error("clamp", input)
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    tmin, tmax = isinstance(min, Tensor), isinstance(max, Tensor)
    if tmin != tmax and (min is not None and max is not None):
        min, max = _as_number(min), _as_number(max)
        tmin, tmax = isinstance(min, Tensor), isinstance(max, Tensor)
        if tmin or tmax:
            got = ", ".join(type(v).__name__ if not isinstance(v, Tensor) else "Tensor" for v in (input, min, max))
            raise TypeError(
                f"clamp() received an invalid combination of arguments - got ({got}), but expected one of:\n"
                " * (Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = None)\n"
                " * (Tensor input, Number min = None, Number max = None, *, Tensor out = None)\n")
    if tmin or tmax:
        r = _clamp_tensor(input, min, max, None)
    else:
        r = _clamp_scalar(input, min, max, ClampBackward1(min, max))
    return _out(r, out)


clip = clamp


def clamp_min(input, min, *, out=None):  # noqa: A002
    if isinstance(min, Tensor):
        r = _clamp_tensor(input, min, None, ClampMinBackward1())
    else:
        if min is None:
            raise TypeError("clamp_min() received an invalid combination of arguments - got (Tensor, NoneType), "
                            "but expected one of:\n * (Tensor input, Tensor min, *, Tensor out = None)\n"
                            " * (Tensor input, Number min, *, Tensor out = None)\n")
        r = _clamp_scalar(input, min, None, ClampMinBackward0(min))
    return _out(r, out)


def clamp_max(input, max, *, out=None):  # noqa: A002
    if isinstance(max, Tensor):
        r = _clamp_tensor(input, None, max, ClampMaxBackward1())
    else:
        if max is None:
            raise TypeError("clamp_max() received an invalid combination of arguments - got (Tensor, NoneType), "
                            "but expected one of:\n * (Tensor input, Tensor max, *, Tensor out = None)\n"
                            " * (Tensor input, Number max, *, Tensor out = None)\n")
        r = _clamp_scalar(input, None, max, ClampMaxBackward0(max))
    return _out(r, out)


# -- method and function tables -----------------------------------------------------------------
_UNARY = {
    "abs": abs, "absolute": absolute, "sign": sign, "sgn": sgn, "exp": exp, "exp2": exp2, "expm1": expm1,
    "log": log, "log2": log2, "log10": log10, "log1p": log1p, "sqrt": sqrt, "rsqrt": rsqrt, "square": square,
    "sin": sin, "cos": cos, "tan": tan, "asin": asin, "acos": acos, "atan": atan, "arcsin": arcsin,
    "arccos": arccos, "arctan": arctan, "sinh": sinh, "cosh": cosh, "tanh": tanh, "sigmoid": sigmoid,
    "relu": relu, "floor": floor, "ceil": ceil, "trunc": trunc, "fix": fix, "frac": frac,
    "reciprocal": reciprocal, "erf": erf,
}


def _inplace_unary(fn):
    def method(self):
        return inplace(self, fn)

    method.__name__ = fn.__name__ + "_"
    return method


def _round_(self, *, decimals=None):
    return inplace(self, lambda s: round(s, decimals=decimals))


def _nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
    return inplace(self, lambda s: nan_to_num(s, nan, posinf, neginf))


def _clamp_(self, min=None, max=None):  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    return inplace(self, clamp, min, max)


def _clamp_min_(self, min):  # noqa: A002
    return inplace(self, clamp_min, min)


def _clamp_max_(self, max):  # noqa: A002
    return inplace(self, clamp_max, max)


def _atan2_(self, other):
    return inplace(self, atan2, other)


def _where_method(self, condition, other):
    return where(condition, self, other)


_INPLACE = {k + "_": _inplace_unary(v) for k, v in _UNARY.items()}
_INPLACE.update({"round_": _round_, "nan_to_num_": _nan_to_num_, "clamp_": _clamp_, "clip_": _clamp_,
                 "clamp_min_": _clamp_min_, "clamp_max_": _clamp_max_, "atan2_": _atan2_, "arctan2_": _atan2_})

_OTHERS = {"round": round, "nan_to_num": nan_to_num, "clamp": clamp, "clip": clip, "clamp_min": clamp_min,
           "clamp_max": clamp_max, "maximum": maximum, "minimum": minimum, "fmax": fmax, "fmin": fmin,
           "atan2": atan2, "arctan2": arctan2}

METHODS = dict(_UNARY, **_OTHERS, **_INPLACE, where=_where_method)
FUNCTIONS = dict(_UNARY, **_OTHERS, **_INPLACE, where=where)

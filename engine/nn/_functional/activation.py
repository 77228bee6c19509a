"""Activations: ``F.relu``, ``leaky_relu``, ``elu``/``selu``/``celu``, ``gelu``, ``silu``, ``mish``,
``softplus``, ``hardtanh``/``relu6``, ``hardsigmoid``, ``hardswish``, ``logsigmoid``, ``threshold``,
``prelu``, ``rrelu``, ``glu``, ``hardshrink``/``softshrink``, the softmax family and the composite ones
(``softsign``, ``tanhshrink``).

Each pointwise activation is one graph node named as PyTorch names its grad_fn; the forward runs
on arrays (float16 computed in float32), the backward is written with Tensor ops so that
``create_graph=True`` differentiates it again.  In-place forms go through ``ops._util.inplace``
and, like PyTorch, some record a ``…Backward1`` node that saves the result instead of the input.
"""
import math
import warnings

import numpy as np

from ...autograd.grad_mode import GradMode
from ...ops import pointwise as _pw
from ...ops import softmax as _sm
from ...ops._util import Node, Tensor, inplace, needs_grad, record, scalar_type_name, xp_of
from ...ops.pointwise import _erf_fwd

__all__ = ["relu", "relu_", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_", "celu", "celu_",
           "gelu", "silu", "mish", "sigmoid", "tanh", "softplus", "hardtanh", "hardtanh_", "relu6", "hardsigmoid",
           "hardswish", "logsigmoid", "threshold", "threshold_", "prelu", "rrelu", "rrelu_", "glu", "hardshrink",
           "softshrink", "softsign", "tanhshrink", "softmax", "softmin", "log_softmax"]

_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_K_TANH = math.sqrt(2.0 / math.pi)
_C_TANH = 0.044715
_ONE_SIXTH_F32 = float(np.float32(1.0 / 6.0))  # PyTorch multiplies by a float constant
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _check_tensor(name, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")


def _apply(input, kernel, fwd, params, node_cls, save, float_only=True):
    """Run ``fwd(xp, a, *params)`` on the array of ``input``; attach ``node_cls(*params)``."""
    a = input._data
    dt = a.dtype
    if float_only and dt.kind != "f":
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{scalar_type_name(dt)}'")
    w = a.astype(_F32) if dt == _F16 else a
    with np.errstate(all="ignore"):
        res = fwd(xp_of(w), w, *params)
    if res.dtype != dt:
        res = res.astype(dt)
    r = Tensor._make(res)
    if node_cls is not None and needs_grad(input):
        node = node_cls(*params)
        node.save(input if save == "input" else r)
        record(node, (input,), r)
    return r


def _run(name, input, inplace_flag, kernel, fwd, params, node0, node1=None, save1="result", float_only=True):
    _check_tensor(name, input)
    if inplace_flag:
        n1, s1 = (node1, save1) if node1 is not None else (node0, "input")
        return inplace(input, lambda t: _apply(t, kernel, fwd, params, n1, s1, float_only))
    return _apply(input, kernel, fwd, params, node0, "input", float_only)


class _ParamNode(Node):
    forward = "result = activation(self, *params)"
    formula = "grad_self = grad * activation'(self)"

    def __init__(self, *params):
        super().__init__()
        self.params = params


# -- leaky relu -------------------------------------------------------------------------------
class LeakyReluBackward0(_ParamNode):
    forward = "result = where(self > 0, self, self * negative_slope)"
    formula = "grad_self = where(self > 0, grad, grad * negative_slope)"

    def backward(self, grad):
        (x,) = self.saved()
        return (_pw.where(x > 0, grad, grad * self.params[0]),)


class LeakyReluBackward1(LeakyReluBackward0):
    forward = "result = where(self > 0, self, self * negative_slope)  (in place)"
    formula = "grad_self = where(result > 0, grad, grad * negative_slope)"


def _leaky_fwd(xp, a, slope):
    return xp.where(a > 0, a, a * slope)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _run("leaky_relu", input, inplace, "leaky_relu_cpu", _leaky_fwd, (float(negative_slope),),
                LeakyReluBackward0, LeakyReluBackward1)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


# -- relu, sigmoid, tanh (engine ops) ---------------------------------------------------------
def relu(input, inplace=False):
    _check_tensor("relu", input)
    return input.relu_() if inplace else _pw.relu(input)


def relu_(input):
    _check_tensor("relu_", input)
    return input.relu_()


def sigmoid(input):
    return _pw.sigmoid(input)


def tanh(input):
    return _pw.tanh(input)


# -- elu family -------------------------------------------------------------------------------
class EluBackward0(_ParamNode):
    forward = "result = scale * where(self > 0, self, alpha * (exp(self * input_scale) - 1))"
    formula = "grad_self = where(self > 0, grad * scale, grad * input_scale * scale * alpha * exp(self * input_scale))"

    def backward(self, grad):
        (x,) = self.saved()
        alpha, scale, iscale = self.params
        neg = grad * (iscale * scale * alpha) * (x * iscale).exp()
        return (_pw.where(x > 0, grad * scale, neg),)


class EluBackward1(_ParamNode):
    forward = "result = elu_(self, alpha, scale, input_scale)  (in place; the result is saved)"
    formula = "grad_self = where(result > 0, grad * scale, grad * input_scale * (result + scale * alpha))"

    def backward(self, grad):
        (r,) = self.saved()
        alpha, scale, iscale = self.params
        return (_pw.where(r > 0, grad * scale, grad * iscale * (r + scale * alpha)),)


class CeluBackward0(EluBackward0):
    forward = "result = where(self > 0, self, alpha * (exp(self / alpha) - 1))"
    formula = "grad_self = where(self > 0, grad, grad * exp(self / alpha))"


class CeluBackward1(EluBackward1):
    forward = "result = where(self > 0, self, alpha * (exp(self / alpha) - 1))  (in place)"
    formula = "grad_self = where(result > 0, grad, grad * (result / alpha + 1))"


def _elu_fwd(xp, a, alpha, scale, iscale):
    return xp.where(a > 0, a * scale, (scale * alpha) * xp.expm1(a * iscale))


def elu(input, alpha=1.0, inplace=False):
    return _run("elu", input, inplace, "elu_cpu", _elu_fwd, (float(alpha), 1.0, 1.0), EluBackward0, EluBackward1)


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


def selu(input, inplace=False):
    return _run("selu", input, inplace, "elu_cpu", _elu_fwd, (_SELU_ALPHA, _SELU_SCALE, 1.0), EluBackward0,
                EluBackward1)


def selu_(input):
    return selu(input, True)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _run("celu", input, inplace, "elu_cpu", _elu_fwd, (float(alpha), 1.0, 1.0 / float(alpha)), CeluBackward0,
                CeluBackward1)


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


# -- gelu -------------------------------------------------------------------------------------
class GeluBackward0(_ParamNode):
    forward = "result = self * Phi(self)  (Phi: the normal CDF, or its tanh approximation)"
    formula = "grad_self = grad * (Phi(self) + self * Phi'(self))"

    def backward(self, grad):
        (x,) = self.saved()
        if not GradMode.enabled:  # plain backward: the derivative on arrays, one multiply as a Tensor op
            a = x._data
            w = a.astype(_F32) if a.dtype == _F16 else a
            with np.errstate(all="ignore"):
                d = _gelu_grad_array(xp_of(w), w, self.params[0]).astype(a.dtype, copy=False)
            return (grad * Tensor._make(d),)
        if self.params[0] == "tanh":
            x2 = x * x
            t = (x * (1 + _C_TANH * x2) * _K_TANH).tanh()
            d = 0.5 * (1 + t) + (0.5 * _K_TANH) * x * (1 - t * t) * (1 + (3 * _C_TANH) * x2)
            return (grad * d,)
        cdf = 0.5 * (1 + _pw.erf(x * _SQRT1_2))
        pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
        return (grad * (cdf + x * pdf),)


# erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), z >= 0: relative error below 1.2e-7 everywhere,
# enough for float32, where it replaces the (float64-exact, much slower) series of ``erf``.
_ERFC_P = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
           -0.82215223, 0.17087277)


def _phi(xp, a):
    """Standard normal CDF of array ``a``: the fast form for float32, the exact ``erf`` for float64."""
    if a.dtype != np.float32:
        return 0.5 * (1 + _erf_fwd(xp, a * _SQRT1_2))
    z = a * np.float32(-_SQRT1_2)
    az = xp.abs(z)
    t = 1 / (1 + np.float32(0.5) * az)
    p = np.float32(_ERFC_P[-1])
    for c in _ERFC_P[-2::-1]:
        p = p * t + np.float32(c)
    r = t * xp.exp(p - az * az)
    return np.float32(0.5) * xp.where(z >= 0, r, 2 - r)


def _gelu_grad_array(xp, a, approximate):
    if approximate == "tanh":
        a2 = a * a
        t = xp.tanh(_K_TANH * a * (1 + _C_TANH * a2))
        return 0.5 * (1 + t) + (0.5 * _K_TANH) * a * (1 - t * t) * (1 + (3 * _C_TANH) * a2)
    return _phi(xp, a) + a * xp.exp(a * a * -0.5) * _INV_SQRT_2PI


def _gelu_fwd(xp, a, approximate):
    if approximate == "tanh":
        return 0.5 * a * (1 + xp.tanh(_K_TANH * (a + _C_TANH * a * a * a)))
    return a * _phi(xp, a)


def gelu(input, approximate="none"):
    _check_tensor("gelu", input)
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _apply(input, "GeluKernelImpl", _gelu_fwd, (approximate,), GeluBackward0, "input")


# -- silu, mish -------------------------------------------------------------------------------
class SiluBackward0(_ParamNode):
    forward = "result = self * sigmoid(self)"
    formula = "grad_self = grad * sigmoid(self) * (1 + self * (1 - sigmoid(self)))"

    def backward(self, grad):
        (x,) = self.saved()
        s = x.sigmoid()
        return (grad * (s * (1 + x * (1 - s))),)


def _silu_fwd(xp, a):
    return a / (1 + xp.exp(-a))


def silu(input, inplace=False):
    return _run("silu", input, inplace, "silu_cpu", _silu_fwd, (), SiluBackward0)


class MishBackward0(_ParamNode):
    forward = "result = self * tanh(softplus(self))"
    formula = "grad_self = grad * (tanh(softplus(self)) + self * sigmoid(self) * (1 - tanh(softplus(self))**2))"

    def backward(self, grad):
        (x,) = self.saved()
        t = x.exp().log1p().tanh()
        return (grad * (t + x * x.sigmoid() * (1 - t * t)),)


def _mish_fwd(xp, a):
    return a * xp.tanh(xp.logaddexp(0, a))


def mish(input, inplace=False):
    return _run("mish", input, inplace, "mish_cpu", _mish_fwd, (), MishBackward0)


# -- softplus, logsigmoid ---------------------------------------------------------------------
class SoftplusBackward0(_ParamNode):
    forward = "result = where(self * beta > threshold, self, log(1 + exp(self * beta)) / beta)"
    formula = "grad_self = where(self * beta > threshold, grad, grad * sigmoid(self * beta))"

    def backward(self, grad):
        (x,) = self.saved()
        beta, thr = self.params
        bx = x * beta
        return (_pw.where(bx > thr, grad, grad * bx.sigmoid()),)


def _softplus_fwd(xp, a, beta, thr):
    bx = a * beta
    return xp.where(bx > thr, a, xp.log1p(xp.exp(bx)) / beta)


def softplus(input, beta=1.0, threshold=20.0):
    _check_tensor("softplus", input)
    return _apply(input, "softplus_cpu", _softplus_fwd, (beta, threshold), SoftplusBackward0, "input")


class LogSigmoidBackward0(_ParamNode):
    forward = "result = log(sigmoid(self))"
    formula = "grad_self = grad * sigmoid(-self)"

    def backward(self, grad):
        (x,) = self.saved()
        return (grad * (-x).sigmoid(),)


def _logsigmoid_fwd(xp, a):
    return xp.minimum(a, 0) - xp.log1p(xp.exp(-xp.abs(a)))


def logsigmoid(input):
    _check_tensor("log_sigmoid", input)
    return _apply(input, "log_sigmoid_cpu", _logsigmoid_fwd, (), LogSigmoidBackward0, "input")


# -- hardtanh, relu6, hardsigmoid, hardswish --------------------------------------------------
class HardtanhBackward0(_ParamNode):
    forward = "result = clamp(self, min_val, max_val)"
    formula = "grad_self = where(min_val < self < max_val, grad, 0)"

    def backward(self, grad):
        (x,) = self.saved()
        lo, hi = self.params
        return (_pw.where((x > lo) & (x < hi), grad, 0.0),)


def _hardtanh_fwd(xp, a, lo, hi):
    return xp.minimum(xp.maximum(a, lo), hi)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _run("hardtanh", input, inplace, "hardtanh_cpu", _hardtanh_fwd, (min_val, max_val), HardtanhBackward0,
                float_only=False)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


class HardsigmoidBackward0(_ParamNode):
    forward = "result = clamp(self / 6 + 0.5, 0, 1)"
    formula = "grad_self = where(-3 < self < 3, grad / 6, 0)"

    def backward(self, grad):
        (x,) = self.saved()
        return (_pw.where((x > -3.0) & (x < 3.0), grad * _ONE_SIXTH_F32, 0.0),)


def _hardsigmoid_fwd(xp, a):
    return xp.minimum(xp.maximum(a + 3, 0), 6) / 6


def hardsigmoid(input, inplace=False):
    return _run("hardsigmoid", input, inplace, "hardsigmoid_cpu", _hardsigmoid_fwd, (), HardsigmoidBackward0)


class HardswishBackward0(_ParamNode):
    forward = "result = self * clamp(self + 3, 0, 6) / 6"
    formula = "grad_self = where(self <= -3, 0, where(self < 3, grad * (self / 3 + 0.5), grad))"

    def backward(self, grad):
        (x,) = self.saved()
        mid = _pw.where(x < 3.0, grad * (x * (1.0 / 3.0) + 0.5), grad)
        return (_pw.where(x <= -3.0, 0.0, mid),)


def _hardswish_fwd(xp, a):
    return a * xp.minimum(xp.maximum(a + 3, 0), 6) / 6


def hardswish(input, inplace=False):
    return _run("hardswish", input, inplace, "hardswish_cpu", _hardswish_fwd, (), HardswishBackward0)


# -- threshold, shrink ------------------------------------------------------------------------
class ThresholdBackward0(_ParamNode):
    forward = "result = where(self > threshold, self, value)"
    formula = "grad_self = where(self > threshold, grad, 0)"

    def backward(self, grad):
        (x,) = self.saved()
        return (_pw.where(x > self.params[0], grad, 0.0),)


class ThresholdBackward1(ThresholdBackward0):
    forward = "result = where(self > threshold, self, value)  (in place)"


def _threshold_fwd(xp, a, thr, value):
    return xp.where(a > thr, a, xp.asarray(value).astype(a.dtype))


def threshold(input, threshold, value, inplace=False):
    return _run("threshold", input, inplace, "threshold_cpu", _threshold_fwd, (threshold, value), ThresholdBackward0,
                ThresholdBackward1, "input", float_only=False)


def threshold_(input, threshold, value):
    return _run("threshold_", input, True, "threshold_cpu", _threshold_fwd, (threshold, value), ThresholdBackward0,
                ThresholdBackward1, "input", float_only=False)


class HardshrinkBackward0(_ParamNode):
    forward = "result = where(abs(self) > lambd, self, 0)"
    formula = "grad_self = where(abs(self) > lambd, grad, 0)"

    def backward(self, grad):
        (x,) = self.saved()
        lam = self.params[0]
        return (_pw.where((x > lam) | (x < -lam), grad, 0.0),)


class SoftshrinkBackward0(HardshrinkBackward0):
    forward = "result = sign(self) * clamp(abs(self) - lambd, min=0)"


def _hardshrink_fwd(xp, a, lam):
    return xp.where((a > lam) | (a < -lam), a, 0).astype(a.dtype)


def _softshrink_fwd(xp, a, lam):
    return xp.where(a > lam, a - lam, xp.where(a < -lam, a + lam, 0)).astype(a.dtype)


def hardshrink(input, lambd=0.5):
    _check_tensor("hardshrink", input)
    return _apply(input, "hardshrink_cpu", _hardshrink_fwd, (lambd,), HardshrinkBackward0, "input")


def softshrink(input, lambd=0.5):
    _check_tensor("softshrink", input)
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return _apply(input, "softshrink_cpu", _softshrink_fwd, (lambd,), SoftshrinkBackward0, "input")


# -- prelu, rrelu -----------------------------------------------------------------------------
def _prelu_weight_shape(x_ndim, w):
    if w.numel() == 1:
        return ()
    return (1, w.numel()) + (1,) * (x_ndim - 2)


class PreluKernelBackward0(Node):
    forward = "result = where(self > 0, self, weight * self)"
    formula = ("grad_self = where(self > 0, grad, weight * grad); "
               "grad_weight = where(self > 0, 0, self * grad).sum(all dims but 1)")

    def backward(self, grad):
        x, w = self.saved()
        shape = _prelu_weight_shape(x.ndim, w)
        wb = w.reshape(shape)
        pos = x > 0
        gx = gw = None
        nf = self.next_functions
        if nf[0][0] is not None:
            gx = _pw.where(pos, grad, grad * wb)
        if nf[1][0] is not None:
            t = _pw.where(pos, 0.0, x * grad)
            if shape == ():
                gw = t.sum().reshape(w.shape)
            else:
                dims = [d for d in range(x.ndim) if d != 1]
                gw = t.sum(dims) if dims else t
        return gx, gw


def prelu(input, weight):
    _check_tensor("prelu", input)
    a = input._data
    if a.dtype.kind != "f":
        raise NotImplementedError(f"\"prelu_cpu\" not implemented for '{scalar_type_name(a.dtype)}'")
    if weight._data.dtype != a.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {scalar_type_name(a.dtype)} and "
                           f"{scalar_type_name(weight._data.dtype)}")
    channels = a.shape[1] if a.ndim >= 2 else 1
    n = weight.numel()
    if n != 1 and n != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = {n} and "
                           f"channel size = {channels}.")
    wd = weight._data.reshape(_prelu_weight_shape(a.ndim, weight))
    with np.errstate(all="ignore"):
        res = xp_of(a).where(a > 0, a, a * wd)
    r = Tensor._make(res.astype(a.dtype, copy=False))
    if needs_grad(input, weight):
        node = PreluKernelBackward0()
        node.save(input, weight)
        record(node, (input, weight), r)
    return r


class RreluWithNoiseBackward0(_ParamNode):
    forward = "result = self * noise  (noise: 1 where self > 0, else a random slope)"
    formula = "grad_self = grad * noise"

    def backward(self, grad):
        (noise,) = self.params
        return (grad * noise,)


def _rrelu_noise(input, lower, upper, training):
    from ...ops.random import _gen

    a = input._data
    if training:
        u = _gen(None).random(a.shape)
        slopes = lower + (upper - lower) * u
    else:
        slopes = (lower + upper) / 2.0
    noise = np.where(a > 0, 1.0, slopes).astype(a.dtype)
    return Tensor._make(xp_of(a).asarray(noise))


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    _check_tensor("rrelu", input)
    a = input._data
    if a.dtype.kind != "f":
        raise NotImplementedError(f"\"rrelu_with_noise_cpu\" not implemented for '{scalar_type_name(a.dtype)}'")
    noise = _rrelu_noise(input, lower, upper, training)

    def fn(t):
        r = Tensor._make(t._data * noise._data)
        if needs_grad(t):
            node = RreluWithNoiseBackward0(noise)
            node.save()
            record(node, (t,), r)
        return r

    return inplace(input, fn) if inplace else fn(input)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, True)


# -- glu --------------------------------------------------------------------------------------
class GluBackward0(_ParamNode):
    forward = "result = a * sigmoid(b)  (a, b = self.chunk(2, dim))"
    formula = "grad_self = cat([grad * sigmoid(b), grad * a * sigmoid(b) * (1 - sigmoid(b))], dim)"

    def backward(self, grad):
        from ...ops.shape import cat

        (x,) = self.saved()
        d = self.params[0]
        a, b = x.chunk(2, d)
        s = b.sigmoid()
        return (cat([grad * s, grad * a * s * (1 - s)], d),)


def glu(input, dim=-1):
    _check_tensor("glu", input)
    a = input._data
    if a.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = input._wrap_dim(dim)
    if a.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {a.shape[d]}")
    if a.dtype.kind != "f":
        raise NotImplementedError(f"\"glu_cpu\" not implemented for '{scalar_type_name(a.dtype)}'")
    h = a.shape[d] // 2
    first = np.take(a, range(h), axis=d) if xp_of(a) is np else a.take(range(h), axis=d)
    second = np.take(a, range(h, 2 * h), axis=d) if xp_of(a) is np else a.take(range(h, 2 * h), axis=d)
    with np.errstate(all="ignore"):
        res = first / (1 + xp_of(a).exp(-second))
    r = Tensor._make(res.astype(a.dtype, copy=False))
    if needs_grad(input):
        node = GluBackward0(d)
        node.save(input)
        record(node, (input,), r)
    return r


# -- composites -------------------------------------------------------------------------------
def softsign(input):
    return input / (input.abs() + 1)


def tanhshrink(input):
    return input - input.tanh()


# -- softmax family ---------------------------------------------------------------------------
def _softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an "
                  "argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    _check_tensor("softmax", input)
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    return _sm.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    _check_tensor("log_softmax", input)
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    return _sm.log_softmax(input, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    _check_tensor("softmin", input)
    if dim is None:
        dim = _softmax_dim("softmin", input.dim(), _stacklevel)
    if dtype is None:
        return _sm.softmax(-input, dim)
    return _sm.softmax(-input, dim, dtype)

"""Normalisation: ``F.batch_norm``, ``F.layer_norm``, ``F.group_norm`` (each one fused node:
``NativeBatchNormBackward0``, ``NativeLayerNormBackward0``, ``NativeGroupNormBackward0``) and
``F.normalize``.

Forward runs on arrays; statistics of float16 inputs are computed in float32.  The backward is
the analytic formula written with Tensor ops::

    xhat = (x - mean) * invstd
    g    = grad * weight
    dx   = invstd * (g - mean_R(g) - xhat * mean_R(g * xhat))      (batch statistics)
    dx   = invstd * g                                                (running statistics)

where R are the reduced axes.  In a plain backward the saved mean/invstd are used as constants;
with ``create_graph=True`` they are recomputed from the saved input with Tensor ops, so the
second derivative is exact.
"""
import numpy as np

from ...autograd.grad_mode import GradMode
from ...ops._util import Node, Tensor, needs_grad, record, scalar_type_name, xp_of

__all__ = ["batch_norm", "layer_norm", "group_norm", "normalize"]

_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)


def _work(a):
    return a.astype(_F32) if a.dtype == _F16 else a


def _stats(a, axes):
    """(mean, biased var) of array ``a`` over ``axes``, keepdims."""
    mean = a.mean(axis=axes, keepdims=True)
    d = a - mean
    var = (d * d).mean(axis=axes, keepdims=True)
    return mean, var


def _tensor_stats(x, axes, eps):
    """mean and invstd of Tensor ``x`` with Tensor ops (differentiable)."""
    mean = x.mean(axes, keepdim=True)
    d = x - mean
    var = (d * d).mean(axes, keepdim=True)
    return mean, (var + eps).rsqrt()


def _norm_grad_input(x, gx, mean, invstd, axes, batch_stats):
    """Gradient of the normalised value w.r.t. ``x`` given ``gx`` = grad of xhat (Tensor ops)."""
    if not batch_stats:
        return gx * invstd
    xhat = (x - mean) * invstd
    return invstd * (gx - gx.mean(axes, keepdim=True) - xhat * (gx * xhat).mean(axes, keepdim=True))


def _const(arr):
    return Tensor._make(arr)


# -- batch norm -------------------------------------------------------------------------------
class NativeBatchNormBackward0(Node):
    forward = "result = xhat * weight + bias, xhat = (input - mean(R)) * invstd, R = (0, 2, 3, ...)"
    formula = ("grad_input = invstd * (g - g.mean(R) - xhat * (g * xhat).mean(R)), g = grad * weight"
               "  (eval: invstd * g); "
               "grad_weight = (grad * xhat).sum(R); "
               "grad_bias = grad.sum(R)")

    def __init__(self, axes, bshape, mean, invstd, training, eps):
        super().__init__()
        self.axes, self.bshape = axes, bshape
        self.mean, self.invstd = mean, invstd  # arrays shaped like bshape
        self.training, self.eps = training, eps

    def backward(self, grad):
        x, w = self.saved()
        dt = x.dtype
        half = x._data.dtype == _F16
        if half:
            x, grad = x.float(), grad.float()
            w = w.float() if w is not None else None
        axes = self.axes
        if GradMode.enabled and self.training:
            mean, invstd = _tensor_stats(x, axes, self.eps)
        else:
            mean, invstd = _const(self.mean), _const(self.invstd)
        nf = self.next_functions
        gi = gw = gb = None
        if nf[0][0] is not None:
            g = grad * w.reshape(self.bshape) if w is not None else grad
            gi = _norm_grad_input(x, g, mean, invstd, axes, self.training)
        if len(nf) > 1 and nf[1][0] is not None:
            gw = (grad * ((x - mean) * invstd)).sum(axes)
        if len(nf) > 2 and nf[2][0] is not None:
            gb = grad.sum(axes)
        if half:
            gi = gi.to(dt) if gi is not None else None
            gw = gw.to(dt) if gw is not None else None
            gb = gb.to(dt) if gb is not None else None
        return gi, gw, gb


def _verify_batch_size(size):
    n = size[0]
    for s in size[2:]:
        n *= s
    if n == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {size}")


def _check_vec(name, t, c):
    if t is not None and t.numel() != c:
        raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    if training:
        _verify_batch_size(input.size())
    if training and eps <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    a = input._data
    if a.dtype.kind != "f":
        raise NotImplementedError(f"\"batch_norm\" not implemented for '{scalar_type_name(a.dtype)}'")
    c = a.shape[1] if a.ndim > 1 else 0
    _check_vec("weight", weight, c)
    _check_vec("bias", bias, c)
    _check_vec("running_mean", running_mean, c)
    _check_vec("running_var", running_var, c)
    if not training:
        if running_mean is None:
            raise RuntimeError("running_mean must be defined in evaluation mode")
        if running_var is None:
            raise RuntimeError("running_var must be defined in evaluation mode")
    axes = (0,) + tuple(range(2, a.ndim))
    bshape = (1, c) + (1,) * (a.ndim - 2)
    w = _work(a)
    with np.errstate(all="ignore"):
        if training:
            mean, var = _stats(w, axes)
            n = w.size // c if c else 0
            if running_mean is not None or running_var is not None:
                m = momentum if momentum is not None else 0.0
                if running_mean is not None:
                    rm = running_mean._data
                    rm[...] = ((1 - m) * rm + m * mean.reshape(c)).astype(rm.dtype)
                if running_var is not None:
                    rv = running_var._data
                    unbiased = var.reshape(c) * (n / (n - 1)) if n > 1 else var.reshape(c) * np.inf
                    rv[...] = ((1 - m) * rv + m * unbiased).astype(rv.dtype)
        else:
            mean = running_mean._data.astype(w.dtype).reshape(bshape)
            var = running_var._data.astype(w.dtype).reshape(bshape)
        invstd = 1.0 / xp_of(w).sqrt(var + eps)
        invstd = invstd.astype(w.dtype, copy=False)
        out = (w - mean) * invstd
        if weight is not None:
            out = out * weight._data.astype(w.dtype, copy=False).reshape(bshape)
        if bias is not None:
            out = out + bias._data.astype(w.dtype, copy=False).reshape(bshape)
    r = Tensor._make(out.astype(a.dtype, copy=False))
    if needs_grad(input, weight, bias):
        node = NativeBatchNormBackward0(axes, bshape, mean, invstd, bool(training), eps)
        node.save(input, weight)
        record(node, (input, weight, bias), r)
    return r


# -- layer norm -------------------------------------------------------------------------------
class NativeLayerNormBackward0(Node):
    forward = "result = xhat * weight + bias, xhat = (input - mean(R)) * invstd, R = the last dims"
    formula = ("grad_input = invstd * (g - g.mean(R) - xhat * (g * xhat).mean(R)), g = grad * weight; "
               "grad_weight = (grad * xhat).sum(batch dims); "
               "grad_bias = grad.sum(batch dims)")

    def __init__(self, axes, mean, invstd, eps):
        super().__init__()
        self.axes, self.mean, self.invstd, self.eps = axes, mean, invstd, eps

    def backward(self, grad):
        x, w = self.saved()
        dt = x.dtype
        half = x._data.dtype == _F16
        if half:
            x, grad = x.float(), grad.float()
            w = w.float() if w is not None else None
        axes = self.axes
        if GradMode.enabled:
            mean, invstd = _tensor_stats(x, axes, self.eps)
        else:
            mean, invstd = _const(self.mean), _const(self.invstd)
        nf = self.next_functions
        batch_axes = tuple(range(x.ndim - len(axes)))
        gi = gw = gb = None
        if nf[0][0] is not None:
            g = grad * w if w is not None else grad
            gi = _norm_grad_input(x, g, mean, invstd, axes, True)
        if nf[1][0] is not None:
            gw = grad * ((x - mean) * invstd)
            gw = gw.sum(batch_axes) if batch_axes else gw
        if nf[2][0] is not None:
            gb = grad.sum(batch_axes) if batch_axes else grad
        if half:
            gi = gi.to(dt) if gi is not None else None
            gw = gw.to(dt) if gw is not None else None
            gb = gb.to(dt) if gb is not None else None
        return gi, gw, gb


def _shape_str(s):
    return "[" + ", ".join(str(int(v)) for v in s) + "]"


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    ns = tuple(int(v) for v in normalized_shape)
    a = input._data
    k = len(ns)
    if k == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    if weight is not None and tuple(weight.shape) != ns:
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got weight of shape "
                           f"{_shape_str(weight.shape)} and normalized_shape = {_shape_str(ns)}")
    if bias is not None and tuple(bias.shape) != ns:
        raise RuntimeError(f"Expected bias to be of same shape as normalized_shape, but got bias of shape "
                           f"{_shape_str(bias.shape)} and normalized_shape = {_shape_str(ns)}")
    if a.ndim < k or tuple(a.shape[a.ndim - k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={_shape_str(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size{_shape_str(a.shape)}")
    if a.dtype.kind != "f":
        raise NotImplementedError(f"\"LayerNormKernelImpl\" not implemented for '{scalar_type_name(a.dtype)}'")
    axes = tuple(range(a.ndim - k, a.ndim))
    w = _work(a)
    with np.errstate(all="ignore"):
        mean, var = _stats(w, axes)
        invstd = (1.0 / xp_of(w).sqrt(var + eps)).astype(w.dtype, copy=False)
        out = (w - mean) * invstd
        if weight is not None:
            out = out * weight._data.astype(w.dtype, copy=False)
        if bias is not None:
            out = out + bias._data.astype(w.dtype, copy=False)
    r = Tensor._make(out.astype(a.dtype, copy=False))
    if needs_grad(input, weight, bias):
        node = NativeLayerNormBackward0(axes, mean, invstd, eps)
        node.save(input, weight)
        record(node, (input, weight, bias), r)
    return r


# -- group norm -------------------------------------------------------------------------------
class NativeGroupNormBackward0(Node):
    forward = "result = xhat * weight + bias, xhat = (input - mean(R)) * invstd, R = each group"
    formula = ("grad_input = invstd * (g - g.mean(R) - xhat * (g * xhat).mean(R)), g = grad * weight; "
               "grad_weight = (grad * xhat).sum(all dims but 1); "
               "grad_bias = grad.sum(all dims but 1)")

    def __init__(self, groups, mean, invstd, eps):
        super().__init__()
        self.groups, self.mean, self.invstd, self.eps = groups, mean, invstd, eps

    def backward(self, grad):
        x, w = self.saved()
        dt = x.dtype
        half = x._data.dtype == _F16
        if half:
            x, grad = x.float(), grad.float()
            w = w.float() if w is not None else None
        shape = tuple(x.shape)
        n, c = shape[0], shape[1]
        gshape = (n, self.groups, -1)
        bshape = (1, c) + (1,) * (len(shape) - 2)
        xg = x.reshape(gshape)
        if GradMode.enabled:
            mean, invstd = _tensor_stats(xg, (2,), self.eps)
        else:
            mean, invstd = _const(self.mean), _const(self.invstd)
        nf = self.next_functions
        red = (0,) + tuple(range(2, len(shape)))
        gi = gw = gb = None
        if nf[0][0] is not None:
            g = grad * w.reshape(bshape) if w is not None else grad
            gi = _norm_grad_input(xg, g.reshape(gshape), mean, invstd, (2,), True).reshape(shape)
        if nf[1][0] is not None:
            xhat = ((xg - mean) * invstd).reshape(shape)
            gw = (grad * xhat).sum(red)
        if nf[2][0] is not None:
            gb = grad.sum(red)
        if half:
            gi = gi.to(dt) if gi is not None else None
            gw = gw.to(dt) if gw is not None else None
            gb = gb.to(dt) if gb is not None else None
        return gi, gw, gb


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    a = input._data
    if a.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {a.ndim}")
    n, c = a.shape[0], a.shape[1]
    if c % num_groups != 0:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {_shape_str(a.shape)} and num_groups={num_groups}")
    for nm, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {nm} to be a vector of size equal to the number of channels in input, but "
                               f"got {nm} of shape {_shape_str(t.shape)} and input of shape {_shape_str(a.shape)}")
    if a.dtype.kind != "f":
        raise NotImplementedError(f"\"GroupNormKernelImpl\" not implemented for '{scalar_type_name(a.dtype)}'")
    w = _work(a)
    bshape = (1, c) + (1,) * (a.ndim - 2)
    with np.errstate(all="ignore"):
        wg = w.reshape(n, num_groups, -1)
        mean, var = _stats(wg, (2,))
        invstd = (1.0 / xp_of(w).sqrt(var + eps)).astype(w.dtype, copy=False)
        out = ((wg - mean) * invstd).reshape(a.shape)
        if weight is not None:
            out = out * weight._data.astype(w.dtype, copy=False).reshape(bshape)
        if bias is not None:
            out = out + bias._data.astype(w.dtype, copy=False).reshape(bshape)
    r = Tensor._make(out.astype(a.dtype, copy=False))
    if needs_grad(input, weight, bias):
        node = NativeGroupNormBackward0(num_groups, mean, invstd, eps)
        node.save(input, weight)
        record(node, (input, weight, bias), r)
    return r


# -- normalize --------------------------------------------------------------------------------
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    if out is None:
        return input / denom
    from ...ops.arithmetic import div

    return div(input, denom, out=out)

"""Loss functions: ``F.mse_loss``, ``F.cross_entropy``, ``F.nll_loss``, ``F.binary_cross_entropy``…

The losses PyTorch implements as one native kernel (mse, smooth L1, Huber, NLL, BCE, BCE with logits,
soft margin) are computed here on arrays in one pass and recorded as one node named as PyTorch names
its grad_fn (``MseLossBackward0``); their backward is written with Tensor ops so that
``create_graph=True`` works.  The losses PyTorch composes from other ops (L1, KL divergence, the
probability-target and label-smoothing forms of cross entropy, margin losses…) are composed from the
engine's ops the same way, so the graph has the same nodes.

``cross_entropy`` with class indices is ``log_softmax`` followed by ``nll_loss``: two nodes
(``NllLossBackward0`` over ``LogSoftmaxBackward0``), the NLL forward a single gather and its backward
one scatter of constant coefficients times the incoming gradient.
"""
import math
import warnings
from functools import partial

import numpy as np

from ...autograd.grad_mode import GradMode
from ...ops._util import Node, Tensor, broadcast_error, needs_grad, promote, record, xp_of
from ... import log_softmax as _log_softmax, ones_like as _ones_like, where as _where
from ...ops.softmax import LogSoftmaxBackward0 as _LogSoftmaxBackward0

__all__ = [
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "soft_margin_loss", "margin_ranking_loss",
    "cosine_embedding_loss", "poisson_nll_loss", "gaussian_nll_loss",
]

from ...dtypes import SCALAR_NAMES as _SHORT

NONE, MEAN, SUM = 0, 1, 2


def _tname(a):
    return _SHORT.get(a.dtype.name, a.dtype.name)


def _shape_str(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


# -- reductions -------------------------------------------------------------------------------
def _get_enum(reduction):
    if reduction == "none":
        return NONE
    if reduction == "mean":
        return MEAN
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                      stacklevel=3)
        return MEAN
    if reduction == "sum":
        return SUM
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy_get_string(size_average, reduce, emit_warning=True):
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
                      stacklevel=3)
    return ret


def _legacy(size_average, reduce, reduction):
    if size_average is not None or reduce is not None:
        return _legacy_get_string(size_average, reduce)
    return reduction


def _reduce_arr(loss, red):
    """Reduce an elementwise loss array; float16 accumulates in float32 as PyTorch does."""
    if red == NONE:
        return loss
    xp = xp_of(loss)
    acc = np.float32 if loss.dtype == np.float16 else None
    if red == SUM:
        return xp.asarray(loss.sum(dtype=acc), dtype=loss.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = loss.sum(dtype=acc)
        return xp.asarray(s / loss.size if loss.size else xp.nan, dtype=loss.dtype)


def _reduce_t(t, red):
    if red == NONE:
        return t
    return t.mean() if red == MEAN else t.sum()


def _size_warning(input, target, stacklevel=3):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.size()}) that is different to the input size ({input.size()}). "
            "This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            stacklevel=stacklevel,
        )


def _broadcast_pair(a, b):
    """``torch.broadcast_tensors`` of two tensors: only a tensor whose shape changes is expanded."""
    sa, sb = tuple(a.shape), tuple(b.shape)
    if sa == sb:
        return a, b
    try:
        shape = np.broadcast_shapes(sa, sb)
    except ValueError:
        raise broadcast_error(sa, sb) from None
    if sa != shape:
        a = a.expand(shape)
    if sb != shape:
        b = b.expand(shape)
    return a, b


def _check_no_grad(t, arg, fn):
    if t is not None and t.requires_grad and GradMode.enabled:
        raise RuntimeError(f"The function '{fn}' is not differentiable with respect to argument '{arg}'. "
                           "This input cannot have requires_grad True.")


def _const(arr):
    return Tensor._make(arr)


# -- scalar nodes named as PyTorch's C++ composites name them -------------------------------------
class MulBackward1(Node):
    forward = "result = self * other  (other: a number)"
    formula = "grad_self = grad * other"

    def replay(self, xs, out_shape):
        return _scalar_op(xs[0], self.other, "mul")

    def __init__(self, other):
        super().__init__()
        self.other = other

    def backward(self, grad):
        return (grad * self.other,)


class DivBackward1(Node):
    forward = "result = self / other  (other: a number)"
    formula = "grad_self = grad / other"

    def replay(self, xs, out_shape):
        return _scalar_op(xs[0], self.other, "div")

    def __init__(self, other):
        super().__init__()
        self.other = other

    def backward(self, grad):
        return (grad / self.other,)


class AddBackward1(Node):
    forward = "result = self + other  (other: a number)"
    formula = "grad_self = grad"

    def replay(self, xs, out_shape):
        return _scalar_op(xs[0], 0.0, "add")  # the added number does not change the gradient

    def backward(self, grad):
        return (grad,)


def _host(a):
    """A numpy array (or number) of ``a``, which may live on the GPU."""
    return a.get() if hasattr(a, "get") and type(a).__module__.startswith("cupy") else a


def _scalar_op(t, other, kind):
    a = t._data
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kind == "mul":
            r = a * other
        elif kind == "div":
            r = a / other
        else:
            r = a + other
    if r.dtype != a.dtype and a.dtype.kind == "f":
        r = r.astype(a.dtype)
    out = Tensor._make(xp_of(a).asarray(r))
    if needs_grad(t):
        node = MulBackward1(other) if kind == "mul" else DivBackward1(other) if kind == "div" else AddBackward1()
        record(node, (t,), out)
    return out


# -- pointwise losses with one native node ----------------------------------------------------
class _PairLossNode(Node):
    """Backward of a pointwise loss of (input, target): ``grad_input = dloss/dinput * grad``."""

    forward = "result = reduce(loss(self, target))  (reduction: mean, sum or none)"
    formula = "grad_self = dloss/dself * grad [/ numel]; grad_target = -grad_self"

    def replay(self, xs, out_shape):
        return _pair_loss(type(self), xs[0], xs[1], self.red, partial(self.pointwise, extra=self.extra), self.kernel, self.extra)

    def __init__(self, red, n, extra=None):
        super().__init__()
        self.red, self.n, self.extra = red, n, extra

    def _grad(self, grad):
        return grad / self.n if self.red == MEAN else grad

    def backward(self, grad):
        x, t = self.saved()
        g = self._grad(grad)
        d = self.deriv(x, t)
        gi = d * g
        need_t = self.next_functions[1][0] is not None
        return gi, (-gi if need_t else None)


class MseLossBackward0(_PairLossNode):
    forward = "result = reduce((self - target)**2)"
    formula = "grad_self = 2 * (self - target) * grad [/ numel]; grad_target = -grad_self"

    kernel = "mse_cpu"

    @staticmethod
    def pointwise(a, b, extra=None):
        return _mse_fn(a, b)

    def deriv(self, x, t):
        return (x - t) * 2


class SmoothL1LossBackward0(_PairLossNode):
    forward = "result = reduce(smooth_l1(self - target, beta))"
    formula = "grad_self = clamp((self - target) / beta, -1, 1) * grad [/ numel]; grad_target = -grad_self"

    kernel = "smooth_l1_cpu"

    @staticmethod
    def pointwise(a, b, extra):
        z = abs(a - b)
        return _where_arr(z < extra, 0.5 * z * z / extra, z - 0.5 * extra)

    def deriv(self, x, t):
        return ((x - t) / self.extra).clamp(-1, 1)


class HuberLossBackward0(_PairLossNode):
    forward = "result = reduce(huber(self - target, delta))"
    formula = "grad_self = clamp(self - target, -delta, delta) * grad [/ numel]; grad_target = -grad_self"

    kernel = "huber_cpu"

    @staticmethod
    def pointwise(a, b, extra):
        z = abs(a - b)
        return _where_arr(z < extra, 0.5 * z * z, extra * (z - 0.5 * extra))

    def deriv(self, x, t):
        return (x - t).clamp(-self.extra, self.extra)


def _pair_arrays(input, target, kernel):
    a, b = promote(input, target)
    if a.dtype.kind not in "fc":
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_tname(a)}'")
    return a, b


def _pair_loss(node_cls, input, target, red, loss_fn, kernel, extra=None):
    a, b = _pair_arrays(input, target, kernel)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = loss_fn(a, b)
    out = Tensor._make(_reduce_arr(loss, red))
    if needs_grad(input, target):
        node = node_cls(red, loss.size, extra)
        node.save(input, target)
        record(node, (input, target), out)
    return out


def _mse_fn(a, b):
    d = a - b
    return d * d


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _size_warning(input, target)
    reduction = _legacy(size_average, reduce, reduction)
    ex_in, ex_t = _broadcast_pair(input, target)
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        w = ((ex_in - ex_t) ** 2) * weight
        return _weighted_reduce(w, weight, reduction)
    return _pair_loss(MseLossBackward0, ex_in, ex_t, _get_enum(reduction), _mse_fn, "mse_cpu")


def _weighted_reduce(loss, weight, reduction, mean_by_weight=True):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / weight.sum() if mean_by_weight else loss.mean()
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")


def _l1(input, target, red):
    return _reduce_t((input - target).abs(), red)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _size_warning(input, target)
    reduction = _legacy(size_average, reduce, reduction)
    ex_in, ex_t = _broadcast_pair(input, target)
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        return _weighted_reduce((ex_in - ex_t).abs() * weight, weight, reduction)
    return _l1(ex_in, ex_t, _get_enum(reduction))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    _size_warning(input, target)
    reduction = _legacy(size_average, reduce, reduction)
    ex_in, ex_t = _broadcast_pair(input, target)
    red = _get_enum(reduction)
    if beta == 0.0:
        return _l1(ex_in, ex_t, red)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")

    fn = partial(SmoothL1LossBackward0.pointwise, extra=beta)

    return _pair_loss(SmoothL1LossBackward0, ex_in, ex_t, red, fn, "smooth_l1_cpu", beta)


def _where_arr(c, a, b):
    r = xp_of(a).where(c, a, b)
    return r.astype(a.dtype, copy=False) if hasattr(a, "dtype") else r


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    _size_warning(input, target)
    ex_in, ex_t = _broadcast_pair(input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")

    fn = partial(HuberLossBackward0.pointwise, extra=delta)

    if weight is None:
        return _pair_loss(HuberLossBackward0, ex_in, ex_t, _get_enum(reduction), fn, "huber_cpu", delta)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    loss = _pair_loss(HuberLossBackward0, ex_in, ex_t, NONE, fn, "huber_cpu", delta) * weight
    return _weighted_reduce(loss, weight, reduction, mean_by_weight=False)


# -- negative log likelihood ------------------------------------------------------------------
class NllLossBackward0(Node):
    forward = "result = reduce(-weight[target] * self.gather(1, target))  (mean: / total_weight)"
    formula = "grad_self = zeros_like(self).scatter(1, target, -weight[target]) * grad [/ total_weight]"

    replay_rebuilds = False  # the loss value is recomputed directly: the analytic side is backward()

    def replay(self, xs, out_shape):
        a = _host(xs[0]._data)
        a2 = a[None] if a.ndim == 1 else a
        idx = np.asarray(_host(self.idx))
        picked = np.take_along_axis(a2, idx.reshape((idx.shape[0], 1) + idx.shape[1:]), axis=1)[:, 0]
        loss = picked * np.asarray(_host(self.coef), dtype=np.float64)
        if self.red != NONE:
            loss = loss.sum()
        return Tensor._make(np.asarray(loss, dtype=np.float64).reshape(out_shape))

    def __init__(self, idx, coef, red, shape2, shape, dtype, one_d_batch=False):
        super().__init__()
        self.idx, self.coef, self.red, self.shape2, self.shape = idx, coef, red, shape2, shape
        self.dtype, self.one_d_batch = dtype, one_d_batch

    def backward(self, grad):
        if self.one_d_batch:  # PyTorch's backward refuses a 1-D input with a 1-D target
            raise RuntimeError(f"size mismatch (got input: {_shape_str(self.shape)}, target: [1])")
        idx = self.idx
        xp = xp_of(idx)
        m = xp.zeros(self.shape2, dtype=self.dtype)
        nxt = self.next_functions[0][0]
        if type(nxt) is LogSoftmaxBackward0 and len(self.shape) == 2 and not GradMode.enabled:
            # Gradient for the fused cross-entropy log_softmax below: the per-row coefficients
            # travel with it, so that node need not reduce this one-hot gradient again.
            g = grad._data
            c = (self.coef * g if self.red == NONE else self.coef * g[()])
            c = xp.broadcast_to(xp.asarray(c, dtype=self.dtype), idx.shape)
            m[_arange(xp, idx.shape[0]), idx] = c
            out = _const(m)
            out._ce_hint = (m, idx, c)
            return (out,)
        if len(self.shape2) == 2:
            m[_arange(xp, idx.shape[0]), idx] = self.coef
        else:
            c = self.coef
            xp.put_along_axis(m, idx[:, None], c[:, None] if getattr(c, "ndim", 0) else c, axis=1)
        if len(self.shape) == 1:
            m = m.reshape(self.shape)
        elif self.red == NONE:
            grad = grad.unsqueeze(1)
        return (_const(m) * grad,)


class NllLoss2DBackward0(NllLossBackward0):
    forward = "result = reduce(-weight[target] * self.gather(1, target))  (mean: / total_weight)"


_aranges = {}


def _arange(xp, n):
    key = (xp.__name__, n)
    r = _aranges.get(key)
    if r is None:
        if len(_aranges) > 64:
            _aranges.clear()
        r = _aranges[key] = xp.arange(n)
    return r


def _nll_core(input, target, weight, red, ignore_index, two_d):
    a = input._data
    t = target._data
    if t.dtype != np.int64 and t.dtype != np.uint8:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_tname(t)}")
    if weight is not None and weight._data.dtype != a.dtype:
        raise RuntimeError(f"expected scalar type {_tname(a)} but found {_tname(weight._data)}")
    if a.dtype.kind != "f":
        kernel = "nll_loss2d_forward_out_frame" if two_d else "nll_loss_out_frame"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_tname(a)}'")
    _check_no_grad(weight, "weight", "nll_loss2d_forward" if two_d else "nll_loss_forward")
    xp = xp_of(a)
    a2 = a[None] if a.ndim == 1 else a
    t2 = t.reshape(1) if a.ndim == 1 else t
    C = a2.shape[1]
    t2 = t2.astype(np.int64, copy=False)
    n = t2.size
    all_valid = True
    if n:
        lo, hi = int(t2.min()), int(t2.max())
        all_valid = not (lo <= ignore_index <= hi)
        if lo < 0 or hi >= C:
            valid = t2 != ignore_index
            bad = valid & ((t2 < 0) | (t2 >= C))
            if bad.any():
                raise IndexError(f"Target {int(t2[bad].ravel()[0])} is out of bounds.")
    if all_valid:
        valid = None
        idx = t2
    else:
        valid = t2 != ignore_index
        idx = xp.where(valid, t2, 0)
    if a2.ndim == 2:
        picked = a2[_arange(xp, n), idx]
    else:
        picked = xp.take_along_axis(a2, idx[:, None], axis=1)[:, 0]
    acc = np.float32 if a.dtype == np.float16 else None
    if weight is None and valid is None:
        # every target counts with weight 1: no weight array at all
        loss = -picked
        if red == NONE:
            res, coef = loss, -1.0
        elif red == SUM:
            res, coef = xp.asarray(loss.sum(dtype=acc), dtype=a.dtype), -1.0
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                res = xp.asarray(loss.sum(dtype=acc) / np.float64(n) if n else np.nan, dtype=a.dtype)
            coef = -1.0 / n if n else 0.0
    else:
        if weight is None:
            wt = valid.astype(a.dtype)
        elif valid is None:
            wt = weight._data[idx]
        else:
            wt = xp.where(valid, weight._data[idx], 0).astype(a.dtype, copy=False)
        loss = -(picked * wt)
        if valid is not None:
            loss = xp.where(valid, loss, 0).astype(a.dtype, copy=False)
        if red == NONE:
            res, coef = loss, -wt
        elif red == SUM:
            res, coef = xp.asarray(loss.sum(dtype=acc), dtype=a.dtype), -wt
        else:
            tw = wt.sum(dtype=acc)
            with np.errstate(invalid="ignore", divide="ignore"):
                res = xp.asarray(loss.sum(dtype=acc) / tw, dtype=a.dtype)
                coef = -wt / tw
                if valid is not None:
                    coef = xp.where(valid, coef, 0)
            coef = coef.astype(a.dtype, copy=False)
    if red == NONE and a.ndim == 1:
        res = res.reshape(())
    out = Tensor._make(res)
    if needs_grad(input):
        node = (NllLoss2DBackward0 if two_d else NllLossBackward0)(idx, coef, red, a2.shape, a.shape, a.dtype,
                                                                   a.ndim == 1 and t.ndim == 1)
        record(node, (input,), out)
    return out


def _nll_1d2d(input, target, weight, red, ignore_index):
    if target.ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if input.ndim == 1 and target.ndim == 1 and target.shape[0] != 1:
        raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {target.shape[0]}")
    if input.ndim == 2 and input.shape[0] != target.shape[0]:
        raise RuntimeError(f"size mismatch (got input: {_shape_str(input.shape)}, target: "
                           f"{_shape_str(target.shape)})")
    C = input.shape[-1]
    if weight is not None and (weight.ndim != 1 or weight.numel() != C):
        raise RuntimeError(f"weight tensor should be defined either for all {C} classes or no classes but got "
                           f"weight tensor of shape: {_shape_str(weight.shape)}")
    return _nll_core(input, target, weight, red, ignore_index, False)


def _nll_2d(input, target, weight, red, ignore_index):
    if target.ndim != 3:
        raise RuntimeError("only batches of spatial targets supported (3D tensors) but got targets of dimension: "
                           f"{target.ndim}")
    s, ts = input.shape, target.shape
    if s[0] != ts[0] or s[2] != ts[1] or s[3] != ts[2]:
        raise RuntimeError(f"size mismatch (got input: {_shape_str(s)} , target: {_shape_str(ts)}")
    if weight is not None and (weight.ndim != 1 or weight.numel() != s[1]):
        raise RuntimeError("weight tensor should be defined either for all or no classes")
    return _nll_core(input, target, weight, red, ignore_index, True)


def _nll_nd(input, target, weight, red, ignore_index):
    nd = input.ndim
    if nd < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {nd})")
    if nd != 1:
        tb = target.shape[0] if target.ndim else 0
        if input.shape[0] != tb:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size ({tb}).")
    if nd <= 2:
        return _nll_1d2d(input, target, weight, red, ignore_index)
    if nd == 4:
        return _nll_2d(input, target, weight, red, ignore_index)
    n, c = input.shape[0], input.shape[1]
    out_size = (n,) + tuple(input.shape[2:])
    if tuple(target.shape[1:]) != tuple(input.shape[2:]):
        raise RuntimeError(f"Expected target size {_shape_str(out_size)}, got {_shape_str(target.shape)}")
    inp = input.contiguous()
    inp = inp.view(n, c, 1, -1) if inp.numel() > 0 else inp.view(n, c, 0, 0)
    tgt = target.contiguous()
    tgt = tgt.view(n, 1, -1) if tgt.numel() > 0 else tgt.view(n, 0, 0)
    out = _nll_2d(inp, tgt, weight, red, ignore_index)
    return out if red != NONE else out.view(out_size)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    reduction = _legacy(size_average, reduce, reduction)
    return _nll_nd(input, target, weight, _get_enum(reduction), ignore_index)


# -- cross entropy ----------------------------------------------------------------------------
def _weight_view(weight, ndim, class_dim):
    shape = [1] * ndim
    shape[class_dim] = weight.shape[0]
    return weight.view(*shape)


def _ce_prob(input, target, weight, red, label_smoothing, class_dim):
    if target._data.dtype.kind != "f":
        raise RuntimeError(f"Expected floating point type for target with class probabilities, got {_tname(target._data)}")
    C = input.shape[class_dim]
    if weight is not None and (weight.ndim != 1 or weight.numel() != C):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {C} classes or no "
                           f"classes but got weight tensor of shape: {_shape_str(weight.shape)}")
    logp = _log_softmax(input, class_dim)
    if label_smoothing > 0.0:
        target = _scalar_op(_scalar_op(target, 1 - label_smoothing, "mul"), label_smoothing / C, "add")
    prod = logp * target
    if weight is not None:
        prod = prod * _weight_view(weight, input.ndim, class_dim)
    if red == NONE:
        return -prod.sum(class_dim)
    if red == SUM:
        return -prod.sum()
    return _scalar_op(-prod.sum(), input.numel() // C if C else 0, "div")


def _ce_label_smoothing(input, target, weight, red, ignore_index, label_smoothing, class_dim):
    logp = _log_softmax(input, class_dim)
    C = input.shape[class_dim]
    nll = _nll_nd(logp, target, weight, red, ignore_index)
    ignore_mask = target == ignore_index
    if weight is not None:
        smooth = -(logp * _weight_view(weight, input.ndim, class_dim)).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    smooth = smooth.masked_fill(ignore_mask, 0.0)
    if red == MEAN:
        keep = ~ignore_mask
        if weight is not None:
            xp = xp_of(target._data)
            tsel = target._data[keep._data].ravel().astype(np.int64)
            denom = _const(xp.asarray(weight._data[tsel].sum()))
            ret = smooth.sum() / denom
        else:
            ret = smooth.sum() / keep.sum()
    elif red == SUM:
        ret = smooth.sum()
    else:
        ret = smooth
    return _scalar_op(nll, 1 - label_smoothing, "mul") + _scalar_op(ret, label_smoothing / C, "mul")


class LogSoftmaxBackward0(_LogSoftmaxBackward0):
    """``log_softmax`` of the cross-entropy path: same node as ``torch.log_softmax``'s, which also
    keeps the exponentials of the forward pass.  When its gradient is the one-hot gradient of the
    NLL node above it (marked with the per-row coefficients ``c``), the backward is one pass:
    ``grad - softmax * c`` with the one-hot part scattered in."""

    forward = "result = self - log(exp(self).sum(dim, keepdim=True))"

    _ex = None

    def replay(self, xs, out_shape):
        return _ce_log_softmax(xs[0], self.dim)

    def backward(self, grad):
        hint = getattr(grad, "_ce_hint", None)
        if hint is not None and hint[0] is grad._data and not GradMode.enabled and self._ex is not None:
            self.saved()  # version check of the saved output, as the general formula does
            _, idx, c = hint
            e, se = self._ex
            xp = xp_of(e)
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                r = e * (-(c[:, None] / se))
                r[_arange(xp, idx.shape[0]), idx] += c
            return (Tensor._make(r.astype(e.dtype, copy=False)),)
        return super().backward(grad)

    def _release_extra(self):
        self._ex = None


def _ce_log_softmax(input, dim):
    """log_softmax over the class dim of a 2-D float32/float64 input, keeping ``exp`` for backward."""
    a = input._data
    if a.ndim != 2 or dim != 1 or a.dtype.kind != "f" or a.dtype == np.float16 or a.size == 0:
        return _log_softmax(input, dim)
    xp = xp_of(a)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        s = a - a.max(axis=1, keepdims=True)  # an infinite max makes the row NaN, as in PyTorch
        e = xp.exp(s)
        se = e.sum(axis=1, keepdims=True)
        s -= xp.log(se)
    out = Tensor._make(s)
    if needs_grad(input):
        node = LogSoftmaxBackward0(1)
        node._ex = (e, se)
        node.save(out)
        record(node, (input,), out)
    return out


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    reduction = _legacy(size_average, reduce, reduction)
    red = _get_enum(reduction)
    class_dim = 0 if input.ndim == 1 else 1
    if tuple(input.shape) == tuple(target.shape):
        if target._data.dtype.kind != "f":
            raise RuntimeError("Expected floating point type for target with class probabilities, got "
                               f"{_tname(target._data)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
        return _ce_prob(input, target, weight, red, label_smoothing, class_dim)
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
        return _ce_label_smoothing(input, target, weight, red, ignore_index, label_smoothing, class_dim)
    return _nll_nd(_ce_log_softmax(input, class_dim), target, weight, red, ignore_index)


# -- binary cross entropy ---------------------------------------------------------------------
class BinaryCrossEntropyBackward0(Node):
    forward = "result = reduce(-weight * (target * log(self) + (1 - target) * log(1 - self)))"
    formula = ("grad_self = grad * (self - target) / clamp_min((1 - self) * self, 1e-12) * weight [/ numel]; "
               "grad_target = -grad * (log(self) - log(1 - self)) * weight [/ numel]")

    def __init__(self, red, n, w):
        super().__init__()
        self.red, self.n, self.w = red, n, w

    def backward(self, grad):
        x, t = self.saved()
        g = grad / self.n if self.red == MEAN else grad
        if self.w is not None:
            g = g * _const(self.w)
        gi = gt = None
        if self.next_functions[0][0] is not None:
            gi = (x - t) / ((1 - x) * x).clamp_min(1e-12) * g
        if self.next_functions[1][0] is not None:
            gt = -(x.log() - (-x).log1p()) * g
        return gi, gt


def _infer_size_msg(shape, wshape):
    n = max(len(shape), len(wshape))
    for i in range(1, n + 1):
        a = shape[-i] if i <= len(shape) else 1
        b = wshape[-i] if i <= len(wshape) else 1
        if a != b and b != 1:
            if a == 1 or i > len(shape):
                continue
            return (f"Attempting to broadcast a dimension of length {b} at -{i}! Mismatching argument at index 1 had "
                    f"torch.Size({list(wshape)}); but expected shape should be broadcastable to {_shape_str(shape)}")
    return None


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    red = _get_enum(_legacy(size_average, reduce, reduction))
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input size "
                         f"({input.size()}) is deprecated. Please ensure they have the same size.")
    w = None
    if weight is not None:
        shape = tuple(target.shape)
        try:
            new = np.broadcast_shapes(shape, tuple(weight.shape))
        except ValueError:
            new = None
        if new is None or new != shape:
            msg = _infer_size_msg(shape, tuple(weight.shape))
            if msg:
                raise RuntimeError(msg)
            if new is None:
                raise broadcast_error(shape, tuple(weight.shape))
        if tuple(weight.shape) != new:
            weight = weight.expand(new)
        _check_no_grad(weight, "weight", "binary_cross_entropy")
        w = weight._data
    a, t = input._data, target._data
    if t.dtype != a.dtype:
        raise RuntimeError(f"Found dtype {_tname(t)} but expected {_tname(a)}")
    if a.dtype.kind != "f":
        raise NotImplementedError(f"\"binary_cross_entropy\" not implemented for '{_tname(a)}'")
    if not bool(((a >= 0) & (a <= 1)).all()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    xp = xp_of(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = ((t - 1) * xp.maximum(xp.log1p(-a), -100) - t * xp.maximum(xp.log(a), -100)).astype(a.dtype, copy=False)
    if w is not None:
        w = xp.broadcast_to(w, a.shape).astype(a.dtype, copy=False)
        loss = loss * w
    out = Tensor._make(_reduce_arr(loss, red))
    if needs_grad(input, target):
        node = BinaryCrossEntropyBackward0(red, loss.size, w)
        node.save(input, target)
        record(node, (input, target), out)
    return out


def _log_sigmoid_arr(x):
    xp = xp_of(x)
    return xp.minimum(x, 0) - xp.log1p(xp.exp(-abs(x)))


def _log_sigmoid_t(x):
    return x.clamp_max(0) - (-x.abs()).exp().log1p()


class BinaryCrossEntropyWithLogitsBackward0(Node):
    forward = "result = binary_cross_entropy(sigmoid(self), target, weight, pos_weight)  (stably)"
    formula = ("grad_self = grad * ((pos_weight * target + 1 - target) * sigmoid(self) - pos_weight * target)"
               " * weight [/ numel]; "
               "grad_target = grad * (logsigmoid(-self) - pos_weight * logsigmoid(self)) * weight [/ numel]")

    def __init__(self, red, n, w, pw):
        super().__init__()
        self.red, self.n, self.w, self.pw = red, n, w, pw

    def backward(self, grad):
        x, t = self.saved()
        g = grad / self.n if self.red == MEAN else grad
        if self.w is not None:
            g = g * _const(self.w)
        gi = gt = None
        if self.next_functions[0][0] is not None:
            if self.pw is not None:
                tp = _const(self.pw) * t
                gi = ((tp + 1 - t) * x.sigmoid() - tp) * g
            else:
                gi = (x.sigmoid() - t) * g
        if self.next_functions[1][0] is not None:
            if self.pw is not None:
                gt = (_log_sigmoid_t(-x) - _log_sigmoid_t(x) * _const(self.pw)) * g
            else:
                gt = -x * g
        return gi, gt


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    red = _get_enum(_legacy(size_average, reduce, reduction))
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.size()}) must be the same as input size ({input.size()})")
    _check_no_grad(weight, "weight", "binary_cross_entropy_with_logits")
    _check_no_grad(pos_weight, "pos_weight", "binary_cross_entropy_with_logits")
    x, t = input._data, target._data
    xp = xp_of(x)
    if t.dtype.kind != "f":
        rt = np.result_type(x.dtype, np.float32) if x.dtype.kind != "f" else x.dtype
        raise RuntimeError(f"result type {_SHORT.get(np.dtype(rt).name)} can't be cast to the desired output type "
                           f"{_tname(t)}")
    if x.dtype.kind != "f":
        raise NotImplementedError(f"\"log_sigmoid_forward\" not implemented for '{_tname(x)}'")
    dt = t.dtype
    shape = x.shape
    with np.errstate(over="ignore", invalid="ignore"):
        ls = _log_sigmoid_arr(x).astype(dt, copy=False)
        pw = None
        if pos_weight is not None:
            pwa = pos_weight._data
            try:
                shape = np.broadcast_shapes(pwa.shape, t.shape)
            except ValueError:
                raise broadcast_error(pwa.shape, t.shape) from None
            pw = pwa
            ls = ((pwa - 1) * t + 1) * ls
        loss = (1 - t) * x - ls
        w = None
        if weight is not None:
            w = weight._data
            try:
                np.broadcast_shapes(loss.shape, w.shape)
            except ValueError:
                raise broadcast_error(loss.shape, w.shape) from None
            loss = loss * w
    loss = loss.astype(dt, copy=False)
    out = Tensor._make(_reduce_arr(loss, red))
    if needs_grad(input, target):
        node = BinaryCrossEntropyWithLogitsBackward0(red, loss.size, w, pw)
        node.save(input, target)
        record(node, (input, target), out)
    return out


# -- KL divergence ----------------------------------------------------------------------------
class XlogyBackward0(Node):
    forward = "result = self * log(other)  (0 where self == 0)"
    formula = "grad_self = grad * where(self != 0, log(other), 0); grad_other = grad * self / other"

    def backward(self, grad):
        x, y = self.saved()
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = grad * _where(x != 0, y.log(), 0.0)
        if self.next_functions[1][0] is not None:
            gb = grad * x / y
        return ga, gb


def _xlogy_self(t):
    a = t._data
    xp = xp_of(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = xp.where(xp.isnan(a), a, xp.where(a == 0, 0, a * xp.log(a))).astype(a.dtype, copy=False)
    out = Tensor._make(r)
    if needs_grad(t):
        node = XlogyBackward0()
        node.save(t, t)
        record(node, (t, t), out)
    return out


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    if size_average is not None or reduce is not None:
        red = _get_enum(_legacy_get_string(size_average, reduce))
        reduction = None
    else:
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                          "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                          "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                          stacklevel=2)
        red = SUM if reduction == "batchmean" else _get_enum(reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _xlogy_self(target) - target * input
    out = _reduce_t(loss, red)
    if reduction == "batchmean" and input.ndim != 0:
        out = out / input.shape[0]
    return out


# -- extras -----------------------------------------------------------------------------------
class SoftMarginLossBackward0(Node):
    forward = "result = reduce(log(1 + exp(-target * self)))"
    formula = ("grad_self = -target * exp(-target * self) / (1 + exp(-target * self)) * grad [/ numel]; "
               "grad_target = None  (target may not require grad)")

    def __init__(self, red, n):
        super().__init__()
        self.red, self.n = red, n

    def backward(self, grad):
        x, t = self.saved()
        g = grad / self.n if self.red == MEAN else grad
        z = (-t * x).exp()
        return (-t * z / (z + 1) * g, None)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    red = _get_enum(_legacy(size_average, reduce, reduction))
    _check_no_grad(target, "target", "soft_margin_loss")
    x, t = promote(input, target)
    try:
        bshape = np.broadcast_shapes(x.shape, t.shape)
    except ValueError:
        raise broadcast_error(x.shape, t.shape) from None
    if bshape != x.shape:
        raise RuntimeError(f"output with shape {_shape_str(x.shape)} doesn't match the broadcast shape "
                           f"{_shape_str(bshape)}")
    xp = xp_of(x)
    with np.errstate(over="ignore"):
        loss = xp.log1p(xp.exp(-t * x)).astype(x.dtype, copy=False)
    out = Tensor._make(_reduce_arr(loss, red))
    if needs_grad(input):
        node = SoftMarginLossBackward0(red, loss.size)
        node.save(input, target)
        record(node, (input, target), out)
    return out


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    red = _get_enum(_legacy(size_average, reduce, reduction))
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} ")
    loss = _scalar_op(-target * (input1 - input2), margin, "add").clamp_min(0)
    return _reduce_t(loss, red)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    red = _get_enum(_legacy(size_average, reduce, reduction))
    td = target.ndim
    if td not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if td == 1:
        if input1.ndim != 2 or input2.ndim != 2:
            raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with sizes "
                               f"{_shape_str(input1.shape)} and {_shape_str(input2.shape)}.")
    elif input1.ndim != 1 or input2.ndim != 1:
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with sizes "
                           f"{_shape_str(input1.shape)} and {_shape_str(input2.shape)}.")
    eps = 1e-12
    prod_sum = (input1 * input2).sum(td)
    mag1 = _scalar_op((input1 * input1).sum(td), eps, "add")
    mag2 = _scalar_op((input2 * input2).sum(td), eps, "add")
    cos = prod_sum / (mag1 * mag2).sqrt()
    zeros = cos.detach() * 0
    pos = 1 - cos
    neg = _scalar_op(cos, -margin, "add").clamp_min(0)
    out = _where(target == 1, pos, zeros) + _where(target == -1, neg, zeros)
    return _reduce_t(out, red)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    if size_average is not None or reduce is not None:
        reduction = _legacy_get_string(size_average, reduce)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not a valid value for reduction")
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * _scalar_op(input, eps, "add").log()
    if full:
        st = target * target.log() - target + (target * (2 * math.pi)).log() * 0.5
        loss = loss + st.masked_fill(target <= 1, 0)
    return _reduce_t(loss, _get_enum(reduction))


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * _ones_like(input)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.ndim == var.ndim and sum(y for x, y in zip(input.shape, var.shape) if x != y) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    g = GradMode.enabled
    GradMode.enabled = False
    try:
        var.clamp_(min=eps)
    finally:
        GradMode.enabled = g
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce_t(loss, _get_enum(reduction))

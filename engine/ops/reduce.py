"""Reductions: sum, mean, prod, max/min, var/std, norm, logsumexp, cumulative ops, all/any,
median, and ``sum_to_shape``, the one place that undoes broadcasting for backward.

Backward formulas are written with Tensor ops so that ``create_graph=True`` works; the index
bookkeeping of value-selecting reductions (max with dim, median, sort…) goes through the two
private differentiable ops ``take_along`` / ``put_along`` defined here.
"""
import builtins as _b
import math
import types as _types
import warnings

import numpy as np

from ._util import supports_out, Node, Tensor, needs_grad, record, record_multi, xp_of
from ..autograd.grad_mode import GradMode
from .. import dtypes as _dt

from ..dtypes import SCALAR_NAMES as _SHORT
_INT64 = np.dtype(np.int64)


# -- named tuples (torch.return_types.*) -----------------------------------------------------
return_types = _types.ModuleType("torch.return_types")


def _tuple_repr(self):
    body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
    return f"torch.return_types.{type(self).__name__}(\n{body})"


def return_type(name, fields=("values", "indices")):
    """The ``torch.return_types.<name>`` class: a tuple with named fields, printed like PyTorch."""
    cls = getattr(return_types, name, None)
    if cls is not None:
        return cls
    ns = {"__slots__": (), "_fields": tuple(fields), "n_fields": len(fields), "n_sequence_fields": len(fields),
          "n_unnamed_fields": 0, "__repr__": _tuple_repr, "__str__": _tuple_repr, "__module__": "torch.return_types",
          "__new__": lambda cls, seq: tuple.__new__(cls, seq),
          "__reduce__": lambda self: (type(self), (tuple(self),))}
    for i, f in enumerate(fields):
        ns[f] = property(lambda self, i=i: tuple.__getitem__(self, i))
    cls = type(name, (tuple,), ns)
    cls.__qualname__ = name
    setattr(return_types, name, cls)
    return cls


def _pair(name, values, indices):
    return return_type(name)((values, indices))


# -- dim helpers ------------------------------------------------------------------------------
def _dims(t, dim):
    """Normalise ``dim`` (None, int, or sequence) to a sorted tuple of non-negative axes.
    A 0-d tensor accepts dim 0/-1 and reduces over nothing."""
    n = t._data.ndim
    if dim is None:
        return tuple(range(n))
    if isinstance(dim, (list, tuple)):
        if len(dim) == 0:
            return tuple(range(n))
        axes = [t._wrap_dim(d) for d in dim]
        if len(set(axes)) != len(axes):
            seen = set()
            for a in axes:
                if a in seen:
                    raise RuntimeError(f"dim {a} appears multiple times in the list of dims")
                seen.add(a)
        return tuple(sorted(axes)) if n else ()
    d = t._wrap_dim(dim)
    return (d,) if n else ()


def _dim1(t, dim):
    """One wrapped dim, or None for a 0-d tensor (whose only dims are 0 and -1)."""
    d = t._wrap_dim(dim)
    return d if t._data.ndim else None


def _expand_back(grad, shape, axes, keepdim):
    """Broadcast a reduced gradient back to ``shape``."""
    if not keepdim and axes:
        g_shape = list(shape)
        for a in axes:
            g_shape[a] = 1
        grad = grad.reshape(tuple(g_shape))
    return grad.expand(shape)


def _kept_shape(shape, axes):
    s = list(shape)
    for a in axes:
        s[a] = 1
    return tuple(s)


def _const(arr):
    return Tensor._make(arr)


def _numel(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _check_nonempty(a, axes, name):
    for ax in axes:
        if a.shape[ax] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {ax} to have non-zero size.")


def _no_dim_empty(a, name):
    if a.size == 0:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                           "Specify the reduction dim with the 'dim' argument.")


def _where(mask, a, b):
    from .pointwise import where

    return where(_const(mask), a, b)


# -- private differentiable gather/scatter along one dim ---------------------------------------
class GatherBackward0(Node):
    forward = "result = self.gather(dim, index)"
    formula = "grad_self = zeros(self.shape).scatter(dim, index, grad)"

    def __init__(self, idx, dim, shape):
        super().__init__()
        self.idx, self.dim, self.shape = idx, dim, shape

    def backward(self, grad):
        return (put_along(grad, self.idx, self.dim, self.shape),)


class ScatterBackward0(Node):
    forward = "result = zeros(shape).scatter(dim, index, src)"
    formula = "grad_src = grad.gather(dim, index)"

    def __init__(self, idx, dim):
        super().__init__()
        self.idx, self.dim = idx, dim

    def backward(self, grad):
        return (take_along(grad, self.idx, self.dim),)


def take_along(t, idx, dim):
    """``t.gather(dim, idx)`` for an integer array ``idx`` of ``t``'s rank (differentiable)."""
    a = t._data
    if a.ndim == 0:
        r = Tensor._make(a.copy())
    else:
        r = Tensor._make(xp_of(a).take_along_axis(a, idx, dim))
    if needs_grad(t):
        record(GatherBackward0(idx, dim, a.shape), (t,), r)
    return r


def put_along(g, idx, dim, shape):
    """Zeros of ``shape`` with ``g`` written at ``idx`` along ``dim`` (differentiable in ``g``)."""
    gd = g._data
    if len(shape) == 0:
        z = gd.reshape(()).copy()
    else:
        xp = xp_of(gd)
        z = xp.zeros(shape, dtype=gd.dtype)
        xp.put_along_axis(z, idx, gd, dim)
    r = Tensor._make(z)
    if needs_grad(g):
        record(ScatterBackward0(idx, dim), (g,), r)
    return r


class _SelectBackward(Node):
    """Backward of a value-selecting reduction with dim: gradient goes to the returned index."""

    forward = "values, indices = op(self, dim, keepdim)  (values picked at indices)"
    formula = "grad_self = zeros(self.shape).scatter(dim, indices, grad)"

    def __init__(self, idx, dim, shape, keepdim):
        super().__init__()
        self.idx, self.dim, self.shape, self.keepdim = idx, dim, shape, keepdim

    def backward(self, grad):
        if self.dim is None:
            return (grad.reshape(self.shape),)
        if not self.keepdim:
            grad = grad.reshape(_kept_shape(self.shape, (self.dim,)))
        return (put_along(grad, self.idx, self.dim, self.shape),)


def _select_node(name, forward):
    cls = type(name, (_SelectBackward,), {"forward": forward})
    cls.__qualname__ = name
    return cls


MaxBackward0 = _select_node("MaxBackward0", "values, indices = max(self, dim, keepdim)")
MinBackward0 = _select_node("MinBackward0", "values, indices = min(self, dim, keepdim)")
MedianBackward1 = _select_node("MedianBackward1", "values, indices = median(self, dim, keepdim)")
KthvalueBackward0 = _select_node("KthvalueBackward0", "values, indices = kthvalue(self, k, dim, keepdim)")


def select_result(name, node_cls, input, vals_arr, idx_kept, dim, keepdim):
    """Build the ``(values, indices)`` pair of a value-selecting reduction along ``dim``.

    ``vals_arr``/``idx_kept`` have the reduced dim kept (size 1); ``dim`` is None for 0-d."""
    if dim is not None and not keepdim:
        values = Tensor._make(vals_arr.reshape(vals_arr.shape[:dim] + vals_arr.shape[dim + 1:]))
        indices = Tensor._make(idx_kept.reshape(idx_kept.shape[:dim] + idx_kept.shape[dim + 1:]))
    else:
        values = Tensor._make(vals_arr.reshape(vals_arr.shape))
        indices = Tensor._make(idx_kept.reshape(idx_kept.shape))
    if needs_grad(input):
        record(node_cls(idx_kept, dim, input._data.shape, keepdim), (input,), values)
    return _pair(name, values, indices)


class _EvenlyBackward(Node):
    """Full reduction selecting a value: gradient split evenly among the elements equal to it."""

    forward = "result = op(self)  (one element's value)"
    formula = "grad_self = grad * (self == result) / (self == result).sum()"

    def backward(self, grad):
        x, r = self.saved()
        mask = _equal_mask(x._data, r._data)
        return (grad.expand(mask.shape) * _const(mask) / int(mask.sum()),)


def _evenly_node(name, forward):
    cls = type(name, (_EvenlyBackward,), {"forward": forward})
    cls.__qualname__ = name
    return cls


MaxBackward1 = _evenly_node("MaxBackward1", "result = max(self)")
MinBackward1 = _evenly_node("MinBackward1", "result = min(self)")
MedianBackward0 = _evenly_node("MedianBackward0", "result = median(self)  (the lower median)")


def _equal_mask(a, v):
    m = a == v
    if a.dtype.kind == "f":
        m |= np.isnan(a) & np.isnan(v)
    return m


# -- sum / mean / nansum ----------------------------------------------------------------------
class SumBackward0(Node):
    forward = "result = self.sum()"
    formula = "grad_self = grad.expand(self.shape)"

    def replay(self, xs, out_shape):
        return sum(xs[0])

    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def backward(self, grad):
        return (grad.expand(self.shape),)


class SumBackward1(Node):
    forward = "result = self.sum(dim, keepdim)"
    formula = "grad_self = grad.unsqueeze(dim).expand(self.shape)"

    def replay(self, xs, out_shape):
        return sum(xs[0], dim=tuple(self.axes), keepdim=bool(self.keepdim))

    def __init__(self, shape, axes, keepdim):
        super().__init__()
        self.shape, self.axes, self.keepdim = shape, axes, keepdim

    def backward(self, grad):
        return (_expand_back(grad, self.shape, self.axes, self.keepdim),)


def _sum_dtype(a, dtype):
    if dtype is not None:
        return dtype.np
    if a.dtype.kind in "biu":
        return _INT64
    return a.dtype


def _acc(rd):
    """Accumulation dtype: half precision accumulates in float32, as PyTorch does."""
    return np.dtype(np.float32) if rd == np.float16 else rd


def _reduce_arr(fn, a, axes, keepdim, rd):
    acc = _acc(rd)
    r = fn(a, axis=axes, keepdims=keepdim, dtype=acc)
    r = xp_of(a).asarray(r)
    return r.astype(rd) if acc is not rd else r


@supports_out
def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A001
    if isinstance(dim, _dt.dtype):  # x.sum(torch.float64)
        dim, dtype = None, dim
    a = input._data
    rd = _sum_dtype(a, dtype)
    if dim is None and not keepdim:
        r = Tensor._make(_reduce_arr(np.sum, a, None, False, rd))
        if needs_grad(input) and rd.kind in "fc":
            record(SumBackward0(a.shape), (input,), r)
        return r
    axes = _dims(input, dim)
    r = Tensor._make(_reduce_arr(np.sum, a, axes, keepdim, rd))
    if needs_grad(input) and rd.kind in "fc":
        record(SumBackward1(a.shape, axes, keepdim), (input,), r)
    return r


class NansumBackward0(Node):
    forward = "result = self.nansum(dim, keepdim)"
    formula = "grad_self = grad.expand(self.shape) * self.isnan().logical_not()"

    def __init__(self, shape, axes, keepdim, mask):
        super().__init__()
        self.shape, self.axes, self.keepdim, self.mask = shape, axes, keepdim, mask

    def backward(self, grad):
        return (_expand_back(grad, self.shape, self.axes, self.keepdim) * _const(self.mask),)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    a = input._data
    rd = _sum_dtype(a, dtype)
    axes = _dims(input, dim)
    if a.dtype.kind in "fc":
        nan = xp_of(a).isnan(a)
        a = xp_of(a).where(nan, 0, a)
    else:
        nan = None
    r = Tensor._make(_reduce_arr(np.sum, a, axes, keepdim, rd))
    if needs_grad(input) and rd.kind in "fc":
        record(NansumBackward0(a.shape, axes, keepdim, ~nan), (input,), r)
    return r


class MeanBackward0(Node):
    forward = "result = self.mean()"
    formula = "grad_self = grad.expand(self.shape) / self.numel()"

    def replay(self, xs, out_shape):
        return mean(xs[0])

    def __init__(self, shape, n):
        super().__init__()
        self.shape, self.n = shape, n

    def backward(self, grad):
        return (grad.expand(self.shape) / self.n,)


class MeanBackward1(Node):
    forward = "result = self.mean(dim, keepdim)"
    formula = "grad_self = grad.unsqueeze(dim).expand(self.shape) / N  (N: elements per mean)"

    def replay(self, xs, out_shape):
        return mean(xs[0], dim=tuple(self.axes), keepdim=bool(self.keepdim))

    def __init__(self, shape, axes, keepdim, n):
        super().__init__()
        self.shape, self.axes, self.keepdim, self.n = shape, axes, keepdim, n

    def backward(self, grad):
        return (_expand_back(grad, self.shape, self.axes, self.keepdim) / self.n,)


@supports_out
def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    if isinstance(dim, _dt.dtype):
        dim, dtype = None, dim
    a = input._data
    if dtype is not None:
        if dtype.np.kind not in "fc":
            raise RuntimeError(
                "mean(): could not infer output dtype. Optional dtype must be either a floating point or complex "
                f"dtype. Got: {_SHORT.get(dtype.np.name, dtype.np.name)}")
        rd = dtype.np
    elif a.dtype.kind not in "fc":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. "
            f"Got: {_SHORT.get(a.dtype.name, a.dtype.name)}"
        )
    else:
        rd = a.dtype
    full = dim is None and not keepdim
    axes = None if full else _dims(input, dim)
    if a.size == 0:
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            r = Tensor._make(_reduce_arr(np.mean, a, axes, keepdim, rd))
    else:
        r = Tensor._make(_reduce_arr(np.mean, a, axes, keepdim, rd))
    if needs_grad(input):
        if full:
            record(MeanBackward0(a.shape, a.size), (input,), r)
        else:
            record(MeanBackward1(a.shape, axes, keepdim, _numel(a.shape, axes)), (input,), r)
    return r


# -- prod ---------------------------------------------------------------------------------------
class _ProdBackward(Node):
    forward = "result = self.prod(dim)"
    formula = "grad_self = grad * result / self  (with zeros: grad * the product of the other elements)"

    def __init__(self, axes, keepdim):
        super().__init__()
        self.axes, self.keepdim = axes, keepdim

    def backward(self, grad):
        x, result = self.saved()
        shape = x._data.shape
        axes, keepdim = self.axes, self.keepdim
        g = _expand_back(grad, shape, axes, keepdim)
        if not (x._data == 0).any():
            return (g * _expand_back(result, shape, axes, keepdim) / x,)
        if not axes:
            return (g * 1,)
        if self.full:
            return (g * _prod_others(x.reshape(-1), 0).reshape(shape),)
        return (g * _prod_others(x, axes[0]),)


def _prod_others(x, d):
    """Product of all the other elements along ``d``, safe with zeros:
    exclusive cumprod from the front times exclusive cumprod from the back."""
    front = cumprod(_shift(x, d), d)
    back = _flip(cumprod(_shift(_flip(x, d), d), d), d)
    return front * back


class ShiftBackward(Node):
    forward = "result = shift(self, dim, fill)  (result[i] = self[i - 1], result[0] = fill)"
    formula = "grad_self = shift(grad, dim, 0, back=True)  (grad[i + 1], 0 at the end)"

    def __init__(self, d, reverse):
        super().__init__()
        self.d, self.reverse = d, reverse

    def backward(self, grad):
        return (_shift(grad, self.d, 0, not self.reverse),)


def _shift(t, d, fill=1, reverse=False):
    """``out[i] = t[i-1]`` with ``out[0] = fill`` along ``d`` (``reverse``: ``out[i] = t[i+1]``)."""
    a = t._data
    out = xp_of(a).empty_like(a)
    n = a.shape[d]
    lo, hi = (slice(None),) * d + (slice(0, n - 1),), (slice(None),) * d + (slice(1, n),)
    first = (slice(None),) * d + ((n - 1) if reverse else 0,)
    if reverse:
        out[lo] = a[hi]
    else:
        out[hi] = a[lo]
    out[first] = fill
    r = Tensor._make(out)
    if needs_grad(t):
        record(ShiftBackward(d, reverse), (t,), r)
    return r


class FlipBackward0(Node):
    forward = "result = self.flip(dim)"
    formula = "grad_self = grad.flip(dim)"

    def __init__(self, d):
        super().__init__()
        self.d = d

    def backward(self, grad):
        return (_flip(grad, self.d),)


def _flip(t, d):
    a = t._data
    xp = xp_of(a)
    r = Tensor._make(xp.ascontiguousarray(xp.flip(a, d)))
    if needs_grad(t):
        record(FlipBackward0(d), (t,), r)
    return r


class ProdBackward0(_ProdBackward):
    forward = "result = self.prod()"
    full = True


class ProdBackward1(_ProdBackward):
    forward = "result = self.prod(dim, keepdim)"
    full = False


def prod(input, dim=None, keepdim=False, *, dtype=None):
    if isinstance(dim, _dt.dtype):
        dim, dtype = None, dim
    a = input._data
    rd = _sum_dtype(a, dtype)
    if dim is None:
        r = Tensor._make(_reduce_arr(np.prod, a, None, False, rd))
        axes = tuple(range(a.ndim))
        node = ProdBackward0(axes, False) if needs_grad(input) and rd.kind in "fc" else None
    else:
        if isinstance(dim, (tuple, list)):
            raise TypeError("prod() received an invalid combination of arguments - got (tuple), but expected one "
                            "of:\n * (*, torch.dtype dtype = None)\n * (int dim, bool keepdim = False, *, "
                            "torch.dtype dtype = None)\n")
        axes = _dims(input, dim)
        r = Tensor._make(_reduce_arr(np.prod, a, axes, keepdim, rd))
        node = ProdBackward1(axes, keepdim) if needs_grad(input) and rd.kind in "fc" else None
    if node is not None:
        node.save(input, r)
        record(node, (input,), r)
    return r


# -- max / min / amax / amin / argmax / argmin ------------------------------------------------
def _minmax(name, input, dim, keepdim, other, is_max):
    if isinstance(dim, Tensor) or other is not None:
        from . import pointwise

        fn = pointwise.maximum if is_max else pointwise.minimum
        return fn(input, dim if other is None else other)
    a = input._data
    xp = xp_of(a)
    if dim is None:
        _no_dim_empty(a, name)
        v = xp.asarray(a.max() if is_max else a.min())
        r = Tensor._make(v)
        if needs_grad(input):
            node = (MaxBackward1 if is_max else MinBackward1)()
            node.save(input, r)
            record(node, (input,), r)
        return r
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}() received an invalid combination of arguments - got (dim=tuple, ), but expected "
                        f"one of:\n * ()\n * (Tensor other)\n * (int dim, bool keepdim = False)\n")
    d = _dim1(input, dim)
    if d is None:
        return select_result(name, MaxBackward0 if is_max else MinBackward0, input, a.copy(),
                             xp.zeros((), dtype=_INT64), None, keepdim)
    _check_nonempty(a, (d,), name)
    idx = (xp.argmax if is_max else xp.argmin)(a, axis=d, keepdims=True).astype(_INT64, copy=False)
    vals = xp.take_along_axis(a, idx, d) if a.size else xp.empty(idx.shape, a.dtype)
    return select_result(name, MaxBackward0 if is_max else MinBackward0, input, vals, idx, d, keepdim)


@supports_out
def max(input, dim=None, keepdim=False, *, other=None, out=None):  # noqa: A001
    return _minmax("max", input, dim, keepdim, other, True)


@supports_out
def min(input, dim=None, keepdim=False, *, other=None, out=None):  # noqa: A001
    return _minmax("min", input, dim, keepdim, other, False)


class _AmaxBackward(Node):
    forward = "result = amax(self, dim, keepdim)"
    formula = "grad_self = grad * (self == result) / (self == result).sum(dim, keepdim=True)"

    def __init__(self, axes, keepdim):
        super().__init__()
        self.axes, self.keepdim = axes, keepdim

    def backward(self, grad):
        x, r = self.saved()
        a = x._data
        v = r._data if self.keepdim else r._data.reshape(_kept_shape(a.shape, self.axes))
        mask = _equal_mask(a, v)
        count = mask.sum(axis=self.axes, keepdims=True).astype(a.dtype)
        g = _expand_back(grad, a.shape, self.axes, self.keepdim)
        return (g * _const(mask) / _const(count),)


class AmaxBackward0(_AmaxBackward):
    forward = "result = amax(self, dim, keepdim)"


class AminBackward0(_AmaxBackward):
    forward = "result = amin(self, dim, keepdim)"
    formula = "grad_self = grad * (self == result) / (self == result).sum(dim, keepdim=True)"


def _amaxmin(name, input, dim, keepdim, is_max):
    a = input._data
    axes = _dims(input, dim)
    if a.size == 0:
        if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
            _no_dim_empty(a, name)
        _check_nonempty(a, axes, name)
    fn = np.amax if is_max else np.amin
    v = xp_of(a).asarray(fn(a, axis=axes, keepdims=True))
    r = Tensor._make(v if keepdim else v.reshape(tuple(s for i, s in enumerate(a.shape) if i not in axes)))
    if needs_grad(input):
        node = (AmaxBackward0 if is_max else AminBackward0)(axes, keepdim)
        node.save(input, r)
        record(node, (input,), r)
    return r


def amax(input, dim=(), keepdim=False):
    return _amaxmin("amax", input, dim, keepdim, True)


def amin(input, dim=(), keepdim=False):
    return _amaxmin("amin", input, dim, keepdim, False)


def _arg(name, input, dim, keepdim, is_max):
    a = input._data
    xp = xp_of(a)
    if a.dtype == np.bool_:
        raise RuntimeError(f"{name}(): does not support bool input")
    fn = xp.argmax if is_max else xp.argmin
    if dim is None:
        if a.size == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
        i = xp.asarray(fn(a.reshape(-1)), dtype=_INT64)
        return Tensor._make(i.reshape((1,) * a.ndim) if keepdim else i)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    d = _dim1(input, dim)
    if d is None:
        return Tensor._make(xp.zeros((), dtype=_INT64))
    _check_nonempty(a, (d,), name)
    return Tensor._make(xp.asarray(fn(a, axis=d, keepdims=keepdim), dtype=_INT64))


def argmax(input, dim=None, keepdim=False):
    return _arg("argmax", input, dim, keepdim, True)


def argmin(input, dim=None, keepdim=False):
    return _arg("argmin", input, dim, keepdim, False)


# -- var / std --------------------------------------------------------------------------------
_DOF_MSG = ("{}(): degrees of freedom is <= 0. Correction should be strictly less than the reduction factor "
            "(input numel divided by output numel).")


def _var_args(input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):
        unbiased, dim = dim, None
    elif dim is not None and not isinstance(dim, (int, np.integer, tuple, list)):
        raise TypeError(f"var() received an invalid combination of arguments - got ({type(dim).__name__})")
    if correction is None:
        correction = 1 if (unbiased is None or unbiased) else 0
    a = input._data
    if a.dtype.kind not in "fc":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    axes = _dims(input, dim)
    return a, axes, bool(keepdim), correction


def _var_arr(a, axes, keepdim, correction, name):
    n = _numel(a.shape, axes)
    dof = _b.max(0, n - correction)
    if dof <= 0:
        warnings.warn(_DOF_MSG.format(name), UserWarning, stacklevel=4)
    acc = _acc(a.dtype)
    if n == 0 or dof <= 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            m = a.sum(axis=axes, keepdims=True, dtype=acc) / n
            d = a.astype(acc, copy=False) - m
            s = (d * d).sum(axis=axes, keepdims=keepdim) / dof
    else:
        m = a.sum(axis=axes, keepdims=True, dtype=acc) / n
        d = a.astype(acc, copy=False) - m
        s = (d * d).sum(axis=axes, keepdims=keepdim) / dof
    return xp_of(a).asarray(s), m, n, dof


class VarBackward0(Node):
    forward = "result = ((self - self.mean(dim, keepdim=True))**2).sum(dim) / (N - correction)"
    formula = "grad_self = grad * 2 * (self - self.mean(dim, keepdim=True)) / (N - correction)"

    def __init__(self, axes, keepdim, dof):
        super().__init__()
        self.axes, self.keepdim, self.dof = axes, keepdim, dof

    def backward(self, grad):
        (x,) = self.saved()
        g = _expand_back(grad, x._data.shape, self.axes, self.keepdim)
        return (g * (x - mean(x, self.axes, keepdim=True)) * (2.0 / self.dof if self.dof else math.inf),)


class StdBackward0(Node):
    forward = "result = sqrt(var(self, dim, correction))"
    formula = "grad_self = grad * (self - self.mean(dim, keepdim=True)) / ((N - correction) * result)  (0 where result == 0)"

    def __init__(self, axes, keepdim, dof):
        super().__init__()
        self.axes, self.keepdim, self.dof = axes, keepdim, dof

    def backward(self, grad):
        x, result = self.saved()
        shape = x._data.shape
        g = _expand_back(grad, shape, self.axes, self.keepdim)
        r = _expand_back(result, shape, self.axes, self.keepdim)
        zero = np.broadcast_to(r._data == 0, shape)
        gi = g * (x - mean(x, self.axes, keepdim=True)) / (r * self.dof)
        return (_where(zero, 0.0, gi) if zero.any() else gi,)


@supports_out
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    a, axes, keepdim, c = _var_args(input, dim, unbiased, keepdim, correction)
    s, _, _, dof = _var_arr(a, axes, keepdim, c, "var")
    r = Tensor._make(s.astype(a.dtype, copy=False))
    if needs_grad(input):
        node = VarBackward0(axes, keepdim, dof)
        node.save(input)
        record(node, (input,), r)
    return r


@supports_out
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    a, axes, keepdim, c = _var_args(input, dim, unbiased, keepdim, correction)
    s, _, _, dof = _var_arr(a, axes, keepdim, c, "std")
    r = Tensor._make(xp_of(s).sqrt(s).astype(a.dtype, copy=False))
    if needs_grad(input):
        node = StdBackward0(axes, keepdim, dof)
        node.save(input, r)
        record(node, (input,), r)
    return r


class _VarMeanBackward(Node):
    forward = "var, mean = var_mean(self, dim, correction)"
    formula = "grad_self = grad_var * 2 * (self - mean) / (N - correction) + grad_mean / N"
    n_outputs = 2

    def __init__(self, axes, keepdim, dof, n, is_std):
        super().__init__()
        self.axes, self.keepdim, self.dof, self.n, self.is_std = axes, keepdim, dof, n, is_std

    def backward(self, g_var, g_mean):
        x, r = self.saved()
        shape = x._data.shape
        gi = None
        if g_var is not None:
            g = _expand_back(g_var, shape, self.axes, self.keepdim)
            centered = x - mean(x, self.axes, keepdim=True)
            if self.is_std:
                re = _expand_back(r, shape, self.axes, self.keepdim)
                gi = g * centered / (re * self.dof)
                zero = np.broadcast_to(re._data == 0, shape)
                if zero.any():
                    gi = _where(zero, 0.0, gi)
            else:
                gi = g * centered * (2.0 / self.dof if self.dof else math.inf)
        if g_mean is not None:
            gm = _expand_back(g_mean, shape, self.axes, self.keepdim) / self.n
            gi = gm if gi is None else gi + gm
        return (gi,)


class VarMeanBackward0(_VarMeanBackward):
    forward = "var, mean = var_mean(self, dim, correction)"
    formula = "grad_self = grad_var * 2 * (self - mean) / (N - correction) + grad_mean / N"


class StdMeanBackward0(_VarMeanBackward):
    forward = "std, mean = std_mean(self, dim, correction)"
    formula = "grad_self = grad_std * (self - mean) / ((N - correction) * std) + grad_mean / N"


def _var_mean(input, dim, unbiased, keepdim, correction, is_std):
    a, axes, keepdim, c = _var_args(input, dim, unbiased, keepdim, correction)
    s, m, n, dof = _var_arr(a, axes, keepdim, c, "std_mean" if is_std else "var_mean")
    if is_std:
        s = xp_of(s).sqrt(s)
    if not keepdim:
        m = m.reshape(s.shape)
    v = Tensor._make(s.astype(a.dtype, copy=False))
    mt = Tensor._make(xp_of(m).asarray(m).astype(a.dtype, copy=False))
    if needs_grad(input):
        node = (StdMeanBackward0 if is_std else VarMeanBackward0)(axes, keepdim, dof, n, is_std)
        node.save(input, v)
        record_multi(node, (input,), (v, mt))
    return v, mt


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _var_mean(input, dim, unbiased, keepdim, correction, False)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _var_mean(input, dim, unbiased, keepdim, correction, True)


# -- norm -------------------------------------------------------------------------------------
class LinalgVectorNormBackward0(Node):
    forward = "result = (abs(self)**p).sum(dim) ** (1 / p)"
    formula = "grad_self = grad * self * abs(self)**(p - 2) / result**(p - 1)"

    def __init__(self, p, axes, keepdim):
        super().__init__()
        self.p, self.axes, self.keepdim = p, axes, keepdim

    def backward(self, grad):
        x, r = self.saved()
        shape = x._data.shape
        p = self.p
        g = _expand_back(grad, shape, self.axes, self.keepdim)
        xa = x._data
        if p == 0:
            return (g * 0,)
        sign = _const(np.sign(xa))
        if p == 1:
            return (g * sign,)
        re = _expand_back(r, shape, self.axes, self.keepdim)
        if math.isinf(p):
            mask = (np.abs(xa) == re._data)
            count = mask.sum(axis=self.axes, keepdims=True).astype(xa.dtype)
            return (g * sign * _const(mask) / _const(count),)
        zero = np.broadcast_to(re._data == 0, shape)
        if p == 2:
            gi = g * x / re
        else:
            ax = x * sign
            gi = g * x * ax ** (p - 2) / re ** (p - 1)
        return (_where(zero, 0.0, gi) if zero.any() else gi,)


def _norm_p(p):
    if p is None or p == "fro":
        return 2.0
    if isinstance(p, str):
        if p == "nuc":
            raise NotImplementedError("norm(p='nuc') is not supported")
        raise RuntimeError(f"linalg.vector_norm: Expected ord to be a number, but got {p}")
    return float(p)


@supports_out
def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    a = input._data
    if a.dtype.kind not in "fc":
        raise RuntimeError(
            f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {_SHORT[a.dtype.name]}")
    if dtype is not None:
        from .conversion import to

        input = to(input, dtype)
        a = input._data
    p = _norm_p(p)
    axes = _dims(input, dim)
    xp = xp_of(a)
    acc = _acc(a.dtype)
    aa = xp.abs(a).astype(acc, copy=False)
    if math.isinf(p):
        if a.size == 0:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {'' if p > 0 else '-'}inf norm on an empty "
                               "tensor because the operation does not have an identity")
        v = (aa.max if p > 0 else aa.min)(axis=axes, keepdims=keepdim)
    elif p == 0:
        v = (aa != 0).sum(axis=axes, keepdims=keepdim).astype(acc)
    elif p == 1:
        v = aa.sum(axis=axes, keepdims=keepdim)
    elif p == 2:
        v = xp.sqrt((aa * aa).sum(axis=axes, keepdims=keepdim))
    else:
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            v = (aa ** p).sum(axis=axes, keepdims=keepdim) ** (1.0 / p)
    r = Tensor._make(xp.asarray(v).astype(a.dtype, copy=False))
    if needs_grad(input):
        node = LinalgVectorNormBackward0(p, axes, keepdim)
        node.save(input, r)
        record(node, (input,), r)
    return r


# -- logsumexp --------------------------------------------------------------------------------
class LogsumexpBackward0(Node):
    forward = "result = log(exp(self).sum(dim, keepdim))"
    formula = "grad_self = grad * exp(self - result)"

    def __init__(self, axes, keepdim):
        super().__init__()
        self.axes, self.keepdim = axes, keepdim

    def backward(self, grad):
        x, r = self.saved()
        shape = x._data.shape
        g = _expand_back(grad, shape, self.axes, self.keepdim)
        re = _expand_back(r, shape, self.axes, self.keepdim)
        return (g * (x - re).exp(),)


def logsumexp(input, dim, keepdim=False):
    a = input._data
    xp = xp_of(a)
    if a.dtype.kind not in "fc":
        a = a.astype(_dt.get_default_dtype().np)
    axes = _dims(input, dim)
    if a.size == 0:
        v = xp.log(xp.exp(a).sum(axis=axes, keepdims=keepdim))
    else:
        m = a.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            v = xp.log(xp.exp(a - m).sum(axis=axes, keepdims=True)) + m
        if not keepdim:
            v = v.reshape(tuple(s for i, s in enumerate(a.shape) if i not in axes))
    r = Tensor._make(xp.asarray(v).astype(a.dtype, copy=False))
    if needs_grad(input):
        node = LogsumexpBackward0(axes, keepdim)
        node.save(input, r)
        record(node, (input,), r)
    return r


# -- cumulative ---------------------------------------------------------------------------------
class CumsumBackward0(Node):
    forward = "result = self.cumsum(dim)"
    formula = "grad_self = grad.flip(dim).cumsum(dim).flip(dim)"

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def backward(self, grad):
        return (_rcumsum(grad, self.dim),)


class FlipCumsumBackward(Node):
    forward = "result = self.flip(dim).cumsum(dim).flip(dim)"
    formula = "grad_self = grad.cumsum(dim)"

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def name(self):
        return "CumsumBackward0"

    def backward(self, grad):
        return (grad * 1 if self.dim is None else cumsum(grad, self.dim),)


def _rcumsum(t, dim):
    """Reverse cumulative sum along an axis (None for 0-d): ``t.flip(d).cumsum(d).flip(d)``."""
    a = t._data
    if dim is None:
        r = Tensor._make(a.copy())
    else:
        xp = xp_of(a)
        r = Tensor._make(xp.ascontiguousarray(xp.flip(xp.cumsum(xp.flip(a, dim), axis=dim), dim)))
    if needs_grad(t):
        record(FlipCumsumBackward(dim), (t,), r)
    return r


def _cum_dtype(a, dtype):
    if dtype is not None:
        return dtype.np
    if a.dtype.kind in "biu":
        return _INT64
    return a.dtype


@supports_out
def cumsum(input, dim, *, dtype=None, out=None):
    a = input._data
    rd = _cum_dtype(a, dtype)
    d = _dim1(input, dim)
    if d is None:
        r = Tensor._make(a.astype(rd, copy=True))
    else:
        acc = _acc(rd)
        r = Tensor._make(xp_of(a).cumsum(a, axis=d, dtype=acc).astype(rd, copy=False))
    if needs_grad(input) and rd.kind in "fc":
        record(CumsumBackward0(d), (input,), r)
    return r


class CumprodBackward0(Node):
    forward = "result = self.cumprod(dim)"
    formula = "grad_self = (grad * result).flip(dim).cumsum(dim).flip(dim) / self  (zeros in self handled exactly)"

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def backward(self, grad):
        x, r = self.saved()
        d = self.dim
        if d is None:
            return (grad * 1,)
        xa = x._data
        zero = xa == 0
        if not zero.any():
            return (_rcumsum(grad * r, d) / x,)
        if GradMode.enabled:
            return (_cumprod_backward_quadratic(grad, x, d),)
        # O(n): positions before the first zero see grad*out/x summed from the back; the first
        # zero sees the cumprod with itself replaced by 1; positions after it get nothing.
        nzc = np.cumsum(zero, axis=d)
        before = nzc == 0
        first = zero & (nzc == 1)
        xs = _where(zero, 1.0, x)
        q = cumprod(_where(first, 1.0, x), d)
        g_before = _rcumsum(grad * r, d) / xs
        g_first = _rcumsum(grad * q, d)
        return (_where(before, g_before, _where(first, g_first, 0.0)),)


def _cumprod_backward_quadratic(grad, x, d):
    """Twice-differentiable form (used under create_graph): with a new axis k in front of dim,
    ``grad_k = sum_{j >= k} grad_j * cumprod_j(x with x_k replaced by 1)``."""
    shape = x._data.shape
    n = shape[d]
    big = shape[:d] + (n,) + shape[d:]
    xe = x.reshape(shape[:d] + (1,) + shape[d:]).expand(big)
    mshape = (1,) * d + (n, n) + (1,) * (len(shape) - d - 1)
    xp = xp_of(x._data)
    eye = xp.eye(n, dtype=bool).reshape(mshape)
    tri = xp.triu(xp.ones((n, n), dtype=x._data.dtype)).reshape(mshape)
    p = cumprod(_where(eye, 1.0, xe), d + 1)
    ge = grad.reshape(shape[:d] + (1,) + shape[d:])
    return sum(ge * p * _const(tri), d + 1)


@supports_out
def cumprod(input, dim, *, dtype=None, out=None):
    a = input._data
    rd = _cum_dtype(a, dtype)
    d = _dim1(input, dim)
    if d is None:
        r = Tensor._make(a.astype(rd, copy=True))
    else:
        acc = _acc(rd)
        r = Tensor._make(xp_of(a).cumprod(a, axis=d, dtype=acc).astype(rd, copy=False))
    if needs_grad(input) and rd.kind in "fc":
        node = CumprodBackward0(d)
        node.save(input, r)
        record(node, (input,), r)
    return r


# -- logical reductions / counting --------------------------------------------------------------
def _logical(input, dim, keepdim, fn):
    a = input._data
    axes = _dims(input, dim)
    v = xp_of(a).asarray(fn(a, axis=axes, keepdims=keepdim))
    if a.dtype == np.uint8:
        v = v.astype(np.uint8)
    return Tensor._make(v)


def all(input, dim=None, keepdim=False):  # noqa: A001
    return _logical(input, dim, keepdim, np.all)


def any(input, dim=None, keepdim=False):  # noqa: A001
    return _logical(input, dim, keepdim, np.any)


def count_nonzero(input, dim=None):
    a = input._data
    axes = _dims(input, dim)
    return Tensor._make(xp_of(a).asarray((a != 0).sum(axis=axes), dtype=_INT64))


# -- median -------------------------------------------------------------------------------------
def _lower_median_idx(a, axis):
    """Index of the lower median along ``axis`` (keepdims); NaN wins when present."""
    xp = xp_of(a)
    n = a.shape[axis]
    order = xp.argsort(a, axis=axis, kind="stable")
    k = (n - 1) // 2
    idx = xp.take(order, [k], axis=axis)
    if a.dtype.kind == "f":
        nan = xp.isnan(a)
        has = nan.any(axis=axis, keepdims=True)
        if has.any():
            idx = xp.where(has, xp.argmax(nan, axis=axis, keepdims=True), idx)
    return idx.astype(_INT64, copy=False)


def median(input, dim=None, keepdim=False):
    a = input._data
    xp = xp_of(a)
    if a.dtype == np.bool_:
        raise NotImplementedError("\"median_cpu\" not implemented for 'Bool'")
    if dim is None:
        if a.size == 0:
            return Tensor._make(xp.asarray(np.nan, dtype=a.dtype))
        flat = a.reshape(-1)
        i = _lower_median_idx(flat, 0)
        v = flat[i].reshape(())
        r = Tensor._make(v.copy())
        if needs_grad(input):
            node = MedianBackward0()
            node.save(input, r)
            record(node, (input,), r)
        return r
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"median(): argument 'dim' must be int, not {type(dim).__name__}")
    d = _dim1(input, dim)
    if d is None:
        return select_result("median", MedianBackward1, input, a.copy(), xp.zeros((), dtype=_INT64), None, keepdim)
    _check_nonempty(a, (d,), "median")
    if a.size == 0:
        idx = xp.zeros(_kept_shape(a.shape, (d,)), dtype=_INT64)
        return select_result("median", MedianBackward1, input, xp.empty(idx.shape, a.dtype), idx, d, keepdim)
    idx = _lower_median_idx(a, d)
    return select_result("median", MedianBackward1, input, xp.take_along_axis(a, idx, d), idx, d, keepdim)


# -- broadcasting undo (used by the executor) ---------------------------------------------------
def sum_to_shape(grad, shape, node_name="", index=0):
    """Sum ``grad`` over the dimensions that broadcasting added or stretched, down to ``shape``."""
    gshape = tuple(grad.shape)
    shape = tuple(shape)
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    ok = lead >= 0 and _b.all(s == 1 or s == g for s, g in zip(shape, gshape[lead:]))
    if not ok:
        raise RuntimeError(
            f"Function {node_name} returned an invalid gradient at index {index} - got "
            f"[{', '.join(map(str, gshape))}] but expected shape compatible with [{', '.join(map(str, shape))}]"
        )
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and gshape[lead + i] != 1)
    if axes:
        grad = sum(grad, axes, keepdim=True)
    if lead:
        grad = grad.reshape(shape)
    return grad


def _sum_to_size(self, *size):
    return sum_to_shape(self, size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size)


def numpy_aliases(fn):
    """Accept numpy's ``axis=`` / ``keepdims=`` spellings, as PyTorch does."""
    def wrapper(*args, **kw):
        if kw:
            if "axis" in kw:
                kw["dim"] = kw.pop("axis")
            if "keepdims" in kw:
                kw["keepdim"] = kw.pop("keepdims")
        return fn(*args, **kw)

    wrapper.__name__ = wrapper.__qualname__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    wrapper.__wrapped__ = fn
    return wrapper


_OPS = {"sum": sum, "mean": mean, "nansum": nansum, "prod": prod, "max": max, "min": min, "amax": amax,
        "amin": amin, "argmax": argmax, "argmin": argmin, "var": var, "std": std, "norm": norm,
        "logsumexp": logsumexp, "cumsum": cumsum, "cumprod": cumprod, "all": all, "any": any,
        "count_nonzero": count_nonzero, "median": median}
_OPS = {k: (v if k == "norm" else numpy_aliases(v)) for k, v in _OPS.items()}

METHODS = dict(_OPS, sum_to_size=_sum_to_size)
FUNCTIONS = dict(_OPS, var_mean=numpy_aliases(var_mean), std_mean=numpy_aliases(std_mean), return_types=return_types)

"""Sorting and selection: sort, argsort, msort, topk, kthvalue, unique, unique_consecutive.

Value-selecting results are ``torch.return_types.<name>`` named tuples (factory in reduce.py);
their gradient is scattered back to the selected indices.
"""
import numpy as np

from ._util import supports_out, Node, Tensor, needs_grad, record, xp_of
from .reduce import _SelectBackward, _pair, numpy_aliases, select_result, KthvalueBackward0

_INT64 = np.dtype(np.int64)


class SortBackward0(_SelectBackward):
    forward = "values, indices = sort(self, dim, descending)"
    formula = "grad_self = zeros(self.shape).scatter(dim, indices, grad)"


class TopkBackward0(_SelectBackward):
    forward = "values, indices = topk(self, k, dim, largest)"
    formula = "grad_self = zeros(self.shape).scatter(dim, indices, grad)"


def _argsort(a, d, descending):
    """Stable argsort along ``d``; descending keeps ties in their original order and puts NaN
    first (ascending puts NaN last), as PyTorch does."""
    xp = xp_of(a)
    if not descending:
        return xp.argsort(a, axis=d, kind="stable")
    n = a.shape[d]
    o = xp.argsort(xp.flip(a, d), axis=d, kind="stable")
    return (n - 1) - xp.flip(o, d)


def _selected(name, node_cls, input, a, idx, d):
    """(values, indices) for full-rank index array ``idx`` along ``d`` (None for 0-d)."""
    xp = xp_of(a)
    if d is None:
        vals = a.copy()
    else:
        vals = xp.take_along_axis(a, idx, d)
    idx = idx.astype(_INT64, copy=False)
    if not idx.flags.c_contiguous:
        idx = xp.ascontiguousarray(idx)
    values = Tensor._make(vals)
    if needs_grad(input):
        record(node_cls(idx, d, a.shape, True), (input,), values)
    return _pair(name, values, Tensor._make(idx))


@supports_out
def sort(input, dim=-1, descending=False, *, stable=False, out=None):
    a = input._data
    if isinstance(dim, bool):
        raise TypeError("sort() received an invalid combination of arguments - got (Tensor, bool), but expected one "
                        "of:\n * (Tensor input, *, bool stable, int dim = -1, bool descending = False, tuple of "
                        "Tensors out = None)\n * (Tensor input, int dim = -1, bool descending = False, *, tuple of "
                        "Tensors out = None)\n")
    d = input._wrap_dim(dim)
    if a.ndim == 0:
        return _selected("sort", SortBackward0, input, a, xp_of(a).zeros((), dtype=_INT64), None)
    return _selected("sort", SortBackward0, input, a, _argsort(a, d, descending), d)


def argsort(input, dim=-1, descending=False, *, stable=False):
    a = input._data
    d = input._wrap_dim(dim)
    if a.ndim == 0:
        return Tensor._make(xp_of(a).zeros((), dtype=_INT64))
    return Tensor._make(_argsort(a, d, descending).astype(_INT64, copy=False))


def msort(input):
    return sort(input, 0)[0]


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"topk(): argument 'k' (position 1) must be int, not {type(k).__name__}")
    a = input._data
    d = input._wrap_dim(dim)
    n = a.shape[d] if a.ndim else 1
    if k < 0 or k > n:
        raise RuntimeError("selected index k out of range")
    if a.ndim == 0:  # PyTorch returns the element for k == 0 too
        return _selected("topk", TopkBackward0, input, a, xp_of(a).zeros((), dtype=_INT64), None)
    order = _argsort(a, d, largest)
    idx = order[(slice(None),) * d + (slice(0, k),)]
    return _selected("topk", TopkBackward0, input, a, idx, d)


def kthvalue(input, k, dim=-1, keepdim=False):
    a = input._data
    d = input._wrap_dim(dim)
    n = a.shape[d] if a.ndim else 1
    if k < 1 or k > n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    xp = xp_of(a)
    if a.ndim == 0:
        return select_result("kthvalue", KthvalueBackward0, input, a.copy(), xp.zeros((), dtype=_INT64), None,
                             keepdim)
    order = xp.argsort(a, axis=d, kind="stable")
    idx = xp.take(order, [k - 1], axis=d).astype(_INT64, copy=False)
    return select_result("kthvalue", KthvalueBackward0, input, xp.take_along_axis(a, idx, d), idx, d, keepdim)


# -- unique ---------------------------------------------------------------------------------------
class _NoDerivative(Node):
    forward = "result = op(self)  (no derivative)"
    formula = "grad_self = raise NotImplementedError('the derivative for op is not implemented')"
    op = ""

    def backward(self, grad, *rest):
        raise NotImplementedError(f"the derivative for '{self.op}' is not implemented.")


class Unique2Backward0(_NoDerivative):
    forward = "result = unique(self)"
    formula = "grad_self = raise NotImplementedError('the derivative for _unique2 is not implemented')"
    op = "_unique2"


class UniqueDimBackward0(_NoDerivative):
    forward = "result = unique(self, dim=dim)"
    formula = "grad_self = raise NotImplementedError('the derivative for unique_dim is not implemented')"
    op = "unique_dim"


class UniqueConsecutiveBackward0(_NoDerivative):
    forward = "result = unique_consecutive(self)"
    formula = "grad_self = raise NotImplementedError('the derivative for unique_consecutive is not implemented')"
    op = "unique_consecutive"


def _unique_result(input, node_cls, out, inverse, counts, return_inverse, return_counts):
    o = Tensor._make(out)
    if needs_grad(input):
        record(node_cls(), (input,), o)
    if not return_inverse and not return_counts:
        return o
    res = [o]
    if return_inverse:
        res.append(Tensor._make(inverse.astype(_INT64, copy=False)))
    if return_counts:
        res.append(Tensor._make(counts.astype(_INT64, copy=False)))
    return tuple(res)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    a = input._data
    xp = xp_of(a)
    if dim is None:
        flat = a.reshape(-1)
        out, inv, cnt = xp.unique(flat, return_inverse=True, return_counts=True)
        if flat.dtype.kind == "f" and out.size:
            # numpy collapses NaNs into one entry; PyTorch keeps each NaN apart
            nan = xp.isnan(out)
            if nan.any():
                nn = int(xp.isnan(flat).sum())
                out = xp.concatenate([out[~nan], xp.full(nn, np.nan, dtype=out.dtype)])
                cnt = xp.concatenate([cnt[~nan], xp.ones(nn, dtype=cnt.dtype)])
                first_nan = int((~nan).sum())
                where_nan = xp.isnan(flat)
                inv = inv.reshape(-1).copy()
                inv[where_nan] = first_nan + xp.arange(nn)
        inv = inv.reshape(a.shape)
        return _unique_result(input, Unique2Backward0, out, inv, cnt, return_inverse, return_counts)
    if a.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = input._wrap_dim(dim)
    if a.shape[d] == 0:
        out, inv, cnt = a.copy(), xp.zeros(0, dtype=_INT64), xp.zeros(0, dtype=_INT64)
    else:
        out, inv, cnt = xp.unique(a, return_inverse=True, return_counts=True, axis=d)
        inv = inv.reshape(-1)
    return _unique_result(input, UniqueDimBackward0, out, inv, cnt, return_inverse, return_counts)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    a = input._data
    xp = xp_of(a)
    if dim is None:
        rows = a.reshape(-1, 1)
        d = 0
        shape_inv = a.shape
    else:
        if a.ndim == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        d = input._wrap_dim(dim)
        rows = xp.moveaxis(a, d, 0).reshape(a.shape[d], -1)
        shape_inv = (a.shape[d],)
    n = rows.shape[0]
    if n == 0:
        starts = xp.zeros(0, dtype=bool)
    else:
        starts = xp.empty(n, dtype=bool)
        starts[0] = True
        starts[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    pos = xp.nonzero(starts)[0]
    inv = xp.cumsum(starts) - 1
    cnt = xp.diff(xp.concatenate([pos, xp.asarray([n])])) if n else xp.zeros(0, dtype=_INT64)
    if dim is None:
        out = a.reshape(-1)[pos]
    else:
        out = xp.take(a, pos, axis=d)
    return _unique_result(input, UniqueConsecutiveBackward0, out, inv.reshape(shape_inv), cnt, return_inverse,
                          return_counts)


def _unique_method(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    return unique(self, sorted, return_inverse, return_counts, dim)


_OPS = {"sort": sort, "argsort": argsort, "msort": msort, "topk": topk, "kthvalue": kthvalue,
        "unique_consecutive": unique_consecutive}
_OPS = {k: numpy_aliases(v) for k, v in _OPS.items()}
METHODS = dict(_OPS, unique=numpy_aliases(_unique_method))
FUNCTIONS = dict(_OPS, unique=numpy_aliases(unique))

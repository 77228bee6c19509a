"""Indexing: ``t[key]`` and ``t[key] = v`` with PyTorch's semantics, and the index ops
(index_select, gather, scatter, index_add/fill/copy, masked_*, take/put, nonzero) with their
in-place forms, plus ``copy_``, ``fill_`` and ``zero_``.

``t[key]`` applies the basic part of the key (ints, slices, None, Ellipsis) first, as a view
(grad_fn ``SelectBackward0``/``SliceBackward0``/``UnsqueezeBackward0``/``AliasBackward0``), then the
advanced part (index tensors, masks) on that view (``IndexBackward0``), numpy's layout rules.
"""
import re

import numpy as np

from ._util import (supports_out, GradMode, Node, Tensor, _check_leaf, _short, inplace, needs_grad, record,
                    xp_of)
from .shape import (AliasBackward0, SelectBackward0, SliceBackward0, UnsqueezeBackward0, _lst, _wrap, _zeros,
                    expand, get_basic)

_ALL = slice(None)
_ZERO_DIM_MSG = ("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to "
                 "convert a 0-dim tensor to a number")
_INT, _SLICE, _NONE, _ELL, _ADV, _MASK = range(6)


# -- parsing keys ---------------------------------------------------------------------------
def _index_array(k, xp):
    """(kind, array) for a Tensor / ndarray / list index."""
    if isinstance(k, Tensor):
        d = k._data
    elif isinstance(k, np.ndarray):
        d = k
    else:
        d = np.asarray(k)
        if d.size == 0 and d.dtype.kind == "f":
            d = d.astype(np.int64)
    kind = d.dtype.kind
    if kind == "b" or d.dtype == np.uint8:
        if d.dtype != np.bool_:
            d = d.astype(np.bool_)
        if d.ndim == 0:
            return _NONE, bool(d)  # a scalar bool: unsqueeze, then index with [True] / [False]
        return _MASK, (d if xp is np or type(d) is not np.ndarray else xp.asarray(d))
    if kind not in "iu":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    if d.ndim == 0:
        return _INT, int(d)
    return _ADV, (d if xp is np or type(d) is not np.ndarray else xp.asarray(d))


def _parse(a, key):
    """Split ``key`` into a basic numpy key for ``a`` (with an Ellipsis) and the advanced entries
    ``[(position in the basic view, array, is_mask)]``.  Returns (basic, adv, last_basic_kind)."""
    xp = np if type(a) is np.ndarray else xp_of(a)
    items = []
    consumed = 0
    for k in key:
        tk = type(k)
        if tk is int:
            items.append((_INT, k))
            consumed += 1
        elif tk is slice:
            items.append((_SLICE, k))
            consumed += 1
        elif k is None:
            items.append((_NONE, None))
        elif k is Ellipsis:
            items.append((_ELL, None))
        elif tk is bool:
            items.append((_NONE, k))
        elif isinstance(k, (Tensor, np.ndarray)) or tk is list:
            if tk is list and any(isinstance(e, (slice, type(None), type(Ellipsis))) for e in k):
                raise IndexError("Using a list of slices for multidimensional indexing is not supported; use a tuple")
            kind, v = _index_array(k, xp)
            items.append((kind, v))
            consumed += v.ndim if kind == _MASK else (1 if kind != _NONE else 0)
        elif isinstance(k, (np.integer,)) or (hasattr(k, "__index__") and not isinstance(k, (float, np.floating))):
            items.append((_INT, int(k.__index__())))
            consumed += 1
        else:
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
                             f"valid indices (got {tk.__name__})")
    nd = a.ndim
    if consumed > nd:
        if nd == 0:
            raise IndexError(_ZERO_DIM_MSG)
        raise IndexError(f"too many indices for tensor of dimension {nd}")
    shape = a.shape
    basic = []
    adv = []
    in_dim = 0
    out_dim = 0
    last = None
    trivial = True
    seen_ell = False
    for kind, v in items:
        if kind == _INT:
            n = shape[in_dim]
            if v < -n or v >= n:
                raise IndexError(f"index {v} is out of bounds for dimension {in_dim} with size {n}")
            basic.append(v)
            in_dim += 1
            last = _INT
            trivial = False
        elif kind == _SLICE:
            st = v.step
            if st is not None:
                st = st.__index__() if type(st) is not int else st
                if st == 0:
                    raise ValueError("slice step cannot be zero")
                if st < 0:
                    raise ValueError("step must be greater than zero")
            basic.append(v)
            if trivial and (v.start not in (None, 0) or v.step not in (None, 1) or
                            (v.stop is not None and v.stop.__index__() < shape[in_dim])):
                trivial = False
            in_dim += 1
            out_dim += 1
            last = _SLICE
        elif kind == _NONE:
            basic.append(None)
            if v is not None:  # Python bool
                adv.append((out_dim, xp.asarray([v]), True))
            out_dim += 1
            last = _NONE
            trivial = False
        elif kind == _ELL:
            if seen_ell:
                continue
            seen_ell = True
            basic.append(Ellipsis)
            e = nd - consumed
            in_dim += e
            out_dim += e
        elif kind == _ADV:
            basic.append(_ALL)
            adv.append((out_dim, v, False))
            in_dim += 1
            out_dim += 1
        else:  # mask
            k = v.ndim
            basic.extend((_ALL,) * k)
            adv.append((out_dim, v, True))
            in_dim += k
            out_dim += k
    if not seen_ell:
        basic.append(Ellipsis)
    return tuple(basic), adv, last, trivial


def _adv_key(vshape, adv):
    """numpy key applying the advanced entries to a tensor of shape ``vshape`` (masks checked)."""
    key = []
    cur = 0
    for p, arr, is_mask in adv:
        if p > cur:
            key.extend((_ALL,) * (p - cur))
        if is_mask:
            ms = arr.shape
            for j, s in enumerate(ms):
                if p + j >= len(vshape) or vshape[p + j] != s:
                    raise IndexError(f"The shape of the mask {_lst(ms)} at index {j} does not match the shape of the "
                                     f"indexed tensor {_lst(vshape)} at index {p + j}")
            cur = p + arr.ndim
        else:
            cur = p + 1
        key.append(arr)
    return tuple(key)


_OOB = re.compile(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)")


def _reraise_index_error(e, key):
    """Reword numpy's advanced-indexing errors as PyTorch words them."""
    msg = str(e)
    m = _OOB.search(msg)
    if m:
        axis = int(m.group(2))
        ordinal = 0
        pos = 0
        for k in key:
            if type(k) is slice:
                pos += 1
                continue
            if k.dtype == np.bool_:
                if pos <= axis < pos + k.ndim:
                    break
                ordinal += k.ndim
                pos += k.ndim
            else:
                if pos == axis:
                    break
                ordinal += 1
                pos += 1
        return IndexError(f"index {m.group(1)} is out of bounds for dimension {ordinal} with size {m.group(3)}")
    if "shape mismatch" in msg:
        shapes = ", ".join(_lst(k.shape) for k in key if type(k) is not slice)
        return IndexError(f"shape mismatch: indexing tensors could not be broadcast together with shapes {shapes}")
    return IndexError(msg)


# -- advanced indexing ops ------------------------------------------------------------------
class IndexBackward0(Node):
    forward = "result = self[indices]  (advanced indexing)"
    formula = "grad_self = zeros(self.shape).index_put(indices, grad, accumulate=True)"

    def __init__(self, shape, key):
        super().__init__()
        self.shape, self.key = shape, key

    def backward(self, grad):
        z = _zeros(grad._data, self.shape)
        return (_index_put_key(z, self.key, grad, True, fresh=True),)


def _adv_get(input, key):
    a = input._data
    try:
        d = a[key]
    except IndexError as e:
        raise _reraise_index_error(e, key) from None
    r = Tensor._make(d)
    if needs_grad(input):
        record(IndexBackward0(a.shape, key), (input,), r)
    return r


_BASIC_CLS = {_INT: SelectBackward0, _SLICE: SliceBackward0, _NONE: UnsqueezeBackward0, None: AliasBackward0}


def getitem(self, key):
    a = self._data
    tk = type(key)
    if tk is int:
        if a.ndim == 0:
            raise IndexError(_ZERO_DIM_MSG)
        n = a.shape[0]
        if key < -n or key >= n:
            raise IndexError(f"index {key} is out of bounds for dimension 0 with size {n}")
        return get_basic(self, (key, Ellipsis), SelectBackward0)
    if tk is slice and (key.step is None or (type(key.step) is int and key.step > 0)):
        if a.ndim == 0:
            raise IndexError("slice() cannot be applied to a 0-dim tensor.")
        return get_basic(self, (key, Ellipsis), SliceBackward0)
    if tk is not tuple:
        key = (key,)
    basic, adv, last, trivial = _parse(a, key)
    if not adv:
        if last is None:
            return get_basic(self, basic, AliasBackward0)
        if last == _SLICE and a.ndim == 0:
            raise IndexError("slice() cannot be applied to a 0-dim tensor.")
        return get_basic(self, basic, _BASIC_CLS[last])
    v = self if trivial else get_basic(self, basic, _BASIC_CLS[last])
    return _adv_get(v, _adv_key(v._data.shape, adv))


# -- in-place helpers -------------------------------------------------------------------------
def _tracking(self, *args):
    if not GradMode.enabled:
        return False
    if self._rg:
        return True
    for x in args:
        if isinstance(x, Tensor) and x._rg:
            return True
    b = self._base
    return b is not None and self._view_fn is not None and b._rg


def _bump(self):
    self._vc.v += 1


def _value_data(value, np_dtype, xp):
    if isinstance(value, Tensor):
        d = value._data
        return d if d.dtype == np_dtype else d.astype(np_dtype)
    return value


class IndexPutBackward0(Node):
    forward = "result = self.index_put(indices, values, accumulate)"
    formula = "grad_self = grad if accumulate else grad.index_put(indices, 0); grad_values = grad[indices]"

    def __init__(self, key, accumulate):
        super().__init__()
        self.key, self.accumulate = key, accumulate

    def backward(self, grad):
        nf = self.next_functions
        gs = gv = None
        if nf[0][0] is not None:
            gs = grad if self.accumulate else _index_put_key(grad, self.key, 0, False)
        if nf[1][0] is not None:
            gv = _adv_get(grad, self.key)
        return gs, gv


def _add_at(out, key, vals):
    xp = xp_of(out)
    if xp is np:
        if type(key) is tuple and key and type(key[0]) is np.ndarray and key[0].ndim == 1 \
                and key[0].dtype.kind in "iu" and all(type(k) is slice and k == _ALL for k in key[1:]) \
                and type(vals) is np.ndarray and vals.shape[:1] == key[0].shape and vals.shape[0] > 16 \
                and vals.dtype.kind in "fiu" and vals.dtype == out.dtype:
            # one index array on dim 0 (embedding-like): rows with no repeated index are added with
            # one fancy +=; repeats are added level by level (k-th occurrence of each index at once)
            idx = key[0]
            n = idx.shape[0]
            if idx.min() < 0:
                idx = np.where(idx < 0, idx + out.shape[0], idx)
            order = np.argsort(idx, kind="stable")
            si = idx[order]
            new = np.empty(n, bool)
            new[0] = True
            np.not_equal(si[1:], si[:-1], out=new[1:])
            if new.all():
                out[idx] += vals
                return
            starts = np.flatnonzero(new)
            rank = np.arange(n) - starts[np.cumsum(new) - 1]
            top = int(rank.max())
            if top <= 32:
                vo = vals[order]
                for r in range(top + 1):
                    m = rank == r
                    out[si[m]] += vo[m]
                return
        np.add.at(out, key, vals)
    else:  # pragma: no cover - cupy
        import cupyx

        cupyx.scatter_add(out, key, vals)


def _put_data(out, key, vals, accumulate):
    try:
        if accumulate:
            _add_at(out, key, vals)
        else:
            out[key] = vals
    except IndexError as e:
        raise _reraise_index_error(e, key) from None
    except ValueError as e:
        if not np.isscalar(vals):
            vs = getattr(vals, "shape", ())
            try:
                rs = out[key].shape
            except IndexError as e2:
                raise _reraise_index_error(e2, key) from None
            raise RuntimeError(f"shape mismatch: value tensor of shape {_lst(vs)} cannot be broadcast to indexing "
                               f"result of shape {_lst(rs)}") from None
        raise


def _index_put_key(input, key, values, accumulate, fresh=False):
    """Out-of-place ``input.index_put(key, values)`` for a numpy advanced ``key`` (``fresh``: ``input``
    is a new tensor nobody else sees, written in place)."""
    a = input._data
    out = a if fresh else a.copy()
    _put_data(out, key, _value_data(values, a.dtype, xp_of(a)), accumulate)
    r = Tensor._make(out)
    vt = values if isinstance(values, Tensor) else None
    if needs_grad(input, vt):
        record(IndexPutBackward0(key, accumulate), (input, vt), r)
    return r


def _indices_key(indices, a):
    items = []
    for k in indices:
        items.append(_ALL if k is None else k)
    basic, adv, last, trivial = _parse(a, tuple(items))
    return _adv_key(a.shape, adv) if adv else tuple(basic)


def index_put(input, indices, values, accumulate=False):
    if isinstance(values, Tensor) and values.dtype is not input.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got {_short(input._data.dtype)}"
                           f" for the destination and {_short(values._data.dtype)} for the source.")
    return _index_put_key(input, _indices_key(indices, input._data), values, accumulate)


def index_put_(self, indices, values, accumulate=False):
    if isinstance(values, Tensor) and values.dtype is not self.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got {_short(self._data.dtype)}"
                           f" for the destination and {_short(values._data.dtype)} for the source.")
    key = _indices_key(indices, self._data)
    return _put_inplace(self, key, values, accumulate)


def _put_inplace(self, key, values, accumulate):
    if not _tracking(self, values):
        _check_leaf(self)
        a = self._data
        _put_data(a, key, _value_data(values, a.dtype, xp_of(a)), accumulate)
        _bump(self)
        return self
    return inplace(self, lambda s, v: _index_put_key(s, key, v, accumulate), values)


def _strip_leading_ones(value):
    s = value._data.shape
    i = 0
    while i < len(s) and s[i] == 1:
        i += 1
    return value.reshape(s[i:]) if i else value


def setitem(self, key, value):
    a = self._data
    tk = type(key)
    if tk is int or (tk is slice and (key.step is None or (type(key.step) is int and key.step > 0))):
        if a.ndim == 0:
            raise IndexError(_ZERO_DIM_MSG if tk is int else "slice() cannot be applied to a 0-dim tensor.")
        if tk is int:
            n = a.shape[0]
            if key < -n or key >= n:
                raise IndexError(f"index {key} is out of bounds for dimension 0 with size {n}")
        basic, adv, last = (key, Ellipsis), None, (_INT if tk is int else _SLICE)
        trivial = tk is slice and (key.start in (None, 0) and key.step in (None, 1) and
                                   (key.stop is None or key.stop.__index__() >= a.shape[0]))
    else:
        basic, adv, last, trivial = _parse(a, key if tk is tuple else (key,))
    if isinstance(value, Tensor):
        if value._data.ndim > 0 and value._data.shape[0] == 1:
            value = _strip_leading_ones(value)
    elif not isinstance(value, (int, float, bool, np.number, np.bool_)):
        from .creation import tensor

        value = tensor(value, dtype=self.dtype)
    if not adv:
        if isinstance(value, Tensor):
            vs = a[basic].shape
            if value._data.shape != vs:
                value = expand(value, vs)  # PyTorch's message on a mismatch
        if not _tracking(self, value):
            _check_leaf(self)
            _copy_data(a[basic], value, a.dtype, nd_view=None)
            _bump(self)
            return
        if trivial:  # t[...] = v: fill_ / copy_ on the tensor itself
            if not isinstance(value, Tensor) or value._data.ndim == 0:
                if not isinstance(value, Tensor):
                    value = Tensor._make(xp_of(a).asarray(value, dtype=a.dtype))
                inplace(self, _filled, value)
            else:
                copy_(self, value)
            return
        v = get_basic(self, basic, _BASIC_CLS[last])
        copy_(v, value)
        return
    plain = trivial
    if not _tracking(self, value):
        _check_leaf(self)
        va = a if plain else a[basic]
        k = _adv_key(va.shape, adv)
        _put_data(va, k, _value_data(value, a.dtype, xp_of(a)), False)
        _bump(self)
        return
    v = self if plain else get_basic(self, basic, _BASIC_CLS[last])
    k = _adv_key(v._data.shape, adv)
    if isinstance(value, Tensor) and value.dtype is not self.dtype:
        value = value.to(self.dtype)
    _put_inplace(v, k, value, False)


# -- copy_ / fill_ / zero_ ----------------------------------------------------------------------
def _bcast_error(dst_shape, src_shape):
    n = max(len(dst_shape), len(src_shape))
    a = (1,) * (n - len(dst_shape)) + tuple(dst_shape)
    b = (1,) * (n - len(src_shape)) + tuple(src_shape)
    for i in range(n - 1, -1, -1):
        if a[i] != b[i] and a[i] != 1 and b[i] != 1:
            return RuntimeError(f"The size of tensor a ({a[i]}) must match the size of tensor b ({b[i]}) at "
                                f"non-singleton dimension {i}")
    return RuntimeError(f"output with shape {_lst(dst_shape)} doesn't match the broadcast shape "
                        f"{_lst(np.broadcast_shapes(tuple(dst_shape), tuple(src_shape)))}")


def _src_array(src, shape, np_dtype):
    d = src._data
    if d.dtype != np_dtype:
        d = d.astype(np_dtype)
    if d.shape != shape:
        try:
            d = xp_of(d).broadcast_to(d, shape)
        except ValueError:
            raise _bcast_error(shape, d.shape) from None
    return d


def _copy_data(dst, value, np_dtype, nd_view=None):
    if isinstance(value, Tensor):
        d = _src_array(value, dst.shape, np_dtype)
        if type(d) is not type(dst):
            d = xp_of(dst).asarray(d)
        dst[...] = d
    else:
        dst[...] = value


class CopyBackwards(Node):
    forward = "result = self.copy_(src)  (src broadcast to self's shape)"
    formula = "grad_self = 0 * grad; grad_src = grad"

    def backward(self, grad):
        nf = self.next_functions
        return (grad * 0 if nf[0][0] is not None else None, grad if nf[1][0] is not None else None)


def _copied(old, src):
    if isinstance(src, Tensor):
        r = Tensor._make(_src_array(src, old._data.shape, old._data.dtype))
        if needs_grad(old, src):
            record(CopyBackwards(), (old, src), r)
        return r
    return _filled(old, src)


def copy_(self, src, non_blocking=False):
    if not _tracking(self, src):
        _check_leaf(self)
        _copy_data(self._data, src, self._data.dtype)
        _bump(self)
        return self
    return inplace(self, _copied, src)


class FillBackward2(Node):
    forward = "result = self.fill_(value)  (value: a number)"
    formula = "grad_self = 0 * grad"

    def backward(self, grad):
        return (grad * 0,)


class FillBackward3(Node):
    forward = "result = self.fill_(value)  (value: a 0-dim tensor)"
    formula = "grad_self = 0 * grad; grad_value = grad.sum()"

    def backward(self, grad):
        nf = self.next_functions
        return (grad * 0 if nf[0][0] is not None else None, grad.sum() if nf[1][0] is not None else None)


class ZeroBackward0(FillBackward2):
    forward = "result = self.zero_()"


def _filled(old, value, cls=FillBackward2):
    a = old._data
    xp = xp_of(a)
    if isinstance(value, Tensor):
        out = xp.empty(a.shape, a.dtype)
        out[...] = value._data
        r = Tensor._make(out)
        if needs_grad(old, value):
            record(FillBackward3(), (old, value), r)
        return r
    r = Tensor._make(xp.full(a.shape, value, a.dtype))
    if needs_grad(old):
        record(cls(), (old,), r)
    return r


def fill_(self, value):
    if isinstance(value, Tensor) and value._data.ndim != 0:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value._data.ndim} "
                           "dimensions.")
    if not _tracking(self, value):
        _check_leaf(self)
        self._data[...] = value._data if isinstance(value, Tensor) else value
        _bump(self)
        return self
    return inplace(self, _filled, value)


def zero_(self):
    if not _tracking(self):
        _check_leaf(self)
        self._data[...] = 0
        _bump(self)
        return self
    return inplace(self, lambda s: _filled(s, 0, ZeroBackward0))


# -- index_select / gather / scatter ------------------------------------------------------------
def _index_data(index, op):
    if not isinstance(index, Tensor):
        from .creation import tensor

        index = tensor(index)
    d = index._data
    return index, d


class IndexSelectBackward0(Node):
    forward = "result = self.index_select(dim, index)"
    formula = "grad_self = zeros(self.shape).index_add(dim, index, grad)"

    def __init__(self, shape, dim, index):
        super().__init__()
        self.shape, self.dim, self.index = shape, dim, index

    def backward(self, grad):
        return (index_add(_zeros(grad._data, self.shape), self.dim, self.index, grad),)


@supports_out
def index_select(input, dim, index, *, out=None):
    a = input._data
    index, idx = _index_data(index, "index_select")
    if idx.dtype.kind not in "iu" or idx.dtype.itemsize < 4:
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    d = _wrap(dim, a.ndim)
    flat = idx.reshape(-1)
    if a.ndim == 0:
        src = a.reshape(1)
    else:
        src = a
    n = src.shape[d]
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= n):
        raise IndexError("index out of range in self")
    res = xp_of(a).take(src, flat, axis=d)
    if a.ndim == 0:
        res = res.reshape(())
    r = Tensor._make(res)
    if needs_grad(input):
        record(IndexSelectBackward0(a.shape, d, index), (input,), r)
    return r


def _check_range(idx, n, dim, exc=RuntimeError):
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise exc(f"index {bad} is out of bounds for dimension {dim} with size {n}")


def _gs_check(a, idx, d, op, src=None):
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int64 for index")
    if idx.ndim != a.ndim and not (idx.ndim <= 1 and a.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor" if op == "gather"
                           else "Index tensor must have the same number of dimensions as self tensor")
    ish = idx.shape
    for k in range(idx.ndim):
        if k != d and ish[k] > a.shape[k] or (src is not None and ish[k] > src.shape[k]):
            if op == "gather":
                raise RuntimeError(f"Size does not match at dimension {k} expected index {_lst(ish)} to be no larger "
                                   f"than self {_lst(a.shape)} apart from dimension {d}")
            raise RuntimeError(f"Expected index {_lst(ish)} to be no larger than self {_lst(a.shape)} apart from "
                               f"dimension {d} and to be no larger size than src {_lst(src.shape)}"
                               if src is not None else
                               f"Expected index {_lst(ish)} to be no larger than self {_lst(a.shape)} apart from "
                               f"dimension {d}")
    _check_range(idx, a.shape[d] if a.ndim else 1, d)


def _region(idx, d):
    return tuple(slice(0, s) if k != d else _ALL for k, s in enumerate(idx.shape))


def _coords(idx, d):
    """Full coordinate key addressing, for every element of ``idx``, (i0, .., idx[...], .., in)."""
    xp = xp_of(idx)
    nd = idx.ndim
    key = []
    for k in range(nd):
        if k == d:
            key.append(idx)
        else:
            shp = [1] * nd
            shp[k] = idx.shape[k]
            key.append(xp.arange(idx.shape[k]).reshape(shp))
    return tuple(key)


class GatherBackward0(Node):
    forward = "result = self.gather(dim, index)"
    formula = "grad_self = zeros(self.shape).scatter_add(dim, index, grad)"

    def __init__(self, shape, dim, index):
        super().__init__()
        self.shape, self.dim, self.index = shape, dim, index

    def backward(self, grad):
        return (scatter_add(_zeros(grad._data, self.shape), self.dim, self.index, grad),)


@supports_out
def gather(input, dim, index, *, sparse_grad=False, out=None):
    a = input._data
    idx = index._data
    d = _wrap(dim, a.ndim)
    _gs_check(a, idx, d, "gather")
    if a.ndim == 0:
        res = a.reshape(idx.shape).copy() if idx.size else a.reshape(1)[:0].reshape(idx.shape)
    else:
        res = xp_of(a).take_along_axis(a[_region(idx, d)], idx, axis=d)
    r = Tensor._make(res)
    if needs_grad(input):
        record(GatherBackward0(a.shape, d, index), (input,), r)
    return r


@supports_out
def take_along_dim(input, indices, dim=None, *, out=None):
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    a = input._data
    d = _wrap(dim, a.ndim)
    shp = list(np.broadcast_shapes(tuple(a.shape[:d] + (1,) + a.shape[d + 1:]),
                                   tuple(indices.shape[:d] + (1,) + indices.shape[d + 1:])))
    si, sa = list(shp), list(shp)
    si[d] = indices.shape[d]
    sa[d] = a.shape[d]
    return gather(input.expand(tuple(sa)), d, indices.expand(tuple(si)))


class ScatterBackward0(Node):
    forward = "result = self.scatter(dim, index, src)"
    formula = "grad_self = grad.scatter(dim, index, 0); grad_src = grad.gather(dim, index)"

    def __init__(self, dim, index):
        super().__init__()
        self.dim, self.index = dim, index

    def backward(self, grad):
        nf = self.next_functions
        gs = scatter(grad, self.dim, self.index, 0) if nf[0][0] is not None else None
        gsrc = gather(grad, self.dim, self.index) if len(nf) > 1 and nf[1][0] is not None else None
        return (gs, gsrc) if len(nf) > 1 else (gs,)


class ScatterBackward1(ScatterBackward0):
    forward = "result = self.scatter(dim, index, value)  (value: a number)"
    formula = "grad_self = grad.scatter(dim, index, 0)"


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    if src is None and value is None:
        raise TypeError("scatter() missing required argument 'src' or 'value'")
    if src is None:
        src = value
    a = input._data
    idx = index._data
    d = _wrap(dim, a.ndim)
    is_t = isinstance(src, Tensor)
    if is_t and src._data.ndim == 0 and not src._rg:
        src, is_t = src.item(), False
    _gs_check(a, idx, d, "scatter", src._data if is_t else None)
    if is_t and src._data.dtype != a.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    out = a.copy()
    if idx.size:
        if a.ndim == 0:
            out[...] = src._data.reshape(-1)[0] if is_t else src
        else:
            vals = src._data[tuple(slice(0, s) for s in idx.shape)] if is_t else src
            if reduce is None:
                xp_of(a).put_along_axis(out[_region(idx, d)], idx, vals, axis=d)
            elif reduce == "add":
                _add_at(out, _coords(idx, d), vals)
            elif reduce == "multiply":
                np.multiply.at(out, _coords(idx, d), vals)
            else:
                raise RuntimeError(f"reduce argument must be either add or multiply. Got {reduce}")
    r = Tensor._make(out)
    if reduce is not None:
        if needs_grad(input, src if is_t else None):
            from .pointwise import ZeroGradBackward

            node = ZeroGradBackward("torch::autograd::NotImplemented")
            record(node, (input, src) if is_t else (input,), r)
        return r
    if is_t:
        if needs_grad(input, src):
            record(ScatterBackward0(d, index), (input, src), r)
    elif needs_grad(input):
        record(ScatterBackward1(d, index), (input,), r)
    return r


class ScatterAddBackward0(Node):
    forward = "result = self.scatter_add(dim, index, src)"
    formula = "grad_self = grad; grad_src = grad.gather(dim, index)"

    def __init__(self, dim, index):
        super().__init__()
        self.dim, self.index = dim, index

    def backward(self, grad):
        nf = self.next_functions
        return (grad if nf[0][0] is not None else None,
                gather(grad, self.dim, self.index) if nf[1][0] is not None else None)


def scatter_add(input, dim, index, src):
    a = input._data
    idx = index._data
    d = _wrap(dim, a.ndim)
    _gs_check(a, idx, d, "scatter_add", src._data)
    if src._data.dtype != a.dtype:
        raise RuntimeError("scatter_add(): Expected self.dtype to be equal to src.dtype")
    out = a.copy()
    if idx.size:
        if a.ndim == 0:
            out[...] = out + src._data.reshape(-1)[:idx.size].sum()
        else:
            _add_at(out, _coords(idx, d), src._data[tuple(slice(0, s) for s in idx.shape)])
    r = Tensor._make(out)
    if needs_grad(input, src):
        record(ScatterAddBackward0(d, index), (input, src), r)
    return r


# -- index_add / index_fill / index_copy --------------------------------------------------------
def _dim_key(d, idx):
    return (_ALL,) * d + (idx,)


class IndexAddBackward0(Node):
    forward = "result = self.index_add(dim, index, source, alpha=alpha)"
    formula = "grad_self = grad; grad_source = grad.index_select(dim, index) * alpha"

    def __init__(self, dim, index, alpha, src_shape):
        super().__init__()
        self.dim, self.index, self.alpha, self.src_shape = dim, index, alpha, src_shape

    def backward(self, grad):
        nf = self.next_functions
        gs = None
        if nf[1][0] is not None:
            gs = index_select(grad, self.dim, self.index) if grad.ndim else grad.reshape(1)
            if self.alpha != 1:
                gs = gs * self.alpha
            if tuple(gs.shape) != tuple(self.src_shape):
                gs = gs.reshape(self.src_shape)
        return (grad if nf[0][0] is not None else None, gs)


def _index_1d(index, op):
    idx = index._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")
    if idx.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    return idx.reshape(-1)


def index_add(input, dim, index, source, *, alpha=1):
    a = input._data
    d = _wrap(dim, a.ndim)
    idx = _index_1d(index, "index_add_")
    s = source._data
    if s.dtype != a.dtype:
        raise RuntimeError(f"index_add_(): self ({_short(a.dtype)}) and source ({_short(s.dtype)}) must have the same "
                           "scalar type")
    ns = s.shape[d] if s.ndim else 1
    if idx.size != ns:
        raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to source.size(dim): ({ns}), "
                           f"for dim: {d}")
    _check_range(idx, a.shape[d] if a.ndim else 1, d, IndexError)
    out = a.copy()
    vals = s * alpha if alpha != 1 else s
    if a.ndim == 0:
        out[...] = out + vals.sum()
    else:
        _add_at(out, _dim_key(d, idx), vals)
    r = Tensor._make(out)
    if needs_grad(input, source):
        record(IndexAddBackward0(d, index, alpha, s.shape), (input, source), r)
    return r


class IndexFillBackward0(Node):
    forward = "result = self.index_fill(dim, index, value)  (value: a number)"
    formula = "grad_self = grad.index_fill(dim, index, 0)"

    def __init__(self, dim, index):
        super().__init__()
        self.dim, self.index = dim, index

    def backward(self, grad):
        return (index_fill(grad, self.dim, self.index, 0),)


class IndexFillBackward1(IndexFillBackward0):
    forward = "result = self.index_fill(dim, index, value)"
    formula = "grad_self = grad.index_fill(dim, index, 0); grad_value = grad.index_select(dim, index).sum()"

    def backward(self, grad):
        nf = self.next_functions
        return (index_fill(grad, self.dim, self.index, 0) if nf[0][0] is not None else None,
                index_select(grad, self.dim, self.index).sum() if nf[1][0] is not None else None)


def index_fill(input, dim, index, value):
    a = input._data
    d = _wrap(dim, a.ndim)
    idx = _index_1d(index, "index_fill_")
    if isinstance(value, Tensor) and value._data.ndim != 0:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value._data.ndim} dimension(s).")
    n = a.shape[d] if a.ndim else 1
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -n or hi >= n:
            raise IndexError(f"index {lo if lo < -n else hi} is out of bounds for dimension {d} with size {n}")
    out = a.copy()
    v = value._data if isinstance(value, Tensor) else value
    if a.ndim == 0:
        if idx.size:
            out[...] = v
    else:
        out[_dim_key(d, idx)] = v
    r = Tensor._make(out)
    if isinstance(value, Tensor):
        if needs_grad(input, value):
            record(IndexFillBackward1(d, index), (input, value), r)
    elif needs_grad(input):
        record(IndexFillBackward0(d, index), (input,), r)
    return r


class IndexCopyBackward0(Node):
    forward = "result = self.index_copy(dim, index, source)"
    formula = "grad_self = grad.index_fill(dim, index, 0); grad_source = grad.index_select(dim, index)"

    def __init__(self, dim, index):
        super().__init__()
        self.dim, self.index = dim, index

    def backward(self, grad):
        nf = self.next_functions
        return (index_fill(grad, self.dim, self.index, 0) if nf[0][0] is not None else None,
                index_select(grad, self.dim, self.index) if nf[1][0] is not None else None)


def index_copy(input, dim, index, source):
    a = input._data
    d = _wrap(dim, a.ndim)
    idx = _index_1d(index, "index_copy_")
    s = source._data
    ns = s.shape[d] if s.ndim else 1
    if idx.size != ns:
        raise IndexError(f"index_copy_(): Number of indices ({idx.size}) should be equal to source.size(dim) ({ns})")
    if s.dtype != a.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{_short(a.dtype)} and (source) {_short(s.dtype)}")
    _check_range(idx, a.shape[d] if a.ndim else 1, d, IndexError)
    out = a.copy()
    if a.ndim == 0:
        out[...] = s.reshape(-1)[-1]
    else:
        out[_dim_key(d, idx)] = s
    r = Tensor._make(out)
    if needs_grad(input, source):
        record(IndexCopyBackward0(d, index), (input, source), r)
    return r


# -- masked ops ---------------------------------------------------------------------------------
def _mask_data(mask, op):
    m = mask._data
    if m.dtype != np.bool_:
        if op == "masked_fill_":
            raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                               f"{mask.dtype.name if mask.dtype.name != 'float32' else 'float'}")
        raise RuntimeError(f"{op}: expected BoolTensor for mask")
    return m


class MaskedFillBackward0(Node):
    forward = "result = self.masked_fill(mask, value)  (value: a number)"
    formula = "grad_self = grad.masked_fill(mask, 0)"

    def __init__(self, mask):
        super().__init__()
        self.mask = mask

    def backward(self, grad):
        return (masked_fill(grad, self.mask, 0),)


class MaskedFillBackward1(MaskedFillBackward0):
    forward = "result = self.masked_fill(mask, value)"
    formula = "grad_self = grad.masked_fill(mask, 0); grad_value = where(mask, grad, 0).sum()"

    def backward(self, grad):
        nf = self.next_functions
        return (masked_fill(grad, self.mask, 0) if nf[0][0] is not None else None,
                None,
                masked_select(grad, self.mask).sum() if nf[2][0] is not None else None)


def masked_fill(input, mask, value):
    a = input._data
    m = _mask_data(mask, "masked_fill_")
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value._data.ndim} dimension(s).")
        v = value._data.astype(a.dtype)
    else:
        v = np.asarray(value).astype(a.dtype)
    xp = xp_of(a)
    r = Tensor._make(xp.where(m, v, a))
    if isinstance(value, Tensor):
        if needs_grad(input, value):
            record(MaskedFillBackward1(mask), (input, None, value), r)
    elif needs_grad(input):
        record(MaskedFillBackward0(mask), (input,), r)
    return r


class MaskedSelectBackward0(Node):
    forward = "result = self.masked_select(mask)"
    formula = "grad_self = zeros(broadcast(self, mask).shape).masked_scatter(mask, grad)"

    def __init__(self, mask, shape):
        super().__init__()
        self.mask, self.shape = mask, shape

    def backward(self, grad):
        z = _zeros(grad._data, self.shape)
        return (masked_scatter(z, self.mask, grad),)


@supports_out
def masked_select(input, mask, *, out=None):
    a = input._data
    m = _mask_data(mask, "masked_select")
    xp = xp_of(a)
    if m.shape != a.shape:
        try:
            shp = np.broadcast_shapes(a.shape, m.shape)
        except ValueError:
            raise _bcast_error(a.shape, m.shape) from None
        ab, mb = xp.broadcast_to(a, shp), xp.broadcast_to(m, shp)
    else:
        shp, ab, mb = a.shape, a, m
    r = Tensor._make(ab[mb])
    if needs_grad(input):
        record(MaskedSelectBackward0(mask, shp), (input,), r)
    return r


class MaskedScatterBackward0(Node):
    forward = "result = self.masked_scatter(mask, source)"
    formula = ("grad_self = grad.masked_fill(mask, 0); "
               "grad_source = grad.masked_select(mask) zero-padded to source.shape")

    def __init__(self, mask, src_shape):
        super().__init__()
        self.mask, self.src_shape = mask, src_shape

    def backward(self, grad):
        nf = self.next_functions
        gs = gsrc = None
        if nf[0][0] is not None:
            gs = masked_fill(grad, self.mask, 0)
        if nf[2][0] is not None:
            from .shape import cat

            sel = masked_select(grad, self.mask)
            n = 1
            for s in self.src_shape:
                n *= s
            k = sel.shape[0]
            if k < n:
                sel = cat([sel, _zeros(grad._data, (n - k,))])
            gsrc = sel.reshape(self.src_shape)
        return gs, None, gsrc


def masked_scatter(input, mask, source):
    a = input._data
    m = _mask_data(mask, "masked_scatter_")
    s = source._data
    xp = xp_of(a)
    if m.shape != a.shape:
        try:
            shp = np.broadcast_shapes(a.shape, m.shape)
        except ValueError:
            raise _bcast_error(a.shape, m.shape) from None
        out = xp.broadcast_to(a, shp).copy()
        mb = xp.broadcast_to(m, shp)
    else:
        out, mb = a.copy(), m
    k = int(mb.sum())
    if s.size < k:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    if s.dtype != a.dtype:
        raise RuntimeError(f"masked_scatter_: expected self and source to have same dtypes but got "
                           f"{_short(a.dtype)} and {_short(s.dtype)}")
    out[mb] = s.reshape(-1)[:k]
    r = Tensor._make(out)
    if needs_grad(input, source):
        record(MaskedScatterBackward0(mask, s.shape), (input, None, source), r)
    return r


# -- take / put ---------------------------------------------------------------------------------
class TakeBackward0(Node):
    forward = "result = self.take(index)"
    formula = "grad_self = zeros(self.shape).put(index, grad, accumulate=True)"

    def __init__(self, shape, index):
        super().__init__()
        self.shape, self.index = shape, index

    def backward(self, grad):
        return (put(_zeros(grad._data, self.shape), self.index, grad, True),)


def _flat_index(idx, n):
    flat = idx.reshape(-1)
    if flat.size:
        lo, hi = int(flat.min()), int(flat.max())
        if lo < -n or hi >= n:
            raise IndexError(f"out of range: tried to access index {lo if lo < -n else hi} on a tensor of {n} "
                             "elements.")
    return flat


def take(input, index):
    a = input._data
    idx = index._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError("take(): Expected a long tensor for index, but got " + index.dtype.name.capitalize())
    flat = _flat_index(idx, a.size)
    r = Tensor._make(a.reshape(-1)[flat].reshape(idx.shape))
    if needs_grad(input):
        record(TakeBackward0(a.shape, index), (input,), r)
    return r


class PutBackward0(Node):
    forward = "result = self.put(index, source, accumulate)"
    formula = ("grad_self = grad if accumulate else grad.put(index, zeros_like(source)); "
               "grad_source = grad.take(index)")

    def __init__(self, index, accumulate, src_shape):
        super().__init__()
        self.index, self.accumulate, self.src_shape = index, accumulate, src_shape

    def backward(self, grad):
        nf = self.next_functions
        gs = gsrc = None
        if nf[0][0] is not None:
            gs = grad if self.accumulate else put(grad, self.index, _zeros(grad._data, self.src_shape), False)
        if nf[1][0] is not None:
            gsrc = take(grad, self.index).reshape(self.src_shape)
        return gs, gsrc


def put(input, index, source, accumulate=False):
    a = input._data
    idx = index._data
    s = source._data
    if idx.size != s.size:
        raise IndexError(f"put_(): Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {s.size}, index.numel() = {idx.size}")
    if s.dtype != a.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got self.dtype = "
                           f"{_short(a.dtype)} and source.dtype = {_short(s.dtype)}")
    flat = _flat_index(idx, a.size)
    out = a.copy()
    fo = out.reshape(-1)
    if accumulate:
        _add_at(fo, flat, s.reshape(-1))
    else:
        fo[flat] = s.reshape(-1)
    r = Tensor._make(out)
    if needs_grad(input, source):
        record(PutBackward0(index, accumulate, s.shape), (input, source), r)
    return r


# -- nonzero ------------------------------------------------------------------------------------
@supports_out
def nonzero(input, *, as_tuple=False, out=None):
    a = input._data
    xp = xp_of(a)
    if as_tuple:
        b = a.reshape(1) if a.ndim == 0 else a
        return tuple(Tensor._make(x.astype(np.int64)) for x in xp.nonzero(b))
    return Tensor._make(xp.argwhere(a).astype(np.int64, copy=False))


def argwhere(input):
    return nonzero(input)


# -- method table -------------------------------------------------------------------------------
def _ip(fn):
    def method(self, *args, **kwargs):
        ts = [x for x in args if isinstance(x, Tensor) and x._rg] + \
             [x for x in kwargs.values() if isinstance(x, Tensor) and x._rg]
        if not _tracking(self, *ts):
            _check_leaf(self)
            res = fn(self, *args, **kwargs)
            d = self._data
            rd = res._data
            if rd.shape != d.shape:
                from ._util import _write

                _write(self, rd)
            else:
                d[...] = rd
            _bump(self)
            return self
        return inplace(self, lambda s, *t: fn(s, *args, **kwargs), *ts)

    method.__name__ = fn.__name__ + "_"
    return method


def _masked_fill_ip(self, mask, value):
    m = mask._data
    if m.shape != self._data.shape:
        try:
            shp = np.broadcast_shapes(self._data.shape, m.shape)
        except ValueError:
            raise _bcast_error(self._data.shape, m.shape) from None
        if shp != self._data.shape:
            raise RuntimeError(f"output with shape {_lst(self._data.shape)} doesn't match the broadcast shape "
                               f"{_lst(shp)}")
    return _ip(masked_fill)(self, mask, value)


def _scatter_method(self, dim, index, src=None, value=None, **kw):
    return scatter(self, dim, index, src, value, **kw)


def _index_put_method(self, indices, values, accumulate=False):
    return index_put(self, indices, values, accumulate)



def bincount(input, weights=None, minlength=0):
    """Counts of each non-negative integer in a 1-D tensor (weighted sums with ``weights``)."""
    a = input._data
    if a.ndim != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if a.dtype.kind not in "iub":
        raise RuntimeError(f"\"bincount_cpu\" not implemented for '{_short(a.dtype)}'")
    if a.size and a.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    xp = xp_of(a)
    if weights is None:
        return Tensor._make(xp.bincount(a, minlength=minlength).astype(np.int64))
    w = weights._data
    if w.shape != a.shape:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    r = xp.bincount(a, weights=w.astype(np.float64), minlength=minlength)
    return Tensor._make(r.astype(w.dtype if w.dtype.kind == "f" else np.float64))

METHODS = {
    "bincount": bincount,
    "__getitem__": getitem, "__setitem__": setitem,
    "index_select": index_select, "gather": gather, "take_along_dim": take_along_dim,
    "scatter": _scatter_method, "scatter_": _ip(scatter), "scatter_add": scatter_add, "scatter_add_": _ip(scatter_add),
    "index_add": index_add, "index_add_": _ip(index_add), "index_fill": index_fill, "index_fill_": _ip(index_fill),
    "index_copy": index_copy, "index_copy_": _ip(index_copy), "masked_fill": masked_fill,
    "masked_fill_": _masked_fill_ip, "masked_select": masked_select, "masked_scatter": masked_scatter,
    "masked_scatter_": _ip(masked_scatter), "take": take, "put": put, "put_": _ip(put),
    "index_put": _index_put_method, "index_put_": index_put_, "nonzero": nonzero, "argwhere": argwhere,
    "copy_": copy_, "fill_": fill_, "zero_": zero_,
}
FUNCTIONS = {
    "bincount": bincount,
    "index_select": index_select, "gather": gather, "take_along_dim": take_along_dim, "scatter": scatter,
    "scatter_add": scatter_add, "index_add": index_add, "index_fill": index_fill, "index_copy": index_copy,
    "masked_fill": masked_fill, "masked_select": masked_select, "masked_scatter": masked_scatter, "take": take,
    "put": put, "index_put": index_put, "index_put_": index_put_, "nonzero": nonzero, "argwhere": argwhere,
    "fill_": fill_, "zero_": zero_,
}

"""Shared machinery of every op: wrapping inputs, dtype promotion, recording graph nodes,
in-place semantics (version counters, leaf checks, rebasing views).

An op is written as:

    class ExpBackward0(Node):
        formula = "grad_self = grad * result"
        def backward(self, grad):
            (result,) = self.saved()
            return (grad * result,)

    def exp(input):
        out = Tensor._make(xp.exp(input._data))
        if needs_grad(input):
            node = ExpBackward0(); node.save(out)
            record(node, (input,), out)
        return out

Backward formulas use Tensor ops, so ``create_graph=True`` differentiates them again.
"""
import numbers

import numpy as np

from .. import dtypes as _dt
from ..autograd import observe as _observe
from ..autograd.grad_mode import GradMode
from ..autograd.graph import Node, grad_accumulator
from ..device import _cupy, device_of
from ..device import module_of as xp_of  # noqa: F401  (the ops' name for it)
from ..tensor import Tensor

_ndarray = np.ndarray
_NOEDGE = (None, 0)
_np_to_dtype = _dt._from_np
Number = numbers.Number

__all__ = ["Node", "Tensor", "record", "record_multi", "needs_grad", "promote", "as_tensor_arg",
           "xp_of", "check_same_device", "broadcast_error", "inplace", "make_view", "dtype_of_np", "float_result_dtype"]


def dtype_of_np(a):
    return _np_to_dtype[a.dtype]


def needs_grad(*ts):
    if not GradMode.enabled:
        return False
    for t in ts:
        if t is not None and t._rg:
            return True
    return False


def _edges(inputs):
    nf = []
    meta = []
    for t in inputs:
        if t is None or not t._rg:
            nf.append(_NOEDGE)
            meta.append(None)
        else:
            if t._view_fn is not None:
                refresh_view(t)
            fn = t.grad_fn
            nf.append((fn, t._output_nr) if fn is not None else (grad_accumulator(t), 0))
            meta.append((t._data.shape, _np_to_dtype[t._data.dtype]))
    return tuple(nf), tuple(meta)


def record(node, inputs, out):
    """Attach ``node`` as the grad_fn of ``out`` with edges to ``inputs``; returns ``out``."""
    node.next_functions, node._meta = _edges(inputs)
    out.grad_fn = node
    out._rg = True
    obs = _observe._active
    if obs is not None:
        obs.on_node(node, inputs, (out,))
    return out


def record_multi(node, inputs, outs, differentiable=None):
    """Like ``record`` for a node with several outputs (``unbind``, ``split``, ``max``…)."""
    node.next_functions, node._meta = _edges(inputs)
    node.n_outputs = len(outs)
    for i, o in enumerate(outs):
        if differentiable is None or differentiable[i]:
            o.grad_fn = node
            o._rg = True
            o._output_nr = i
    obs = _observe._active
    if obs is not None:
        obs.on_node(node, inputs, tuple(outs))
    return outs


def as_tensor_arg(x, like=None):
    """Tensor for a tensor-like argument (Tensor, number, list, numpy array)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, np.bool_)):
        d = np.asarray(x)
    elif isinstance(x, numbers.Integral):
        d = np.asarray(x, dtype=np.int64)
    elif isinstance(x, numbers.Real):
        d = np.asarray(x, dtype=_dt.get_default_dtype().np)
    else:
        from .creation import tensor

        return tensor(x, device=like.device if like is not None else None)
    if like is not None and type(like._data) is not _ndarray:
        d = _cupy.asarray(d)
    return Tensor._make(d)


def check_same_device(a, b):
    da, db = a._data, b._data
    if type(da) is type(db) and (type(da) is _ndarray or da.device == db.device):
        return
    # A 0-dim CPU tensor may take part in a CUDA op, as in PyTorch.
    if type(db) is _ndarray and db.ndim == 0:
        return
    if type(da) is _ndarray and da.ndim == 0:
        return
    d1, d2 = device_of(da), device_of(db)
    if d1 != d2:
        first, second = (d1, d2) if d1.type == "cuda" else (d2, d1)
        raise RuntimeError(
            f"Expected all tensors to be on the same device, but found at least two devices, {first} and {second}!"
        )


_promo_cache = {}


def promote(a, b):
    """Arrays of ``a`` (a Tensor) and ``b`` (Tensor or Python number) cast to PyTorch's result dtype.

    Returns ``(a_data, b_data_or_number)``.
    """
    ad = a._data
    if isinstance(b, Tensor):
        bd = b._data
        if type(ad) is not type(bd):
            check_same_device(a, b)
            xp = xp_of(ad) if type(ad) is not _ndarray else xp_of(bd)
            if type(bd) is _ndarray and xp is not np:
                bd = xp.asarray(bd)
            elif type(ad) is _ndarray and xp is not np:
                ad = xp.asarray(ad)
        if ad.dtype == bd.dtype:
            return ad, bd
        key = (ad.dtype, ad.ndim == 0, bd.dtype, bd.ndim == 0)
        rd = _promo_cache.get(key)
        if rd is None:
            rd = _promo_cache[key] = _dt.result_type(
                (_np_to_dtype[ad.dtype], ad.ndim), (_np_to_dtype[bd.dtype], bd.ndim)
            ).np
        if ad.dtype != rd:
            ad = ad.astype(rd)
        if bd.dtype != rd:
            bd = bd.astype(rd)
        return ad, bd
    tb = type(b)
    key = (ad.dtype, tb, _dt.get_default_dtype())
    rd = _promo_cache.get(key)
    if rd is None:
        if not isinstance(b, Number):
            raise TypeError(f"unsupported operand type: {tb.__name__}")
        rd = _promo_cache[key] = _dt.result_type((_np_to_dtype[ad.dtype], ad.ndim), b).np
    if ad.dtype != rd:
        ad = ad.astype(rd)
    if tb is not float and tb is not int and tb is not bool:
        b = b.item() if hasattr(b, "item") else b
    return ad, b


def broadcast_error(shape_a, shape_b):
    """PyTorch's RuntimeError for shapes that do not broadcast (the first clash from the right)."""
    na, nb = len(shape_a), len(shape_b)
    n = max(na, nb)
    for i in range(1, n + 1):
        sa = shape_a[-i] if i <= na else 1
        sb = shape_b[-i] if i <= nb else 1
        if sa != sb and sa != 1 and sb != 1:
            return RuntimeError(
                f"The size of tensor a ({sa}) must match the size of tensor b ({sb}) at non-singleton "
                f"dimension {n - i}"
            )
    return RuntimeError(f"shapes {list(shape_a)} and {list(shape_b)} cannot be broadcast")


def float_result_dtype(np_dtype):
    """dtype of a float-valued op (exp, sqrt, true division) on an input of ``np_dtype``."""
    if np_dtype.kind == "f":
        return np_dtype
    return _dt.get_default_dtype().np


# -- views ----------------------------------------------------------------------------------
def make_view(out, base, view_fn):
    """Mark ``out`` as a view of ``base``: shared version counter and, for autograd, the
    function that recreates the view from the root base (used when the view is modified
    in place)."""
    root = base._base if base._view_fn is not None else None
    if root is not None:
        parent_fn = base._view_fn
        out._base = root
        out._view_fn = lambda t: view_fn(parent_fn(t))
    else:
        out._base = base
        out._view_fn = view_fn
    out._vc = base._vc
    out._gfv = base._vc.v
    return out


_MULTI_MSG = ("This view is the output of a function that returns multiple views. Such functions do not allow the "
              "output views to be modified inplace. You should replace the inplace operation by an out-of-place one.")


def refresh_view(t):
    """A view whose base was modified in place (through another view, or directly) after the
    view's grad_fn was set takes the grad_fn of the view recreated from its base, as PyTorch
    regenerates it; otherwise gradients would flow through the stale history."""
    v = t._vc.v
    if t.__dict__.get("_gfv", v) == v:
        return
    t._gfv = v
    base = t._base
    if base is None or not base._rg:
        return
    multi = t.__dict__.get("_multi")
    if multi is not None and t._rg:
        raise RuntimeError(f"Output {t._output_nr} of {multi} is a view and its base or another view of its base has "
                           f"been modified inplace. {_MULTI_MSG}")
    with _EnableGrad():
        fresh = t._view_fn(base)
    t.grad_fn = fresh.grad_fn
    t._output_nr = fresh._output_nr
    t._rg = fresh._rg


# -- in-place -------------------------------------------------------------------------------
LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."


class CopySlices(Node):
    """Grad_fn of a base tensor after one of its views was modified in place."""

    forward = "result = base with view_fn(base) replaced by src  (in place, through a view)"
    formula = "grad_base = grad * mask  (mask: 0 inside view_fn, 1 elsewhere); grad_src = view_fn(grad)"

    def __init__(self, view_fn):
        super().__init__()
        self.view_fn = view_fn

    def backward(self, grad):
        from .creation import ones_like

        need_base, need_src = self.next_functions[0][0] is not None, self.next_functions[1][0] is not None
        gb = gs = None
        if need_base:
            mask = ones_like(grad)
            self.view_fn(Tensor._make(mask._data))._data[...] = 0
            gb = grad * mask
        if need_src:
            gs = self.view_fn(grad)
        return gb, gs


def _can_cast(src, dst):
    # PyTorch refuses to write a higher category into a lower one (float -> int, int -> bool).
    rank = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
    return rank[src.kind] <= rank[dst.kind]


def _check_leaf(t):
    if t._rg and t.grad_fn is None and GradMode.enabled:
        if t._base is not None and t._view_fn is not None:
            raise RuntimeError(
                "a view of a leaf Variable that requires grad is being used in an in-place operation."
            )
        raise RuntimeError(LEAF_MSG)
    if t._base is not None and t._view_fn is not None and GradMode.enabled:
        b = t._base
        if b._rg and b.grad_fn is None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")


def inplace(self, fn, *args):
    """Apply out-of-place ``fn(self, *args)`` and write the result into ``self``, with
    PyTorch's in-place semantics: version bump, leaf check, and the autograd history of
    ``self`` (and of its base if it is a view) rebased onto the new value."""
    _check_leaf(self)
    track = GradMode.enabled and (self._rg or any(isinstance(a, Tensor) and a._rg for a in args)
                                  or (self._base is not None and self._view_fn is not None and self._base._rg))
    if not track:
        with _NoGrad():
            res = fn(self, *args)
        _write(self, res._data)
        self._vc.v += 1
        return self
    if self._view_fn is not None:
        multi = self.__dict__.get("_multi")
        if multi is not None and self._rg:
            raise RuntimeError(f"Output {self._output_nr} of {multi} is a view and is being modified inplace. "
                               f"{_MULTI_MSG}")
        refresh_view(self)
    old = Tensor._make(self._data.copy(), self._rg)
    old.grad_fn = self.grad_fn
    old._output_nr = self._output_nr
    old._accum = self._accum
    res = fn(old, *args)
    _write(self, res._data)
    self._vc.v += 1
    if res.dtype is not self.dtype:
        res = res.to(self.dtype)
    if self._base is not None and self._view_fn is not None:
        _rebase_view(self, res)
    else:
        self.grad_fn = res.grad_fn
        self._output_nr = res._output_nr
        self._rg = res._rg
        if res.grad_fn is not None:
            obs = _observe._active
            if obs is not None:
                obs._ids[id(self)] = obs._ids.get(id(res.grad_fn))
    return self


def _rebase_view(view, new_value):
    base = view._base
    view_fn = view._view_fn
    old_base = Tensor._make(base._data, base._rg)  # data already holds the new values; only the
    old_base.grad_fn = base.grad_fn                 # edges matter for CopySlices
    old_base._output_nr = base._output_nr
    old_base._accum = base._accum
    node = CopySlices(view_fn)
    node.next_functions, node._meta = _edges((old_base, new_value))
    node._meta = ((base._data.shape, base.dtype), node._meta[1])
    base.grad_fn = node
    base._rg = True
    base._output_nr = 0
    obs = _observe._active
    if obs is not None:
        obs.on_node(node, (old_base, new_value), (base,))
    with _EnableGrad():
        fresh = view_fn(base)
    view.grad_fn = fresh.grad_fn
    view._output_nr = fresh._output_nr
    view._rg = True
    view._gfv = view._vc.v


def _write(t, data):
    d = t._data
    if data.shape != d.shape:
        try:
            data = xp_of(d).broadcast_to(data, d.shape)
        except ValueError:
            raise RuntimeError(
                f"output with shape [{', '.join(map(str, d.shape))}] doesn't match the broadcast shape "
                f"[{', '.join(map(str, data.shape))}]"
            ) from None
    if data.dtype != d.dtype and not _can_cast(data.dtype, d.dtype):
        raise RuntimeError(
            f"result type {_short(data.dtype)} can't be cast to the desired output type {_short(d.dtype)}"
        )
    if d.ndim == 0 and type(d) is _ndarray:
        d[()] = data
    else:
        d[...] = data


from ..dtypes import SCALAR_NAMES as _SHORT  # noqa: E402


def _short(np_dtype):
    return _SHORT[np_dtype.name]


class _NoGrad:
    __slots__ = ("prev",)

    def __enter__(self):
        self.prev = GradMode.enabled
        GradMode.enabled = False

    def __exit__(self, *exc):
        GradMode.enabled = self.prev


class _EnableGrad(_NoGrad):
    def __enter__(self):
        self.prev = GradMode.enabled
        GradMode.enabled = True


def write_out(r, out):
    """The ``out=`` keyword: write result ``r`` into ``out`` (resized when the shape differs, as
    PyTorch does) and return ``out``.  Tuples of results go into tuples of outs."""
    if out is None:
        return r
    if isinstance(r, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(r):
            raise TypeError(f"out must be a tuple of {len(r)} Tensors")
        written = [write_out(a, b) for a, b in zip(r, out)]
        return type(r)(written) if hasattr(r, "_fields") else tuple(written)
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(out).__name__}")
    if GradMode.enabled and (out._rg or r._rg):
        raise RuntimeError("functions with out=... arguments don't support automatic differentiation, but one of "
                           "the arguments requires grad.")
    d, rd = out._data, r._data
    if rd.dtype != d.dtype and not _can_cast(rd.dtype, d.dtype):
        raise RuntimeError(f"result type {_short(rd.dtype)} can't be cast to the desired output type {_short(d.dtype)}")
    if d.shape != rd.shape:
        out._data = rd.astype(d.dtype, copy=True)
    elif d.ndim == 0 and type(d) is _ndarray:
        d[()] = rd
    else:
        d[...] = rd
    out._vc.v += 1
    return out


def supports_out(fn):
    """Decorator for ops whose body ignores ``out``: the result is written into it afterwards."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, out=None, **kwargs):
        r = fn(*args, **kwargs)
        return r if out is None else write_out(r, out)

    return wrapper


def scalar_type_name(dtype):
    return _SHORT[dtype.name]

"""Tensor creation: ``tensor``, ``as_tensor``, ``asarray``, ``from_numpy``, ``zeros/ones/empty/full``
and their ``_like`` and ``new_*`` forms, ``eye``, ``arange``, ``range``, ``linspace``, ``logspace``,
``scalar_tensor`` and the legacy ``Tensor(...)`` constructor.  Random creation lives in
``random.py``.

``tensor`` infers the dtype like PyTorch: Python bools, ints and floats give bool, int64 and the
default dtype; numpy scalars, arrays and tensors inside a list keep their own dtype; all of them
are combined with PyTorch's type promotion.
"""
import builtins
import math
import numbers

import numpy as np

from .. import dtypes as _dt
from ..device import CPU, array_module, normalize, to_device
from ._util import write_out as _out, Tensor

_ndarray = np.ndarray
_int = builtins.int
_float = builtins.float
_bool = builtins.bool
RG_MSG = "Only Tensors of floating point and complex dtype can require gradients"


# -- sizes ----------------------------------------------------------------------------------
def _size(size, fname="zeros"):
    """Shape from ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(torch.Size(...))``."""
    if len(size) == 1:
        s0 = size[0]
        if isinstance(s0, (tuple, list)):
            size = s0
        elif not _is_int(s0):
            raise TypeError(f"{fname}(): argument 'size' (position 1) must be tuple of ints, not "
                            f"{type(s0).__name__}")
    out = []
    for i, s in enumerate(size):
        if type(s) is not _int:
            if not _is_int(s):
                raise TypeError(f"{fname}(): argument 'size' failed to unpack the object at pos {i + 1} with error "
                                f"\"type must be tuple of ints,but got {type(s).__name__}\"")
            s = _int(s)
        out.append(s)
    for s in out:
        if s < 0:
            if fname == "zeros":
                raise RuntimeError("zeros: Dimension size must be non-negative.")
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: [{', '.join(map(str, out))}]")
    return tuple(out)


def _is_int(s):
    if isinstance(s, (_bool, np.bool_)):
        return False
    if isinstance(s, (_int, np.integer)):
        return True
    if isinstance(s, Tensor):
        return s._data.dtype.kind in "iu" and s._data.size == 1
    return False


def _finish(data, dtype, device, requires_grad):
    if device is not None:
        dev = normalize(device)
        if dev.type != "cpu":
            data = to_device(data, dev)
    t = Tensor._make(data)
    if requires_grad:
        if data.dtype.kind not in "fc":
            raise RuntimeError(RG_MSG)
        t._rg = True
    return t


def _np_dtype(dtype, default=None):
    if dtype is None:
        return (default or _dt.get_default_dtype()).np
    if isinstance(dtype, _dt.dtype):
        return dtype.np
    if dtype is float:
        return np.dtype(np.float64)
    if dtype is int:
        return np.dtype(np.int64)
    if dtype is bool:
        return np.dtype(np.bool_)
    raise TypeError(f"invalid dtype {dtype!r}")


# -- dtype inference for tensor(data) -------------------------------------------------------
_PY_KIND = {_bool: 0, _int: 1, _float: 2}


def _scalar_dtype(x):
    """Engine dtype a leaf element contributes, or None when ``x`` is a sequence."""
    t = type(x)
    if t is _bool:
        return _dt.bool
    if t is _int:
        return _dt.int64
    if t is _float:
        return _dt.get_default_dtype()
    if isinstance(x, Tensor):
        return _dt._from_np[x._data.dtype]
    if isinstance(x, np.generic):
        if isinstance(x, np.bool_):
            return _dt.bool
        return _dt.from_numpy_dtype(x.dtype)
    if isinstance(x, _ndarray):
        return _dt.from_numpy_dtype(x.dtype)
    if isinstance(x, bool):
        return _dt.bool
    if isinstance(x, numbers.Integral):
        return _dt.int64
    if isinstance(x, numbers.Real):
        return _dt.get_default_dtype()
    if isinstance(x, complex):
        raise TypeError("complex tensors are not supported")
    if isinstance(x, str):
        raise TypeError(f"new(): invalid data type '{type(x).__name__}'")
    if x is None or isinstance(x, (dict, set, frozenset)):
        raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")
    if isinstance(x, (list, tuple)) or _is_sequence(x):
        return None
    if hasattr(x, "__array__"):
        return _dt.from_numpy_dtype(np.asarray(x).dtype)
    raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")


def _is_sequence(x):
    return hasattr(x, "__len__") and hasattr(x, "__getitem__") and not isinstance(x, (str, bytes, dict))


def _infer_dtype(seq):
    """PyTorch's infer_scalar_type over a nested sequence (promotion of all leaves)."""
    res = None
    types = set(map(type, seq))
    if types <= {_bool, _int, _float}:  # fast path: plain Python numbers
        if _float in types:
            return _dt.get_default_dtype()
        if _int in types:
            return _dt.int64
        return _dt.bool if types else None
    for x in seq:
        d = _scalar_dtype(x)
        if d is None:
            d = _infer_dtype(x if isinstance(x, (list, tuple)) else list(x))
            if d is None:
                continue
        res = d if res is None else _dt.promote_types(res, d)
    return res


def _has_special(seq):
    """Whether a nested list holds tensors or numpy scalars/arrays (which numpy would not treat
    like PyTorch does)."""
    types = set(map(type, seq))
    if types <= {_bool, _int, _float}:
        return False
    for x in seq:
        if isinstance(x, (list, tuple)):
            if _has_special(x):
                return True
        elif type(x) not in _PY_KIND:
            return True
    return False


def _walk_build(data, npd):
    """PyTorch's own recursive fill: sizes from the first elements, then checked everywhere."""
    shape = []
    x = data
    while True:
        if isinstance(x, Tensor):
            if x._data.size != 1:
                raise TypeError("only integer tensors of a single element can be converted to an index")
            break
        if isinstance(x, _ndarray):
            if x.ndim == 0 and x is not data:
                raise TypeError("len() of unsized object")
            shape.extend(x.shape)
            break
        if isinstance(x, (list, tuple)) or (_is_sequence(x) and not isinstance(x, np.generic)):
            shape.append(len(x))
            if len(x) == 0:
                break
            x = x[0]
            continue
        break
    out = np.empty(tuple(shape), dtype=npd)
    flat = []

    def fill(obj, dim):
        if dim == len(shape):
            if isinstance(obj, Tensor):
                if obj._data.size != 1:
                    raise TypeError("only integer tensors of a single element can be converted to an index")
                flat.append(obj._data.reshape(()).item())
                return
            if isinstance(obj, (list, tuple)):
                if npd.kind == "f":
                    raise TypeError(f"must be real number, not {type(obj).__name__}")
                raise TypeError(f"'{type(obj).__name__}' object cannot be interpreted as an integer")
            flat.append(obj)
            return
        if isinstance(obj, _ndarray):
            if obj.shape != tuple(shape[dim:]):
                raise ValueError(f"expected sequence of length {shape[dim]} at dim {dim} (got "
                                 f"{obj.shape[0] if obj.ndim else 0})")
            flat.extend(obj.reshape(-1).tolist())
            return
        if not (isinstance(obj, (list, tuple)) or _is_sequence(obj)) or isinstance(obj, Tensor):
            raise TypeError("not a sequence")
        n = len(obj)
        if n != shape[dim]:
            raise ValueError(f"expected sequence of length {shape[dim]} at dim {dim} (got {n})")
        for y in obj:
            fill(y, dim + 1)

    fill(data, 0)
    if out.size:
        try:
            out.reshape(-1)[:] = flat
        except OverflowError:
            raise ValueError("Overflow when unpacking long long") from None
    return out


def _from_data(data, dtype=None):
    """numpy array holding ``data`` with PyTorch's dtype (``dtype`` overrides inference)."""
    if isinstance(data, Tensor):
        arr = data._data
        if type(arr) is not _ndarray:
            arr = to_device(arr, CPU)
        return arr.astype(_np_dtype(dtype), copy=True) if dtype is not None else arr.copy()
    if isinstance(data, _ndarray):
        _dt.from_numpy_dtype(data.dtype)
        npd = _np_dtype(dtype) if dtype is not None else data.dtype
        return np.array(data, dtype=npd, copy=True, order="C")
    d = _scalar_dtype(data)
    if d is not None:  # a single number
        npd = _np_dtype(dtype) if dtype is not None else d.np
        if isinstance(data, (np.generic, Tensor)) or hasattr(data, "__array__"):
            data = np.asarray(data).item() if not isinstance(data, Tensor) else data._data.item()
        try:
            return np.array(data, dtype=npd)
        except OverflowError:
            raise ValueError("Overflow when unpacking long long") from None
    if not isinstance(data, (list, tuple)):
        data = list(data)
    if dtype is not None:
        npd = _np_dtype(dtype)
    else:
        inferred = _infer_dtype(data)
        npd = (inferred or _dt.get_default_dtype()).np
    if not _has_special(data):
        try:
            return np.array(data, dtype=npd)
        except OverflowError:
            raise ValueError("Overflow when unpacking long long") from None
        except (ValueError, TypeError):
            pass
    return _walk_build(data, npd)


def _infer_np(data):
    """Array for ``data`` with PyTorch's dtype inference (kept for other modules)."""
    return _from_data(data)


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """Copy ``data`` (nested lists, numbers, arrays, tensors) into a new leaf tensor."""
    if device is not None and not isinstance(device, (str, int)) and not hasattr(device, "type"):
        raise TypeError(f"tensor(): argument 'device' must be torch.device, not {type(device).__name__}")
    arr = _from_data(data, dtype)
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return _finish(arr, dtype, device, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a tensor or numpy array when dtype and device allow."""
    if isinstance(data, Tensor):
        t = data
        if dtype is not None and t.dtype is not dtype:
            t = t.to(dtype)
        if device is not None:
            t = t.to(device)
        return t
    if isinstance(data, _ndarray) and (dtype is None or data.dtype == _np_dtype(dtype)):
        dev = normalize(device) if device is not None else CPU
        if dev.type == "cpu":
            _dt.from_numpy_dtype(data.dtype)
            return Tensor._make(data)
    return tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    if copy:
        t = tensor(obj, dtype=dtype, device=device)
    else:
        t = as_tensor(obj, dtype=dtype, device=device)
        if copy is False and isinstance(obj, (Tensor, _ndarray)) and t._data is not getattr(obj, "_data", obj):
            raise ValueError("can't alias tensor from asarray with copy=False")
    if requires_grad:
        if t._data.dtype.kind not in "fc":
            raise RuntimeError(RG_MSG)
        if t.grad_fn is None:
            t = t if not isinstance(obj, Tensor) else Tensor._make(t._data)
            t._rg = True
    return t


def from_numpy(ndarray):
    """Tensor sharing memory with ``ndarray``."""
    if not isinstance(ndarray, _ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dt.from_numpy_dtype(ndarray.dtype)
    if ndarray.dtype.byteorder == ">":
        raise ValueError("given numpy array has byte order different from the native byte order. Conversion "
                         "between byte orders is currently not supported.")
    return Tensor._make(ndarray)


# -- filled tensors -------------------------------------------------------------------------
def _filled(fill, size, dtype, device, requires_grad, default=None, fname="zeros"):
    shape = _size(size, fname) if type(size) is not tuple or not all(type(s) is _int and s >= 0 for s in size) \
        else size
    npd = _np_dtype(dtype, default)
    if requires_grad and npd.kind not in "fc":
        raise RuntimeError(RG_MSG)
    dev = normalize(device) if device is not None else CPU
    if dev.type == "cuda":
        xp = array_module(dev)
        with xp.cuda.Device(dev.index):
            arr = xp.full(shape, fill, dtype=npd) if fill is not None else xp.empty(shape, dtype=npd)
    elif fill == 0:
        arr = np.zeros(shape, dtype=npd)
    elif fill is None:
        arr = np.zeros(shape, dtype=npd)  # empty(): zero-filled, deterministic for learners
    elif fill == 1:
        arr = np.ones(shape, dtype=npd)
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            try:
                arr = np.full(shape, fill, dtype=npd)
            except OverflowError:  # PyTorch wraps out-of-range integers (full((2,), -1, dtype=uint8))
                arr = np.full(shape, np.array(fill, dtype=np.int64).astype(npd), dtype=npd)
    t = Tensor._make(arr)
    if requires_grad:
        t._rg = True
    return t


def _size_args(size, kw_size):
    if kw_size is not None:
        if size:
            raise TypeError("got multiple values for argument 'size'")
        return (kw_size,)
    return size


def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          **kw):
    r = _filled(0, _size_args(size, kw.pop("size", None)), dtype, device, requires_grad, fname="zeros")
    return _out(r, out)


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False, **kw):
    r = _filled(1, _size_args(size, kw.pop("size", None)), dtype, device, requires_grad, fname="ones")
    return _out(r, out)


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          memory_format=None, **kw):
    r = _filled(None, _size_args(size, kw.pop("size", None)), dtype, device, requires_grad, fname="empty")
    return _out(r, out)


def _fill_default(fill_value):
    """dtype of ``full`` inferred from its fill value (bool, integer or floating)."""
    if isinstance(fill_value, Tensor):
        k = fill_value._data.dtype.kind
        return _dt.bool if k == "b" else _dt.int64 if k in "iu" else None
    if isinstance(fill_value, (_bool, np.bool_)):
        return _dt.bool
    if isinstance(fill_value, (_int, np.integer)):
        return _dt.int64
    return None


def _fill_scalar(fill_value):
    if isinstance(fill_value, Tensor):
        return fill_value._data.reshape(()).item() if fill_value._data.size == 1 else fill_value.item()
    return fill_value


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False,
         pin_memory=False):
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not {type(size).__name__}")
    default = _fill_default(fill_value) if dtype is None else None
    r = _filled(_fill_scalar(fill_value), (tuple(size),), dtype, device, requires_grad, default, fname="full")
    return _out(r, out)


def _like(t, dtype, device):
    return (dtype if dtype is not None else t.dtype), (device if device is not None else t.device)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _filled(0, input._data.shape, d, dev, requires_grad)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _filled(1, input._data.shape, d, dev, requires_grad)


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _filled(None, input._data.shape, d, dev, requires_grad)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    d, dev = _like(input, dtype, device)
    return _filled(_fill_scalar(fill_value), input._data.shape, d, dev, requires_grad)


def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    for name, v, pos in (("n", n, 1), ("m", m, 2)):
        if v is None:
            continue
        if not _is_int(v):
            raise TypeError(f"eye(): argument '{name}' (position {pos}) must be int, not {type(v).__name__}")
        if v < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {_int(v)}")
    n = _int(n)
    m = n if m is None else _int(m)
    npd = _np_dtype(dtype)
    if requires_grad and npd.kind not in "fc":
        raise RuntimeError(RG_MSG)
    return _out(_finish(np.eye(n, m, dtype=npd), dtype, device, requires_grad), out)


# -- ranges ---------------------------------------------------------------------------------
def _num(v):
    if isinstance(v, Tensor):
        return v._data.reshape(()).item() if v._data.size == 1 else v.item()
    if isinstance(v, np.generic):
        return v.item()
    return v


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad=False,
           pin_memory=False):
    if end is None:
        start, end = 0, start
    start, end, step = _num(start), _num(end), _num(step)
    if dtype is None:
        is_int = all(isinstance(v, _int) and not isinstance(v, _bool) or isinstance(v, _bool)
                     for v in (start, end, step))
        npd = np.dtype(np.int64) if is_int else _dt.get_default_dtype().np
    else:
        npd = _np_dtype(dtype)
    if npd.kind == "b":
        raise NotImplementedError("\"arange_cpu\" not implemented for 'Bool'")
    if npd.kind in "iu":
        if step == 0:
            raise RuntimeError("step must be nonzero")
        start, end, step = _int(start), _int(end), _int(step)
        if step == 0:
            raise ValueError("step must be nonzero")
    if step == 0:
        raise RuntimeError("step must be nonzero")
    for v in (start, end):
        if not math.isfinite(v):
            raise RuntimeError(f"unsupported range: {_fmt(start)} -> {_fmt(end)}")
    if (step > 0 and start > end) or (step < 0 and start < end):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if requires_grad and npd.kind not in "fc":
        raise RuntimeError(RG_MSG)
    if npd.kind in "iu":
        arr = np.arange(start, end, step, dtype=np.int64).astype(npd, copy=False)
    else:
        n = _int(math.ceil((end - start) / step))
        # computed in double like PyTorch, then cast
        arr = (start + np.arange(builtins.max(n, 0), dtype=np.float64) * step).astype(npd, copy=False)
    return _out(_finish(arr, dtype, device, requires_grad), out)


def _fmt(v):
    if isinstance(v, _float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if math.isnan(v):
            return "nan"
    return str(v)


def range_(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    import warnings

    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    if end is None:
        start, end = 0, start
    start, end, step = _num(start), _num(end), _num(step)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and start > end) or (step < 0 and start < end):
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    n = _int(math.floor((end - start) / step)) + 1
    arr = start + np.arange(n, dtype=np.float64) * step
    return _out(_finish(arr.astype(_np_dtype(dtype)), dtype, device, requires_grad), out)


def _steps_arg(fname, start, end, steps):
    if isinstance(steps, Tensor):
        steps = steps.item()
    if not _is_int(steps):
        raise TypeError(f"{fname}() received an invalid combination of arguments - got ({type(start).__name__}, "
                        f"{type(end).__name__}, {type(steps).__name__}), but expected one of:\n * (Number start, "
                        "Number end, int steps, *, Tensor out = None, torch.dtype dtype = None, torch.layout layout "
                        "= None, torch.device device = None, bool pin_memory = False, bool requires_grad = False)\n")
    steps = _int(steps)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    return steps


def _lin(start, end, steps, work):
    """PyTorch's symmetric linspace in the arithmetic type ``work``: the first half counts up
    from ``start``, the second half down from ``end``."""
    if steps == 0:
        return np.empty((0,), dtype=work)
    s, e = work.type(start), work.type(end)
    if steps == 1:
        return np.asarray([s], dtype=work)
    step = (e - s) / work.type(steps - 1)
    idx = np.arange(steps, dtype=work)
    half = steps // 2
    res = np.empty(steps, dtype=work)
    res[:half] = s + step * idx[:half]
    res[half:] = e - step * (work.type(steps - 1) - idx[half:])
    return res


def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False,
             pin_memory=False):
    start, end = _num(start), _num(end)
    steps = _steps_arg("linspace", start, end, steps)
    npd = _np_dtype(dtype)
    if requires_grad and npd.kind not in "fc":
        raise RuntimeError(RG_MSG)
    work = npd if npd in (np.float32, np.float64) else np.dtype(np.float32) if npd == np.float16 else \
        np.dtype(np.float64)
    with np.errstate(invalid="ignore"):
        arr = _lin(start, end, steps, work)
    if npd.kind in "iub":
        arr = np.trunc(arr)
    return _out(_finish(arr.astype(npd), dtype, device, requires_grad), out)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False, pin_memory=False):
    start, end = _num(start), _num(end)
    steps = _steps_arg("logspace", start, end, steps)
    npd = _np_dtype(dtype)
    if requires_grad and npd.kind not in "fc":
        raise RuntimeError(RG_MSG)
    work = npd if npd in (np.float32, np.float64) else np.dtype(np.float32) if npd == np.float16 else \
        np.dtype(np.float64)
    exps = _lin(start, end, steps, work)
    with np.errstate(over="ignore", invalid="ignore"):
        arr = np.power(np.float64(_num(base)), exps.astype(np.float64))
    if npd.kind in "iub":
        arr = np.trunc(arr)
    return _out(_finish(arr.astype(npd), dtype, device, requires_grad), out)


# -- legacy constructor and misc ------------------------------------------------------------
def legacy_new(args, device, dtype):
    """``Tensor(...)``: sizes make an uninitialised (here zeroed) tensor of the default dtype (or
    ``dtype`` for the typed legacy classes); data is copied and converted; a tensor is aliased."""
    npd = _np_dtype(dtype)
    if len(args) == 0:
        return np.zeros((0,), dtype=npd)
    a0 = args[0]
    if len(args) == 1:
        if isinstance(a0, Tensor):
            return a0._data if dtype is None else a0._data.astype(npd)
        if isinstance(a0, (tuple, list)) and type(a0).__name__ == "Size":
            return np.zeros(_size((a0,), "new"), dtype=npd)
        if _is_int(a0):
            return np.zeros(_size(args, "new"), dtype=npd)
        if isinstance(a0, str):
            raise TypeError(f"new(): invalid data type '{type(a0).__name__}'")
        if isinstance(a0, (_float, _bool, np.generic)) or a0 is None:
            raise TypeError(f"new(): data must be a sequence (got {type(a0).__name__})")
        return _from_data(a0, _dt._from_np[npd])
    return np.zeros(_size(args, "new"), dtype=npd)


def scalar_tensor(s, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    s = _num(s)
    return _finish(np.asarray(s, dtype=_np_dtype(dtype)), dtype, device, requires_grad)


def complex_unsupported(*a, **k):
    raise TypeError("complex tensors are not supported")


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def _new_zeros(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False, **kw):
    return _filled(0, _size_args(size, kw.pop("size", None)), dtype or self.dtype, device or self.device,
                   requires_grad, fname="new_zeros")


def _new_ones(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False, **kw):
    return _filled(1, _size_args(size, kw.pop("size", None)), dtype or self.dtype, device or self.device,
                   requires_grad, fname="new_ones")


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None,
              pin_memory=False):
    return _filled(_fill_scalar(fill_value), (tuple(size),), dtype or self.dtype, device or self.device,
                   requires_grad, fname="new_full")


def _new_empty(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False, **kw):
    return _filled(None, _size_args(size, kw.pop("size", None)), dtype or self.dtype, device or self.device,
                   requires_grad, fname="new_empty")


METHODS = {"new_tensor": _new_tensor, "new_zeros": _new_zeros, "new_ones": _new_ones, "new_full": _new_full,
           "new_empty": _new_empty}
FUNCTIONS = {
    "tensor": tensor, "as_tensor": as_tensor, "asarray": asarray, "from_numpy": from_numpy, "zeros": zeros,
    "ones": ones, "empty": empty, "full": full, "zeros_like": zeros_like, "ones_like": ones_like,
    "empty_like": empty_like, "full_like": full_like, "eye": eye, "arange": arange, "range": range_,
    "linspace": linspace, "logspace": logspace, "scalar_tensor": scalar_tensor,
}

"""Tensor creation: ``tensor``, ``as_tensor``, ``from_numpy``, ``zeros/ones/empty/full`` and their
``_like`` forms, ``eye``, ``arange``, ``linspace``, ``logspace``, ``zeros``…  Random creation
lives in ``random.py``."""
import builtins
import numbers

import numpy as np

from .. import dtypes as _dt
from ..device import CPU, array_module, normalize, to_device
from ._util import Tensor

_ndarray = np.ndarray


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(
                f"{'zeros'}(): argument 'size' (position 1) must be tuple of ints, but found element of type "
                f"{type(s).__name__} at pos 0"
            )
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: [{', '.join(map(str, size))}]")
        out.append(int(s))
    return tuple(out)


def _finish(data, dtype, device, requires_grad):
    dev = normalize(device) if device is not None else CPU
    if dev.type != "cpu":
        data = to_device(data, dev)
    t = Tensor._make(data)
    if requires_grad:
        t.requires_grad_(True)
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


def _infer_np(data):
    """Array for nested Python data with PyTorch's dtype inference."""
    if isinstance(data, Tensor):
        return data._data.copy()
    if isinstance(data, _ndarray):
        _dt.from_numpy_dtype(data.dtype)
        return data.copy()
    if isinstance(data, (bool, np.bool_)):
        return np.asarray(data, dtype=np.bool_)
    if isinstance(data, (int, np.integer)):
        return np.asarray(data, dtype=np.int64)
    if isinstance(data, (float, np.floating)):
        return np.asarray(data, dtype=_dt.get_default_dtype().np)
    if isinstance(data, (list, tuple)):
        kinds = set()
        flat = _flatten_check(data, kinds)
        if "t" in kinds:  # list of tensors
            arrs = flat
            res = np.asarray(arrs)
            return res
        if "f" in kinds or "c" in kinds:
            return np.asarray(data, dtype=_dt.get_default_dtype().np)
        if "i" in kinds:
            return np.asarray(data, dtype=np.int64)
        if "b" in kinds:
            return np.asarray(data, dtype=np.bool_)
        return np.asarray(data, dtype=_dt.get_default_dtype().np)  # empty list
    if hasattr(data, "__array__"):
        return _infer_np(np.asarray(data))
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _flatten_check(data, kinds):
    """Walk nested sequences, noting element kinds and checking a rectangular shape."""
    shape = None

    def walk(x, depth):
        nonlocal shape
        if isinstance(x, (list, tuple)):
            lens = len(x)
            for i, y in enumerate(x):
                walk(y, depth + 1)
            return
        if isinstance(x, Tensor):
            if x._data.size != 1 or True:
                kinds.add("t")
            kinds.add(x._data.dtype.kind)
            return
        if isinstance(x, (bool, np.bool_)):
            kinds.add("b")
        elif isinstance(x, (int, np.integer)):
            kinds.add("i")
        elif isinstance(x, (float, np.floating)):
            kinds.add("f")
        elif isinstance(x, np.ndarray):
            kinds.add(x.dtype.kind)
        else:
            raise TypeError(f"new(): invalid data type '{type(x).__name__}'")

    walk(data, 0)
    if "t" in kinds:
        def conv(x):
            if isinstance(x, (list, tuple)):
                return [conv(y) for y in x]
            if isinstance(x, Tensor):
                if x._data.ndim == 0:
                    return x._data.item()
                raise ValueError("only one element tensors can be converted to Python scalars")
            return x

        kinds.discard("t")
        return conv(data)
    return data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """Copy ``data`` (nested lists, numbers, arrays, tensors) into a new leaf tensor."""
    if isinstance(data, Tensor):
        arr = data._data.copy()
    else:
        try:
            arr = _infer_np(data)
        except ValueError as e:
            raise ValueError(_ragged_msg(data)) from e
    if dtype is not None:
        arr = arr.astype(_np_dtype(dtype), copy=False)
    if arr.dtype.kind == "f" and dtype is None and arr.dtype not in (np.float16, np.float32, np.float64):
        arr = arr.astype(_dt.get_default_dtype().np)
    if arr.dtype.kind == "c":
        raise TypeError("complex tensors are not supported")
    if device is not None and not isinstance(device, (str, int)) and not hasattr(device, "type"):
        raise TypeError(f"tensor(): argument 'device' must be torch.device, not {type(device).__name__}")
    return _finish(arr if arr.flags.c_contiguous else arr.copy(), dtype, device, requires_grad)


def _ragged_msg(data):
    return "expected sequence of length 2 at dim 1 (got 3)" if False else (
        "expected sequence of equal lengths: nested lists must be rectangular")


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor):
        t = data
        if dtype is not None and t.dtype is not dtype:
            t = t.to(dtype)
        if device is not None:
            t = t.to(device)
        return t
    if isinstance(data, _ndarray) and (dtype is None or data.dtype == _np_dtype(dtype)):
        _dt.from_numpy_dtype(data.dtype)
        t = Tensor._make(data)
        return t if device is None else t.to(device)
    return tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    t = as_tensor(obj, dtype=dtype, device=device) if not copy else tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        t.requires_grad_(True)
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


def _filled(fill, size, dtype, device, requires_grad, default=None):
    shape = _size(size)
    npd = _np_dtype(dtype, default)
    dev = normalize(device) if device is not None else CPU
    xp = array_module(dev)
    if dev.type == "cuda":
        with xp.cuda.Device(dev.index):
            arr = xp.full(shape, fill, dtype=npd) if fill is not None else xp.empty(shape, dtype=npd)
    else:
        if fill == 0:
            arr = np.zeros(shape, dtype=npd)
        elif fill is None:
            arr = np.empty(shape, dtype=npd)
        else:
            arr = np.full(shape, fill, dtype=npd)
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    return _filled(0, size, dtype, device, requires_grad)


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    return _filled(1, size, dtype, device, requires_grad)


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          memory_format=None):
    return _filled(0, size, dtype, device, requires_grad)  # zero-filled: deterministic for learners


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    if dtype is None:
        default = (_dt.bool if isinstance(fill_value, bool) else _dt.int64
                   if isinstance(fill_value, (int, np.integer)) else None)
    else:
        default = None
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _filled(fill_value, (size,) if not isinstance(size, (int, np.integer)) else (size,), dtype, device,
                   requires_grad, default)


def _like(t, dtype, device):
    return (dtype if dtype is not None else t.dtype), (device if device is not None else t.device)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _filled(0, (tuple(input._data.shape),), d, dev, requires_grad)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _filled(1, (tuple(input._data.shape),), d, dev, requires_grad)


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    d, dev = _like(input, dtype, device)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _filled(fill_value, (tuple(input._data.shape),), d, dev, requires_grad)


def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    m = n if m is None else m
    arr = np.eye(n, m, dtype=_np_dtype(dtype))
    return _finish(arr, dtype, device, requires_grad)


def arange(start, end=None, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in vals)
        npd = np.dtype(np.int64) if is_int else _dt.get_default_dtype().np
    else:
        npd = _np_dtype(dtype)
    n = int(np.ceil((end - start) / step))
    # computed in double like PyTorch, then cast
    arr = (start + np.arange(builtins.max(n, 0), dtype=np.float64) * step) if npd.kind == "f" else \
        np.arange(start, end, step, dtype=npd)
    return _finish(arr.astype(npd, copy=False), dtype, device, requires_grad)


def range_(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    n = int(np.floor((end - start) / step)) + 1
    arr = start + np.arange(n, dtype=np.float64) * step
    return _finish(arr.astype(_np_dtype(dtype)), dtype, device, requires_grad)


def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    npd = _np_dtype(dtype)
    # PyTorch fills the first half from start and the second half from end.
    if steps == 1:
        arr = np.asarray([start], dtype=np.float64)
    else:
        step = (end - start) / (steps - 1)
        idx = np.arange(steps, dtype=np.float64)
        half = steps // 2
        arr = np.where(idx < half, start + step * idx, end - step * (steps - idx - 1))
    if npd.kind in "iu":
        arr = np.trunc(arr)
    return _finish(arr.astype(npd), dtype, device, requires_grad)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    lin = linspace(start, end, steps, dtype=_dt.float64)._data
    return _finish((base ** lin).astype(_np_dtype(dtype)), dtype, device, requires_grad)


def legacy_new(args, device, dtype):
    """``Tensor(...)``: sizes make an uninitialised float tensor, data is copied as float."""
    npd = _np_dtype(dtype)
    if len(args) == 0:
        return np.zeros((0,), dtype=npd)
    if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        return np.zeros(tuple(args), dtype=npd)
    if len(args) == 1 and isinstance(args[0], (tuple,)) and all(isinstance(a, int) for a in args[0]) and False:
        return np.zeros(args[0], dtype=npd)
    if len(args) == 1:
        return np.array(_infer_np(args[0]), dtype=npd)
    raise TypeError("new(): invalid arguments")


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    return _finish(np.asarray(s, dtype=_np_dtype(dtype)), dtype, device, requires_grad)


def complex_unsupported(*a, **k):
    raise TypeError("complex tensors are not supported")


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def _new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    return zeros(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def _new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    return ones(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


def _new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    return _new_zeros(self, *size, dtype=dtype, device=device, requires_grad=requires_grad)


METHODS = {"new_tensor": _new_tensor, "new_zeros": _new_zeros, "new_ones": _new_ones, "new_full": _new_full,
           "new_empty": _new_empty}
FUNCTIONS = {
    "tensor": tensor, "as_tensor": as_tensor, "asarray": asarray, "from_numpy": from_numpy, "zeros": zeros,
    "ones": ones, "empty": empty, "full": full, "zeros_like": zeros_like, "ones_like": ones_like,
    "empty_like": empty_like, "full_like": full_like, "eye": eye, "arange": arange, "range": range_,
    "linspace": linspace, "logspace": logspace, "scalar_tensor": scalar_tensor,
}

"""Conversions between dtypes and devices (``to``, ``float()``, ``cuda()``…), ``clone`` and
``contiguous``."""
import numpy as np

from .. import dtypes as _dt
from ..device import device as _device_cls, device_of, normalize, to_device
from ._util import Node, Tensor, needs_grad, record, xp_of


class ToCopyBackward0(Node):
    forward = "result = self.to(dtype, device)"
    formula = "grad_self = grad.to(self.dtype, self.device)"

    def __init__(self, dtype, dev):
        super().__init__()
        self.dtype, self.dev = dtype, dev

    def backward(self, grad):
        return (to(grad, self.dev, self.dtype),)


def _parse_to(args, kwargs):
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, _dt.dtype):
            dtype = a
        elif isinstance(a, (str, _device_cls, int)) and not isinstance(a, bool):
            dev = a
        elif isinstance(a, Tensor):
            dtype, dev = a.dtype, a.device
        elif isinstance(a, bool):
            pass  # non_blocking / copy positional
        elif a is None:
            pass
        else:
            raise TypeError(f"to() received an invalid combination of arguments - got ({type(a).__name__})")
    return normalize(dev), dtype, copy


def to(input, *args, **kwargs):
    dev, dtype, copy = _parse_to(args, dict(kwargs))
    a = input._data
    cur_dev = device_of(a)
    same_dev = dev is None or dev == cur_dev
    same_dtype = dtype is None or a.dtype == dtype.np
    if same_dev and same_dtype and not copy:
        return input
    d = a if same_dev else to_device(a, dev)
    if not same_dtype:
        if a.dtype.kind == "f" and dtype.np.kind in "iu":
            with np.errstate(invalid="ignore"):
                d = d.astype(dtype.np)
        else:
            d = d.astype(dtype.np)
    elif d is a:
        d = a.copy()
    r = Tensor._make(d)
    if needs_grad(input) and r.is_floating_point():
        record(ToCopyBackward0(input.dtype, cur_dev), (input,), r)
    return r


def _caster(dtype):
    def cast(self, memory_format=None):
        return to(self, dtype)

    return cast


def type_(input, dtype=None, non_blocking=False):
    if dtype is None:
        from ..autograd.graph import _tensor_type_name

        return _tensor_type_name(input)
    if isinstance(dtype, str):
        name = dtype.split(".")[-1]
        table = {"FloatTensor": _dt.float32, "DoubleTensor": _dt.float64, "HalfTensor": _dt.float16,
                 "LongTensor": _dt.int64, "IntTensor": _dt.int32, "ShortTensor": _dt.int16,
                 "CharTensor": _dt.int8, "ByteTensor": _dt.uint8, "BoolTensor": _dt.bool}
        if name not in table:
            raise ValueError(f"invalid type: '{dtype}'")
        r = to(input, table[name])
        return r.cuda() if ".cuda." in dtype else r
    return to(input, dtype)


def type_as(input, other):
    return to(input, other.dtype)


def cpu(input, memory_format=None):
    return to(input, "cpu")


def cuda(input, device=None, non_blocking=False, memory_format=None):
    dev = normalize(_device_cls("cuda", device) if isinstance(device, int) else (device or "cuda"))
    return to(input, dev)


class CloneBackward0(Node):
    forward = "result = self.clone()  (or self.contiguous())"
    formula = "grad_self = grad"

    def backward(self, grad):
        return (grad,)


def clone(input, *, memory_format=None):
    r = Tensor._make(input._data.copy())
    if needs_grad(input):
        record(CloneBackward0(), (input,), r)
    return r


def contiguous(input, memory_format=None):
    a = input._data
    if a.flags.c_contiguous:
        return input
    r = Tensor._make(xp_of(a).ascontiguousarray(a))
    if needs_grad(input):
        record(CloneBackward0(), (input,), r)
    return r


def view_dtype(input, dtype):
    a = input._data
    if dtype.itemsize != a.itemsize and a.ndim == 0:
        raise RuntimeError("self.dim() cannot be 0 to view as a dtype with a different element size")
    return Tensor._make(a.view(dtype.np))


METHODS = {
    "to": to, "type": type_, "type_as": type_as, "cpu": cpu, "cuda": cuda, "clone": clone,
    "contiguous": contiguous, "float": _caster(_dt.float32), "double": _caster(_dt.float64),
    "half": _caster(_dt.float16), "long": _caster(_dt.int64), "int": _caster(_dt.int32),
    "short": _caster(_dt.int16), "char": _caster(_dt.int8), "byte": _caster(_dt.uint8),
    "bool": _caster(_dt.bool),
}
FUNCTIONS = {"clone": clone}

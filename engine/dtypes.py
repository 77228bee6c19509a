"""Data types: the ``engine.float32`` family, the default dtype and PyTorch's promotion rules.

A dtype wraps the numpy dtype that stores it.  Promotion follows PyTorch, not numpy: the
category (bool < integer < floating) decides first, and zero-dimensional tensors and Python
numbers only raise the result dtype when they belong to a higher category than the tensors
with dimensions.
"""
import builtins as _b

import numpy as np

__all__ = [
    "dtype", "float16", "float32", "float64", "half", "float", "double", "int8", "int16",
    "int32", "int64", "short", "int", "long", "uint8", "bool", "bfloat16",
    "get_default_dtype", "set_default_dtype", "promote_types", "result_type", "iinfo", "finfo",
    "qint8", "quint8", "qint32",
]

_BOOL, _INT, _FLOAT = 0, 1, 2


class dtype:
    __slots__ = ("name", "np", "category", "itemsize", "is_floating_point", "is_signed", "_rank")

    def __init__(self, name, np_dtype, category, rank):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == _FLOAT
        self.is_signed = name not in ("uint8", "bool")
        self._rank = rank

    @property
    def is_complex(self):
        return False

    def to_real(self):
        return self

    def __repr__(self):
        return "torch." + self.name

    __str__ = __repr__

    def __reduce__(self):
        return (_by_name, (self.name,))


float16 = half = dtype("float16", np.float16, _FLOAT, 0)
float32 = dtype("float32", np.float32, _FLOAT, 1)
float64 = double = dtype("float64", np.float64, _FLOAT, 2)
int8 = dtype("int8", np.int8, _INT, 1)
int16 = short = dtype("int16", np.int16, _INT, 2)
int32 = dtype("int32", np.int32, _INT, 3)
int64 = long = dtype("int64", np.int64, _INT, 4)
uint8 = dtype("uint8", np.uint8, _INT, 0)
bool = dtype("bool", np.bool_, _BOOL, 0)  # noqa: A001 - PyTorch's public name
float = float32  # noqa: A001
int = int32  # noqa: A001
# numpy has no bfloat16; the name exists so code that mentions it imports, and fails clearly if used.
bfloat16 = None

ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, bool)
_from_np = {d.np: d for d in ALL}
_names = {d.name: d for d in ALL}


# Quantized dtypes (engine.quantization): a quantized tensor stores their integer representation.
# They stay out of ALL/_from_np/_names, so no numpy array or checkpoint entry maps to them.
qint8 = dtype("qint8", np.int8, _INT, 1)
quint8 = dtype("quint8", np.uint8, _INT, 0)
qint32 = dtype("qint32", np.int32, _INT, 3)
quint8.is_signed = False
_quantized = {d.name: d for d in (qint8, quint8, qint32)}


def _by_name(name):
    return _names[name] if name in _names else _quantized[name]


def from_numpy_dtype(np_dtype):
    """The engine dtype that stores ``np_dtype``; TypeError for types PyTorch cannot hold."""
    try:
        return _from_np[np_dtype]
    except KeyError:
        try:
            return _from_np[np.dtype(np_dtype)]
        except (KeyError, TypeError):
            raise TypeError(
                f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only supported types are: "
                "float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
            ) from None


# PyTorch's scalar type names ("Float" in "expected scalar type Float") and legacy tensor types.
SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
                "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool", "complex64": "ComplexFloat",
                "complex128": "ComplexDouble", "bfloat16": "BFloat16"}
TENSOR_TYPE_NAMES = {k: v + "Tensor" for k, v in SCALAR_NAMES.items()}

_default = [float32]


def get_default_dtype():
    return _default[0]


def set_default_dtype(d):
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _default[0] = d


def promote_types(a, b):
    """PyTorch's ``promote_types`` for two dtypes."""
    if a is b:
        return a
    if a.category != b.category:
        hi, lo = (a, b) if a.category > b.category else (b, a)
        return hi
    if a.category == _FLOAT:
        return a if a._rank > b._rank else b
    if a.category == _BOOL:
        return a
    return _from_np[np.promote_types(a.np, b.np)]


def _combine(higher, lower):
    # PyTorch's combine_categories: a lower-priority participant only counts when it is of a
    # higher category than everything above it.
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.category == _FLOAT:
        return higher
    if higher is bool or lower.category == _FLOAT:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(value):
    """The dtype PyTorch gives a Python number that takes part in an op."""
    if isinstance(value, (_b.bool, np.bool_)):
        return bool
    if isinstance(value, (_b.int, np.integer)):
        return int64
    return _default[0]


def result_type(*participants):
    """Result dtype for a mix of ``(dtype, ndim)`` pairs and Python numbers."""
    dim = zero = wrapped = None
    for p in participants:
        if isinstance(p, tuple):
            d, nd = p
            if nd:
                dim = d if dim is None else promote_types(dim, d)
            else:
                zero = d if zero is None else promote_types(zero, d)
        else:
            d = scalar_dtype(p)
            wrapped = d if wrapped is None else promote_types(wrapped, d)
    return _combine(dim, _combine(zero, wrapped))


class iinfo:
    def __init__(self, d):
        info = np.iinfo(d.np)
        self.bits, self.min, self.max, self.dtype = info.bits, _b.int(info.min), _b.int(info.max), d.name


class finfo:
    def __init__(self, d=None):
        d = d or _default[0]
        info = np.finfo(d.np)
        self.bits = info.bits
        self.eps = _b.float(info.eps)
        self.max = _b.float(info.max)
        self.min = _b.float(info.min)
        self.tiny = self.smallest_normal = _b.float(info.tiny)
        self.resolution = _b.float(info.resolution)
        self.dtype = d.name

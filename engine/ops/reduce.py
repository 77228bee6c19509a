"""Reductions: sum, mean, prod, max/min, var/std, norm, logsumexp, cumulative ops, all/any,
and ``sum_to_shape``, the one place that undoes broadcasting for backward."""
import numpy as np

from ._util import Node, Tensor, needs_grad, record, xp_of
from .. import dtypes as _dt


def _dims(t, dim):
    """Normalise ``dim`` (None, int, or sequence) to a sorted tuple of non-negative axes."""
    n = t._data.ndim
    if dim is None:
        return tuple(range(n))
    if isinstance(dim, (list, tuple)):
        if len(dim) == 0:
            return tuple(range(n))
        return tuple(sorted(t._wrap_dim(d) for d in dim))
    return (t._wrap_dim(dim),)


def _expand_back(grad, shape, axes, keepdim):
    """Broadcast a reduced gradient back to ``shape``."""
    if not keepdim and axes:
        g_shape = list(shape)
        for a in axes:
            g_shape[a] = 1
        grad = grad.reshape(tuple(g_shape))
    return grad.expand(shape)


class SumBackward0(Node):
    formula = "grad_self = grad.expand(self.shape)"

    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def backward(self, grad):
        return (grad.expand(self.shape),)


class SumBackward1(Node):
    formula = "grad_self = grad.unsqueeze(dim).expand(self.shape)"

    def __init__(self, shape, axes, keepdim):
        super().__init__()
        self.shape, self.axes, self.keepdim = shape, axes, keepdim

    def backward(self, grad):
        return (_expand_back(grad, self.shape, self.axes, self.keepdim),)


def _sum_dtype(a, dtype):
    if dtype is not None:
        return dtype.np
    if a.dtype.kind in "biu":
        return np.dtype(np.int64)
    return a.dtype


def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001
    a = input._data
    rd = _sum_dtype(a, dtype)
    if dim is None and not keepdim:
        r = Tensor._make(xp_of(a).asarray(a.sum(dtype=rd)))
        if needs_grad(input):
            record(SumBackward0(a.shape), (input,), r)
        return r
    axes = _dims(input, dim)
    r = Tensor._make(a.sum(axis=axes, keepdims=keepdim, dtype=rd))
    if needs_grad(input):
        record(SumBackward1(a.shape, axes, keepdim), (input,), r)
    return r


class MeanBackward0(Node):
    formula = "grad_self = grad.expand(self.shape) / self.numel()"

    def __init__(self, shape, n):
        super().__init__()
        self.shape, self.n = shape, n

    def backward(self, grad):
        return (grad.expand(self.shape) / self.n,)


class MeanBackward1(Node):
    formula = "grad_self = grad.unsqueeze(dim).expand(self.shape) / N"

    def __init__(self, shape, axes, keepdim, n):
        super().__init__()
        self.shape, self.axes, self.keepdim, self.n = shape, axes, keepdim, n

    def backward(self, grad):
        return (_expand_back(grad, self.shape, self.axes, self.keepdim) / self.n,)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    a = input._data
    if dtype is not None:
        a = a.astype(dtype.np)
    elif a.dtype.kind not in "fc":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. "
            f"Got: {_SHORT.get(a.dtype.name, a.dtype.name)}"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        if dim is None and not keepdim:
            r = Tensor._make(xp_of(a).asarray(a.mean(dtype=a.dtype)))
            if needs_grad(input):
                record(MeanBackward0(a.shape, max(a.size, 1) if a.size else 0), (input,), r)
            return r
        axes = _dims(input, dim)
        r = Tensor._make(a.mean(axis=axes, keepdims=keepdim, dtype=a.dtype))
    if needs_grad(input):
        n = 1
        for ax in axes:
            n *= a.shape[ax]
        record(MeanBackward1(a.shape, axes, keepdim, n), (input,), r)
    return r


_SHORT = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
          "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def sum_to_shape(grad, shape, node_name="", index=0):
    """Sum ``grad`` over the dimensions that broadcasting added or stretched, down to ``shape``."""
    gshape = tuple(grad.shape)
    shape = tuple(shape)
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    ok = lead >= 0 and all(s == 1 or s == g for s, g in zip(shape, gshape[lead:]))
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


METHODS = {"sum": sum, "mean": mean, "sum_to_size": lambda self, *size: sum_to_shape(
    self, size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size)}
FUNCTIONS = {"sum": sum, "mean": mean}

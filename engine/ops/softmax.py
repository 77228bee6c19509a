"""softmax and log_softmax along a dim, numerically stable (max subtracted first)."""
import numpy as np

from ._util import supports_out, Node, Tensor, needs_grad, record, xp_of

from ..dtypes import SCALAR_NAMES as _SHORT


def _implicit_dim(ndim):
    return 0 if ndim in (0, 1, 3) else 1


def _prepare(input, dim, dtype, kernel):
    if dtype is not None:
        from .conversion import to

        input = to(input, dtype)
    a = input._data
    if dim is None:
        dim = _implicit_dim(a.ndim)
    d = input._wrap_dim(dim)
    if a.dtype.kind not in "fc":
        last = a.ndim == 0 or d == a.ndim - 1
        name = f"{kernel}_lastdim_kernel_impl" if last else f"{kernel}_kernel_impl"
        raise NotImplementedError(f"\"{name}\" not implemented for '{_SHORT.get(a.dtype.name, a.dtype.name)}'")
    return input, a, (d if a.ndim else None)


def _shifted(a, d):
    """``a - max(a, d)`` in at least float32 (an infinite maximum makes its row NaN, as in PyTorch)."""
    xp = xp_of(a)
    w = a.astype(np.float32) if a.dtype == np.float16 else a
    if d is None or w.size == 0:
        return w - w if d is None else w, d
    m = w.max(axis=d, keepdims=True)
    with np.errstate(invalid="ignore"):
        return w - m, d


class SoftmaxBackward0(Node):
    forward = "result = exp(self) / exp(self).sum(dim, keepdim=True)"
    formula = "grad_self = result * (grad - (grad * result).sum(dim, keepdim=True))"

    def replay(self, xs, out_shape):
        return softmax(xs[0], self.dim)

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def backward(self, grad):
        (y,) = self.saved()
        if self.dim is None:
            return (grad * 0,)
        return (y * (grad - (grad * y).sum(self.dim, keepdim=True)),)


class LogSoftmaxBackward0(Node):
    forward = "result = self - log(exp(self).sum(dim, keepdim=True))"
    formula = "grad_self = grad - exp(result) * grad.sum(dim, keepdim=True)"

    def replay(self, xs, out_shape):
        return log_softmax(xs[0], self.dim)

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def backward(self, grad):
        (y,) = self.saved()
        if self.dim is None:
            return (grad * 0,)
        return (grad - y.exp() * grad.sum(self.dim, keepdim=True),)


def softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    input, a, d = _prepare(input, dim, dtype, "softmax")
    xp = xp_of(a)
    if d is None:
        out = xp.ones_like(a)
    else:
        s, _ = _shifted(a, d)
        e = xp.exp(s)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (e / e.sum(axis=d, keepdims=True)).astype(a.dtype, copy=False)
    r = Tensor._make(out)
    if needs_grad(input):
        node = SoftmaxBackward0(d)
        node.save(r)
        record(node, (input,), r)
    return r


def log_softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    input, a, d = _prepare(input, dim, dtype, "log_softmax")
    xp = xp_of(a)
    if d is None:
        out = xp.zeros_like(a)
    else:
        s, _ = _shifted(a, d)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (s - xp.log(xp.exp(s).sum(axis=d, keepdims=True))).astype(a.dtype, copy=False)
    r = Tensor._make(out)
    if needs_grad(input):
        node = LogSoftmaxBackward0(d)
        node.save(r)
        record(node, (input,), r)
    return r


def _softmax_method(self, dim, dtype=None):
    return softmax(self, dim, dtype)


def _log_softmax_method(self, dim, dtype=None):
    return log_softmax(self, dim, dtype)


@supports_out
def _softmax_fn(input, dim, dtype=None, *, out=None):
    return softmax(input, dim, dtype)


@supports_out
def _log_softmax_fn(input, dim, dtype=None, *, out=None):
    return log_softmax(input, dim, dtype)


def _axis(fn):
    from .reduce import numpy_aliases

    return numpy_aliases(fn)


METHODS = {"softmax": _axis(_softmax_method), "log_softmax": _axis(_log_softmax_method)}
FUNCTIONS = {"softmax": _axis(_softmax_fn), "log_softmax": _axis(_log_softmax_fn)}

"""Shape and view ops: view, reshape, expand, squeeze/unsqueeze, permute, transpose, cat/stack,
split/chunk/unbind, narrow, flip, roll, tril/triu…  Views share memory and the version counter
with their base (``make_view``)."""
import numpy as np

from ._util import Node, Tensor, make_view, needs_grad, record, xp_of


def _shape_arg(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _infer(shape, numel, src_shape):
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(
                f"shape '[{', '.join(map(str, shape))}]' is invalid for input of size {numel}"
            )
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '[{', '.join(map(str, shape))}]' is invalid for input of size {numel}")
    return tuple(shape)


class ViewBackward0(Node):
    formula = "grad_self = grad.reshape(self.shape)"

    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def backward(self, grad):
        return (grad.reshape(self.shape),)


class UnsafeViewBackward0(ViewBackward0):
    pass


def view(input, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int)) and hasattr(shape[0], "np"):
        from .conversion import view_dtype

        return view_dtype(input, shape[0])
    shape = _infer(_shape_arg(shape), input._data.size, input._data.shape)
    a = input._data
    try:
        if a.flags.c_contiguous or a.size == 0:
            d = a.reshape(shape)
        else:
            d = a.view()
            d.shape = shape  # raises when strides are incompatible, as torch.view does
    except AttributeError:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one dimension spans across "
            "two contiguous subspaces). Use .reshape(...) instead."
        ) from None
    r = make_view(Tensor._make(d), input, lambda t: view(t, shape))
    if needs_grad(input):
        record(ViewBackward0(a.shape), (input,), r)
    return r


def reshape(input, *shape):
    shape = _infer(_shape_arg(shape), input._data.size, input._data.shape)
    a = input._data
    d = a.reshape(shape)
    shares = d.base is not None and (d.base is a or d.base is a.base) and np.may_share_memory(d, a) \
        if type(a) is np.ndarray else True
    r = Tensor._make(d)
    if shares:
        make_view(r, input, lambda t: reshape(t, shape))
    if needs_grad(input):
        record((ViewBackward0 if shares else UnsafeViewBackward0)(a.shape), (input,), r)
    return r


class ExpandBackward0(Node):
    formula = "grad_self = grad.sum_to_size(self.shape)"

    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def backward(self, grad):
        from .reduce import sum_to_shape

        return (sum_to_shape(grad, self.shape, "ExpandBackward0"),)


def expand(input, *sizes):
    sizes = _shape_arg(sizes)
    a = input._data
    nd = len(sizes)
    if nd < a.ndim:
        raise RuntimeError(
            f"expand(torch.{_tname(input)}{{[{', '.join(map(str, a.shape))}]}}, size=[{', '.join(map(str, sizes))}]): "
            "the number of sizes provided "
            f"({nd}) must be greater or equal to the number of dimensions in the tensor ({a.ndim})"
        )
    lead = nd - a.ndim
    target = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s == -1:
                raise RuntimeError(
                    f"The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {i}"
                )
            target.append(s)
            continue
        cur = a.shape[i - lead]
        if s == -1:
            target.append(cur)
        elif cur == s or cur == 1:
            target.append(s)
        else:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at non-singleton "
                f"dimension {i}.  Target sizes: [{', '.join(map(str, sizes))}].  Tensor sizes: "
                f"[{', '.join(map(str, a.shape))}]"
            )
    target = tuple(target)
    if target == a.shape:
        d = a.view()
    else:
        d = xp_of(a).broadcast_to(a, target)
    r = make_view(Tensor._make(d), input, lambda t: expand(t, target))
    if needs_grad(input):
        record(ExpandBackward0(a.shape), (input,), r)
    return r


def _tname(t):
    from ..autograd.graph import _TYPE_NAMES

    return _TYPE_NAMES[t.dtype.name]


def expand_as(input, other):
    return expand(input, other.shape)


def view_as(input, other):
    return view(input, other.shape)


def reshape_as(input, other):
    return reshape(input, other.shape)


class StackBackward0(Node):
    formula = "grad_i = grad.select(dim, i)"

    def __init__(self, dim, n):
        super().__init__()
        self.dim, self.n = dim, n

    def backward(self, grad):
        return tuple(grad.select(self.dim, i) for i in range(self.n))


def stack(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    s0 = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != s0:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got [{', '.join(map(str, s0))}] at entry 0 and "
                f"[{', '.join(map(str, t._data.shape))}] at entry {i}"
            )
    nd = len(s0) + 1
    if dim < -nd or dim >= nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    dim = dim % nd
    from .cat_util import common_arrays

    arrs = common_arrays(tensors)
    r = Tensor._make(xp_of(arrs[0]).stack(arrs, axis=dim))
    if needs_grad(*tensors):
        record(StackBackward0(dim, len(tensors)), tuple(tensors), r)
    return r


METHODS = {"view": view, "reshape": reshape, "expand": expand, "expand_as": expand_as, "view_as": view_as,
           "reshape_as": reshape_as}
FUNCTIONS = {"reshape": reshape, "stack": stack}

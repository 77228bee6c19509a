"""Shape and view ops: view, reshape, expand, squeeze/unsqueeze, permute, transpose, cat/stack,
split/chunk/unbind, narrow, select, flip, roll, tril/triu…  Views share memory and the version
counter with their base (``make_view``); their backward nodes are named as PyTorch names them."""
import numpy as np

from ._util import supports_out, Node, Tensor, make_view, needs_grad, record, record_multi, xp_of


# -- helpers ----------------------------------------------------------------------------------
def _shape_arg(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _dims_arg(dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return tuple(int(d) for d in dims)


def _wrap(dim, ndim):
    """Wrap a possibly negative ``dim`` for a tensor of ``ndim`` dims (PyTorch's message)."""
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if type(dim) is not int:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"dim must be an int, got {type(dim).__name__}")
        dim = int(dim)
    if dim < lo or dim > hi:
        raise IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return dim + ndim if dim < 0 else dim


def _lst(shape):
    return f"[{', '.join(map(str, shape))}]"


def _zeros(like_data, shape):
    return Tensor._make(xp_of(like_data).zeros(shape, like_data.dtype))


def _infer(shape, numel, src_shape=None):
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
            raise RuntimeError(f"shape '{_lst(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{_lst(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _view_strides(oldshape, oldstrides, newshape):
    """Strides (bytes) of ``newshape`` viewing memory laid out as (oldshape, oldstrides), or None
    when no such view exists (PyTorch's computeStride)."""
    nv = len(newshape)
    newstrides = [0] * nv
    view_d = nv - 1
    chunk_base = oldstrides[-1]
    tensor_numel = 1
    view_numel = 1
    for td in range(len(oldshape) - 1, -1, -1):
        tensor_numel *= oldshape[td]
        if td == 0 or (oldshape[td - 1] != 1 and oldstrides[td - 1] != tensor_numel * chunk_base):
            while view_d >= 0 and (view_numel < tensor_numel or newshape[view_d] == 1):
                newstrides[view_d] = view_numel * chunk_base
                view_numel *= newshape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if td > 0:
                chunk_base = oldstrides[td - 1]
                tensor_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return tuple(newstrides)


# -- generic backward nodes of views ----------------------------------------------------------

def _reshaped_like(node, x, out_shape, expand=False):
    """``x`` reshaped (or broadcast) to ``out_shape`` under a new node of ``node``'s class, whose
    constructor takes the input's shape: the replay of view-like nodes (see Node.replay)."""
    a = x._data
    r = Tensor._make(xp_of(a).broadcast_to(a, out_shape) if expand else a.reshape(out_shape))
    if needs_grad(x):
        record(type(node)(a.shape), (x,), r)
    return r

class _KeyBackward(Node):
    """grad_self = zeros(self.shape) with grad written at ``key`` (or grad reshaped when no key)."""

    forward = "result = self[key]  (a view; no key: a reshape)"
    formula = "grad_self = zeros(self.shape).index_put(key, grad)  (no key: grad.reshape(self.shape))"

    def replay(self, xs, out_shape):
        return get_basic(xs[0], self.key, type(self)) if self.key is not None else _reshaped_like(self, xs[0], out_shape)

    def __init__(self, shape, key=None):
        super().__init__()
        self.shape, self.key = shape, key

    def backward(self, grad):
        if self.key is None:
            return (reshape(grad, self.shape),)
        return (_scatter_basic(grad, self.shape, self.key),)


class SelectBackward0(_KeyBackward):
    forward = "result = self.select(dim, index)  (or self[key] ending in an int)"
    formula = "grad_self = zeros(self.shape).select_scatter(grad, dim, index)  (self[key]: index_put(key, grad))"


class SliceBackward0(_KeyBackward):
    forward = "result = self[start:end:step] along dim  (or self[key] ending in a slice)"
    formula = "grad_self = zeros(self.shape).slice_scatter(grad, dim, start, end, step)  (self[key]: index_put(key, grad))"


class UnsqueezeBackward0(_KeyBackward):
    forward = "result = self.unsqueeze(dim)  (or self[key] ending in None)"
    formula = "grad_self = grad.squeeze(dim)  (self[key]: zeros(self.shape).index_put(key, grad))"


class AliasBackward0(_KeyBackward):
    forward = "result = self[...]  (an alias of self)"
    formula = "grad_self = grad"


class SqueezeBackward0(_KeyBackward):
    forward = "result = self.squeeze()"
    formula = "grad_self = grad.reshape(self.shape)"


class SqueezeBackward1(SqueezeBackward0):
    forward = "result = self.squeeze(dim)"
    formula = "grad_self = grad.unsqueeze(dim) if self.size(dim) == 1 else grad"


class SqueezeBackward2(SqueezeBackward0):
    forward = "result = self.squeeze(dims)"
    formula = "grad_self = grad.reshape(self.shape)  (the squeezed dims back)"


class SliceBackwardBackward0(Node):
    forward = "result = zeros(input_sizes).index_put(key, grad_output)  (a slice's backward)"
    formula = "grad_grad_output = grad[key]"

    def __init__(self, key):
        super().__init__()
        self.key = key

    def backward(self, grad):
        return (get_basic(grad, self.key, SliceBackward0),)


def _scatter_basic(grad, shape, key):
    """Differentiable ``zeros(shape)[key] = grad``."""
    g = grad._data
    z = xp_of(g).zeros(shape, g.dtype)
    z[key] = g
    out = Tensor._make(z)
    if needs_grad(grad):
        record(SliceBackwardBackward0(key), (grad,), out)
    return out


def get_basic(input, key, cls):
    """View ``input._data[key]`` for a basic (int/slice/None/Ellipsis) numpy ``key`` that holds an
    Ellipsis, recorded with node class ``cls``."""
    a = input._data
    r = Tensor._make(a[key])
    make_view(r, input, lambda t: get_basic(t, key, cls))
    if needs_grad(input):
        record(cls(a.shape, key), (input,), r)
    return r


# -- view / reshape ---------------------------------------------------------------------------
class ViewBackward0(Node):
    forward = "result = self.view(size)  (or a reshape that shares storage)"
    formula = "grad_self = grad.reshape(self.shape)"

    def replay(self, xs, out_shape):
        return _reshaped_like(self, xs[0], out_shape)

    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def backward(self, grad):
        return (grad.reshape(self.shape),)


class UnsafeViewBackward0(ViewBackward0):
    forward = "result = self.reshape(size)  (not a view of self)"


_VIEW_MSG = ("view size is not compatible with input tensor's size and stride (at least one dimension spans across "
             "two contiguous subspaces). Use .reshape(...) instead.")


def _view_data(a, shape):
    if a.flags.c_contiguous or a.size == 0 or a.ndim == 0:
        return a.reshape(shape)
    st = _view_strides(a.shape, a.strides, shape)
    if st is None:
        raise RuntimeError(_VIEW_MSG)
    return xp_of(a).lib.stride_tricks.as_strided(a, shape, st)


def view(input, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int)) and hasattr(shape[0], "np"):
        from .conversion import view_dtype

        return view_dtype(input, shape[0])
    a = input._data
    shape = _infer(_shape_arg(shape), a.size)
    r = make_view(Tensor._make(_view_data(a, shape)), input, lambda t: view(t, shape))
    if needs_grad(input):
        record(ViewBackward0(a.shape), (input,), r)
    return r


def reshape(input, *shape):
    a = input._data
    shape = _infer(_shape_arg(shape), a.size)
    if a.flags.c_contiguous or a.ndim == 0 or a.size == 0:
        shares = True
        d = a.reshape(shape)
    else:
        st = _view_strides(a.shape, a.strides, shape)
        shares = st is not None
        d = xp_of(a).lib.stride_tricks.as_strided(a, shape, st) if shares else a.reshape(shape)
    r = Tensor._make(d)
    if shares:
        make_view(r, input, lambda t: reshape(t, shape))
    if needs_grad(input):
        record((ViewBackward0 if shares else UnsafeViewBackward0)(a.shape), (input,), r)
    return r


def flatten(input, start_dim=0, end_dim=-1):
    a = input._data
    nd = a.ndim
    if nd == 0:
        return reshape(input, (1,))
    s = _wrap(start_dim, nd)
    e = _wrap(end_dim, nd)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    n = 1
    for x in a.shape[s:e + 1]:
        n *= x
    return reshape(input, a.shape[:s] + (n,) + a.shape[e + 1:])


def unflatten(input, dim, sizes):
    a = input._data
    d = _wrap(dim, a.ndim)
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = a.shape[d]
    if -1 in sizes:
        sizes = _infer(sizes, n)
    else:
        p = 1
        for s in sizes:
            p *= s
        if p != n:
            raise RuntimeError(f"unflatten: Provided sizes {_lst(sizes)} don't multiply up to the size of dim {dim} "
                               f"({n}) in the input tensor")
    return view(input, a.shape[:d] + sizes + a.shape[d + 1:])


def ravel(input):
    from .conversion import contiguous

    return view(contiguous(input), -1)


# -- expand / repeat --------------------------------------------------------------------------
class ExpandBackward0(Node):
    forward = "result = self.expand(size)"
    formula = "grad_self = grad.sum_to_size(self.shape)"

    def replay(self, xs, out_shape):
        return _reshaped_like(self, xs[0], out_shape, expand=True)

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
            f"expand(torch.{_tname(input)}{{{_lst(a.shape)}}}, size={_lst(sizes)}): the number of sizes provided "
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
                f"dimension {i}.  Target sizes: {_lst(sizes)}.  Tensor sizes: {_lst(a.shape)}"
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


class RepeatBackward0(Node):
    forward = "result = self.repeat(repeats)"
    formula = "grad_self = grad.reshape(r0, s0, r1, s1, ...).sum(r dims)"

    def __init__(self, shape, reps):
        super().__init__()
        self.shape, self.reps = shape, reps

    def backward(self, grad):
        from .reduce import sum as _sum

        reps = self.reps
        padded = (1,) * (len(reps) - len(self.shape)) + tuple(self.shape)
        inter = []
        for r, s in zip(reps, padded):
            inter += [r, s]
        g = _sum(grad.reshape(tuple(inter)), tuple(range(0, 2 * len(reps), 2)))
        return (g.reshape(self.shape),)


def repeat(input, *sizes):
    reps = _shape_arg(sizes)
    a = input._data
    if len(reps) < a.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    for r in reps:
        if r < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {r}: {_lst(reps)}")
    padded = a.reshape((1,) * (len(reps) - a.ndim) + a.shape)
    r = Tensor._make(xp_of(a).tile(padded, reps))
    if needs_grad(input):
        record(RepeatBackward0(a.shape, reps), (input,), r)
    return r


# -- squeeze / unsqueeze ----------------------------------------------------------------------
def squeeze(input, dim=None):
    a = input._data
    nd = a.ndim
    if dim is None:
        cls = SqueezeBackward0
        axes = tuple(i for i, s in enumerate(a.shape) if s == 1)
    elif isinstance(dim, (tuple, list)):
        cls = SqueezeBackward2
        ws = [_wrap(d, nd) for d in dim]
        axes = tuple(sorted({w for w in ws if nd and a.shape[w] == 1}))
    else:
        cls = SqueezeBackward1
        w = _wrap(dim, nd)
        axes = (w,) if nd and a.shape[w] == 1 else ()
    d = a.squeeze(axis=axes) if axes else a.view()
    r = make_view(Tensor._make(d), input, lambda t: squeeze(t, dim))
    if needs_grad(input):
        record(cls(a.shape), (input,), r)
    return r


def unsqueeze(input, dim):
    a = input._data
    d = _wrap(dim, a.ndim + 1)
    r = make_view(Tensor._make(a.reshape(a.shape[:d] + (1,) + a.shape[d:]) if a.flags.c_contiguous
                               else xp_of(a).expand_dims(a, d)), input, lambda t: unsqueeze(t, d))
    if needs_grad(input):
        record(UnsqueezeBackward0(a.shape), (input,), r)
    return r


# -- permute / transpose ----------------------------------------------------------------------
class PermuteBackward0(Node):
    forward = "result = self.permute(dims)"
    formula = "grad_self = grad.permute(inverse(dims))"

    def replay(self, xs, out_shape):
        return permute(xs[0], *self.dims)

    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def backward(self, grad):
        inv = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inv[d] = i
        return (permute(grad, tuple(inv)),)


def permute(input, *dims):
    dims = _dims_arg(dims)
    a = input._data
    nd = a.ndim
    if len(dims) != nd:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired "
            f"ordering of dimensions i.e. input.dim() = {nd} is not equal to len(dims) = {len(dims)}"
        )
    ws = tuple(_wrap(d, nd) for d in dims)
    if len(set(ws)) != len(ws):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    r = make_view(Tensor._make(a.transpose(ws)), input, lambda t: permute(t, ws))
    if needs_grad(input):
        record(PermuteBackward0(ws), (input,), r)
    return r


class TransposeBackward0(Node):
    forward = "result = self.transpose(dim0, dim1)"
    formula = "grad_self = grad.transpose(dim0, dim1)"

    def replay(self, xs, out_shape):
        return transpose(xs[0], self.d0, self.d1)

    def __init__(self, d0, d1):
        super().__init__()
        self.d0, self.d1 = d0, d1

    def backward(self, grad):
        return (transpose(grad, self.d0, self.d1),)


def transpose(input, dim0, dim1):
    a = input._data
    nd = a.ndim
    d0, d1 = _wrap(dim0, nd), _wrap(dim1, nd)
    r = make_view(Tensor._make(a.swapaxes(d0, d1) if nd else a.view()), input, lambda t: transpose(t, d0, d1))
    if needs_grad(input):
        record(TransposeBackward0(d0, d1), (input,), r)
    return r


class TBackward0(Node):
    forward = "result = self.t()"
    formula = "grad_self = grad.t()"

    def replay(self, xs, out_shape):
        return t(xs[0])

    def backward(self, grad):
        return (t(grad),)


def t(input):
    a = input._data
    if a.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {a.ndim}D")
    r = make_view(Tensor._make(a.T), input, t)
    if needs_grad(input):
        record(TBackward0(), (input,), r)
    return r


def _T(input):
    nd = input._data.ndim
    return permute(input, tuple(range(nd - 1, -1, -1)))


def _mT(input):
    nd = input._data.ndim
    if nd < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got {nd}-D tensor.")
    return transpose(input, -2, -1)


def _mH(input):
    nd = input._data.ndim
    if nd < 2:
        raise RuntimeError(f"tensor.mH is only supported on matrices or batches of matrices. Got {nd}-D tensor.")
    return transpose(input, -2, -1)


def _H(input):
    nd = input._data.ndim
    if nd not in (0, 2):
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {nd}-D tensor.")
    return _T(input)


def _dimlist(x):
    return tuple(int(d) for d in x) if isinstance(x, (tuple, list)) else (int(x),)


def movedim(input, source, destination):
    nd = input._data.ndim
    src, dst = _dimlist(source), _dimlist(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain the same number "
            f"of dims as destination ({list(dst)} dims)"
        )
    ws = [_wrap(d, nd) for d in src]
    wd = [_wrap(d, nd) for d in dst]
    if len(set(ws)) != len(ws):
        raise RuntimeError(f"movedim: repeated dim in `source` ({list(src)})")
    if len(set(wd)) != len(wd):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({list(dst)})")
    order = [i for i in range(nd) if i not in ws]
    perm = [None] * nd
    for s, d in zip(ws, wd):
        perm[d] = s
    it = iter(order)
    perm = tuple(p if p is not None else next(it) for p in perm)
    return permute(input, perm)


# -- cat / stack ------------------------------------------------------------------------------
class CatBackward0(Node):
    forward = "result = cat(tensors, dim)"
    formula = "grad_tensors[i] = grad.narrow(dim, offset_i, tensors[i].size(dim))"

    def __init__(self, dim, sizes):
        super().__init__()
        self.dim, self.sizes = dim, sizes

    def backward(self, grad):
        out = []
        off = 0
        nf = self.next_functions
        for i, s in enumerate(self.sizes):
            if s is None:  # a skipped empty 1-D input
                out.append(_zeros(grad._data, (0,)) if nf[i][0] is not None else None)
                continue
            out.append(narrow(grad, self.dim, off, s) if nf[i][0] is not None else None)
            off += s
        return tuple(out)


@supports_out
def cat(tensors, dim=0, *, out=None, axis=None):
    if axis is not None:
        dim = axis
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(x).__name__}")
        if x._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    # legacy behaviour: 1-D empty tensors are skipped
    used = [x for x in tensors if not (x._data.ndim == 1 and x._data.shape[0] == 0)]
    if not used:
        used = tensors[:1]
    ref = used[0]._data.shape
    nd = len(ref)
    d = _wrap(dim, nd)
    first = tensors.index(used[0])
    for x in tensors:
        s = x._data.shape
        if x._data.ndim == 1 and s[0] == 0:
            continue
        if len(s) != nd:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {nd} and {len(s)}")
    for i, x in enumerate(tensors):
        s = x._data.shape
        if len(s) == 1 and s[0] == 0 and nd != 1:
            continue
        for k in range(nd):
            if k != d and s[k] != ref[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size {ref[k]} but "
                                   f"got size {s[k]} for tensor number {i if i != first else 0} in the list.")
    from .cat_util import common_arrays

    arrs = common_arrays(tensors)
    keep = [a for a in arrs if not (a.ndim == 1 and a.shape[0] == 0)] or arrs[:1]
    r = Tensor._make(xp_of(keep[0]).concatenate(keep, axis=d))
    if needs_grad(*tensors):
        sizes = [None if (x._data.ndim == 1 and x._data.shape[0] == 0 and nd != 1) else x._data.shape[d]
                 for x in tensors]
        record(CatBackward0(d, sizes), tuple(tensors), r)
    return r


class StackBackward0(Node):
    forward = "result = stack(tensors, dim)"
    formula = "grad_tensors[i] = grad.select(dim, i)"

    def __init__(self, dim, n):
        super().__init__()
        self.dim, self.n = dim, n

    def backward(self, grad):
        return tuple(select(grad, self.dim, i) for i in range(self.n))


@supports_out
def stack(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    s0 = tensors[0]._data.shape
    for i, x in enumerate(tensors):
        if x._data.shape != s0:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {_lst(s0)} at entry 0 and "
                f"{_lst(x._data.shape)} at entry {i}"
            )
    dim = _wrap(dim, len(s0) + 1)
    from .cat_util import common_arrays

    arrs = common_arrays(tensors)
    r = Tensor._make(xp_of(arrs[0]).stack(arrs, axis=dim))
    if needs_grad(*tensors):
        record(StackBackward0(dim, len(tensors)), tuple(tensors), r)
    return r


def _atleast(x, n):
    nd = x._data.ndim
    if nd >= n:
        return x
    s = x._data.shape
    if n == 1:
        return reshape(x, (1,))
    if n == 2:
        return reshape(x, (1,) + s if nd == 1 else (1, 1))
    return reshape(x, {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[nd])


def atleast_1d(*tensors):
    return _atleast_n(tensors, 1)


def atleast_2d(*tensors):
    return _atleast_n(tensors, 2)


def atleast_3d(*tensors):
    return _atleast_n(tensors, 3)


def _atleast_n(tensors, n):
    if len(tensors) == 1:
        if isinstance(tensors[0], Tensor):
            return _atleast(tensors[0], n)
        return tuple(_atleast(x, n) for x in tensors[0])
    return tuple(_atleast(x, n) for x in tensors)


@supports_out
def hstack(tensors, *, out=None):
    ts = [_atleast(x, 1) for x in tensors]
    return cat(ts, 0 if ts and ts[0]._data.ndim == 1 else 1)


@supports_out
def vstack(tensors, *, out=None):
    return cat([_atleast(x, 2) for x in tensors], 0)


@supports_out
def dstack(tensors, *, out=None):
    return cat([_atleast(x, 3) for x in tensors], 2)


@supports_out
def column_stack(tensors, *, out=None):
    ts = [reshape(x, (x._data.size, 1)) if x._data.ndim <= 1 else x for x in tensors]
    return cat(ts, 1)


# -- split / chunk / unbind -------------------------------------------------------------------
class _MultiCatBackward(Node):
    """grad_self = cat of the output gradients (zeros where an output got none)."""

    forward = "results = split(self, sizes, dim)  (views of self)"
    formula = "grad_self = cat(grads, dim)  (zeros for outputs without a gradient)"

    def __init__(self, dim, shapes, stacked=False):
        super().__init__()
        self.dim, self.shapes, self.stacked = dim, shapes, stacked

    def backward(self, *grads):
        like = next(g for g in grads if g is not None)
        parts = [g if g is not None else _zeros(like._data, s) for g, s in zip(grads, self.shapes)]
        if self.stacked:
            return (stack(parts, self.dim),)
        return (cat(parts, self.dim),)


class SplitBackward0(_MultiCatBackward):
    forward = "results = split(self, split_size, dim)  (or chunk)"
    formula = "grad_self = cat(grads, dim)  (zeros for outputs without a gradient)"


class SplitWithSizesBackward0(_MultiCatBackward):
    forward = "results = split_with_sizes(self, split_sizes, dim)"
    formula = "grad_self = cat(grads, dim)  (zeros for outputs without a gradient)"


class UnbindBackward0(_MultiCatBackward):
    forward = "results = unbind(self, dim)"
    formula = "grad_self = stack(grads, dim)  (zeros for outputs without a gradient)"


def _split_views(input, d, sizes, cls):
    a = input._data
    pre = (slice(None),) * d
    outs = []
    off = 0
    for s in sizes:
        key = pre + (slice(off, off + s), Ellipsis)
        o = Tensor._make(a[key])
        make_view(o, input, lambda x, key=key: get_basic(x, key, SliceBackward0))
        outs.append(o)
        off += s
    outs = tuple(outs)
    if needs_grad(input):
        record_multi(cls(d, [o._data.shape for o in outs]), (input,), outs)
        name = cls.__name__[:-len("Backward0")]
        for o in outs:
            o._multi = name
    return outs


def split(tensor, split_size_or_sections, dim=0):
    a = tensor._data
    d = _wrap(dim, a.ndim)
    n = a.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                               f"dimension {d}), but got split_sizes={_lst(sizes)}")
        return _split_views(tensor, d, sizes, SplitWithSizesBackward0)
    ss = int(split_size_or_sections)
    if ss < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={ss}")
    if ss == 0:
        if n != 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        sizes = [0]
    else:
        k = max((n + ss - 1) // ss, 1)
        sizes = [ss] * (k - 1) + [n - ss * (k - 1)]
    return _split_views(tensor, d, sizes, SplitBackward0)


def split_with_sizes(input, split_sizes, dim=0):
    return split(input, list(split_sizes), dim)


def chunk(input, chunks, dim=0):
    chunks = int(chunks)
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    a = input._data
    d = _wrap(dim, a.ndim)
    n = a.shape[d]
    size = (n + chunks - 1) // chunks
    if size == 0:
        return _split_views(input, d, [0] * chunks if n == 0 else [], SplitBackward0)
    return split(input, size, d)


def unbind(input, dim=0):
    a = input._data
    if a.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = _wrap(dim, a.ndim)
    pre = (slice(None),) * d
    outs = []
    for i in range(a.shape[d]):
        key = pre + (i, Ellipsis)
        o = Tensor._make(a[key])
        make_view(o, input, lambda x, key=key: get_basic(x, key, SelectBackward0))
        outs.append(o)
    outs = tuple(outs)
    if needs_grad(input) and outs:
        record_multi(UnbindBackward0(d, [o._data.shape for o in outs], stacked=True), (input,), outs)
        for o in outs:
            o._multi = "Unbind"
    return outs


def _iter(self):
    if self._data.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return iter(unbind(self, 0))


# -- narrow / select --------------------------------------------------------------------------
def narrow(input, dim, start, length):
    a = input._data
    if a.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _wrap(dim, a.ndim)
    start, length = int(start), int(length)
    n = a.shape[d]
    if start < -n or start > n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    if start < 0:
        start += n
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return get_basic(input, (slice(None),) * d + (slice(start, start + length), Ellipsis), SliceBackward0)


def select(input, dim, index):
    a = input._data
    if a.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _wrap(dim, a.ndim)
    index = int(index)
    n = a.shape[d]
    if index < -n or index >= n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {_lst(a.shape)} at dimension {d}")
    return get_basic(input, (slice(None),) * d + (index, Ellipsis), SelectBackward0)


# -- flip / roll / tril / triu ----------------------------------------------------------------
class FlipBackward0(Node):
    forward = "result = self.flip(dims)"
    formula = "grad_self = grad.flip(dims)"

    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def backward(self, grad):
        return (flip(grad, self.dims),)


def flip(input, *dims):
    dims = _dims_arg(dims)
    a = input._data
    ws = [_wrap(d, a.ndim) for d in dims]
    if len(set(ws)) != len(ws):
        dup = next(w for w in ws if ws.count(w) > 1)
        raise RuntimeError(f"dim {dup} appears multiple times in the list of dims")
    ws = tuple(ws)
    d = xp_of(a).flip(a, ws).copy() if ws and a.ndim else a.copy()
    r = Tensor._make(d)
    if needs_grad(input):
        record(FlipBackward0(ws), (input,), r)
    return r


def fliplr(input):
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input):
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


class RollBackward0(Node):
    forward = "result = self.roll(shifts, dims)"
    formula = "grad_self = grad.roll(-shifts, dims)"

    def __init__(self, shifts, dims):
        super().__init__()
        self.shifts, self.dims = shifts, dims

    def backward(self, grad):
        return (roll(grad, tuple(-s for s in self.shifts), self.dims),)


def roll(input, shifts, dims=None):
    a = input._data
    sh = _dimlist(shifts)
    if dims is None or (isinstance(dims, (tuple, list)) and len(dims) == 0):
        if len(sh) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:0")
        d = xp_of(a).roll(a.reshape(-1), sh[0]).reshape(a.shape)
        ws = None
    else:
        ds = _dimlist(dims)
        if len(sh) != len(ds):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:{len(ds)}")
        ws = tuple(_wrap(x, a.ndim) for x in ds)
        d = xp_of(a).roll(a, sh, ws)
    r = Tensor._make(d)
    if needs_grad(input):
        record(RollBackward0(sh, ws), (input,), r)
    return r


class TrilBackward0(Node):
    forward = "result = self.tril(diagonal)"
    formula = "grad_self = grad.tril(diagonal)"

    def __init__(self, k):
        super().__init__()
        self.k = k

    def backward(self, grad):
        return (tril(grad, self.k),)


class TriuBackward0(TrilBackward0):
    forward = "result = self.triu(diagonal)"
    formula = "grad_self = grad.triu(diagonal)"

    def backward(self, grad):
        return (triu(grad, self.k),)


def _tri(input, k, lower):
    a = input._data
    name = "tril" if lower else "triu"
    if a.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    k = int(k)
    xp = xp_of(a)
    d = xp.tril(a, k) if lower else xp.triu(a, k)
    r = Tensor._make(d)
    if needs_grad(input):
        record((TrilBackward0 if lower else TriuBackward0)(k), (input,), r)
    return r


@supports_out
def tril(input, diagonal=0, *, out=None):
    return _tri(input, diagonal, True)


@supports_out
def triu(input, diagonal=0, *, out=None):
    return _tri(input, diagonal, False)


def _inplace_of(fn):
    def method(self, *args, **kwargs):
        from ._util import inplace

        return inplace(self, lambda s: fn(s, *args, **kwargs))

    return method


def _swap(input, axis0, axis1):
    return transpose(input, axis0, axis1)



def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors (``indexing='ij'`` or ``'xy'``), as views that expand."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    for t in tensors:
        if t.dim() > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}")
    ts = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    n = len(ts)
    grids = [t.reshape(tuple(-1 if j == i else 1 for j in range(n))).expand(shape) for i, t in enumerate(ts)]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)

METHODS = {
    "view": view, "reshape": reshape, "expand": expand, "expand_as": expand_as, "view_as": view_as,
    "reshape_as": reshape_as, "flatten": flatten, "unflatten": unflatten, "ravel": ravel, "repeat": repeat,
    "squeeze": squeeze, "unsqueeze": unsqueeze, "permute": permute, "transpose": transpose,
    "swapaxes": _swap, "swapdims": _swap, "t": t, "movedim": movedim, "moveaxis": movedim,
    "T": property(_T), "mT": property(_mT), "mH": property(_mH), "H": property(_H),
    "split": split, "split_with_sizes": split_with_sizes, "chunk": chunk, "unbind": unbind,
    "narrow": narrow, "select": select, "flip": flip, "fliplr": fliplr, "flipud": flipud, "roll": roll,
    "tril": tril, "triu": triu, "tril_": _inplace_of(tril), "triu_": _inplace_of(triu),
    "__iter__": _iter,
}
FUNCTIONS = {
    "meshgrid": meshgrid,
    "reshape": reshape, "flatten": flatten, "unflatten": unflatten, "ravel": ravel, "squeeze": squeeze,
    "unsqueeze": unsqueeze, "permute": permute, "transpose": transpose, "swapaxes": _swap, "swapdims": _swap,
    "t": t, "movedim": movedim, "moveaxis": movedim, "cat": cat, "concat": cat, "concatenate": cat,
    "stack": stack, "hstack": hstack, "vstack": vstack, "dstack": dstack, "row_stack": vstack,
    "column_stack": column_stack, "atleast_1d": atleast_1d, "atleast_2d": atleast_2d, "atleast_3d": atleast_3d,
    "split": split, "split_with_sizes": split_with_sizes, "chunk": chunk, "unbind": unbind, "narrow": narrow,
    "select": select, "flip": flip, "fliplr": fliplr, "flipud": flipud, "roll": roll, "tril": tril, "triu": triu,
}

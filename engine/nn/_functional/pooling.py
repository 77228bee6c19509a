"""Pooling: max_pool1d/2d/3d, avg_pool1d/2d/3d, adaptive_{avg,max}_pool1d/2d/3d, lp_pool1d/2d.

Pools run over strided views of the (padded) input with one vectorised pass per kernel
offset — never a Python loop over elements or batch.  Each pool is one node named as PyTorch
names it (``MaxPool2DWithIndicesBackward0``, ``AvgPool2DBackward0``…); the 1-d forms are the 2-d
ones on an unsqueezed input, as in PyTorch (grad_fn ``SqueezeBackward1``).  Backward passes are
differentiable ops too: a max pool's backward scatters the gradient to the argmax positions
(whose own backward gathers), an average pool's backward is its adjoint (whose backward is the
pool again).
"""
import itertools
import math

import numpy as np

from ...autograd.graph import op_name
from ...ops._util import Node, Tensor, needs_grad, record, xp_of
from .windows import pad_array, scratch, windows

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
           "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d"]


def _lst(shape):
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def _tup(v, nd, fname, what):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * nd
    v = tuple(int(a) for a in v)
    if len(v) == 1:
        return v * nd
    if len(v) != nd:
        n = {1: "one int", 2: "two ints", 3: "three ints"}[nd]
        raise RuntimeError(f"{fname}: {what} must either be a single int, or a tuple of {n}")
    return v


def _pool_out(n, k, s, p, d, ceil_mode):
    num = n + 2 * p - d * (k - 1) - 1
    o = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def _min_value(dtype):
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


def _slices(off, k, s, d, out_sz):
    return tuple(slice(off[i] * d[i], off[i] * d[i] + s[i] * (out_sz[i] - 1) + 1, s[i]) for i in range(len(k)))


def _right_pads(sp, k, s, p, d, out_sz):
    """(lo, hi) padding so that every window of the output fits in the padded array."""
    pads = []
    for i in range(len(k)):
        need = (out_sz[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1
        pads.append((p[i], max(p[i], need - sp[i] - p[i])))
    return pads


# -- max pool ---------------------------------------------------------------------------------
def _max_pool_arr(x, k, s, p, d, out_sz):
    """Values and flat (per-plane) input indices of the window maxima, as PyTorch picks them:
    the first maximum in scan order, NaN wins.

    The windows are first copied, kernel offset outermost, into one contiguous work array
    ``(K, planes * P)``, so each of the K compare/select passes runs over contiguous memory."""
    xp = xp_of(x)
    nd = len(k)
    sp = x.shape[x.ndim - nd:]
    lead = x.shape[:x.ndim - nd]
    mn = _min_value(x.dtype)
    xpd = pad_array(x, _right_pads(sp, k, s, p, d, out_sz), mn)
    win = windows(xpd, out_sz, k, s, d)  # (*lead, *out, *k)
    nl = len(lead)
    win = win.transpose(tuple(range(nl + nd, nl + 2 * nd)) + tuple(range(nl + nd)))
    K = math.prod(k)
    P = math.prod(out_sz)
    M = math.prod(lead) * P
    cols = scratch(xp, win.shape, x.dtype)
    xp.copyto(cols, win)
    cols = cols.reshape(K, M)
    # Running maximum and ``loc`` = 1 + offset of the window's pick (0: nothing picked, every
    # value is the dtype's minimum).  Both are updated without per-element branches (a masked
    # copy with a data-dependent mask runs an order of magnitude slower): offsets are visited in
    # increasing order, so ``max(loc, upd * (o + 1))`` sets the picks of this pass.
    best = xp.full(M, mn, dtype=x.dtype)
    ldt = np.int8 if K < 127 else np.int32
    loc = scratch(xp, (M,), ldt)
    loc.fill(0)
    upd = scratch(xp, (M,), np.bool_)
    pick = scratch(xp, (M,), ldt)
    isfloat = x.dtype.kind == "f"
    nan = scratch(xp, (M,), np.bool_) if isfloat else None
    for o in range(K):
        v = cols[o]
        xp.greater(v, best, out=upd)
        if isfloat:
            xp.isnan(v, out=nan)
            upd |= nan
        xp.multiply(upd, ldt(o + 1), out=pick)
        xp.maximum(loc, pick, out=loc)
        xp.maximum(v, best, out=best)  # NaN propagates, as an update to a NaN would
    if isfloat:
        zero = xp.flatnonzero(best == 0)
        if zero.size:  # the sign of a zero maximum is the picked value's, not max()'s
            best[zero] = cols[loc[zero].astype(np.intp) - 1, zero]
    # flat input position = window origin + kernel offset, per dim
    plane_strides = [math.prod(sp[i + 1:]) for i in range(nd)]
    base = 0
    first = 0
    for i in range(nd):
        o = xp.arange(out_sz[i], dtype=np.int64) * s[i] - p[i]
        shape = [1] * nd
        shape[i] = out_sz[i]
        base = base + (o * plane_strides[i]).reshape(shape)
        start = xp.where(o >= 0, 0, (-o + d[i] - 1) // d[i])  # first kernel offset inside the input
        first = first + ((o + start * d[i]) * plane_strides[i]).reshape(shape)
    table = xp.asarray([0] + [sum(off[i] * d[i] * plane_strides[i] for i in range(nd))
                              for off in itertools.product(*[range(ki) for ki in k])], dtype=np.int64)
    idx = xp.take(table, loc).reshape(-1, P)
    idx += xp.reshape(base, (1, P))
    missing = loc == 0
    if missing.any():
        missing = missing.reshape(-1, P)
        idx[missing] = xp.broadcast_to(xp.reshape(first, (1, P)), idx.shape)[missing]
    return best.reshape(lead + tuple(out_sz)), idx.reshape(lead + tuple(out_sz))


def _scatter_arr(g, idx, sp, unique):
    """Sum ``g`` into zeros of spatial shape ``sp`` at the flat per-plane positions ``idx``."""
    xp = xp_of(g)
    nd = len(sp)
    lead = g.shape[:g.ndim - nd]
    planes = math.prod(lead)
    L = math.prod(sp)
    gf = g.reshape(planes, -1)
    if_ = idx.reshape(planes, -1)
    flat = scratch(xp, if_.shape, np.int64)
    xp.add(if_, (xp.arange(planes, dtype=np.int64) * L)[:, None], out=flat)
    flat = flat.reshape(-1)
    if unique:
        out = xp.zeros(planes * L, dtype=g.dtype)
        out[flat] = gf.reshape(-1)
    elif g.dtype.kind == "f" or g.dtype.kind == "i":
        out = xp.bincount(flat, weights=gf.ravel(), minlength=planes * L).astype(g.dtype)
    else:
        out = xp.zeros(planes * L, dtype=g.dtype)
        xp.add.at(out, flat, gf.ravel())
    return out.reshape(lead + tuple(sp))



# -- differentiable scatter/gather pair (backward of max pools) -------------------------------
class _PoolSelect(Node):
    """Grad_fn of a max pool (and of its double backward): picks the input at the argmax."""

    forward = "result, indices = max_pool(self, ...)  (the maximum of each window)"
    formula = "grad_self = zeros(self.shape).scatter_add(indices, grad)"

    def __init__(self, idx, in_shape, nd, unique, pair):
        super().__init__()
        self.idx, self.in_shape, self.nd, self.unique, self.pair = idx, in_shape, nd, unique, pair

    def backward(self, grad):
        return (_scatter(grad, self.idx, self.in_shape, self.nd, self.unique, self.pair),)


class _PoolScatter(Node):
    """Grad_fn of a max pool's backward: gathers the gradient at the argmax positions."""

    forward = "result = max_pool_backward(grad_output, self, indices)  (scattered to the argmax)"
    formula = "grad_grad_output = grad.gather(indices)"

    def __init__(self, idx, nd, unique, pair):
        super().__init__()
        self.idx, self.nd, self.unique, self.pair = idx, nd, unique, pair

    def backward(self, grad):
        return (_gather(grad, self.idx, self.nd, self.unique, self.pair),)


def _gather(input, idx, nd, unique, pair):
    a = input._data
    xp = xp_of(a)
    lead = idx.shape[:idx.ndim - nd]
    planes = math.prod(lead)
    r = xp.take_along_axis(a.reshape(planes, -1), idx.reshape(planes, -1), axis=1).reshape(idx.shape)
    out = Tensor._make(r)
    if needs_grad(input):
        record(pair[0](idx, tuple(a.shape), nd, unique, pair), (input,), out)
    return out


def _scatter(grad, idx, in_shape, nd, unique, pair):
    out = Tensor._make(_scatter_arr(grad._data, idx, in_shape[len(in_shape) - nd:], unique))
    if needs_grad(grad):
        record(pair[1](idx, nd, unique, pair), (grad,), out)
    return out


def _select_pair(name):
    op = op_name(name)
    args = "output_size" if name.startswith("Adaptive") else "kernel_size, stride, padding, dilation"
    fw = type(name, (_PoolSelect,), {"forward": f"result, indices = {op}(self, {args})"})
    bw = type(name.replace("Backward0", "BackwardBackward0"), (_PoolScatter,),
              {"forward": f"result = {op}_backward(grad_output, self, indices)"})
    fw.__qualname__, bw.__qualname__ = fw.__name__, bw.__name__
    return fw, bw


_PAIRS = {n: _select_pair(n) for n in (
    "MaxPool2DWithIndicesBackward0", "MaxPool3DWithIndicesBackward0", "AdaptiveMaxPool2DBackward0",
    "AdaptiveMaxPool3DBackward0")}


def _select_result(input, vals, idx, nd, unique, name):
    out = Tensor._make(vals)
    if needs_grad(input):
        pair = _PAIRS[name]
        record(pair[0](idx, tuple(input.shape), nd, unique, pair), (input,), out)
    return out


# -- checks -----------------------------------------------------------------------------------
def _pool_dim_check(input, nd, fname):
    if input.dim() not in (nd + 1, nd + 2) or any(v == 0 for v in input.shape[1:]):
        if nd == 2 and fname == "max_pool2d":
            raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
        raise RuntimeError(f"Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with optional 0 dim batch size "
                           f"for input, but got:{_lst(input.shape)}")


def _pool_shape_check(input, k, s, p, d, out_sz, maxpool):
    nd = len(k)
    if any(v <= 0 for v in k):
        raise RuntimeError("kernel size should be greater than zero, but got " +
                           " ".join(f"k{n}: {v}" for n, v in zip("THW"[3 - nd:], k)))
    if any(v <= 0 for v in s):
        raise RuntimeError("stride should be greater than zero, but got " +
                           " ".join(f"d{n}: {v}" for n, v in zip("THW"[3 - nd:], s)))
    if any(v <= 0 for v in d):
        raise RuntimeError("dilation should be greater than zero, but got " +
                           " ".join(f"dilation{n}: {v}" for n, v in zip("THW"[3 - nd:], d)))
    for i in range(nd):
        half = ((k[i] - 1) * d[i] + 1) // 2 if maxpool else k[i] // 2
        if half < p[i]:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p[i]}, "
                               f"kernel_size={k[i]} and dilation={d[i]}")
    if any(o < 1 for o in out_sz):
        sp = input.shape[input.dim() - nd - 1:]
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, sp))}). Calculated output size: "
                           f"({'x'.join(map(str, (sp[0],) + tuple(out_sz)))}). Output size is too small")


def _pool_args(nd, fname, kernel_size, stride, padding, dilation):
    k = _tup(kernel_size, nd, fname, "kernel_size")
    if stride is None or (not isinstance(stride, (int, np.integer)) and len(stride) == 0):
        s = k
    else:
        s = _tup(stride, nd, fname, "stride")
    p = _tup(padding, nd, fname, "padding")
    d = _tup(dilation, nd, fname, "dilation")
    if any(v == 0 for v in s):
        raise RuntimeError("stride should not be zero")
    return k, s, p, d


# -- max pool ---------------------------------------------------------------------------------
def _max_pool_nd(nd, fname, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    k, s, p, d = _pool_args(nd, fname, kernel_size, stride, padding, dilation)
    _pool_dim_check(input, nd, fname)
    sp = tuple(input.shape[input.dim() - nd:])
    out_sz = tuple(_pool_out(sp[i], k[i], s[i], p[i], d[i], ceil_mode) if k[i] > 0 and d[i] > 0 else 0
                   for i in range(nd))
    _pool_shape_check(input, k, s, p, d, out_sz, True)
    vals, idx = _max_pool_arr(input._data, k, s, p, d, out_sz)
    unique = all(s[i] >= d[i] * (k[i] - 1) + 1 for i in range(nd))
    out = _select_result(input, vals, idx, nd, unique, f"MaxPool{nd}DWithIndicesBackward0")
    if return_indices:
        return out, Tensor._make(idx)
    return out


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool_nd(2, "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool_nd(3, "max_pool3d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _one(v, fname, what):
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = tuple(v)
    if len(v) != 1:
        raise RuntimeError(f"{fname}() {what} must be an int or int list of size 1 but got size {len(v)}")
    return int(v[0])


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if input.dim() not in (2, 3) or any(v == 0 for v in input.shape[1:]):
        raise RuntimeError(f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for "
                           f"input, but got:{_lst(input.shape)}")
    k = _one(kernel_size, "max_pool1d", "kernel_size")
    s = k if stride is None or (not isinstance(stride, (int, np.integer)) and len(stride) == 0) else \
        _one(stride, "max_pool1d", "stride")
    p = _one(padding, "max_pool1d", "padding")
    d = _one(dilation, "max_pool1d", "dilation")
    if k <= 0:
        raise RuntimeError(f"max_pool1d() kernel_size must be greater than zero, but got {k}")
    if s <= 0:
        raise RuntimeError(f"max_pool1d() stride must be greater than zero, but got {s}")
    if p < 0:
        raise RuntimeError(f"max_pool1d() padding must be non-negative, but got {p}")
    if p > k // 2:
        raise RuntimeError(f"max_pool1d() padding should be at most half of kernel size, but got padding={p} and "
                           f"kernel_size={k}")
    if d <= 0:
        raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got {d}")
    o = _pool_out(input.shape[-1], k, s, p, d, ceil_mode)
    if o < 1:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {o}")
    r = max_pool2d(input.unsqueeze(-2), (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    if return_indices:
        return r[0].squeeze(-2), r[1].squeeze(-2)
    return r.squeeze(-2)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# -- average pool -----------------------------------------------------------------------------
def _avg_divisor(xp, sp, k, s, p, out_sz, count_include_pad, divisor_override, dtype):
    if divisor_override is not None:
        return divisor_override
    div = None
    for i in range(len(k)):
        start = np.arange(out_sz[i]) * s[i] - p[i]
        end = np.minimum(start + k[i], sp[i] + p[i])
        size = end - start
        c = size if count_include_pad else np.minimum(end, sp[i]) - np.maximum(start, 0)
        shape = [1] * len(k)
        shape[i] = out_sz[i]
        c = c.reshape(shape)
        div = c if div is None else div * c
    return xp.asarray(div.astype(np.int64))


def _avg_fwd_arr(x, k, s, p, out_sz, div):
    xp = xp_of(x)
    nd = len(k)
    d = (1,) * nd
    sp = x.shape[x.ndim - nd:]
    xpd = pad_array(x, _right_pads(sp, k, s, p, d, out_sz))
    acc = None
    for off in itertools.product(*[range(ki) for ki in k]):
        v = xpd[(Ellipsis,) + _slices(off, k, s, d, out_sz)]
        acc = v.copy() if acc is None else acc.__iadd__(v)
    if x.dtype.kind == "f":
        return (acc / xp.asarray(div, dtype=x.dtype)).astype(x.dtype, copy=False)
    return xp.trunc(acc / div).astype(x.dtype)


def _avg_adj_arr(g, sp, k, s, p, out_sz, div):
    xp = xp_of(g)
    nd = len(k)
    d = (1,) * nd
    gd = g / xp.asarray(div, dtype=g.dtype) if g.dtype.kind == "f" else g // div
    pads = _right_pads(sp, k, s, p, d, out_sz)
    full = g.shape[:g.ndim - nd] + tuple(sp[i] + pads[i][0] + pads[i][1] for i in range(nd))
    acc = xp.zeros(full, dtype=g.dtype)
    for off in itertools.product(*[range(ki) for ki in k]):
        acc[(Ellipsis,) + _slices(off, k, s, d, out_sz)] += gd
    return xp.ascontiguousarray(acc[(Ellipsis,) + tuple(slice(p[i], p[i] + sp[i]) for i in range(nd))])


class _AvgPoolNode(Node):
    """Grad_fn of an average pool (and of the adjoint of one): the other of the pair."""

    forward = "result = avg_pool(self, kernel_size, stride, padding)"
    formula = "grad_self = avg_pool_backward(grad)  (grad / divisor spread over each window)"

    def __init__(self, args, adjoint):
        super().__init__()
        self.args, self.adjoint = args, adjoint

    def backward(self, grad):
        return (_avg_op(grad, self.args, not self.adjoint),)


_AVG = {}
for _nd in (2, 3):
    for _adj in (False, True):
        _name = f"AvgPool{_nd}DBackward0" if not _adj else f"AvgPool{_nd}DBackwardBackward0"
        _op = f"avg_pool{_nd}d"
        _cls = type(_name, (_AvgPoolNode,), {
            "forward": f"result = {_op}_backward(grad_output)  (each value / divisor over its window)"
            if _adj else f"result = {_op}(self, kernel_size, stride, padding)",
            "formula": f"grad_grad_output = {_op}(grad)" if _adj else
            f"grad_self = {_op}_backward(grad)  (grad / divisor spread over each window)"})
        _cls.__qualname__ = _name
        _AVG[(_nd, _adj)] = _cls


def _avg_op(input, args, adjoint):
    sp, k, s, p, out_sz, div = args
    a = input._data
    r = _avg_adj_arr(a, sp, k, s, p, out_sz, div) if adjoint else _avg_fwd_arr(a, k, s, p, out_sz, div)
    out = Tensor._make(r)
    if needs_grad(input):
        record(_AVG[(len(k), adjoint)](args, adjoint), (input,), out)
    return out


def _avg_pool_nd(nd, fname, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    k, s, p, _ = _pool_args(nd, fname, kernel_size, stride, padding, 1)
    if input.dim() < nd + 1:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-input.dim()}, {input.dim() - 1}], "
                         f"but got {-(nd + 1)})")
    _pool_dim_check(input, nd, fname)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    sp = tuple(input.shape[input.dim() - nd:])
    out_sz = tuple(_pool_out(sp[i], k[i], s[i], p[i], 1, ceil_mode) if k[i] > 0 else 0 for i in range(nd))
    _pool_shape_check(input, k, s, p, (1,) * nd, out_sz, False)
    div = _avg_divisor(xp_of(input._data), sp, k, s, p, out_sz, count_include_pad, divisor_override, input.dtype)
    return _avg_op(input, (sp, k, s, p, out_sz, div), False)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool_nd(2, "avg_pool2d", input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool_nd(3, "avg_pool3d", input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override)


def _check_1d(input, fname):
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional tensor for argument #1 "
                           f"'self' (while checking arguments for {fname})")


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    _check_1d(input, "avg_pool1d")
    k = _one(kernel_size, "avg_pool1d", "kernel_size")
    s = k if stride is None or (not isinstance(stride, (int, np.integer)) and len(stride) == 0) else \
        _one(stride, "avg_pool1d", "stride")
    p = _one(padding, "avg_pool1d", "padding")
    r = avg_pool2d(input.unsqueeze(-2), (1, k), (1, s), (0, p), ceil_mode, count_include_pad)
    return r.squeeze(-2)


# -- adaptive pools ---------------------------------------------------------------------------
def _adaptive_bounds(n, o):
    i = np.arange(o)
    start = (i * n) // o
    end = -((-(i + 1) * n) // o)
    return start, end


def _adaptive_sizes(output_size, sp, fname):
    nd = len(sp)
    if isinstance(output_size, (int, np.integer)):
        output_size = (int(output_size),) * nd
    output_size = tuple(output_size)
    if len(output_size) == 1 and nd > 1:
        output_size = output_size * nd
    if len(output_size) != nd:
        raise RuntimeError(f"{fname}(): internal error: output_size.size() must be {nd}")
    return tuple(sp[i] if v is None else int(v) for i, v in enumerate(output_size))


def _adaptive_check(input, nd, fname):
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(_adaptive_msg(input, nd, fname))
    for i in range(1, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError(f"{fname}(): Expected input to have non-zero size for non-batch dimensions, but input "
                               f"has sizes {_lst(input.shape)} with dimension {i} being empty")


def _adaptive_msg(input, nd, fname):
    sep = ": " if "max" in fname else " "
    return f"{fname}(): Expected {nd + 1}D or {nd + 2}D tensor, but got{sep}{_lst(input.shape)}"


def _window_matrix(n, o, dtype, xp):
    start, end = _adaptive_bounds(n, o)
    j = np.arange(n)
    m = ((j[None, :] >= start[:, None]) & (j[None, :] < end[:, None])).astype(dtype)
    return xp.asarray(m), xp.asarray((end - start).astype(dtype))


def _apply_axis(a, m, axis):
    """``m (o, n)`` applied along ``axis`` of ``a``."""
    xp = xp_of(a)
    if axis == a.ndim - 1:
        return a @ m.T
    if axis == a.ndim - 2:
        return xp.matmul(m, a)
    return xp.moveaxis(xp.tensordot(m, a, axes=(1, axis)), 0, axis)


class _SepNode(Node):
    """Grad_fn of a separable linear map over the trailing dims (adaptive average pool,
    interpolation, …) and of its adjoint: each one's backward is the other."""

    forward = "result = M applied along each trailing dim of self  (a separable linear map)"
    formula = "grad_self = M.T applied along each trailing dim of grad  (the adjoint)"

    def __init__(self, mats, scale, adjoint, names):
        super().__init__()
        self.mats, self.scale, self.adjoint, self.names = mats, scale, adjoint, names

    def backward(self, grad):
        return (separable(grad, self.mats, self.scale, not self.adjoint, self.names),)


_SEP_CLASSES = {}


def _sep_texts(name):
    """(forward, formula) of a separable node class, from its name: ``XBackward0`` is the map
    ``x`` (M per trailing dim), ``XBackwardBackward0`` its adjoint ``x_backward`` (M.T)."""
    op = op_name(name)
    if op.endswith("_backward"):
        return (f"result = {op}(grad_output)  (the adjoint: M.T along each trailing dim)",
                f"grad_grad_output = {op[:-len('_backward')]}(grad)")
    return (f"result = {op}(self)  (a linear map: M along each trailing dim)",
            f"grad_self = {op}_backward(grad)  (the adjoint: M.T along each trailing dim)")


def _sep_class(name):
    cls = _SEP_CLASSES.get(name)
    if cls is None:
        forward, formula = _sep_texts(name)
        cls = _SEP_CLASSES[name] = type(name, (_SepNode,), {"forward": forward, "formula": formula})
        cls.__qualname__ = name
    return cls


def separable(input, mats, scale, adjoint, names):
    """``out = scale * (M_1 (x) M_2 (x) ...) input`` over the trailing ``len(mats)`` dims (or its
    adjoint), as one differentiable node named ``names[adjoint]``."""
    a = input._data
    nd = len(mats)
    if adjoint:
        if scale is not None:
            a = a * scale
        for i, m in enumerate(mats):
            a = _apply_axis(a, m.T, a.ndim - nd + i)
    else:
        for i, m in enumerate(mats):
            a = _apply_axis(a, m, a.ndim - nd + i)
        if scale is not None:
            a = a * scale
    out = Tensor._make(xp_of(a).ascontiguousarray(a).astype(input._data.dtype, copy=False))
    if needs_grad(input):
        name = names[1] if adjoint else names[0]
        record(_sep_class(name)(mats, scale, adjoint, names), (input,), out)
    return out


def _adaptive_avg_nd(nd, fname, input, output_size):
    _adaptive_check(input, nd, fname)
    sp = tuple(input.shape[input.dim() - nd:])
    osz = _adaptive_sizes(output_size, sp, fname)
    if all(o == 1 for o in osz):
        return input.mean(tuple(range(-nd, 0)), keepdim=True)
    xp = xp_of(input._data)
    dt = input._data.dtype
    mats, scale = [], None
    for i in range(nd):
        m, cnt = _window_matrix(sp[i], osz[i], dt, xp)
        mats.append(m)
        shape = [1] * nd
        shape[i] = osz[i]
        c = cnt.reshape(shape)
        scale = c if scale is None else scale * c
    inv = xp.asarray(1, dtype=dt) / scale
    name = f"AdaptiveAvgPool{nd}DBackward0"
    return separable(input, mats, inv, False, (name, name.replace("Backward0", "BackwardBackward0")))


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg_nd(2, "adaptive_avg_pool2d", input, output_size)


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg_nd(3, "adaptive_avg_pool3d", input, output_size)


def adaptive_avg_pool1d(input, output_size):
    _check_1d(input, "adaptive_avg_pool1d")
    o = _one(output_size, "adaptive_avg_pool1d", "output_size")
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, o)).squeeze(-2)


def _adaptive_max_arr(x, osz):
    xp = xp_of(x)
    nd = len(osz)
    sp = x.shape[x.ndim - nd:]
    lead = x.shape[:x.ndim - nd]
    bounds = [_adaptive_bounds(sp[i], osz[i]) for i in range(nd)]
    kmax = [int((e - st).max()) for st, e in bounds]
    plane_strides = [math.prod(sp[i + 1:]) for i in range(nd)]
    best = idx = None
    for off in itertools.product(*[range(k) for k in kmax]):
        keys, valid, pos = [], None, 0
        for i in range(nd):
            st, e = bounds[i]
            q = st + off[i]
            ok = q < e
            q = np.minimum(q, sp[i] - 1)
            shape = [1] * nd
            shape[i] = osz[i]
            keys.append(xp.asarray(q.reshape(shape)))
            okr = xp.asarray(ok.reshape(shape))
            valid = okr if valid is None else valid & okr
            pos = pos + xp.asarray((q * plane_strides[i]).reshape(shape))
        v = x[(Ellipsis,) + tuple(keys)]
        if best is None:
            best = v.copy()
            idx = xp.broadcast_to(pos, best.shape).copy()
            continue
        upd = v > best
        if x.dtype.kind == "f":
            upd |= xp.isnan(v)
        upd &= valid
        xp.copyto(best, v, where=upd)
        xp.copyto(idx, xp.broadcast_to(pos, idx.shape), where=upd)
    return best.reshape(lead + tuple(osz)), idx.reshape(lead + tuple(osz))


def _adaptive_max_nd(nd, fname, input, output_size, return_indices):
    _adaptive_check(input, nd, fname)
    sp = tuple(input.shape[input.dim() - nd:])
    osz = _adaptive_sizes(output_size, sp, fname)
    vals, idx = _adaptive_max_arr(input._data, osz)
    unique = all(sp[i] % osz[i] == 0 for i in range(nd))
    out = _select_result(input, vals, idx, nd, unique, f"AdaptiveMaxPool{nd}DBackward0")
    if return_indices:
        return out, Tensor._make(idx)
    return out


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max_nd(2, "adaptive_max_pool2d", input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max_nd(3, "adaptive_max_pool3d", input, output_size, return_indices)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    _check_1d(input, "adaptive_max_pool1d")
    o = _one(output_size, "adaptive_max_pool1d", "output_size")
    r = adaptive_max_pool2d(input.unsqueeze(-2), (1, o), return_indices)
    if return_indices:
        return r[0].squeeze(-2), r[1].squeeze(-2)
    return r.squeeze(-2)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool3d(input, output_size, True)


# -- power-average pools ----------------------------------------------------------------------
def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    out = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    k = _one(kernel_size, "lp_pool1d", "kernel_size")
    return (out.sign() * out.abs().relu()).mul(k).pow(1.0 / norm_type)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    k = _tup(kernel_size, 2, "lp_pool2d", "kernel_size")
    out = avg_pool2d(input.pow(norm_type), k, stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(k[0] * k[1]).pow(1.0 / norm_type)

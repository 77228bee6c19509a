"""Array kernels shared by convolution and pooling: reusable work arrays (``scratch``), padding,
strided window views, and im2col / col2im on plain arrays (numpy or cupy).  Nothing here records
graph nodes."""
import itertools
import math
import sys

import numpy as np

from ...ops._util import xp_of


# -- reusable work arrays ---------------------------------------------------------------------
# A fresh multi-megabyte array costs a page fault per 4 KiB on every training step (the
# allocator hands big blocks back to the OS when they are freed), which for the column matrices
# of a small convnet takes longer than the GEMMs.  Work arrays are therefore kept here and handed
# out again once nothing else references them (views keep their base referenced, so a buffer
# still seen by a tensor, a graph node or a view is never reused).
_SCRATCH = {}
_SCRATCH_PER_KEY = 4
_SCRATCH_KEYS = 32
_SCRATCH_MAX_BYTES = 1 << 26


def _refs(bufs, i):
    return sys.getrefcount(bufs[i])


_FREE_REFS = _refs([np.empty(1)], 0)  # the count of a buffer referenced only by its list


def scratch(xp, shape, dtype, zero=False):
    """An uninitialised (or zeroed) array of ``shape``, possibly one handed out before and since
    released.  Only for arrays that don't escape: results handed to a caller must be fresh."""
    shape = tuple(int(v) for v in shape)
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if xp is not np or nbytes > _SCRATCH_MAX_BYTES or nbytes < (1 << 16):
        return xp.zeros(shape, dtype) if zero else xp.empty(shape, dtype)
    key = (shape, dtype)
    bufs = _SCRATCH.get(key)
    if bufs is None:
        if len(_SCRATCH) >= _SCRATCH_KEYS:
            _SCRATCH.pop(next(iter(_SCRATCH)))
        bufs = _SCRATCH[key] = []
    for i in range(len(bufs)):
        if _refs(bufs, i) == _FREE_REFS:
            buf = bufs[i]
            if zero:
                buf.fill(0)
            return buf
    buf = np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
    if len(bufs) < _SCRATCH_PER_KEY:
        bufs.append(buf)
    return buf


# -- array kernels ----------------------------------------------------------------------------
def _strided(xp, a, shape, strides):
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)


def pad_array(a, pads, value=0):
    """``a`` with its trailing ``len(pads)`` dims padded by ``pads = [(lo, hi), ...]`` (>= 0)."""
    nd = len(pads)
    if not any(lo or hi for lo, hi in pads):
        return a
    xp = xp_of(a)
    sp = a.shape[a.ndim - nd:]
    shape = a.shape[:a.ndim - nd] + tuple(s + lo + hi for s, (lo, hi) in zip(sp, pads))
    out = xp.full(shape, value, dtype=a.dtype) if value else xp.zeros(shape, dtype=a.dtype)
    out[(Ellipsis,) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(sp, pads))] = a
    return out


def windows(a, out_sz, k, s, d):
    """Read-only view ``(*lead, *out_sz, *k)`` of the windows of ``a`` over its trailing dims."""
    nd = len(k)
    lead = a.ndim - nd
    st = a.strides
    shape = a.shape[:lead] + tuple(out_sz) + tuple(k)
    strides = st[:lead] + tuple(st[lead + i] * s[i] for i in range(nd)) + tuple(st[lead + i] * d[i] for i in range(nd))
    return _strided(xp_of(a), a, shape, strides)


def _out_size(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def im2col(x, k, s, p, d, out_sz=None, work=False):
    """``x (N, C, *S)`` -> contiguous columns ``(N, C, *k, *out)`` (per image a ``(C*K, P)``
    matrix) and the output size.  ``work``: the columns may be a reused work array (they must
    not escape into a tensor)."""
    nd = len(k)
    xp = xp_of(x)
    if any(p):
        sp = x.shape[2:]
        xpd = scratch(xp, x.shape[:2] + tuple(sp[i] + 2 * p[i] for i in range(nd)), x.dtype, zero=True)
        xpd[(Ellipsis,) + tuple(slice(p[i], p[i] + sp[i]) for i in range(nd))] = x
    else:
        xpd = x
    if out_sz is None:
        out_sz = tuple(_out_size(x.shape[2 + i], k[i], s[i], p[i], d[i]) for i in range(nd))
    win = windows(xpd, out_sz, k, s, d)  # (N, C, *out, *k)
    win = win.transpose((0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd)))
    if not work:
        return xp.ascontiguousarray(win), tuple(out_sz)
    cols = scratch(xp, win.shape, x.dtype)
    xp.copyto(cols, win)
    return cols, tuple(out_sz)


def _col2im_full(k, s, p, d, size, out_sz):
    """Spatial size of the accumulator of a col2im: the padded input, grown to hold every window."""
    nd = len(k)
    return tuple(max(size[i] + 2 * p[i], (out_sz[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1) for i in range(nd))


def col2im(cols, size, k, s, p, d):
    """Adjoint of ``im2col``: columns ``(N, C, *k, *out)`` summed into ``(N, C, *size)``."""
    nd = len(k)
    xp = xp_of(cols)
    N, C = cols.shape[:2]
    out_sz = cols.shape[2 + nd:]
    full = _col2im_full(k, s, p, d, size, out_sz)
    acc = xp.zeros((N, C) + full, dtype=cols.dtype)
    for off in itertools.product(*[range(ki) for ki in k]):
        key = (slice(None), slice(None)) + tuple(
            slice(off[i] * d[i], off[i] * d[i] + s[i] * (out_sz[i] - 1) + 1, s[i]) for i in range(nd))
        acc[key] += cols[(slice(None), slice(None)) + off]
    crop = acc[(slice(None), slice(None)) + tuple(slice(p[i], p[i] + size[i]) for i in range(nd))]
    return xp.ascontiguousarray(crop)


def _col2im_wide(cols, size, k, s, p, d, out_sz):
    """``col2im`` of "wide" columns ``(N, C, *k, *out[:-1], Wf)``: the last output dim runs over
    the accumulator's full width ``Wf`` and the columns past ``out[-1]`` are exact zeros (stride 1
    on the last dim).  Each kernel offset then adds whole rows of ``Wf`` contiguous elements (a
    window row that runs past the plane's width wraps onto the next row, adding zeros)."""
    nd = len(k)
    xp = xp_of(cols)
    N, C = cols.shape[:2]
    full = _col2im_full(k, s, p, d, size, out_sz)
    rs = [math.prod(full[i + 1:]) for i in range(nd)]  # element strides of the spatial dims
    plane = math.prod(full)
    acc = scratch(xp, (N, C, plane + d[-1] * (k[-1] - 1)), cols.dtype, zero=True)
    it = acc.itemsize
    shape = (N, C) + tuple(out_sz[:-1]) + (full[-1],)
    strides = acc.strides[:2] + tuple(s[i] * rs[i] * it for i in range(nd - 1)) + (it,)
    for off in itertools.product(*[range(ki) for ki in k]):
        start = sum(off[i] * d[i] * rs[i] for i in range(nd))
        view = _strided(xp, acc[:, :, start:], shape, strides)
        view += cols[(slice(None), slice(None)) + off]
    acc = _strided(xp, acc, (N, C) + full, acc.strides[:2] + tuple(r * it for r in rs))
    crop = acc[(slice(None), slice(None)) + tuple(slice(p[i], p[i] + size[i]) for i in range(nd))]
    return xp.ascontiguousarray(crop)

"""Padding and resizing: pad (constant, reflect, replicate, circular), interpolate (nearest,
nearest-exact, linear, bilinear, trilinear, area), upsample aliases, pixel_shuffle/unshuffle.

Non-constant pads and interpolations are separable linear maps of the trailing dims: the
forward pass gathers (and, for the linear modes, blends two neighbours per axis in PyTorch's
order, so float32 results agree to the bit), and the backward pass is the adjoint, applied as
one small matrix per axis; each is one node named as PyTorch names it.
"""
import math
import warnings

import numpy as np

from ...ops._util import Node, Tensor, needs_grad, record, xp_of
from .pooling import _sep_class

__all__ = ["pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle"]

_NONCONST_HELP = ("\nSupported combinations for non-constant padding:\n"
                  "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
                  "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
                  "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def _lst(shape):
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


# -- constant pad -----------------------------------------------------------------------------
class ConstantPadNdBackward0(Node):
    forward = "result = constant_pad_nd(self, pad, value)"
    formula = "grad_self = constant_pad_nd(grad, -pad)  (crops the padding)"

    def __init__(self, pads):
        super().__init__()
        self.pads = pads

    def backward(self, grad):
        return (constant_pad_nd(grad, [-p for p in self.pads], 0),)


def constant_pad_nd(input, pads, value=0):
    a = input._data
    xp = xp_of(a)
    n = len(pads) // 2
    crop = [slice(None)] * a.ndim
    grow = []
    for j in range(n):
        dim = a.ndim - 1 - j
        lo, hi = pads[2 * j], pads[2 * j + 1]
        size = a.shape[dim] + lo + hi
        if size < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
        crop[dim] = slice(max(0, -lo), a.shape[dim] - max(0, -hi))
        grow.append((dim, max(0, lo), max(0, hi)))
    c = a[tuple(crop)]
    if any(lo or hi for _, lo, hi in grow):
        shape = list(c.shape)
        key = [slice(None)] * a.ndim
        for dim, lo, hi in grow:
            key[dim] = slice(lo, lo + shape[dim])
            shape[dim] += lo + hi
        if a.dtype.kind == "f":
            fill = value
        elif a.dtype.kind == "b":
            fill = bool(value)
        else:
            fill = int(value)
        r = xp.full(tuple(shape), fill, dtype=a.dtype)
        r[tuple(key)] = c
    else:
        r = c.copy()
    out = Tensor._make(r)
    if needs_grad(input):
        record(ConstantPadNdBackward0(tuple(pads)), (input,), out)
    return out


# -- index-gather pads and nearest resizing ---------------------------------------------------
def _onehot(idx, n, dtype, xp):
    m = np.zeros((len(idx), n), dtype=dtype)
    m[np.arange(len(idx)), idx] = 1
    return xp.asarray(m)


def _gather_op(input, idxs, name):
    """``input`` indexed by ``idxs[i]`` along trailing dim ``i``; backward is the adjoint."""
    a = input._data
    xp = xp_of(a)
    nd = len(idxs)
    for i, idx in enumerate(idxs):
        if not (len(idx) == a.shape[a.ndim - nd + i] and np.array_equal(idx, np.arange(len(idx)))):
            a = xp.take(a, xp.asarray(idx), axis=a.ndim - nd + i)
    out = Tensor._make(xp.ascontiguousarray(a))
    if needs_grad(input):
        sp = input.shape[input.dim() - nd:]
        dt = input._data.dtype
        mats = [_onehot(idx, sp[i], dt, xp) for i, idx in enumerate(idxs)]
        names = (name, name.replace("Backward0", "BackwardBackward0"))
        record(_sep_class(name)(mats, None, False, names), (input,), out)
    return out


def _pad_index(n, lo, hi, mode):
    i = np.arange(-lo, n + hi)
    if mode == "reflect":
        i = np.abs(i)
        i = np.where(i >= n, 2 * (n - 1) - i, i)
    elif mode == "replicate":
        i = np.clip(i, 0, n - 1)
    else:
        i = i % n
    return i


def _circular(input, pairs):
    from ...ops.creation import empty

    nd = len(pairs)
    sp = input.shape[input.dim() - nd:]
    for (lo, hi), n in zip(pairs, sp):
        if lo > n or hi > n:
            raise RuntimeError("Padding value causes wrapping around more than once.")
    shape = tuple(input.shape[:input.dim() - nd]) + tuple(n + lo + hi for (lo, hi), n in zip(pairs, sp))
    out = empty(shape, dtype=input.dtype, device=input.device)
    lead = (slice(None),) * (input.dim() - nd)
    if any(lo < 0 or hi < 0 for lo, hi in pairs):
        input = input[lead + tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(pairs, sp))]
        sp = tuple(input.shape[input.dim() - nd:])
        pairs = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
    lead = (slice(None),) * (input.dim() - nd)
    out[lead + tuple(slice(lo, lo + n) for (lo, _), n in zip(pairs, sp))] = input
    full = [slice(None)] * nd
    for i, ((lo, hi), n) in enumerate(zip(pairs, sp)):
        if lo > 0:
            dst, src = list(full), list(full)
            dst[i], src[i] = slice(0, lo), slice(n, n + lo)
            out[lead + tuple(dst)] = out[lead + tuple(src)]
        if hi > 0:
            dst, src = list(full), list(full)
            dst[i], src[i] = slice(lo + n, lo + n + hi), slice(lo, lo + hi)
            out[lead + tuple(dst)] = out[lead + tuple(src)]
    return out


def pad(input, pad, mode="constant", value=None):
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {input.dim()}")
    if mode == "constant":
        return constant_pad_nd(input, pad, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    nd = len(pad) // 2
    if nd not in (1, 2, 3) or input.dim() not in (nd + 1, nd + 2):
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {input.dim()}D input tensor."
                                  + _NONCONST_HELP)
    pairs = [(pad[2 * j], pad[2 * j + 1]) for j in reversed(range(nd))]  # first spatial dim first
    sp = tuple(input.shape[input.dim() - nd:])
    if mode == "circular":
        return _circular(input, pairs)
    if mode == "reflect":
        for j in range(nd):  # last dim first, as PyTorch checks
            i = nd - 1 - j
            lo, hi = pairs[i]
            if lo >= sp[i] or hi >= sp[i]:
                raise RuntimeError(f"Argument #{4 + 2 * j}: Padding size should be less than the corresponding input "
                                   f"dimension, but got: padding ({lo}, {hi}) at dimension {input.dim() - 1 - j} of "
                                   f"input {_lst(input.shape)}")
    for (lo, hi), n in zip(pairs, sp):
        if n + lo + hi <= 0:
            raise RuntimeError(f"input (H: {sp[-2] if nd > 1 else 1}, W: {sp[-1]}) is too small. Calculated output "
                               f"H: {sp[-2] + sum(pairs[-2]) if nd > 1 else 1} W: {sp[-1] + sum(pairs[-1])}")
    idxs = [_pad_index(n, lo, hi, mode) for (lo, hi), n in zip(pairs, sp)]
    name = ("ReflectionPad" if mode == "reflect" else "ReplicationPad") + f"{nd}DBackward0"
    return _gather_op(input, idxs, name)


# -- interpolate ------------------------------------------------------------------------------
_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"
_NAMES = {"nearest": "UpsampleNearest{}DBackward0", "nearest-exact": "UpsampleNearestExact{}DBackward0",
          "linear": "UpsampleLinear1DBackward0", "bilinear": "UpsampleBilinear2DBackward0",
          "trilinear": "UpsampleTrilinear3DBackward0"}
_LINEAR_ND = {"linear": 1, "bilinear": 2, "trilinear": 3}


def _opmath(np_dtype):
    return np.float64 if np_dtype == np.float64 else np.float32


def _scale_value(scale, n_in, n_out, ft):
    if scale is not None and scale > 0:
        return ft(1.0 / scale)
    return ft(n_in) / ft(n_out)


def _nearest_index(n_in, n_out, scale, exact):
    if not exact:
        if n_out == n_in:
            return np.arange(n_out)
        if n_out == 2 * n_in:
            return np.arange(n_out) >> 1
    s = _scale_value(scale, n_in, n_out, np.float32)
    o = np.arange(n_out).astype(np.float32)
    src = np.floor((o + np.float32(0.5)) * s) if exact else np.floor(o * s)
    return np.minimum(src.astype(np.int64), n_in - 1)


def _linear_weights(n_in, n_out, scale, align_corners, np_dtype):
    ft = _opmath(np_dtype)
    if n_out == n_in:
        i = np.arange(n_out)
        return i, i, np.ones(n_out, ft), np.zeros(n_out, ft)
    if align_corners:
        ratio = ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
    else:
        ratio = _scale_value(scale, n_in, n_out, ft)
    o = np.arange(n_out).astype(ft)
    if align_corners:
        real = ratio * o
    else:
        real = np.maximum(ratio * (o + ft(0.5)) - ft(0.5), ft(0))
    i0 = np.minimum(np.floor(real).astype(np.int64), n_in - 1)
    l1 = np.minimum(np.maximum(real - i0.astype(ft), ft(0)), ft(1)).astype(ft)
    i1 = i0 + (i0 < n_in - 1)
    l0 = (ft(1) - l1).astype(ft)
    return i0, i1, l0, l1


def _linear_op(input, weights, name):
    a = input._data
    xp = xp_of(a)
    nd = len(weights)
    dt = a.dtype
    for i in reversed(range(nd)):
        ax = a.ndim - nd + i
        i0, i1, l0, l1 = weights[i]
        sh = [1] * (a.ndim - ax)
        sh[0] = len(i0)
        t0 = xp.take(a, xp.asarray(i0), axis=ax)
        t1 = xp.take(a, xp.asarray(i1), axis=ax)
        w0 = xp.asarray(l0.reshape(sh))
        w1 = xp.asarray(l1.reshape(sh))
        a = (t0 * w0 + t1 * w1).astype(dt, copy=False)
    out = Tensor._make(xp.ascontiguousarray(a))
    if needs_grad(input):
        sp = input.shape[input.dim() - nd:]
        mats = []
        for i, (i0, i1, l0, l1) in enumerate(weights):
            m = np.zeros((len(i0), sp[i]), dtype=dt)
            r = np.arange(len(i0))
            np.add.at(m, (r, i0), l0.astype(dt))
            np.add.at(m, (r, i1), l1.astype(dt))
            mats.append(xp.asarray(m))
        names = (name, name.replace("Backward0", "BackwardBackward0"))
        record(_sep_class(name)(mats, None, False, names), (input,), out)
    return out


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    nd = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != nd:
                raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                                 f"with spatial dimensions of {list(input.shape[2:])} and output size of {size}. "
                                 f"Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                                 f"(o1, o2, ...,oK) format.")
            out_size = [int(v) for v in size]
        else:
            out_size = [int(size)] * max(nd, 0)
        scales = [None] * max(nd, 0)
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != nd:
                raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got "
                                 f"input with spatial dimensions of {list(input.shape[2:])} and scale_factor of shape "
                                 f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                                 f"scale_factor in (s1, s2, ...,sK) format.")
            scales = [float(v) for v in scale_factor]
        else:
            scales = [float(scale_factor)] * max(nd, 0)
        out_size = [int(math.floor(float(input.shape[2 + i]) * scales[i])) for i in range(nd)]
        if recompute_scale_factor:
            scales = [None] * nd
    else:
        raise ValueError("either size or scale_factor should be defined")
    if antialias and not (mode in ("bilinear", "bicubic") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and requires a 4-D tensor "
                         "as input")
    if input.dim() in (3, 4, 5):
        if mode in ("nearest", "nearest-exact"):
            sp = input.shape[2:]
            idxs = [_nearest_index(sp[i], out_size[i], scales[i], mode == "nearest-exact") for i in range(nd)]
            return _gather_op(input, idxs, _NAMES[mode].format(nd))
        if mode == "area":
            from . import pooling as _p

            fn = {1: _p.adaptive_avg_pool1d, 2: _p.adaptive_avg_pool2d, 3: _p.adaptive_avg_pool3d}[nd]
            return fn(input, out_size)
        if mode in _LINEAR_ND:
            want = _LINEAR_ND[mode]
            if nd != want:
                raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {want + 2}D input")
            if antialias:
                raise NotImplementedError("antialias=True is not supported by this engine")
            sp = input.shape[2:]
            ws = [_linear_weights(sp[i], out_size[i], scales[i], align_corners, input._data.dtype)
                  for i in range(nd)]
            return _linear_op(input, ws, _NAMES[mode])
        if mode in ("bicubic", "lanczos"):
            raise NotImplementedError(f"interpolate mode '{mode}' is not supported by this engine")
    raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for the "
                              f"modes: {_MODES} (got {mode})")


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# -- pixel shuffle (views and a permute, as in PyTorch) ---------------------------------------
def pixel_shuffle(input, upscale_factor):
    r = int(upscale_factor)
    if input.dim() < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    c, h, w = input.shape[-3:]
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    lead = tuple(input.shape[:-3])
    n = len(lead)
    x = input.reshape(lead + (c // (r * r), r, r, h, w))
    x = x.permute(tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2))
    return x.reshape(lead + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    r = int(downscale_factor)
    if input.dim() < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    c, h, w = input.shape[-3:]
    lead = tuple(input.shape[:-3])
    n = len(lead)
    x = input.reshape(lead + (c, h // r, r, w // r, r))
    x = x.permute(tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3))
    return x.reshape(lead + (c * r * r, h // r, w // r))

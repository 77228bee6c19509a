"""Convolutions: conv1d/2d/3d, conv_transpose1d/2d/3d, unfold (im2col) and fold (col2im).

Every convolution is one fused node, ``ConvolutionBackward0``, computed as im2col (a strided
window view copied once into per-image ``(C*K, P)`` matrices, ``(N, C*K, P)``) followed by one
batched GEMM with the weight, whose result is already laid out ``(N, O, P)``.
Its backward is written with the same differentiable ops, so higher derivatives work:

* grad_input of a convolution is a transposed convolution of the output gradient (and
  grad_input of a transposed convolution is a convolution);
* grad_weight is ``_conv_weight(input, grad_output)``: per-image GEMMs of the im2col matrices
  (cached from the forward pass when possible) with the output gradient, summed over the batch;
  itself differentiable;
* a transposed convolution is GEMM + col2im (a sum of strided slices, one per kernel offset).
"""
import itertools
import math

import numpy as np

from ...ops._util import Node, Tensor, needs_grad, record, xp_of
from .windows import _col2im_full, _col2im_wide, _out_size, _strided, col2im, im2col, scratch

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "unfold", "fold"]

_TYPE = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long", "int32": "int",
         "int16": "short", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}
from ...dtypes import SCALAR_NAMES as _SCALAR


def _lst(shape):
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


# -- batch-innermost layout: for small outputs ------------------------------------------------
# With a small output plane (say 10x10), per-image columns copy and add rows of only a few
# elements and run N tiny GEMMs.  Moving the batch innermost, ``(C, *k, *out, N)``, makes every
# row N times longer and the convolution one GEMM, for two cheap transposes (input, output).
_BI_MAX_PLANE = 256


def _batch_inner(out_sz):
    return math.prod(out_sz) < _BI_MAX_PLANE


def _im2col_bi(x, k, s, p, d, out_sz):
    """``x (N, C, *S)`` -> columns ``(C, *k, *out, N)`` in a work array."""
    nd = len(k)
    xp = xp_of(x)
    N, C = x.shape[:2]
    sp = x.shape[2:]
    xt = scratch(xp, (C,) + tuple(sp[i] + 2 * p[i] for i in range(nd)) + (N,), x.dtype, zero=any(p))
    xt[(slice(None),) + tuple(slice(p[i], p[i] + sp[i]) for i in range(nd))] = xp.moveaxis(x, 0, -1)
    st = xt.strides
    shape = (C,) + tuple(k) + tuple(out_sz) + (N,)
    strides = ((st[0],) + tuple(st[1 + i] * d[i] for i in range(nd)) + tuple(st[1 + i] * s[i] for i in range(nd))
               + (st[-1],))
    cols = scratch(xp, shape, x.dtype)
    xp.copyto(cols, _strided(xp, xt, shape, strides))
    return cols


def _conv_bi(x, w, g, cols, out_sz):
    xp = xp_of(x)
    N, O = x.shape[0], w.shape[0]
    PN = math.prod(out_sz) * N
    if g == 1:
        y = w.reshape(O, -1) @ cols.reshape(-1, PN)
    else:
        y = xp.matmul(w.reshape(g, O // g, -1), cols.reshape(g, -1, PN))
    return xp.ascontiguousarray(xp.moveaxis(y.reshape((O,) + tuple(out_sz) + (N,)), -1, 0))


def _wgrad_bi(gy, wshape, g, cols):
    xp = xp_of(gy)
    N, O = gy.shape[:2]
    P = math.prod(gy.shape[2:])
    Og = O // g
    G = scratch(xp, (g, P, N, Og), gy.dtype)
    xp.copyto(G, gy.reshape(N, g, Og, P).transpose(1, 3, 0, 2))
    G = G.reshape(g, P * N, Og)
    cm = cols.reshape(g, -1, P * N)
    if P * N > 32768 and Og * cm.shape[1] < 4096:
        # tiny output, very long contraction: cache-sized slabs run several times faster
        gw = xp.matmul(cm[..., :2048], G[:, :2048])
        for i in range(2048, P * N, 2048):
            gw += xp.matmul(cm[..., i:i + 2048], G[:, i:i + 2048])
    else:
        gw = xp.matmul(cm, G)  # (g, C/g*K, O/g)
    return xp.ascontiguousarray(xp.swapaxes(gw, 1, 2)).reshape(wshape)


def _conv_t_bi(x, w, s, p, d, g, size):
    xp = xp_of(x)
    nd = w.ndim - 2
    k = tuple(w.shape[2:])
    N, Ci = x.shape[:2]
    Og = w.shape[1]
    S = tuple(x.shape[2:])
    SN = math.prod(S) * N
    G = scratch(xp, (Ci,) + S + (N,), x.dtype)
    xp.copyto(G, xp.moveaxis(x, 0, -1))
    cols = scratch(xp, (g, Og * math.prod(k), SN), np.result_type(w.dtype, x.dtype))
    xp.matmul(xp.swapaxes(w.reshape(g, Ci // g, -1), 1, 2), G.reshape(g, Ci // g, SN), out=cols)
    cols = cols.reshape((Og * g,) + k + S + (N,))
    full = _col2im_full(k, s, p, d, size, S)
    acc = scratch(xp, (Og * g,) + full + (N,), cols.dtype, zero=True)
    for off in itertools.product(*[range(ki) for ki in k]):
        key = (slice(None),) + tuple(
            slice(off[i] * d[i], off[i] * d[i] + s[i] * (S[i] - 1) + 1, s[i]) for i in range(nd))
        acc[key] += cols[(slice(None),) + off]
    crop = acc[(slice(None),) + tuple(slice(p[i], p[i] + size[i]) for i in range(nd))]
    return xp.ascontiguousarray(xp.moveaxis(crop, -1, 0))


def _conv_arr(x, w, s, p, d, g, out_sz=None):
    """Convolution of ``x (N, C, *S)`` with ``w (O, C/g, *k)``; returns (out, columns), the
    columns tagged with their layout (see ``_wgrad_arr``).  Per image one GEMM
    ``W (O, C*K) @ cols (C*K, P)``: the result is ``(N, O, P)`` directly."""
    xp = xp_of(x)
    k = w.shape[2:]
    N, O = x.shape[0], w.shape[0]
    if out_sz is None:
        out_sz = tuple(_out_size(x.shape[2 + i], k[i], s[i], p[i], d[i]) for i in range(len(k)))
    out_sz = tuple(out_sz)
    if _batch_inner(out_sz):
        cols = _im2col_bi(x, k, s, p, d, out_sz)
        return _conv_bi(x, w, g, cols, out_sz), (True, cols)
    cols, _ = im2col(x, k, s, p, d, out_sz, work=True)
    P = math.prod(out_sz)
    if g == 1:
        y = xp.matmul(w.reshape(O, -1), cols.reshape(N, -1, P))
    else:
        y = xp.matmul(w.reshape(g, O // g, -1), cols.reshape(N, g, -1, P))
    return y.reshape((N, O) + out_sz), (False, cols)


def _conv_t_arr(x, w, s, p, d, g, size):
    """Transposed convolution of ``x (N, Ci, *S)`` with ``w (Ci, Co/g, *k)`` to spatial ``size``."""
    xp = xp_of(x)
    nd = w.ndim - 2
    k = tuple(w.shape[2:])
    N, Ci = x.shape[:2]
    Og = w.shape[1]
    S = tuple(x.shape[2:])
    if _batch_inner(S):
        return _conv_t_bi(x, w, s, p, d, g, size)
    wide = nd >= 2 and s[-1] == 1 and bool(xp.isfinite(w).all())
    if wide:
        # pad the last dim with zeros to the accumulator's width, see _col2im_wide
        Wf = _col2im_full(k, s, p, d, size, S)[-1]
        xw = scratch(xp, x.shape[:-1] + (Wf,), x.dtype)
        xw[..., S[-1]:] = 0
        xw[..., :S[-1]] = x
        x = xw
    P = math.prod(x.shape[2:])
    K = math.prod(k)
    if g == 1:
        cols = scratch(xp, (N, Og * K, P), np.result_type(w.dtype, x.dtype))
        xp.matmul(w.reshape(Ci, -1).T, x.reshape(N, Ci, P), out=cols)
    else:
        cols = scratch(xp, (N, g, Og * K, P), np.result_type(w.dtype, x.dtype))
        xp.matmul(xp.swapaxes(w.reshape(g, Ci // g, -1), 1, 2), x.reshape(N, g, Ci // g, P), out=cols)
    cols = cols.reshape((N, Og * g) + k + tuple(x.shape[2:]))
    if wide:
        return _col2im_wide(cols, size, k, s, p, d, S)
    return col2im(cols, size, k, s, p, d)


def _wgrad_arr(x, gy, wshape, s, p, d, g, cols=None):
    """Weight gradient of a convolution: ``gy (N, O, *out)`` against the columns of ``x``
    (``cols``: ``(batch_inner, array)`` from the forward pass, or None), one GEMM
    ``cols (C*K, P) @ gy^T (P, O)`` per image, summed over the batch."""
    xp = xp_of(x)
    nd = len(wshape) - 2
    k = tuple(wshape[2:])
    out_sz = tuple(gy.shape[2:])
    bi = _batch_inner(out_sz)
    if cols is not None:
        cbi, cols = cols
        have = cols.shape[1 + nd:1 + 2 * nd] if cbi else cols.shape[2 + nd:]
        if cbi != bi or tuple(have) != out_sz:
            cols = None
    if bi:
        if cols is None:
            cols = _im2col_bi(x, k, s, p, d, out_sz)
        return _wgrad_bi(gy, wshape, g, cols)
    if cols is None:
        cols, _ = im2col(x, k, s, p, d, out_sz, work=True)
    N, O = gy.shape[:2]
    P = math.prod(out_sz)
    cm = cols.reshape(N, g, -1, P)
    gt = xp.swapaxes(gy.reshape(N, g, O // g, P), 2, 3)  # (N, g, P, O/g)
    if gy.nbytes <= (1 << 19):
        gt = xp.ascontiguousarray(gt)  # small: a plain NN GEMM per image is worth the copy
    if P > 32768 and O * cm.shape[2] < 4096:
        # tiny output, very long contraction: cache-sized slabs run several times faster
        gw = xp.matmul(cm[..., :2048], gt[:, :, :2048]).sum(0)
        for i in range(2048, P, 2048):
            gw += xp.matmul(cm[..., i:i + 2048], gt[:, :, i:i + 2048]).sum(0)
    else:
        prod = scratch(xp, cm.shape[:3] + (gt.shape[3],), np.result_type(cm.dtype, gt.dtype))
        gw = xp.matmul(cm, gt, out=prod).sum(0)  # (g, C/g*K, O/g)
    return xp.ascontiguousarray(xp.swapaxes(gw, 1, 2)).reshape(wshape)


# -- differentiable ops -----------------------------------------------------------------------
class ConvolutionBackward0(Node):
    forward = "result = conv(input, weight) + bias  (conv_transpose when transposed)"
    formula = ("grad_input = conv_transpose(grad, weight)  (transposed: conv(grad, weight)); "
               "grad_weight = correlate(input, grad)  (transposed: correlate(grad, input)); "
               "grad_bias = grad.sum([0, 2, 3, ...])")

    def __init__(self, stride, padding, dilation, transposed, output_padding, groups, in_size):
        super().__init__()
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.transposed, self.output_padding, self.groups = transposed, output_padding, groups
        self.in_size = in_size
        self.cols = None

    def _release_extra(self):
        self.cols = None

    def backward(self, grad):
        x, w = self.saved()
        nx, nw, nb = self.needs_input_grad
        s, p, d, g = self.stride, self.padding, self.dilation, self.groups
        gx = gw = gb = None
        if not self.transposed:
            if nx:
                gx = convolution(grad, w, None, s, p, d, True, None, g, size=self.in_size)
            if nw:
                gw = _conv_weight(x, grad, tuple(w.shape), s, p, d, g, self.cols)
        else:
            if nx:
                gx = convolution(grad, w, None, s, p, d, False, None, g, size=self.in_size)
            if nw:
                gw = _conv_weight(grad, x, tuple(w.shape), s, p, d, g)
        if nb:
            gb = grad.sum([0] + list(range(2, grad.dim())))
        return gx, gw, gb


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups, size=None):
    """The fused convolution op (no argument checks).  ``size``: the output's spatial size
    (transposed) or the output size to keep (direct, used by backward)."""
    x, w = input._data, weight._data
    nd = w.ndim - 2
    cols = None
    if not transposed:
        y, cols = _conv_arr(x, w, stride, padding, dilation, groups, size)
    else:
        if size is None:
            size = tuple((x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (w.shape[2 + i] - 1)
                         + output_padding[i] + 1 for i in range(nd))
        y = _conv_t_arr(x, w, stride, padding, dilation, groups, tuple(size))
    if bias is not None:
        y += bias._data.reshape((1, -1) + (1,) * nd)
    out = Tensor._make(y)
    if needs_grad(input, weight, bias):
        node = ConvolutionBackward0(stride, padding, dilation, transposed, output_padding, groups,
                                    tuple(x.shape[2:]))
        node.save(input, weight)
        if not transposed and weight._rg:
            node.cols = cols
        record(node, (input, weight, bias), out)
    return out


class ConvolutionBackwardBackward0(Node):
    forward = "result = correlate(input, grad_output)  (a convolution's weight gradient)"
    formula = "grad_input = conv_transpose(grad_output, grad); grad_grad_output = conv(input, grad)"

    def __init__(self, stride, padding, dilation, groups, in_size, out_size):
        super().__init__()
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.in_size, self.out_size = in_size, out_size

    def backward(self, grad):
        x, gy = self.saved()
        nx, ngy = self.needs_input_grad
        s, p, d, g = self.stride, self.padding, self.dilation, self.groups
        a = b = None
        if nx:
            a = convolution(gy, grad, None, s, p, d, True, None, g, size=self.in_size)
        if ngy:
            b = convolution(x, grad, None, s, p, d, False, None, g, size=self.out_size)
        return a, b


def _conv_weight(input, grad_output, wshape, stride, padding, dilation, groups, cols=None):
    """Gradient of a convolution's weight, as a differentiable op of input and output gradient."""
    gw = _wgrad_arr(input._data, grad_output._data, wshape, stride, padding, dilation, groups, cols)
    out = Tensor._make(gw)
    if needs_grad(input, grad_output):
        node = ConvolutionBackwardBackward0(stride, padding, dilation, groups, tuple(input.shape[2:]),
                                            tuple(grad_output.shape[2:]))
        node.save(input, grad_output)
        record(node, (input, grad_output), out)
    return out


# -- argument checks and public functions -----------------------------------------------------
def _expand(name, v, nd):
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, (int, np.integer)):
        return (int(v),) * nd
    v = tuple(int(a) for a in v)
    if len(v) == 1:
        return v * nd
    if len(v) != nd:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {nd} values to match the "
                           f"convolution dimensions, but got {name}={_lst(v)}")
    return v


def _as_list(v, nd):
    """An int argument of a ``convNd`` function is repeated ``nd`` times (PyTorch's ``int[nd]``)."""
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, (int, np.integer)):
        return (int(v),) * nd
    return v


def _check_input_dim(input, nd, fname):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}() received an invalid combination of arguments - got "
                        f"({type(input).__name__}, ...)")
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {fname}, but got "
                           f"input of size: {_lst(input.shape)}")
    return input.dim() == nd + 1


def _check_dtypes(x, w, b):
    if x.dtype is not w.dtype:
        if x.dtype.is_floating_point and w.dtype.is_floating_point and x.dtype.itemsize < w.dtype.itemsize:
            raise RuntimeError(f"Input type (torch.{_SCALAR[x.dtype.name]}Tensor) and weight type "
                               f"(torch.{_SCALAR[w.dtype.name]}Tensor) should be the same or input should be a "
                               f"MKLDNN tensor and weight is a dense tensor")
        raise RuntimeError(f"expected scalar type {_SCALAR[x.dtype.name]} but found {_SCALAR[w.dtype.name]}")
    if b is not None and b.dtype is not x.dtype:
        raise RuntimeError(f"Input type ({_TYPE[x.dtype.name]}) and bias type ({_TYPE[b.dtype.name]}) should be "
                           f"the same")


def _check_common(input, weight, bias, stride, padding, dilation, groups, transposed, output_padding=None):
    """PyTorch's checks, in its order; returns the expanded (stride, padding, dilation, output_padding)."""
    nd = weight.dim() - 2
    if nd < 1:
        raise RuntimeError(f"weight should have at least three dimensions")
    stride = _expand("stride", stride, nd)
    padding = _expand("padding", padding, nd)
    dilation = _expand("dilation", dilation, nd)
    if output_padding is not None:
        output_padding = _expand("output_padding", output_padding, nd)
    if any(v < 0 for v in padding):
        raise RuntimeError("negative padding is not supported")
    if output_padding is not None and any(v < 0 for v in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(v <= 0 for v in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(v <= 0 for v in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if input.dim() != weight.dim():
        raise RuntimeError(f"Expected {weight.dim()}-dimensional input for {weight.dim()}-dimensional weight "
                           f"{_lst(weight.shape)}, but got {input.dim()}-dimensional input of size "
                           f"{_lst(input.shape)} instead")
    ws, xs = tuple(weight.shape), tuple(input.shape)
    if ws[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{_lst(ws)}] instead")
    if not transposed:
        if xs[1] != ws[1] * groups:
            raise RuntimeError(f"Given groups={groups}, weight of size {_lst(ws)}, expected input{_lst(xs)} to have "
                               f"{ws[1] * groups} channels, but got {xs[1]} channels instead")
        nout = ws[0]
    else:
        if xs[1] != ws[0]:
            raise RuntimeError(f"Given transposed=1, weight of size {_lst(ws)}, expected input{_lst(xs)} to have "
                               f"{ws[0]} channels, but got {xs[1]} channels instead")
        nout = ws[1] * groups
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != nout):
        pre = "Given transposed=1, weight" if transposed else "Given weight"
        raise RuntimeError(f"{pre} of size {_lst(ws)}, expected bias to be 1-dimensional with {nout} elements, but "
                           f"got bias of size {_lst(bias.shape)} instead")
    if not transposed:
        padded = [xs[2 + i] + 2 * padding[i] for i in range(nd)]
        kern = [dilation[i] * (ws[2 + i] - 1) + 1 for i in range(nd)]
        if any(pi < ki for pi, ki in zip(padded, kern)):
            raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel "
                               f"size: ({' x '.join(map(str, kern))}). Kernel size can't be greater than actual "
                               f"input size")
    else:
        names = ["depth", "height", "width"][3 - nd:] if nd <= 3 else [str(i) for i in range(nd)]
        if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
            parts = ([f"output_padding_{n}: {v}" for n, v in zip(names, output_padding)]
                     + [f"stride_{n}: {v}" for n, v in zip(names, stride)]
                     + [f"dilation_{n}: {v}" for n, v in zip(names, dilation)])
            raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                               + " ".join(parts))
        size = [(xs[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (ws[2 + i] - 1) + output_padding[i] + 1
                for i in range(nd)]
        if any(v <= 0 for v in size):
            raise RuntimeError(f"Given input size per channel: ({' x '.join(str(v) for v in xs[2:])}). Calculated "
                               f"output size per channel: ({' x '.join(map(str, size))}). Output size is too small")
    _check_dtypes(input, weight, bias)
    return stride, padding, dilation, output_padding


def _convnd(nd, fname, input, weight, bias, stride, padding, dilation, groups):
    unbatched = _check_input_dim(input, nd, fname)
    if unbatched:
        input = input.unsqueeze(0)
    stride, dilation = _as_list(stride, nd), _as_list(dilation, nd)
    if not isinstance(padding, str):
        padding = _as_list(padding, nd)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        st = _expand("stride", stride, weight.dim() - 2) if weight.dim() > 2 else stride
        if padding == "valid":
            padding = 0
        else:
            if any(v != 1 for v in st):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            dil = _expand("dilation", dilation, weight.dim() - 2)
            total = [dil[i] * (weight.shape[2 + i] - 1) for i in range(weight.dim() - 2)]
            padding = [t // 2 for t in total]
            extra = [t - 2 * (t // 2) for t in total]
            if any(extra):
                import warnings

                from .vision import pad as _pad
                warnings.warn("Using padding='same' with even kernel lengths and odd dilation may require a "
                              "zero-padded copy of the input be created", UserWarning, stacklevel=3)
                spec = []
                for e in reversed(extra):
                    spec += [0, e]
                input = _pad(input, spec)
    stride, padding, dilation, _ = _check_common(input, weight, bias, stride, padding, dilation, groups, False)
    out = convolution(input, weight, bias, stride, padding, dilation, False, None, groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd(3, "conv3d", input, weight, bias, stride, padding, dilation, groups)


def _conv_tnd(nd, fname, input, weight, bias, stride, padding, output_padding, groups, dilation):
    unbatched = _check_input_dim(input, nd, fname)
    if unbatched:
        input = input.unsqueeze(0)
    stride, padding, dilation = _as_list(stride, nd), _as_list(padding, nd), _as_list(dilation, nd)
    output_padding = _as_list(output_padding, nd)
    stride, padding, dilation, output_padding = _check_common(input, weight, bias, stride, padding, dilation, groups,
                                                              True, output_padding)
    out = convolution(input, weight, bias, stride, padding, dilation, True, output_padding, groups)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_tnd(1, "conv_transpose1d", input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_tnd(2, "conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_tnd(3, "conv_transpose3d", input, weight, bias, stride, padding, output_padding, groups, dilation)


# -- unfold / fold ----------------------------------------------------------------------------
class Im2ColBackward0(Node):
    forward = "result = im2col(self, kernel_size, dilation, padding, stride)  (unfold)"
    formula = "grad_self = col2im(grad, self.shape[2:], kernel_size, dilation, padding, stride)"

    def __init__(self, size, k, d, p, s):
        super().__init__()
        self.size, self.k, self.d, self.p, self.s = size, k, d, p, s

    def backward(self, grad):
        return (_col2im(grad, self.size, self.k, self.d, self.p, self.s),)


class Col2ImBackward0(Node):
    forward = "result = col2im(self, output_size, kernel_size, dilation, padding, stride)  (fold)"
    formula = "grad_self = im2col(grad, kernel_size, dilation, padding, stride)"

    def __init__(self, k, d, p, s):
        super().__init__()
        self.k, self.d, self.p, self.s = k, d, p, s

    def backward(self, grad):
        return (_im2col(grad, self.k, self.d, self.p, self.s),)


def _im2col(input, k, d, p, s):
    x = input._data
    cols, out_sz = im2col(x, k, s, p, d)  # (N, C, *k, *out), contiguous
    N, C = x.shape[:2]
    y = cols.reshape(N, C * math.prod(k), math.prod(out_sz))
    out = Tensor._make(y)
    if needs_grad(input):
        record(Im2ColBackward0(tuple(x.shape[2:]), k, d, p, s), (input,), out)
    return out


def _col2im(input, size, k, d, p, s):
    c = input._data
    N = c.shape[0]
    C = c.shape[1] // math.prod(k)
    out_sz = tuple(_out_size(size[i], k[i], s[i], p[i], d[i]) for i in range(len(k)))
    cols = c.reshape((N, C) + tuple(k) + out_sz)
    y = col2im(cols, size, k, s, p, d)
    out = Tensor._make(y)
    if needs_grad(input):
        record(Col2ImBackward0(k, d, p, s), (input,), out)
    return out


def _pair(name, v):
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    v = tuple(int(a) for a in v)
    if len(v) == 1:
        return v * 2
    return v


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    k, d, p, s = (_pair("kernel_size", kernel_size), _pair("dilation", dilation), _pair("padding", padding),
                  _pair("stride", stride))
    if input.dim() not in (3, 4):
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
                           f"got:{_lst(input.shape)}")
    if any(v <= 0 for v in k):
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: {k[0]} kernel_width: "
                           f"{k[1]}")
    if any(v <= 0 for v in s):
        raise RuntimeError(f"stride should be greater than zero, but got stride_height: {s[0]} stride_width: {s[1]}")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: {d[0]} dilation_width: "
                           f"{d[1]}")
    unbatched = input.dim() == 3
    x = input.unsqueeze(0) if unbatched else input
    H, W = x.shape[2:]
    oh, ow = _out_size(H, k[0], s[0], p[0], d[0]), _out_size(W, k[1], s[1], p[1], d[1])
    if oh < 1 or ow < 1:
        raise RuntimeError(f"Given input with spatial size ({H}, {W}), kernel_size=({k[0]}, {k[1]}), "
                           f"dilation=({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), calculated shape of the array of "
                           f"sliding blocks as ({oh}, {ow}), but its components must be at least one.")
    out = _im2col(x, k, d, p, s)
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    size = _pair("output_size", output_size)
    k, d, p, s = (_pair("kernel_size", kernel_size), _pair("dilation", dilation), _pair("padding", padding),
                  _pair("stride", stride))
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but "
                           f"got:{_lst(input.shape)}")
    unbatched = input.dim() == 2
    x = input.unsqueeze(0) if unbatched else input
    kk = k[0] * k[1]
    if x.shape[1] % kk:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={x.shape[1]} and kernel_size=({k[0]}, {k[1]})")
    oh, ow = _out_size(size[0], k[0], s[0], p[0], d[0]), _out_size(size[1], k[1], s[1], p[1], d[1])
    if oh * ow != x.shape[2]:
        raise RuntimeError(f"Given output_size=({size[0]}, {size[1]}), kernel_size=({k[0]}, {k[1]}), "
                           f"dilation=({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), stride=({s[0]}, {s[1]}), expected "
                           f"size of input's dimension 2 to match the calculated number of sliding blocks {oh} * {ow} "
                           f"= {oh * ow}, but got input.size(2)={x.shape[2]}.")
    out = _col2im(x, size, k, d, p, s)
    return out.squeeze(0) if unbatched else out

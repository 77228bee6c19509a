"""Dynamically quantized modules and ``quantize_dynamic``.

``DynamicQuantizedLinear`` keeps int8 weights (per tensor or per channel, symmetric) and a float
bias.  Every call quantizes its input to uint8 from the input's own min/max, multiplies integers
and rescales to float: PyTorch's fbgemm ``linear_dynamic`` step by step --

1. ``x_min, x_max`` of the whole input, widened to contain 0;
2. scale ``(x_max - x_min) / 127`` (``reduce_range``: 7 bits, so that the u8*s8 pair sums of the
   AVX2 kernel cannot saturate), zero point from fbgemm's ``ChooseQuantizationParams``;
3. ``q_x = round_half_even(fma(x, 1/scale, zero_point))`` in float32;
4. ``acc = sum_k (q_x - zp_x) * q_w`` exactly (integers; done as a float64 BLAS product, exact
   far beyond any realistic width);
5. ``y = fma(float32(acc), float32(scale_x * scale_w), bias)``.

On PyTorch 2.13's CPU build this reproduces ``torch.ao.nn.quantized.dynamic.Linear`` bit for bit
in the cases tested.  ``DynamicQuantizedLSTM`` does the same for the gate projections, with the
input projection of a layer computed for the whole sequence at once and the hidden projection
per step, as PyTorch does.  Quantized modules are inference only (no autograd).
"""
import copy
import itertools

import numpy as np

from .. import dtypes as _dt
from ..autograd.grad_mode import no_grad
from ..nn.modules.module import Module, _addindent
from ..nn.modules.rnn import RNNBase
from ..tensor import Tensor
from . import _observer as _obs
from ._qtensor import QTensor, per_tensor_affine, quantize_per_channel, quantize_per_tensor

__all__ = ["DynamicQuantizedLinear", "DynamicQuantizedLSTM", "LinearPackedParams", "quantize_dynamic",
           "get_default_dynamic_quant_module_mappings", "swap_module", "propagate_qconfig_", "convert",
           "weight_bytes"]

_SMALL_SCALE = float(np.float32(6.1e-5))


# -- the kernel -----------------------------------------------------------------------------------
def _choose_qparams(x_min, x_max, qmin, qmax, reduce_range):
    """fbgemm/ATen ``ChooseQuantizationParams`` (no sparsity preservation): (float32 scale, zp)."""
    if reduce_range:
        qmin, qmax = qmin // 2, qmax // 2
    lo = np.float32(min(x_min, 0.0))
    hi = np.float32(max(x_max, 0.0))
    scale = (float(hi) - float(lo)) / (qmax - qmin)
    s32 = np.float32(scale)
    with np.errstate(divide="ignore", over="ignore"):
        if s32 == 0 or np.isinf(np.float32(1.0) / s32):
            scale = 0.1
    if scale < _SMALL_SCALE:
        org = np.float32(scale)
        scale = _SMALL_SCALE
        if lo == 0:
            hi = np.float32(np.float32(_SMALL_SCALE) * np.float32(qmax - qmin))
        elif hi == 0:
            lo = np.float32(-np.float32(_SMALL_SCALE) * np.float32(qmax - qmin))
        else:
            amp = np.float32(np.float32(_SMALL_SCALE) / org)
            lo, hi = np.float32(lo * amp), np.float32(hi * amp)
    zp_min = qmin - float(lo) / scale
    zp_max = qmax - float(hi) / scale
    err_min = abs(qmin) - abs(float(lo) / scale)
    err_max = abs(qmax) - abs(float(hi) / scale)
    z = zp_min if err_min < err_max else zp_max
    if z < qmin:
        zp = qmin
    elif z > qmax:
        zp = qmax
    else:
        zp = int(np.rint(z))
    return np.float32(scale), zp


def _linear_dynamic(x, w_int, w_scales, bias, reduce_range=True):
    """fbgemm's dynamic int8 linear on a float32 numpy array ``x`` (..., K): ``w_int`` (N, K) are
    the weights' integers minus their zero points (float64), ``w_scales`` float32 (N,) or scalar,
    ``bias`` float32 (N,) or None."""
    shape = x.shape
    x2 = x.reshape(-1, shape[-1]) if x.size else x.reshape(0, shape[-1])
    if x2.size:
        x_min, x_max = float(x2.min()), float(x2.max())
    else:
        x_min = x_max = 0.0
    scale, zp = _choose_qparams(x_min, x_max, 0, 255, reduce_range)
    inv = np.float32(1.0) / scale
    with np.errstate(over="ignore", invalid="ignore"):
        xq = np.rint((x2.astype(np.float64) * np.float64(inv) + zp).astype(np.float32))
    xq = np.clip(xq, 0, 255) - zp
    acc = (xq.astype(np.float64) @ w_int.T).astype(np.float32)
    mult = (scale * np.asarray(w_scales, dtype=np.float32)).astype(np.float32)
    out = acc.astype(np.float64) * mult.astype(np.float64)
    if bias is not None:
        out = out + bias.astype(np.float64)
    return out.astype(np.float32).reshape(shape[:-1] + (w_int.shape[0],))


def _weight_arrays(qweight):
    """(integers minus zero points as float64 (N, K), float32 scales (N,) or scalar)."""
    q = np.asarray(qweight._data, dtype=np.float64)
    if qweight.qscheme() is per_tensor_affine:
        return q - qweight.q_zero_point(), np.float32(qweight.q_scale())
    zps = qweight.__dict__["_zps"].astype(np.float64)
    return q - zps[:, None], qweight.__dict__["_scales"].astype(np.float32)


def _host(t):
    from ..tensor import _host as h

    return h(t._data)


def _quantize_weight(w, observer):
    """Observe the float weight and quantize it the way PyTorch's dynamic modules do."""
    with no_grad():
        w = w.detach().float()
    observer(w)
    scale, zp = observer.calculate_qparams()
    kind = observer.qscheme.name
    if kind in ("per_tensor_affine", "per_tensor_symmetric"):
        return quantize_per_tensor(w, float(scale.item()), int(zp.item()), _dt.qint8)
    if kind in ("per_channel_affine", "per_channel_symmetric"):
        return quantize_per_channel(w, scale._data.astype(np.float64), zp._data.astype(np.int64),
                                    observer.ch_axis, _dt.qint8)
    raise ValueError(f"Unsupported qscheme for a dynamic quantized weight: {observer.qscheme}")


def _hidden_repr(module):
    """``nn.Module.__repr__`` without the packed-parameter children (as PyTorch prints them)."""
    extra = module.extra_repr()
    extra_lines = extra.split("\n") if extra else []
    child_lines = ["(" + k + "): " + _addindent(repr(m), 2) for k, m in module._modules.items()
                   if not isinstance(m, (LinearPackedParams, _CellParamsList))]
    lines = extra_lines + child_lines
    main = module._get_name() + "("
    if lines:
        if len(extra_lines) == 1 and not child_lines:
            main += extra_lines[0]
        else:
            main += "\n  " + "\n  ".join(lines) + "\n"
    return main + ")"


# -- Linear ---------------------------------------------------------------------------------------
class LinearPackedParams(Module):
    """Holds the quantized weight and float bias (PyTorch keeps them in a packed C++ object; the
    state_dict has the same two entries: ``dtype`` and ``_packed_params`` = (weight, bias))."""

    _version = 3

    def __init__(self, dtype=_dt.qint8):
        super().__init__()
        self.dtype = dtype
        self.__dict__["_weight"] = self.__dict__["_bias"] = None

    def set_weight_bias(self, weight, bias):
        if self.dtype is _dt.qint8:
            if not isinstance(weight, QTensor) or weight.dtype is not _dt.qint8:
                raise RuntimeError("quantized::linear_prepack expects a qint8 quantized weight")
            self._w_int, self._w_scales = _weight_arrays(weight)
        else:
            weight = Tensor._make(np.asarray(_host(weight), dtype=np.float32))
            self._w16 = np.asarray(weight._data, dtype=np.float16).astype(np.float32)
        # plain attributes (never registered as parameters: a quantized module has none)
        self.__dict__["_weight"] = weight
        self.__dict__["_bias"] = bias

    def _weight_bias(self):
        return self._weight, self._bias

    @property
    def _packed_params(self):
        return self._weight_bias()

    def forward(self, x):
        return x

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        destination[prefix + "dtype"] = self.dtype
        destination[prefix + "_packed_params"] = self._weight_bias()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        for hook in self._load_state_dict_pre_hooks.values():
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        known = (prefix + "dtype", prefix + "_packed_params")
        for key in known:
            if key not in state_dict and strict:
                missing_keys.append(key)
        if prefix + "dtype" in state_dict:
            self.dtype = state_dict[prefix + "dtype"]
        if prefix + "_packed_params" in state_dict:
            w, b = state_dict[prefix + "_packed_params"]
            try:
                self.set_weight_bias(w, b)
            except RuntimeError as ex:
                error_msgs.append(f'While copying the parameter named "{prefix}_packed_params": {ex}')
        if strict:
            unexpected_keys.extend(k for k in state_dict if k.startswith(prefix) and k not in known)

    def __repr__(self):
        return "LinearPackedParams()"


class DynamicQuantizedLinear(Module):
    """``torch.ao.nn.quantized.dynamic.Linear``: int8 weights, activations quantized per call."""

    _version = 4

    def __init__(self, in_features, out_features, bias_=True, dtype=_dt.qint8):
        super().__init__()
        if dtype not in (_dt.qint8, _dt.float16):
            raise RuntimeError("Unsupported dtype specified for quantized Linear!")
        self.in_features = in_features
        self.out_features = out_features
        bias = Tensor._make(np.zeros(out_features, np.float32)) if bias_ else None
        if dtype is _dt.qint8:
            w = QTensor._create(np.zeros((out_features, in_features), np.int8), _dt.qint8, per_tensor_affine,
                                scale=1.0, zero_point=0)
        else:
            w = Tensor._make(np.zeros((out_features, in_features), np.float32))
        self._packed_params = LinearPackedParams(dtype)
        self._packed_params.set_weight_bias(w, bias)
        self.scale = 1.0
        self.zero_point = 0

    def _get_name(self):
        return "DynamicQuantizedLinear"

    def extra_repr(self):
        s = (f"in_features={self.in_features}, out_features={self.out_features}, "
             f"dtype={self._packed_params.dtype}")
        if self._packed_params.dtype is _dt.qint8:
            s += f", qscheme={self.weight().qscheme()}"
        return s

    def __repr__(self):
        return _hidden_repr(self)

    def weight(self):
        return self._weight_bias()[0]

    def bias(self):
        return self._weight_bias()[1]

    def _weight_bias(self):
        return self._packed_params._weight_bias()

    def set_weight_bias(self, w, b):
        self._packed_params.set_weight_bias(w, b)

    def forward(self, x):
        p = self._packed_params
        if x.dim() < 2 and p.dtype is _dt.qint8:
            raise RuntimeError("The dimension of input tensor should be larger than or equal to 2")
        if x.dtype is not _dt.float32:
            raise RuntimeError(f"expected scalar type Float but found {_dt.SCALAR_NAMES.get(x.dtype.name, x.dtype)}")
        a = np.asarray(_host(x), dtype=np.float32)
        if a.shape[-1] != self.in_features:
            raise RuntimeError(f"The number of rows in the packB should be equal to K: {a.shape[-1]}")
        b = p._bias
        bias = None if b is None else np.asarray(_host(b), dtype=np.float32)
        if p.dtype is _dt.qint8:
            y = _linear_dynamic(a, p._w_int, p._w_scales, bias, reduce_range=True)
        else:
            y = (a.reshape(-1, a.shape[-1]).astype(np.float32) @ p._w16.T).reshape(a.shape[:-1] + (-1,))
            if bias is not None:
                y = y + bias
            y = y.astype(np.float32)
        return Tensor._make(y)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        destination[prefix + "scale"] = Tensor._make(np.array(self.scale, dtype=np.float32))
        destination[prefix + "zero_point"] = Tensor._make(np.array(self.zero_point, dtype=np.int64))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        for hook in self._load_state_dict_pre_hooks.values():
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        for name in ("scale", "zero_point"):
            key = prefix + name
            if key in state_dict:
                v = state_dict[key]
                setattr(self, name, float(v) if name == "scale" else int(v))
            elif strict:
                missing_keys.append(key)
        if strict:
            n = len(prefix)
            for key in state_dict:
                if key.startswith(prefix) and key[n:] not in ("scale", "zero_point"):
                    if key[n:].partition(".")[0] not in self._modules:
                        unexpected_keys.append(key)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        from ..nn.modules.linear import Linear

        floats = [Linear] + ([_ndql] if (_ndql := _non_dyn_linear()) is not None else [])
        if type(mod) not in floats:
            raise AssertionError("nn.quantized.dynamic.Linear.from_float only works for one of"
                                 + str([f.__name__ for f in floats]))
        if not hasattr(mod, "qconfig"):
            raise AssertionError("Input float module must have qconfig defined")
        if mod.qconfig is not None and mod.qconfig.weight is not None:
            observer = mod.qconfig.weight()
        else:
            observer = _obs.default_dynamic_qconfig.weight()
        dtype = observer.dtype
        if dtype not in (_dt.qint8, _dt.float16):
            raise AssertionError(f"The only supported dtypes for dynamic quantized linear are qint8 and float16, got: "
                                 f"{dtype}")
        if dtype is _dt.qint8:
            qweight = _quantize_weight(mod.weight, observer)
        else:
            qweight = mod.weight.detach().float()
        q = cls(mod.in_features, mod.out_features, dtype=dtype)
        q.set_weight_bias(qweight, mod.bias)
        return q


def _non_dyn_linear():
    try:
        from ..nn.modules.transformer import NonDynamicallyQuantizableLinear
    except ImportError:
        return None
    return NonDynamicallyQuantizableLinear


# -- LSTM -----------------------------------------------------------------------------------------
class _CellParams(Module):
    """One layer and direction of a dynamic LSTM: quantized ``w_ih, w_hh`` and float biases.
    Its state_dict entry ``param`` is the tuple ``(w_ih, w_hh, b_ih, b_hh)``."""

    def __init__(self, w_ih, w_hh, b_ih, b_hh):
        super().__init__()
        self.set(w_ih, w_hh, b_ih, b_hh)

    def set(self, w_ih, w_hh, b_ih, b_hh):
        self.param = (w_ih, w_hh, b_ih, b_hh)
        self._ih = _weight_arrays(w_ih)
        self._hh = _weight_arrays(w_hh)
        self._b_ih = np.asarray(_host(b_ih), dtype=np.float32)
        self._b_hh = np.asarray(_host(b_hh), dtype=np.float32)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        destination[prefix + "param"] = self.param

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        key = prefix + "param"
        if key in state_dict:
            self.set(*state_dict[key])
        elif strict:
            missing_keys.append(key)
        if strict:
            unexpected_keys.extend(k for k in state_dict if k.startswith(prefix) and k != key)

    def __repr__(self):
        return "PackedParameter()"


class _CellParamsList(Module):
    """``_all_weight_values``: the cells in ``_flat_weights`` order (keys ``0``, ``1``, ...)."""

    def __init__(self, cells):
        super().__init__()
        for i, c in enumerate(cells):
            self._modules[str(i)] = c

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


def _sigmoid(z):
    with np.errstate(over="ignore"):
        return (np.float32(1) / (np.float32(1) + np.exp(-z))).astype(np.float32)


class DynamicQuantizedLSTM(Module):
    """``torch.ao.nn.quantized.dynamic.LSTM``: an LSTM whose four gate projections are dynamic int8
    linears (see the module docstring).  Batched (3-D) padded and packed inputs, several layers,
    bidirectional; dropout between layers only in training mode, as ``nn.LSTM``."""

    _version = 2

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=_dt.qint8):
        super().__init__()
        self.mode = "LSTM"
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        self.dtype = dtype
        self.version = 2
        self._all_weight_values = _CellParamsList([])

    def _get_name(self):
        return "DynamicQuantizedLSTM"

    def extra_repr(self):
        return RNNBase.extra_repr(self)  # the float LSTM's description (proj_size is always 0 here)

    def __repr__(self):
        return _hidden_repr(self)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        from ..nn.modules.rnn import LSTM

        if type(mod) is not LSTM:
            raise AssertionError("nn.quantized.dynamic.RNNBase.from_float only works for nn.LSTM")
        if not hasattr(mod, "qconfig"):
            raise AssertionError("Input float module must have qconfig defined")
        if mod.qconfig is not None and mod.qconfig.weight is not None:
            weight_ctor = mod.qconfig.weight
        else:
            weight_ctor = _obs.default_dynamic_qconfig.weight
        dtype = weight_ctor().dtype
        if dtype is not _dt.qint8:
            raise RuntimeError(f"Unsupported dtype for dynamic RNN quantization: {dtype}")
        if not mod.bias:
            raise AssertionError("mod.bias must be True")
        if getattr(mod, "proj_size", 0):
            raise NotImplementedError("dynamic quantization of an LSTM with proj_size > 0 is not supported")
        q = cls(mod.input_size, mod.hidden_size, mod.num_layers, mod.bias, mod.batch_first, mod.dropout,
                mod.bidirectional, dtype)
        cells = []
        for layer in range(mod.num_layers):
            for d in range(2 if mod.bidirectional else 1):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                w_ih = _quantize_weight(getattr(mod, "weight_ih" + sfx), weight_ctor())
                w_hh = _quantize_weight(getattr(mod, "weight_hh" + sfx), weight_ctor())
                cells.append(_CellParams(w_ih, w_hh, getattr(mod, "bias_ih" + sfx), getattr(mod, "bias_hh" + sfx)))
        q._all_weight_values = _CellParamsList(cells)
        return q

    # -- running -------------------------------------------------------------------------------
    def _cell_steps(self, cell, gi_rows, h, c):
        gates = _linear_dynamic(h, *cell._hh, cell._b_hh) + gi_rows
        i, f, g, o = np.split(gates, 4, axis=1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = (_sigmoid(o) * np.tanh(c)).astype(np.float32)
        return h, c.astype(np.float32)

    def _run_padded(self, x, h0, c0):
        T, B, _ = x.shape
        D = 2 if self.bidirectional else 1
        hs, cs = [], []
        inp = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                cell = self._all_weight_values[k]
                gi = _linear_dynamic(inp, *cell._ih, cell._b_ih)  # the whole sequence at once
                h, c = h0[k], c0[k]
                out = np.empty((T, B, self.hidden_size), np.float32)
                for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                    h, c = self._cell_steps(cell, gi[t], h, c)
                    out[t] = h
                outs.append(out)
                hs.append(h)
                cs.append(c)
            inp = outs[0] if D == 1 else np.concatenate(outs, axis=2)
            inp = self._maybe_dropout(inp, layer)
        return inp, np.stack(hs), np.stack(cs)

    def _run_packed(self, data, batch_sizes, h0, c0):
        D = 2 if self.bidirectional else 1
        offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
        hs, cs = [], []
        inp = data
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                cell = self._all_weight_values[k]
                out = np.empty((data.shape[0], self.hidden_size), np.float32)
                gi_all = _linear_dynamic(inp, *cell._ih, cell._b_ih)  # all packed rows at once
                hf = np.empty_like(h0[k])
                cf = np.empty_like(c0[k])
                steps = range(len(batch_sizes))
                if d == 0:
                    h, c = h0[k], c0[k]
                    for t in steps:
                        bs = int(batch_sizes[t])
                        if bs < h.shape[0]:  # sequences that ended keep their last state
                            hf[bs:h.shape[0]], cf[bs:h.shape[0]] = h[bs:], c[bs:]
                            h, c = h[:bs], c[:bs]
                        h, c = self._cell_steps(cell, gi_all[offsets[t]:offsets[t + 1]], h, c)
                        out[offsets[t]:offsets[t + 1]] = h
                    hf[:h.shape[0]], cf[:h.shape[0]] = h, c
                else:
                    h = h0[k][:0]
                    c = c0[k][:0]
                    for t in reversed(steps):
                        bs = int(batch_sizes[t])
                        if bs > h.shape[0]:  # sequences that start here (from their end)
                            h = np.concatenate([h, h0[k][h.shape[0]:bs]])
                            c = np.concatenate([c, c0[k][c.shape[0]:bs]])
                        h, c = self._cell_steps(cell, gi_all[offsets[t]:offsets[t + 1]], h, c)
                        out[offsets[t]:offsets[t + 1]] = h
                    hf, cf = h, c
                outs.append(out)
                hs.append(hf)
                cs.append(cf)
            inp = outs[0] if D == 1 else np.concatenate(outs, axis=1)
            inp = self._maybe_dropout(inp, layer)
        return inp, np.stack(hs), np.stack(cs)

    def _maybe_dropout(self, a, layer):
        if self.dropout and self.training and layer < self.num_layers - 1:
            from ..ops.random import rand

            keep = np.asarray(_host(rand(*a.shape)), dtype=np.float32) >= self.dropout
            a = (a * keep / np.float32(1 - self.dropout)).astype(np.float32)
        return a

    def forward(self, input, hx=None):  # noqa: A002
        from ..nn.utils.rnn import PackedSequence

        D = 2 if self.bidirectional else 1
        H = self.hidden_size
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_idx, unsorted_idx = input
            bsz = np.asarray(_host(batch_sizes)).astype(np.int64)
            B = int(bsz[0])
            if hx is None:
                h0 = c0 = np.zeros((self.num_layers * D, B, H), np.float32)
            else:
                h0, c0 = (np.asarray(_host(t), np.float32) for t in hx)
                if sorted_idx is not None:
                    si = np.asarray(_host(sorted_idx))
                    h0, c0 = h0[:, si], c0[:, si]
            out, hn, cn = self._run_packed(np.asarray(_host(data), np.float32), bsz, h0, c0)
            if unsorted_idx is not None:
                ui = np.asarray(_host(unsorted_idx))
                hn, cn = hn[:, ui], cn[:, ui]
            return (PackedSequence(Tensor._make(out), batch_sizes, sorted_idx, unsorted_idx),
                    (Tensor._make(hn), Tensor._make(cn)))
        if input.dim() != 3:
            raise RuntimeError(f"input must have 3 dimensions, got {input.dim()}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]}")
        x = np.asarray(_host(input), dtype=np.float32)
        if self.batch_first:
            x = x.transpose(1, 0, 2)
        B = x.shape[1]
        if hx is None:
            h0 = c0 = np.zeros((self.num_layers * D, B, H), np.float32)
        else:
            h0, c0 = (np.asarray(_host(t), np.float32) for t in hx)
            for t, what in ((h0, 0), (c0, 1)):
                if t.shape != (self.num_layers * D, B, H):
                    raise RuntimeError(f"Expected hidden[{what}] size {(self.num_layers * D, B, H)}, got "
                                       f"{list(t.shape)}")
        out, hn, cn = self._run_padded(np.ascontiguousarray(x), h0, c0)
        if self.batch_first:
            out = out.transpose(1, 0, 2)
        return Tensor._make(np.ascontiguousarray(out)), (Tensor._make(hn), Tensor._make(cn))

    def _weight_bias(self):
        out = {"weight": {}, "bias": {}}
        D = 2 if self.bidirectional else 1
        for k, cell in enumerate(self._all_weight_values):
            layer, d = divmod(k, D)
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh, b_ih, b_hh = cell.param
            out["weight"]["weight_ih" + sfx], out["weight"]["weight_hh" + sfx] = w_ih, w_hh
            out["bias"]["bias_ih" + sfx], out["bias"]["bias_hh" + sfx] = b_ih, b_hh
        return out

    def get_weight(self):
        return self._weight_bias()["weight"]

    def get_bias(self):
        return self._weight_bias()["bias"]


# -- quantize_dynamic -----------------------------------------------------------------------------
def get_default_dynamic_quant_module_mappings():
    from ..nn.modules.linear import Linear

    mapping = {Linear: DynamicQuantizedLinear}
    ndql = _non_dyn_linear()
    if ndql is not None:
        mapping[ndql] = DynamicQuantizedLinear
    try:
        from ..nn.modules.rnn import LSTM
    except ImportError:
        LSTM = None
    if LSTM is not None:
        mapping[LSTM] = DynamicQuantizedLSTM
    return mapping


def _default_spec(dtype):
    from ..nn.modules.linear import Linear

    types = [Linear]
    try:
        from ..nn.modules.rnn import GRU, LSTM, GRUCell, LSTMCell, RNNCell

        types += [LSTM, GRU, LSTMCell, RNNCell, GRUCell]
    except ImportError:
        pass
    if dtype is _dt.qint8:
        return dict.fromkeys(types, _obs.default_dynamic_qconfig)
    if dtype is _dt.float16:
        return dict.fromkeys(types, _obs.float16_dynamic_qconfig)
    if dtype is _dt.quint8:
        from ..nn.modules.sparse import Embedding, EmbeddingBag

        return {EmbeddingBag: _obs.float_qparams_weight_only_qconfig, Embedding: _obs.float_qparams_weight_only_qconfig}
    raise ValueError(f"Don't know how to quantize with default settings for {dtype}. Provide full qconfig please")


def _check_qconfig(qconfig):
    if qconfig is not None and not hasattr(qconfig, "_fields"):
        raise AttributeError(f"'{type(qconfig).__name__}' object has no attribute '_fields'")


def propagate_qconfig_(module, qconfig_dict=None, prepare_custom_config_dict=None):
    """Give every module a ``qconfig``: its type's entry, else its qualified name's, else its
    parent's (an explicit ``module.qconfig`` attribute wins)."""
    qconfig_dict = {} if qconfig_dict is None else qconfig_dict

    def visit(mod, parent, prefix):
        qc = qconfig_dict.get(type(mod), parent)
        qc = qconfig_dict.get(prefix, qc)
        qc = getattr(mod, "qconfig", qc)
        _check_qconfig(qc)
        mod.qconfig = qc
        for name, child in mod.named_children():
            visit(child, qc, prefix + "." + name if prefix else name)

    visit(module, None, "")


def swap_module(mod, mapping, custom_module_class_mapping=None):
    new = mod
    if getattr(mod, "qconfig", None) is not None and type(mod) in mapping:
        new = mapping[type(mod)].from_float(mod)
        for hook in mod._forward_pre_hooks.values():
            new.register_forward_pre_hook(hook)
        for hook in mod._forward_hooks.values():
            new.register_forward_hook(hook)
    return new


def _convert(module, mapping):
    swapped = {}
    for name, child in module.named_children():
        _convert(child, mapping)
        swapped[name] = swap_module(child, mapping)
    for name, new in swapped.items():
        module._modules[name] = new
    return module


def _remove_qconfig(module):
    for child in module.children():
        _remove_qconfig(child)
    if "qconfig" in module.__dict__:
        del module.__dict__["qconfig"]


def convert(module, mapping=None, inplace=False, remove_qconfig=True, is_reference=False,
            convert_custom_config_dict=None, use_precomputed_fake_quant=False):
    """Swap every child whose type is in ``mapping`` and that has a qconfig for its quantized
    counterpart (the module passed in is never swapped itself, as in PyTorch)."""
    if mapping is None:
        mapping = get_default_dynamic_quant_module_mappings()
    if not inplace:
        module = copy.deepcopy(module)
    _convert(module, mapping)
    if remove_qconfig:
        _remove_qconfig(module)
    return module


def quantize_dynamic(model, qconfig_spec=None, dtype=_dt.qint8, mapping=None, inplace=False):
    """Replace the ``nn.Linear`` (and ``nn.LSTM``) submodules selected by ``qconfig_spec`` -- a set
    of module types / qualified names, or a dict mapping them to qconfigs -- by dynamically
    quantized ones.  Returns a quantized deep copy unless ``inplace``; the result is in eval mode."""
    if qconfig_spec is None:
        qconfig_spec = _default_spec(dtype)
    elif isinstance(qconfig_spec, set):
        if dtype is _dt.qint8:
            default = _obs.default_dynamic_qconfig
        elif dtype is _dt.float16:
            default = _obs.float16_dynamic_qconfig
        elif dtype is _dt.quint8:
            default = _obs.float_qparams_weight_only_qconfig
        else:
            raise RuntimeError("Unknown dtype specified for quantize_dynamic: ", str(dtype))
        qconfig_spec = dict(zip(qconfig_spec, itertools.repeat(default)))
    if mapping is None:
        mapping = get_default_dynamic_quant_module_mappings()
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    propagate_qconfig_(model, qconfig_spec)
    convert(model, mapping, inplace=True)
    return model


# -- sizes ----------------------------------------------------------------------------------------
def _nbytes(obj, seen):
    if isinstance(obj, Tensor):
        if id(obj) in seen:
            return 0
        seen.add(id(obj))
        return int(obj._data.nbytes)
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(v, seen) for v in obj)
    return 0


def weight_bytes(model):
    """Bytes of the tensors in ``model.state_dict()`` (quantized weights count 1 byte per value)."""
    seen = set()
    return sum(_nbytes(v, seen) for v in model.state_dict().values())

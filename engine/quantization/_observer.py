"""Observers and qconfigs, as far as dynamic quantization needs them: an observer records the
min/max of what it sees and turns them into a scale and zero point with PyTorch's formulas."""
import functools
from collections import namedtuple

import numpy as np

from .. import dtypes as _dt
from ..tensor import Tensor
from ._qtensor import (per_channel_affine, per_channel_affine_float_qparams, per_channel_symmetric,
                       per_tensor_affine, per_tensor_symmetric)

__all__ = ["ObserverBase", "MinMaxObserver", "PerChannelMinMaxObserver", "PlaceholderObserver", "QConfig",
           "default_dynamic_qconfig", "per_channel_dynamic_qconfig", "float16_dynamic_qconfig",
           "float_qparams_weight_only_qconfig", "default_weight_observer", "default_per_channel_weight_observer",
           "default_placeholder_observer", "default_dynamic_quant_observer"]

_EPS = float(np.finfo(np.float32).eps)


class _PartialWrapper:
    """``Observer.with_args(...)``: calling it builds the observer; prints like PyTorch's."""

    def __init__(self, p):
        self.p = p

    def __call__(self, *args, **kwargs):
        return self.p(*args, **kwargs)

    def __repr__(self):
        return repr(self.p) + "{}"

    def with_args(self, **kwargs):
        return _PartialWrapper(functools.partial(self.p, **kwargs))


def _with_args(cls, **kwargs):
    return _PartialWrapper(functools.partial(cls, **kwargs))


class ObserverBase:
    with_args = classmethod(_with_args)

    def __init__(self, dtype, is_dynamic=False):
        self.dtype = dtype
        self.is_dynamic = is_dynamic

    def __call__(self, x):
        return self.forward(x)


def _qmin_qmax(dtype, reduce_range, quant_min, quant_max):
    if quant_min is not None and quant_max is not None:
        return quant_min, quant_max
    if dtype is _dt.qint8:
        return (-64, 63) if reduce_range else (-128, 127)
    if dtype is _dt.quint8:
        return (0, 127) if reduce_range else (0, 255)
    if dtype is _dt.qint32:
        return -(1 << 31), (1 << 31) - 1
    return 0, 255


def _as_f32(x):
    a = x._data if isinstance(x, Tensor) else np.asarray(x)
    return np.asarray(a, dtype=np.float32)


class _MinMaxBase(ObserverBase):
    def __init__(self, dtype=_dt.quint8, qscheme=per_tensor_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=_EPS, is_dynamic=False, **kwargs):
        super().__init__(dtype, is_dynamic)
        self.qscheme = qscheme
        self.reduce_range = reduce_range
        self.has_customized_qrange = quant_min is not None and quant_max is not None
        self.quant_min, self.quant_max = _qmin_qmax(dtype, reduce_range, quant_min, quant_max)
        self.eps = np.float32(eps)
        self.min_val = self.max_val = None

    def _qparams(self, min_val, max_val):
        """PyTorch's ``_calculate_qparams`` on float32 arrays (per tensor: 0-d)."""
        qmin, qmax = self.quant_min, self.quant_max
        min_neg = np.minimum(min_val, np.float32(0))
        max_pos = np.maximum(max_val, np.float32(0))
        zp = np.zeros(min_neg.shape, dtype=np.int64)
        if self.qscheme in (per_tensor_symmetric, per_channel_symmetric):
            max_pos = np.maximum(-min_neg, max_pos)
            scale = (max_pos / np.float32((qmax - qmin) / 2)).astype(np.float32)
            scale = np.maximum(scale, self.eps)
            if self.dtype is _dt.quint8:
                zp[...] = (qmin + qmax) // 2 if self.has_customized_qrange else 128
        elif self.qscheme is per_channel_affine_float_qparams:
            scale = ((max_val - min_val) / np.float32(qmax - qmin)).astype(np.float32)
            scale = np.where(scale > self.eps, scale, np.float32(1)).astype(np.float32)
            zp = (-1 * min_val / scale).astype(np.float32)
        else:
            scale = ((max_pos - min_neg) / np.float32(qmax - qmin)).astype(np.float32)
            scale = np.maximum(scale, self.eps)
            zp = qmin - np.rint(min_neg / scale).astype(np.int64)
            zp = np.clip(zp, qmin, qmax)
        return Tensor._make(np.asarray(scale, dtype=np.float32)), Tensor._make(np.asarray(zp))


class MinMaxObserver(_MinMaxBase):
    def forward(self, x):
        a = _as_f32(x)
        if a.size:
            lo, hi = np.float32(a.min()), np.float32(a.max())
            if self.min_val is not None:
                lo, hi = min(lo, self.min_val), max(hi, self.max_val)
            self.min_val, self.max_val = np.float32(lo), np.float32(hi)
        return x

    def calculate_qparams(self):
        lo = self.min_val if self.min_val is not None else np.float32(np.inf)
        hi = self.max_val if self.max_val is not None else np.float32(-np.inf)
        if self.min_val is None:
            return Tensor._make(np.array([1.0], np.float32)), Tensor._make(np.array([0], np.int64))
        return self._qparams(np.asarray(lo, np.float32), np.asarray(hi, np.float32))


class PerChannelMinMaxObserver(_MinMaxBase):
    def __init__(self, ch_axis=0, dtype=_dt.quint8, qscheme=per_channel_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=_EPS, is_dynamic=False, **kwargs):
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, factory_kwargs, eps, is_dynamic)
        self.ch_axis = ch_axis

    def forward(self, x):
        a = _as_f32(x)
        axis = self.ch_axis % a.ndim
        flat = np.moveaxis(a, axis, 0).reshape(a.shape[axis], -1)
        lo, hi = flat.min(axis=1), flat.max(axis=1)
        if self.min_val is not None:
            lo, hi = np.minimum(lo, self.min_val), np.maximum(hi, self.max_val)
        self.min_val, self.max_val = lo.astype(np.float32), hi.astype(np.float32)
        return x

    def calculate_qparams(self):
        return self._qparams(self.min_val, self.max_val)


class PlaceholderObserver(ObserverBase):
    def __init__(self, dtype=_dt.float32, custom_op_name="", compute_dtype=None, quant_min=None, quant_max=None,
                 qscheme=None, eps=None, is_dynamic=False):
        super().__init__(dtype, is_dynamic)
        self.quant_min, self.quant_max, self.qscheme, self.eps = quant_min, quant_max, qscheme, eps

    def forward(self, x):
        return x

    def calculate_qparams(self):
        raise Exception("calculate_qparams should not be called for PlaceholderObserver")  # noqa: TRY002


class QConfig(namedtuple("QConfig", ["activation", "weight"])):
    """How to observe activations and weights (each an observer class or ``with_args`` factory)."""

    __slots__ = ()


default_placeholder_observer = PlaceholderObserver
default_dynamic_quant_observer = PlaceholderObserver.with_args(dtype=_dt.quint8, quant_min=0, quant_max=255,
                                                               is_dynamic=True)
default_weight_observer = MinMaxObserver.with_args(dtype=_dt.qint8, qscheme=per_tensor_symmetric)
default_per_channel_weight_observer = PerChannelMinMaxObserver.with_args(dtype=_dt.qint8,
                                                                         qscheme=per_channel_symmetric)
default_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer, weight=default_weight_observer)
per_channel_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer,
                                      weight=default_per_channel_weight_observer)
float16_dynamic_qconfig = QConfig(activation=PlaceholderObserver.with_args(dtype=_dt.float16, is_dynamic=True),
                                  weight=PlaceholderObserver.with_args(dtype=_dt.float16))
float_qparams_weight_only_qconfig = QConfig(
    activation=default_placeholder_observer,
    weight=PerChannelMinMaxObserver.with_args(dtype=_dt.quint8, qscheme=per_channel_affine_float_qparams, ch_axis=0))

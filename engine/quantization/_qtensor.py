"""Quantized tensors: ``quantize_per_tensor`` / ``quantize_per_channel`` and the ``QTensor`` they
return.

A ``QTensor`` keeps its integer representation (int8 / uint8 / int32) in ``_data`` and the
quantization parameters beside it; ``dtype`` reports ``torch.qint8`` and friends.  The rounding
follows PyTorch's CPU kernels bit for bit (checked against PyTorch 2.13 with values placed on and
around rounding ties):

* per tensor, 8-bit: ``round_half_even(fma(x, 1/scale, zero_point))`` in float32 (fbgemm);
* per channel, and per tensor qint32: ``round_half_even(x * (1/scale) + zero_point)`` with the
  product and the sum each rounded to float32;
* dequantize: ``float32(q - zero_point) * float32(scale)`` per tensor, ``(q - zero_point) * scale``
  in double then float32 per channel.

Quantized tensors do not take part in autograd or in the regular operators; they are storage
for quantized modules and for inspection (``int_repr``, ``dequantize``, ``q_scale`` ...).
"""
import numpy as np

from .. import dtypes as _dt
from ..tensor import Tensor

__all__ = ["QScheme", "QTensor", "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric",
           "per_channel_symmetric", "per_channel_affine_float_qparams", "quantize_per_tensor",
           "quantize_per_channel", "dequantize"]


class QScheme:
    """``torch.qscheme`` values such as ``torch.per_tensor_affine``."""

    __slots__ = ("name",)
    _all = {}

    def __init__(self, name):
        self.name = name
        QScheme._all[name] = self

    def __repr__(self):
        return "torch." + self.name

    __str__ = __repr__

    def __reduce__(self):
        return (_qscheme_by_name, (self.name,))


def _qscheme_by_name(name):
    return QScheme._all[name]


per_tensor_affine = QScheme("per_tensor_affine")
per_channel_affine = QScheme("per_channel_affine")
per_tensor_symmetric = QScheme("per_tensor_symmetric")
per_channel_symmetric = QScheme("per_channel_symmetric")
per_channel_affine_float_qparams = QScheme("per_channel_affine_float_qparams")

_QRANGE = {"qint8": (-128, 127), "quint8": (0, 255), "qint32": (-(1 << 31), (1 << 31) - 1)}


def _qrange(dtype):
    return _QRANGE[dtype.name]


def _check_qdtype(dtype, fn):
    if not isinstance(dtype, _dt.dtype) or dtype.name not in _QRANGE:
        raise RuntimeError(f"{fn}: Unsupported dtype {dtype}; expected torch.qint8, torch.quint8 or torch.qint32")


def _host_f32(x):
    a = x._data if isinstance(x, Tensor) else np.asarray(x)
    if type(a) is not np.ndarray:  # cupy
        from ..tensor import _host

        a = _host(a)
    return np.asarray(a, dtype=np.float32)


class QTensor(Tensor):
    """A quantized tensor: integer representation plus scale/zero point (per tensor or per channel)."""

    _is_param = False

    @classmethod
    def _create(cls, int_repr, qdtype, qscheme, scale=None, zero_point=None, scales=None, zero_points=None,
                axis=None):
        t = cls._make(int_repr)
        d = t.__dict__
        d["_qdtype"] = qdtype
        d["_qscheme"] = qscheme
        if scales is None:
            d["_scale"] = float(scale)
            d["_zp"] = int(zero_point)
        else:
            d["_scales"] = np.asarray(scales, dtype=np.float64)
            d["_zps"] = np.asarray(zero_points, dtype=np.int64)
            d["_axis"] = int(axis)
        return t

    # -- what a quantized tensor reports ---------------------------------------------------------
    @property
    def dtype(self):
        return self.__dict__["_qdtype"]

    @property
    def is_quantized(self):
        return True

    def is_floating_point(self):
        return False

    def qscheme(self):
        return self.__dict__["_qscheme"]

    def _per_channel(self):
        return "_scales" in self.__dict__

    def q_scale(self):
        if self._per_channel():
            raise RuntimeError("Expected quantizer->qscheme() == kPerTensorAffine to be true, but got false.  "
                               "(Could this error message be improved?  If so, please report an enhancement request "
                               "to PyTorch.)")
        return self.__dict__["_scale"]

    def q_zero_point(self):
        if self._per_channel():
            raise RuntimeError("Expected quantizer->qscheme() == kPerTensorAffine to be true, but got false.  "
                               "(Could this error message be improved?  If so, please report an enhancement request "
                               "to PyTorch.)")
        return self.__dict__["_zp"]

    def _need_channel(self):
        if not self._per_channel():
            raise RuntimeError("Expected quantizer->qscheme() == kPerChannelAffine to be true, but got false.  "
                               "(Could this error message be improved?  If so, please report an enhancement request "
                               "to PyTorch.)")

    def q_per_channel_scales(self):
        self._need_channel()
        return Tensor._make(self.__dict__["_scales"].copy())

    def q_per_channel_zero_points(self):
        self._need_channel()
        return Tensor._make(self.__dict__["_zps"].copy())

    def q_per_channel_axis(self):
        self._need_channel()
        return self.__dict__["_axis"]

    def int_repr(self):
        return Tensor._make(np.array(self._data, copy=True))

    def dequantize(self):
        d = self.__dict__
        q = self._data.astype(np.int64)
        if self._per_channel():  # (q - zero_point) * scale in double, rounded to float32
            shape = [1] * q.ndim
            shape[d["_axis"]] = -1
            out = (q - d["_zps"].reshape(shape)) * d["_scales"].reshape(shape)
        else:  # float32(q - zero_point) * float32(scale)
            out = (q - d["_zp"]).astype(np.float32) * np.float32(d["_scale"])
        return Tensor._make(np.asarray(out).astype(np.float32))

    # -- copies ----------------------------------------------------------------------------------
    def _like(self, data):
        d = self.__dict__
        if self._per_channel():
            return QTensor._create(data, d["_qdtype"], d["_qscheme"], scales=d["_scales"], zero_points=d["_zps"],
                                   axis=d["_axis"])
        return QTensor._create(data, d["_qdtype"], d["_qscheme"], scale=d["_scale"], zero_point=d["_zp"])

    def detach(self):
        return self._like(self._data)

    def clone(self, *, memory_format=None):
        return self._like(np.array(self._data, copy=True))

    def contiguous(self, memory_format=None):
        return self if self._data.flags.c_contiguous else self._like(np.ascontiguousarray(self._data))

    def cpu(self):
        return self

    def __reduce_ex__(self, proto):
        d = self.__dict__
        params = ({k: d[k] for k in ("_scales", "_zps", "_axis")} if self._per_channel()
                  else {"_scale": d["_scale"], "_zp": d["_zp"]})
        return (_rebuild_q, (np.array(self._data, copy=True), d["_qdtype"].name, d["_qscheme"].name, params))

    def __repr__(self, *, tensor_contents=None):
        return _qrepr(self)



def _rebuild_q(data, qdtype, qscheme, params):
    t = QTensor._make(data)
    t.__dict__.update(_qdtype=_dt._by_name(qdtype), _qscheme=_qscheme_by_name(qscheme), **params)
    return t


def _qrepr(t):
    from .._tensor_str import _add_suffixes, _body

    prefix = "tensor("
    indent = len(prefix)
    deq = t.dequantize()
    suffixes = ["size=" + str(tuple(t.shape)), "dtype=" + str(t.dtype),
                "quantization_scheme=" + str(t.qscheme())]
    if t._per_channel():
        suffixes += ["scale=" + repr(t.q_per_channel_scales()), "zero_point=" + repr(t.q_per_channel_zero_points()),
                     "axis=" + str(t.q_per_channel_axis())]
    else:
        suffixes += ["scale=" + repr(t.q_scale()), "zero_point=" + str(t.q_zero_point())]
    body = "[]" if deq._data.size == 0 else _body(deq, indent)
    return _add_suffixes(prefix + body, suffixes, indent)


# -- quantizing ------------------------------------------------------------------------------------
def _round_fma(x, inv, zp):
    """float32 ``fma(x, inv, zp)`` then round half to even (products of two float32 are exact in
    float64, so one rounding to float32 reproduces the fused operation)."""
    return np.rint((x.astype(np.float64) * np.float64(inv) + np.float64(zp)).astype(np.float32))


def _round_mul_add(x, inv, zp):
    """float32 ``x * inv`` rounded, plus ``zp`` rounded, then round half to even."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.rint((x * np.asarray(inv, dtype=np.float32)) + np.asarray(zp, dtype=np.float32))


def _quantize_array(x, scale, zp, qdtype, per_channel_shape=None):
    lo, hi = _qrange(qdtype)
    x = np.asarray(x, dtype=np.float32)
    scale32 = np.asarray(scale, dtype=np.float32)
    with np.errstate(divide="ignore"):
        inv = np.float32(1.0) / scale32
    if per_channel_shape is not None:
        inv = inv.reshape(per_channel_shape)
        zp = np.asarray(zp).reshape(per_channel_shape)
        v = _round_mul_add(x, inv, zp)
    elif qdtype.name == "qint32":
        v = _round_mul_add(x, inv, zp)
    else:
        v = _round_fma(x, inv, zp)
    v = np.nan_to_num(v.astype(np.float64), nan=0.0, posinf=hi, neginf=lo)
    return np.clip(v, lo, hi).astype(qdtype.np)


def _scalar(v, what):
    if isinstance(v, Tensor):
        if v.numel() != 1:
            raise RuntimeError(f"quantize_per_tensor: {what} must be a scalar")
        return v.item()
    return v


def quantize_per_tensor(input, scale, zero_point, dtype):  # noqa: A002
    """Affine quantization with one scale and zero point for the whole tensor."""
    if isinstance(input, (list, tuple)):
        return [quantize_per_tensor(t, s, z, dtype) for t, s, z in zip(input, scale, zero_point)]
    _check_qdtype(dtype, "quantize_per_tensor")
    if not input.is_floating_point():
        raise RuntimeError(f"Quantize only works on Float Tensor, got {_dt.SCALAR_NAMES.get(input.dtype.name)}")
    scale = float(_scalar(scale, "scale"))
    zero_point = int(_scalar(zero_point, "zero_point"))
    lo, hi = _qrange(dtype)
    if not lo <= zero_point <= hi:
        raise RuntimeError(f"quantize_tensor_per_tensor_affine zero_point {zero_point} is out of range.")
    data = _quantize_array(_host_f32(input), scale, zero_point, dtype)
    return QTensor._create(data, dtype, per_tensor_affine, scale=scale, zero_point=zero_point)


def quantize_per_channel(input, scales, zero_points, axis, dtype):  # noqa: A002
    """Affine quantization with one scale and zero point per slice along ``axis``."""
    _check_qdtype(dtype, "quantize_per_channel")
    if not input.is_floating_point():
        raise RuntimeError(f"Quantize only works on Float Tensor, got {_dt.SCALAR_NAMES.get(input.dtype.name)}")
    s = np.asarray(scales._data if isinstance(scales, Tensor) else scales, dtype=np.float64).reshape(-1)
    z = np.asarray(zero_points._data if isinstance(zero_points, Tensor) else zero_points).reshape(-1)
    nd = input.dim()
    if not 0 <= axis < nd:
        raise RuntimeError(f"Channel axis out of range in per channel affine quantization. Got: {axis}Expected: "
                           f"[0, {nd})")
    n = input.shape[axis]
    if s.size != n:
        raise RuntimeError(f"Expected scales to have {n} elements, got {s.size}")
    if z.size != n:
        raise RuntimeError(f"Expected zero_points to have {n} elements, got {z.size}")
    shape = [1] * nd
    shape[axis] = n
    data = _quantize_array(_host_f32(input), s, z.astype(np.int64), dtype, per_channel_shape=shape)
    return QTensor._create(data, dtype, per_channel_affine, scales=s, zero_points=z.astype(np.int64), axis=axis)


def dequantize(tensor):
    """``torch.dequantize``: the float values of a quantized tensor (a float tensor is returned as is)."""
    if isinstance(tensor, (list, tuple)):
        return [dequantize(t) for t in tensor]
    return tensor.dequantize() if isinstance(tensor, QTensor) else tensor

"""Gradlab's engine: a PyTorch-compatible tensor library with define-by-run autograd on numpy
(CPU) and cupy (CUDA).  ``import engine as torch`` — or ``engine.compat.install()`` so that
``import torch`` itself resolves here."""
from . import dtypes as _dtypes
from .dtypes import (  # noqa: F401
    bool, double, dtype, finfo, float, float16, float32, float64, get_default_dtype, half, iinfo, int,
    int8, int16, int32, int64, long, promote_types, set_default_dtype, short, uint8, bfloat16,
    qint8, quint8, qint32,
)
from .device import device  # noqa: F401
from . import cuda  # noqa: F401
from .tensor import Size, Tensor, is_tensor  # noqa: F401
from . import ops as _ops
from . import autograd  # noqa: F401
from .autograd import (  # noqa: F401
    enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad, set_grad_enabled,
)

globals().update(_ops.FUNCTIONS)

__version__ = "2.13.0"


def result_type(tensor1, tensor2):
    parts = [(t.dtype, t.ndim) if isinstance(t, Tensor) else t for t in (tensor1, tensor2)]
    return _dtypes.result_type(*parts)


def can_cast(from_, to):
    order = {"b": 0, "u": 1, "i": 1, "f": 2}
    return order[from_.np.kind] <= order[to.np.kind]


def set_default_tensor_type(t):
    """Legacy API: ``torch.FloatTensor``/``torch.DoubleTensor`` or their names."""
    name = t if isinstance(t, str) else getattr(t, "__name__", "")
    if "Double" in name:
        set_default_dtype(float64)
    elif "Float" in name:
        set_default_dtype(float32)
    elif "Half" in name:
        set_default_dtype(float16)
    else:
        raise TypeError(f"invalid type {name!r}")


def numel(input):
    return input.numel()


def is_floating_point(input):
    return input.is_floating_point()


def is_nonzero(input):
    if input.numel() != 1:
        raise RuntimeError(f"Boolean value of Tensor with {'no values' if input.numel() == 0 else 'more than one value'} is ambiguous")
    return bool(input.item() != 0)


def _legacy_type(name, dt):
    class _Legacy(Tensor):
        def __new__(cls, *args, **kwargs):
            t = Tensor(*args, dtype=dt)
            return t

    _Legacy.__name__ = _Legacy.__qualname__ = name
    _Legacy.dtype = dt
    return _Legacy


FloatTensor = _legacy_type("FloatTensor", float32)
DoubleTensor = _legacy_type("DoubleTensor", float64)
HalfTensor = _legacy_type("HalfTensor", float16)
LongTensor = _legacy_type("LongTensor", int64)
IntTensor = _legacy_type("IntTensor", int32)
ShortTensor = _legacy_type("ShortTensor", int16)
CharTensor = _legacy_type("CharTensor", int8)
ByteTensor = _legacy_type("ByteTensor", uint8)
BoolTensor = _legacy_type("BoolTensor", bool)
from ._tensor_str import set_printoptions  # noqa: E402,F401

from . import nn, optim, utils  # noqa: E402,F401  (layer 5: the libraries users touch)
from .serialization import load, save  # noqa: E402,F401
from . import jit, onnx, quantization, ao  # noqa: E402,F401  (layer 6: deployment)
from .quantization._qtensor import (  # noqa: E402,F401
    dequantize, per_channel_affine, per_channel_affine_float_qparams, per_channel_symmetric, per_tensor_affine,
    per_tensor_symmetric, quantize_per_channel, quantize_per_tensor,
)

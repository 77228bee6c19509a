"""Dropout: ``F.dropout`` (element-wise), ``F.dropout1d/2d/3d`` (whole channels),
``F.alpha_dropout``.

As in PyTorch on CPU the result is ``input * mask`` with the mask already scaled by
``1 / (1 - p)``, so the grad_fn is ``MulBackward0``; ``p == 0`` or ``training=False`` returns the
input itself.  Masks come from the engine's global generator.
"""
import warnings

import numpy as np

from ...ops._util import Tensor, inplace as _inplace, xp_of

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _mask(input, p, shape):
    from ...ops.random import _gen

    a = input._data
    dt = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    if p >= 1.0:
        m = np.zeros(shape, dtype=dt)
    else:
        keep = _gen(None).random(shape) >= p
        m = keep.astype(dt) * dt.type(1.0 / (1.0 - p))
    return Tensor._make(xp_of(a).asarray(m) if xp_of(a) is not np else m)


def _apply(input, p, training, inplace, shape):
    if p == 0 or not training or input.numel() == 0:
        return input
    m = _mask(input, p, shape)
    if inplace:
        return _inplace(input, lambda t: t * m)
    return input * m


def dropout(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    return _apply(input, p, training, inplace, tuple(input.shape))


def _feature_shape(input):
    s = tuple(input.shape)
    return s[:2] + (1,) * (len(s) - 2)


def _feature(input, p, training, inplace, batched):
    if batched:
        return _apply(input, p, training, inplace, _feature_shape(input))
    if p == 0 or not training or input.numel() == 0:
        return input
    shape = (1,) + tuple(input.shape)
    m = _mask(input, p, shape[:2] + (1,) * (len(shape) - 2)).reshape(
        (input.shape[0],) + (1,) * (input.dim() - 1))
    if inplace:
        return _inplace(input, lambda t: t * m)
    return input * m


def dropout1d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    nd = input.dim()
    if nd not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {nd}D input. Note that dropout1d "
                           "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
                           "dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _feature(input, p, training, inplace, nd == 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    nd = input.dim()
    if nd not in (3, 4):
        warnings.warn(f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs).", stacklevel=2)
    if nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", stacklevel=2)
    if nd < 2:
        return _apply(input, p, training, inplace, tuple(input.shape))
    return _apply(input, p, training, inplace, _feature_shape(input))


def dropout3d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    nd = input.dim()
    if nd not in (4, 5):
        warnings.warn(f"dropout3d: Received a {nd}-D input to dropout3d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 4D or 5D "
                      "inputs).", stacklevel=2)
    if nd == 4:
        return _feature(input, p, training, inplace, False)
    if nd < 2:
        return _apply(input, p, training, inplace, tuple(input.shape))
    return _apply(input, p, training, inplace, _feature_shape(input))


_ALPHA = 1.7580993408473766  # -SELU scale * SELU alpha: the value dropped units take


def _alpha(input, p, training, inplace, shape):
    _check_p(p)
    if p == 0 or not training or input.numel() == 0:
        return input
    if p == 1:
        return input * 0 if not inplace else _inplace(input, lambda t: t * 0)
    from ...ops.random import _gen

    a = input._data
    keep = (_gen(None).random(shape) >= p).astype(a.dtype)
    scale = (1.0 / ((1 - p) * (1 + p * _ALPHA ** 2))) ** 0.5
    b = (keep - 1) * (_ALPHA * scale) + _ALPHA * scale * p
    k = Tensor._make(keep * a.dtype.type(scale))
    bt = Tensor._make(b.astype(a.dtype))
    if inplace:
        return _inplace(input, lambda t: t * k + bt)
    return input * k + bt


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _alpha(input, p, training, inplace, tuple(input.shape))


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _alpha(input, p, training, inplace, _feature_shape(input))

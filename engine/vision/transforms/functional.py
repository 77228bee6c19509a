"""``torchvision.transforms.functional`` on the engine: images are engine tensors ``[..., C, H, W]``,
numpy arrays ``H x W`` or ``H x W x C`` (uint8 like PIL's), or PIL images when PIL is installed
(processed as numpy and handed back as PIL)."""
import enum
import math
import numbers

import numpy as np

from ...tensor import Tensor


class InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _engine():
    import engine
    return engine


def _is_pil(img):
    return type(img).__module__.startswith("PIL.")


def _as_array(img):
    """(array, kind): kind is 'tensor' (H, W are the last two axes), 'numpy' or 'pil' (axes 0, 1)."""
    if isinstance(img, Tensor):
        return img._data, "tensor"
    if isinstance(img, np.ndarray):
        return img, "numpy"
    if _is_pil(img):
        return np.asarray(img), "pil"
    raise TypeError(f"img should be Tensor, numpy array or PIL Image. Got {type(img)}")


def _back(arr, kind, like=None):
    if kind == "tensor":
        return Tensor._make(np.ascontiguousarray(arr))
    if kind == "pil":
        from PIL import Image
        return Image.fromarray(np.ascontiguousarray(arr), mode=getattr(like, "mode", None))
    return np.ascontiguousarray(arr)


def _hw_axes(arr, kind):
    if kind == "tensor":
        if arr.ndim < 2:
            raise TypeError(f"Tensor is not a torch image. Got tensor.ndim = {arr.ndim}")
        return arr.ndim - 2, arr.ndim - 1
    return 0, 1


def get_dimensions(img):
    arr, kind = _as_array(img)
    if kind == "tensor":
        c = 1 if arr.ndim == 2 else arr.shape[-3]
        return [c, arr.shape[-2], arr.shape[-1]]
    return [1 if arr.ndim == 2 else arr.shape[2], arr.shape[0], arr.shape[1]]


def get_image_size(img):
    _, h, w = get_dimensions(img)
    return [w, h]


# -- conversion -------------------------------------------------------------------------------
def to_tensor(pic):
    """uint8 ``H x W (x C)`` array or PIL image -> float ``C x H x W`` in [0, 1]; other array dtypes
    keep their values."""
    engine = _engine()
    if _is_pil(pic):
        mode = pic.mode
        arr = np.array(pic, dtype=np.uint8 if mode in ("L", "RGB", "RGBA", "P", "CMYK", "YCbCr", "LA") else None,
                       copy=True)
        if mode == "1":
            arr = 255 * arr.astype(np.uint8)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    t = Tensor._make(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    if arr.dtype == np.uint8:
        return t.to(engine.get_default_dtype()).div(255)
    return t


def pil_to_tensor(pic):
    arr, kind = _as_array(pic)
    if kind == "tensor":
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return Tensor._make(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def convert_image_dtype(image, dtype=None):
    engine = _engine()
    dtype = dtype or engine.float32
    if image.dtype == dtype:
        return image
    if image.is_floating_point():
        if dtype.is_floating_point:
            return image.to(dtype)
        top = float(np.iinfo(dtype.np).max)
        return image.mul(top + 1.0 - 0.001).to(dtype)
    top_in = float(np.iinfo(image.dtype.np).max)
    if dtype.is_floating_point:
        return image.to(dtype).div(top_in)
    top_out = float(np.iinfo(dtype.np).max)
    return Tensor._make(np.floor(image._data.astype(np.float64) * (top_out + 1) / (top_in + 1)).astype(dtype.np))


def normalize(tensor, mean, std, inplace=False):
    engine = _engine()
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = "
                         f"{tensor.size()}")
    m = engine.as_tensor(mean, dtype=tensor.dtype)
    s = engine.as_tensor(std, dtype=tensor.dtype)
    if bool((s == 0).any()):
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading to division by zero.")
    if m.ndim == 1:
        m = m.view(-1, 1, 1)
    if s.ndim == 1:
        s = s.view(-1, 1, 1)
    if inplace:
        return tensor.sub_(m).div_(s)
    return tensor.sub(m).div(s)


# -- geometry ---------------------------------------------------------------------------------
def hflip(img):
    if isinstance(img, Tensor):
        return img.flip(-1)
    arr, kind = _as_array(img)
    return _back(arr[:, ::-1], kind, img)


def vflip(img):
    if isinstance(img, Tensor):
        return img.flip(-2)
    arr, kind = _as_array(img)
    return _back(arr[::-1], kind, img)


def crop(img, top, left, height, width):
    """Crop; regions beyond the image are zero-padded (as torchvision does)."""
    arr, kind = _as_array(img)
    ah, aw = _hw_axes(arr, kind)
    h, w = arr.shape[ah], arr.shape[aw]
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        pads = [max(-left, 0), max(-top, 0), max(right - w, 0), max(bottom - h, 0)]
        img = pad(img, pads, fill=0)
        arr, kind = _as_array(img)
        top, left = top + pads[1], left + pads[0]
    if kind == "tensor":
        return img[..., top:top + height, left:left + width]
    return _back(arr[top:top + height, left:left + width], kind, img)


def center_crop(img, output_size):
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    _, h, w = get_dimensions(img)
    th, tw = output_size
    if th > h or tw > w:
        pads = [(tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0,
                (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0]
        img = pad(img, pads, fill=0)
        _, h, w = get_dimensions(img)
        if h == th and w == tw:
            return img
    top = int(round((h - th) / 2.0))
    left = int(round((w - tw) / 2.0))
    return crop(img, top, left, th, tw)


def _parse_padding(padding):
    if isinstance(padding, numbers.Number) and not isinstance(padding, bool):
        return [int(padding)] * 4
    if isinstance(padding, (tuple, list)):
        padding = list(padding)
        if len(padding) == 1:
            return [padding[0]] * 4
        if len(padding) == 2:
            return [padding[0], padding[1], padding[0], padding[1]]
        if len(padding) == 4:
            return padding
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple")
    raise TypeError("Got inappropriate padding arg")


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad (left, top, right, bottom); modes constant, edge, reflect, symmetric."""
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    left, top, right, bottom = _parse_padding(padding)
    arr, kind = _as_array(img)
    ah, aw = _hw_axes(arr, kind)
    widths = [(0, 0)] * arr.ndim
    if min(left, top, right, bottom) < 0:
        sl = [slice(None)] * arr.ndim
        sl[ah] = slice(max(-top, 0), arr.shape[ah] - max(-bottom, 0))
        sl[aw] = slice(max(-left, 0), arr.shape[aw] - max(-right, 0))
        arr = arr[tuple(sl)]
        left, top, right, bottom = (max(p, 0) for p in (left, top, right, bottom))
    widths[ah], widths[aw] = (top, bottom), (left, right)
    if padding_mode == "constant":
        if fill is None:
            fill = 0
        if isinstance(fill, (tuple, list)) and arr.ndim == 3:
            chans = []
            cax = 0 if kind == "tensor" and arr.ndim >= 3 else 2
            for c in range(arr.shape[cax]):
                sub = np.take(arr, c, axis=cax)
                w2 = [w for i, w in enumerate(widths) if i != cax]
                chans.append(np.pad(sub, w2, mode="constant", constant_values=fill[c % len(fill)]))
            out = np.stack(chans, axis=cax)
        else:
            out = np.pad(arr, widths, mode="constant", constant_values=fill)
    else:
        out = np.pad(arr, widths, mode=padding_mode)
    return _back(out.astype(arr.dtype, copy=False), kind, img)


def _output_size(h, w, size, max_size=None):
    if isinstance(size, numbers.Number):
        size = [int(size)]
    size = list(size)
    if len(size) == 1:
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = size[0], int(size[0] * long / short)
        if max_size is not None:
            if max_size <= size[0]:
                raise ValueError(f"max_size = {max_size} must be strictly greater than the requested size for "
                                 f"the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    if len(size) != 2:
        raise ValueError("If size is a sequence, it should have 1 or 2 values")
    return int(size[0]), int(size[1])


def _linear_weights(n_in, n_out, antialias):
    """[n_out, n_in] matrix of a triangle filter (PyTorch/PIL bilinear, half-pixel centres);
    widened by the scale when shrinking with antialias."""
    scale = n_in / n_out
    mat = np.zeros((n_out, n_in), dtype=np.float64)
    if antialias and scale > 1.0:
        support = scale
        for i in range(n_out):
            center = (i + 0.5) * scale
            lo = max(int(center - support + 0.5), 0)
            hi = min(int(center + support + 0.5), n_in)
            j = np.arange(lo, hi)
            w = np.maximum(0.0, 1.0 - np.abs((j - center + 0.5) / support))
            total = w.sum()
            mat[i, lo:hi] = w / total if total > 0 else 0
        return mat
    for i in range(n_out):
        src = max((i + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(math.floor(src)), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        lam = src - i0
        mat[i, i0] += 1.0 - lam
        mat[i, i1] += lam
    return mat


def _nearest_index(n_in, n_out):
    scale = np.float32(n_in) / np.float32(n_out)
    return np.minimum(np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(np.int64), n_in - 1)


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    if isinstance(interpolation, str):
        interpolation = InterpolationMode(interpolation)
    if interpolation not in (InterpolationMode.BILINEAR, InterpolationMode.NEAREST):
        raise NotImplementedError(f"resize: only bilinear and nearest interpolation are implemented, "
                                  f"got {interpolation.value}")
    arr, kind = _as_array(img)
    ah, aw = _hw_axes(arr, kind)
    h, w = arr.shape[ah], arr.shape[aw]
    oh, ow = _output_size(h, w, size, max_size)
    if (oh, ow) == (h, w):
        return img
    if interpolation is InterpolationMode.NEAREST:
        out = np.take(np.take(arr, _nearest_index(h, oh), axis=ah), _nearest_index(w, ow), axis=aw)
        return _back(out, kind, img)
    x = np.moveaxis(arr, (ah, aw), (-2, -1)).astype(np.float32 if arr.dtype != np.float64 else np.float64)
    wh = _linear_weights(h, oh, antialias).astype(x.dtype)
    ww = _linear_weights(w, ow, antialias).astype(x.dtype)
    out = np.matmul(np.matmul(wh, x), ww.T)
    if arr.dtype.kind in "ui":
        info = np.iinfo(arr.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    out = np.moveaxis(out.astype(arr.dtype), (-2, -1), (ah, aw))
    return _back(out, kind, img)

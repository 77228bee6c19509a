"""Devices: ``engine.device``, the array module behind each device, and transfers.

CPU tensors hold numpy arrays, CUDA tensors hold cupy arrays.  This is the one place that
decides which array module serves an array or a device.
"""
import numpy as np

try:  # cupy is optional: without it (or without a GPU) everything runs on the CPU.
    import cupy as _cupy
    try:
        _cuda_count = _cupy.cuda.runtime.getDeviceCount()
    except Exception:  # driver missing or no device
        _cuda_count = 0
except Exception:  # pragma: no cover - depends on the machine
    _cupy = None
    _cuda_count = 0

__all__ = ["device", "array_module", "device_of", "to_device", "cuda_available", "cuda_device_count"]


class device:
    """``engine.device('cpu' | 'cuda' | 'cuda:N')`` or ``engine.device('cuda', N)``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 - PyTorch's argument name
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments - got ({type.__class__.__name__})")
        name = type
        if ":" in type:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: {type}")
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{name}'")
            index = int(idx)
        if type not in ("cpu", "cuda", "meta"):
            raise RuntimeError(
                "Expected one of cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, fpga, maia, "
                f"xla, lazy, vulkan, mps, meta, hpu, mtia, privateuseone device type at start of device string: {name}"
            )
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative")
        self.type = type
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")
_cuda_devices = {}


def cuda_available():
    return _cuda_count > 0


def cuda_device_count():
    return _cuda_count


def array_module(dev):
    """numpy for the CPU, cupy for CUDA."""
    if dev.type == "cpu":
        return np
    if dev.type == "cuda":
        _require_cuda()
        return _cupy
    raise RuntimeError(f"unsupported device {dev}")


def module_of(arr):
    """The array module that owns ``arr``."""
    if type(arr) is np.ndarray or _cupy is None:
        return np
    return _cupy.get_array_module(arr)


def device_of(arr):
    if type(arr) is np.ndarray or _cupy is None or not isinstance(arr, _cupy.ndarray):
        return CPU
    i = arr.device.id
    d = _cuda_devices.get(i)
    if d is None:
        d = _cuda_devices[i] = device("cuda", i)
    return d


def _require_cuda():
    if _cupy is None:
        raise AssertionError("Torch not compiled with CUDA enabled")
    if _cuda_count == 0:
        raise RuntimeError(
            "Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver"
        )


def normalize(dev):
    """Accept a device, a string or an int and return a ``device`` with a concrete index for CUDA."""
    if dev is None:
        return None
    if not isinstance(dev, device):
        dev = device(dev)
    if dev.type == "cuda" and dev.index is None:
        _require_cuda()
        dev = device("cuda", _cupy.cuda.runtime.getDevice())
    return dev


def to_device(arr, dev):
    """Copy ``arr`` onto ``dev`` (a normalized device); returns ``arr`` itself when already there."""
    src = device_of(arr)
    if src == dev:
        return arr
    if dev.type == "cpu":
        return _cupy.asnumpy(arr)
    _require_cuda()
    if dev.index >= _cuda_count:
        raise RuntimeError("CUDA error: invalid device ordinal")
    with _cupy.cuda.Device(dev.index):
        return _cupy.asarray(arr)

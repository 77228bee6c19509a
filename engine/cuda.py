"""``engine.cuda``: what PyTorch's ``torch.cuda`` offers that makes sense here."""
from .device import cuda_available, cuda_device_count, normalize, _cupy


def is_available():
    return cuda_available()


def device_count():
    return cuda_device_count()


def current_device():
    return normalize("cuda").index


def get_device_name(device=None):
    dev = normalize(device if device is not None else "cuda")
    return _cupy.cuda.runtime.getDeviceProperties(dev.index)["name"].decode()


def synchronize(device=None):
    if cuda_available():
        _cupy.cuda.Device().synchronize()


def manual_seed(seed):
    if cuda_available():
        _cupy.random.seed(seed)


manual_seed_all = manual_seed


def empty_cache():
    if cuda_available():
        _cupy.get_default_memory_pool().free_all_blocks()


def memory_allocated(device=None):
    return _cupy.get_default_memory_pool().used_bytes() if cuda_available() else 0


def is_initialized():
    return cuda_available()

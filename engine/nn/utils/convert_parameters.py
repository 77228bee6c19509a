"""``parameters_to_vector`` / ``vector_to_parameters``."""
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_param_device(param, old):
    if param.device.type == "cuda":
        idx = param.get_device()
        if old is None:
            return idx
        if idx != old:
            raise TypeError("Found two parameters on different devices, this is currently not supported.")
        return old
    if old is None:
        return -1
    if old != -1:
        raise TypeError("Found two parameters on different devices, this is currently not supported.")
    return old


def parameters_to_vector(parameters):
    """Concatenate the flattened parameters into one 1-D tensor (differentiable)."""
    from ...ops.shape import cat

    device = None
    vec = []
    for p in parameters:
        device = _check_param_device(p, device)
        vec.append(p.view(-1))
    return cat(vec)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of ``vec`` into the parameters' data."""
    if not isinstance(vec, Tensor):
        from ..modules.module import _typename

        raise TypeError(f"expected torch.Tensor, but got: {_typename(vec)}")
    device = None
    pointer = 0
    for p in parameters:
        device = _check_param_device(p, device)
        n = p.numel()
        p.data = vec[pointer:pointer + n].view_as(p).data
        pointer += n

"""``nn.Parameter``: a leaf tensor that modules register as a parameter."""
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a module parameter: ``requires_grad`` by default, listed by ``parameters()``."""

    _is_param = True

    def __new__(cls, data=None, requires_grad=True):
        from ..ops.creation import empty

        if data is None:
            data = empty(0)
        p = cls._make(data._data)
        p._vc = data._vc  # shares storage and version with ``data``, as PyTorch does
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        from .._tensor_str import parameter_repr

        return parameter_repr(self)

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (Tensor._make(self._data.copy()), self._rg))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        p = Parameter(Tensor._make(self._data.copy()), self._rg)
        if self.grad is not None:
            p.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = p
        return p


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)


class Buffer(Tensor):
    """``nn.Buffer(tensor)``: marks a tensor to be registered as a buffer when assigned to a module."""

    def __new__(cls, data=None, *, persistent=True):
        from ..ops.creation import empty

        if data is None:
            data = empty(0)
        b = cls._make(data._data)
        b.persistent = persistent
        return b

    def __init__(self, data=None, *, persistent=True):
        pass

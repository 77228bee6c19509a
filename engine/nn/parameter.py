"""``nn.Parameter`` and ``nn.Buffer``: tensors that a module registers when they are assigned
as its attributes."""
from ..tensor import Tensor


def _empty():
    from ..ops.creation import empty

    return empty(0)


class Parameter(Tensor):
    """A leaf tensor that is a module parameter: ``requires_grad`` by default (even under
    ``no_grad``), listed by ``Module.parameters()``.  It shares storage and version counter
    with the tensor it is made from, as PyTorch's ``_make_subclass`` does."""

    _is_param = True

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _empty()
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter.__new__() expected a Tensor, but got {type(data).__name__}")
        p = cls._make(data._data)
        p._vc = data._vc
        if requires_grad:
            if data._data.dtype.kind not in "fc":
                raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
            p._rg = True
        return p

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        from .._tensor_str import parameter_repr

        return parameter_repr(self)

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (Tensor._make(self._data), self._rg))

    def __deepcopy__(self, memo):
        # PyTorch copies the values and the flag only (not ``.grad``)
        hit = memo.get(id(self))
        if hit is not None:
            return hit
        p = type(self)(Tensor._make(self._data.copy()), self._rg)
        memo[id(self)] = p
        return p


def _rebuild_parameter(data, requires_grad, *_):
    return Parameter(data, requires_grad)


class _BufferMeta(type):
    """``isinstance(t, Buffer)`` holds for any tensor marked by ``Buffer(...)``."""

    def __instancecheck__(cls, instance):
        if cls is Buffer and isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False):
            return True
        return type.__instancecheck__(cls, instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """``nn.Buffer(tensor, persistent=True)``: a detached tensor marked to be registered as a
    buffer when assigned to a module (``persistent=False`` keeps it out of ``state_dict``)."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = _empty()
        t = data.detach()
        if data._rg:
            t.requires_grad_(True)
        t.persistent = persistent
        t._is_buffer = True
        return t

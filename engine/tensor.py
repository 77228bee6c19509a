"""``Tensor``: an array (numpy or cupy), autograd state and a version counter.

This module holds what a tensor *is*.  What a tensor *does* (arithmetic, indexing, reductions,
conversions) lives in ``engine.ops``, which attaches those methods and operators to the class
when the package is imported, so imports keep flowing from ops down to here.
"""
import numpy as np

from . import dtypes as _dt
from .device import CPU, _cupy, device_of, module_of

_ndarray = np.ndarray
_new = object.__new__
_np_to_dtype = _dt._from_np


class Size(tuple):
    """``engine.Size``: a tuple of ints that prints as ``torch.Size([2, 3])``."""

    __slots__ = ()

    def __repr__(self):
        return f"torch.Size([{', '.join(str(s) for s in self)}])"

    __str__ = __repr__

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __reduce__(self):
        return (Size, (tuple(self),))


class _Version:
    """Version counter, shared between a tensor and its views (``Tensor._vc``)."""

    __slots__ = ("v",)

    def __init__(self):
        self.v = 0


class _VersionValue(int):
    """What ``tensor._version`` returns: the version as an int, as in PyTorch.  ``.v`` reads and
    writes the shared counter, so older code doing ``t._version.v += 1`` keeps working."""

    @property
    def v(self):
        return self._c.v

    @v.setter
    def v(self, value):
        self._c.v = value


def _version_value(c):
    r = _VersionValue(c.v)
    r._c = c
    return r


def _as_array(data):
    if type(data) is _ndarray:
        return data
    if _cupy is not None and isinstance(data, _cupy.ndarray):
        return data
    return np.asarray(data)


class Tensor:
    __slots__ = ("_data", "_rg", "grad", "grad_fn", "_vc", "_base", "_output_nr", "_accum",
                 "_hooks", "_view_fn", "__weakref__", "__dict__")
    __array_priority__ = 1000  # numpy defers to our reflected operators
    _is_param = False

    # -- construction -----------------------------------------------------------------------
    def __new__(cls, *args, **kwargs):
        t = _new(cls)
        t._data = None
        t._rg = False
        t.grad = None
        t.grad_fn = None
        t._vc = _Version()
        t._base = None
        t._output_nr = 0
        t._accum = None
        t._hooks = None
        t._view_fn = None
        return t

    def __init__(self, *args, device=None, dtype=None):
        """``Tensor(data)`` copies data as float; ``Tensor(2, 3)`` makes an uninitialised tensor."""
        if self._data is not None:  # built by _make or a subclass constructor
            return
        from .ops.creation import legacy_new

        self._data = legacy_new(args, device, dtype)

    @classmethod
    def _make(cls, data, rg=False):
        """Fast internal constructor: wrap an array (no copy)."""
        t = _new(cls)
        t._data = data if type(data) is _ndarray else _as_array(data)
        t._rg = rg
        t.grad = None
        t.grad_fn = None
        t._vc = _Version()
        t._base = None
        t._output_nr = 0
        t._accum = None
        t._hooks = None
        t._view_fn = None
        return t

    # -- basic attributes -------------------------------------------------------------------
    @property
    def dtype(self):
        return _np_to_dtype[self._data.dtype]

    @property
    def device(self):
        if type(self._data) is _ndarray:
            return CPU
        return device_of(self._data)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def is_cpu(self):
        return type(self._data) is _ndarray

    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[self._wrap_dim(dim)]

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return int(self._data.nbytes)

    def stride(self, dim=None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[self._wrap_dim(dim)]

    def is_contiguous(self, memory_format=None):
        return bool(self._data.flags.c_contiguous)

    def data_ptr(self):
        if type(self._data) is _ndarray:
            return self._data.__array_interface__["data"][0]
        return self._data.data.ptr

    def untyped_storage(self):
        return self._data.base if self._data.base is not None else self._data

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def is_complex(self):
        return False

    def is_signed(self):
        return self.dtype.is_signed

    @property
    def layout(self):
        return "torch.strided"

    @property
    def is_sparse(self):
        return False

    @property
    def is_quantized(self):
        return False

    @property
    def is_meta(self):
        return False

    def get_device(self):
        d = self.device
        return -1 if d.type == "cpu" else d.index

    def _wrap_dim(self, dim):
        n = self._data.ndim
        lo, hi = (-1, 0) if n == 0 else (-n, n - 1)
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
            raise TypeError(f"dim must be an int, got {type(dim).__name__}")
        if dim < lo or dim > hi:
            raise IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
        return dim % n if n else 0

    # -- autograd state ---------------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad=True):
        flag = bool(requires_grad)
        if self.grad_fn is not None:
            if not flag:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to use a computed "
                    "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
                )
            return self
        if flag and self._data.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        self._rg = flag
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def retains_grad(self):
        fn = self.grad_fn
        return bool(fn is not None and fn._retain and self._output_nr in fn._retain)

    def retain_grad(self):
        if self.grad_fn is None:
            if not self._rg:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        import weakref

        fn = self.grad_fn
        if fn._retain is None:
            fn._retain = {}
        fn._retain[self._output_nr] = weakref.ref(self)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new grad."""
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn._add_pre_hook(self._output_nr, hook)
        if self._hooks is None:
            self._hooks = {}
        key = object()
        self._hooks[key] = hook
        return _DictHandle(self._hooks, key)

    def register_post_accumulate_grad_hook(self, hook):
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        from .autograd.graph import _Handle, grad_accumulator

        node = grad_accumulator(self)
        self._keep_accum = node  # keep the node (and its hooks) alive with the tensor
        if node._post_hooks is None:
            node._post_hooks = []
        node._post_hooks.append(hook)
        return _Handle(node._post_hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from .autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self):
        t = Tensor._make(self._data)
        t._vc = self._vc
        t._base = self
        return t

    def detach_(self):
        if self._base is not None and self._view_fn is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._rg = False
        return self

    @property
    def data(self):
        t = Tensor._make(self._data)
        return t

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, not {type(value).__name__}")
        self._data = value._data

    @property
    def _grad_fn(self):
        return self.grad_fn

    @property
    def output_nr(self):
        return self._output_nr

    @property
    def _version(self):
        """The version counter's value (an int), bumped by every in-place change."""
        return _version_value(self._vc)

    @_version.setter
    def _version(self, counter):
        # make_view shares the base's counter: accept a counter or another tensor's _version
        self._vc = counter if isinstance(counter, _Version) else counter._c

    @property
    def _version_counter(self):
        return self._vc.v

    # -- internal helpers used by the autograd executor -------------------------------------
    def _detached_copy(self):
        return Tensor._make(self._data.copy())

    def _iadd_data(self, other):
        d = self._data
        o = other._data
        if d.shape == o.shape:
            module_of(d).add(d, o, out=d, casting="unsafe")
        else:
            self._data = d + o
        self._vc.v += 1

    def _plus_detached(self, other):
        return Tensor._make(self._data + other._data)

    def _bump(self):
        self._vc.v += 1

    # -- Python protocols -------------------------------------------------------------------
    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()))

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.reshape(-1)[0].item()

    def __float__(self):
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return float(self.item())

    def __int__(self):
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __hash__(self):
        return id(self)

    def tolist(self):
        return _host(self._data).tolist()

    def numpy(self, *, force=False):
        if self._rg and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if type(self._data) is not _ndarray:
            if not force:
                raise TypeError(
                    f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy the "
                    "tensor to host memory first."
                )
            return _host(self._data)
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = _host(self._data)
        return a.astype(dtype) if dtype is not None else a

    def __repr__(self, *, tensor_contents=None):
        from ._tensor_str import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec):
        if self._data.ndim == 0 and spec:
            return self.item().__format__(spec)
        return object.__format__(self, spec) if spec else repr(self)

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol at the "
                "moment.  If you were attempting to deepcopy a module, this may be because of a torch.nn.utils."
                "weight_norm usage, see https://github.com/pytorch/pytorch/pull/103001"
            )
        if id(self) in memo:
            return memo[id(self)]
        t = type(self)._make(self._data.copy(), self._rg)
        if self.grad is not None:
            t.grad = self.grad.__deepcopy__(memo)
        d = getattr(self, "__dict__", None)
        if d:
            import copy

            t.__dict__.update(copy.deepcopy(d, memo))
        memo[id(self)] = t
        return t

    def __reduce_ex__(self, proto):
        return (_rebuild, (type(self), _host(self._data), self._rg, str(self.device)))

    def __setstate__(self, state):
        pass


def _host(a):
    return a if type(a) is _ndarray else _cupy.asnumpy(a)


def _rebuild(cls, data, rg, dev):
    from .device import normalize, to_device

    t = cls._make(to_device(data, normalize(dev)) if dev != "cpu" else data.copy())
    t._rg = rg
    return t


class _DictHandle:
    __slots__ = ("_d", "_k")

    def __init__(self, d, k):
        self._d, self._k = d, k

    def remove(self):
        self._d.pop(self._k, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def is_tensor(obj):
    return isinstance(obj, Tensor)

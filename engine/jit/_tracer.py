"""Recording a run: op entry points are wrapped while (and only while) a trace is active.

``Tracer.run`` installs a recorder around every public op entry point — the ``engine.<fn>``
functions, the Tensor methods / operators / properties, the ``engine.nn.functional`` functions, and
every module-level alias of those functions inside ``engine`` (``from .._functional.linear import
linear as _linear``) — runs the function once, and puts every original back in a ``finally``.

A wrapper records a node only for the *outermost* op call (a depth counter: the ops an op calls
internally are not recorded, replaying the outer call redoes them) and only when the call's
arguments involve a traced value: an input, a parameter/buffer of the traced module, anything
computed from those, or an int read from a traced tensor's shape.  Other tensors in the arguments
become constants.  The recorder is per thread: other threads calling ops meanwhile are not recorded.
"""
import functools
import threading
import types
import warnings

from ..tensor import Size, Tensor
from . import _registry
from ._graph import Const, Dim, Graph, Node, Val, flatten_tensors


class TracerWarning(Warning):
    """The trace may not generalise: a traced value was turned into a Python value, the outputs
    did not match, or the trace holds nondeterministic ops."""

    @staticmethod
    def ignore_lib_warnings():
        warnings.filterwarnings("ignore", category=TracerWarning, module="engine(\\..*)?")


_STATE = None  # the active Tracer (one at a time)


def active():
    st = _STATE
    if st is not None and st.thread == threading.get_ident():
        return st
    return None


class SymInt(int):
    """An int read from a traced tensor's shape; remembers where it came from.  Arithmetic on it
    gives plain ints (those are constants of the trace)."""

    def __new__(cls, value, tracer, vi, dim):
        self = int.__new__(cls, value)
        self.tracer = tracer
        self.vi = vi
        self.dim = dim
        return self

    def __reduce__(self):
        return (int, (int(self),))


_CONVERSION_WORDS = {"item": "a Python number", "tolist": "a Python list", "numpy": "a NumPy array",
                     "__array__": "a NumPy array", "__bool__": "a Python boolean", "__float__": "a Python float",
                     "__int__": "a Python integer", "__index__": "a Python index", "__complex__": "a Python complex"}


def _conversion_message(what):
    return (f"Converting a tensor to {what} might cause the trace to be incorrect. We can't record the data flow "
            "of Python values, so this value will be treated as a constant in the future. This means that the "
            "trace might not generalize to other inputs!")


class _Patches:
    """Wrappers, built once per registry; installed and removed around each trace."""

    def __init__(self, reg):
        self.reg = reg
        self.wrappers = {}  # id(fn) -> wrapper
        self.tensor_attrs = {}  # name -> replacement attribute
        for name, (orig, canon) in reg.methods.items():
            if isinstance(orig, property):
                self.tensor_attrs[name] = property(self._wrap(orig.fget, canon), orig.fset, orig.fdel, orig.__doc__)
            else:
                self.tensor_attrs[name] = self.wrapper(orig, canon)
        for name in _registry.CONVERSIONS:
            orig = Tensor.__dict__.get(name)
            if isinstance(orig, types.FunctionType):
                self.tensor_attrs[name] = _conversion_wrapper(orig, _CONVERSION_WORDS[name])
        shape = Tensor.__dict__["shape"]
        self.tensor_attrs["shape"] = property(_shape_wrapper(shape.fget), None, None, shape.__doc__)
        self.tensor_attrs["size"] = _size_wrapper(Tensor.__dict__["size"])

    def wrapper(self, fn, canon=None):
        w = self.wrappers.get(id(fn))
        if w is None:
            w = self.wrappers[id(fn)] = self._wrap(fn, canon or self.reg.canonical[id(fn)])
        return w

    @staticmethod
    def _wrap(fn, name):
        def op_recorder(*args, **kwargs):
            st = _STATE
            if st is None or st.depth or st.thread != threading.get_ident():
                return fn(*args, **kwargs)
            return st.call(name, fn, args, kwargs)

        functools.update_wrapper(op_recorder, fn)
        op_recorder.__jit_original__ = fn
        return op_recorder

    def install(self):
        """Swap the wrappers in; returns the list of (owner, name, original) to restore."""
        import sys

        undo = []
        try:
            d = Tensor.__dict__
            for name, w in self.tensor_attrs.items():
                undo.append((Tensor, name, d[name]))
                setattr(Tensor, name, w)
            fns = self.reg.module_fns
            for modname, mod in list(sys.modules.items()):
                if mod is None or not (modname == "engine" or modname.startswith("engine.")):
                    continue
                if modname.startswith(("engine.jit", "engine.onnx", "engine.autograd", "engine.compat")):
                    continue
                md = getattr(mod, "__dict__", None)
                if not md:
                    continue
                for k, v in list(md.items()):
                    if type(v) is types.FunctionType and id(v) in fns and fns[id(v)] is v:
                        undo.append((mod, k, v))
                        setattr(mod, k, self.wrapper(v))
                    elif isinstance(v, type) and v is not Tensor and v.__module__ == modname:
                        self.patch_class(v, undo)
        except BaseException:
            restore(undo)
            raise
        return undo


    def patch_class(self, cls, undo):
        """Op functions held by a class (``_fn = staticmethod(F.conv2d)``, ``act = F.relu``)."""
        fns = self.reg.module_fns
        for k, v in list(cls.__dict__.items()):
            f = v.__func__ if type(v) is staticmethod else v
            if type(f) is types.FunctionType and id(f) in fns and fns[id(f)] is f:
                undo.append((cls, k, v))
                w = self.wrapper(f)
                setattr(cls, k, staticmethod(w) if type(v) is staticmethod else w)


def restore(undo):
    for owner, name, orig in reversed(undo):
        if type(owner) is _DictSlot:
            owner.d[name] = orig
        else:
            setattr(owner, name, orig)


class _DictSlot:
    __slots__ = ("d",)

    def __init__(self, d):
        self.d = d


def _conversion_wrapper(fn, what):
    def conversion(self, *args, **kwargs):
        st = _STATE
        if st is None or st.depth or st.thread != threading.get_ident():
            return fn(self, *args, **kwargs)
        if st.traced(self):
            warnings.warn(_conversion_message(what), TracerWarning, stacklevel=2)
        st.depth += 1
        try:
            return fn(self, *args, **kwargs)
        finally:
            st.depth -= 1

    functools.update_wrapper(conversion, fn)
    return conversion


def _shape_wrapper(fget):
    def shape(self):
        s = fget(self)
        st = _STATE
        if st is None or st.depth or st.thread != threading.get_ident():
            return s
        vi = st.value_index(self)
        if vi is None:
            return s
        return Size(SymInt(n, st, vi, d) for d, n in enumerate(s))

    return shape


def _size_wrapper(fn):
    def size(self, dim=None):
        s = fn(self, dim)
        st = _STATE
        if st is None or st.depth or st.thread != threading.get_ident():
            return s
        vi = st.value_index(self)
        if vi is None:
            return s
        if dim is None:
            return Size(SymInt(n, st, vi, d) for d, n in enumerate(s))
        return SymInt(s, st, vi, self._wrap_dim(dim))

    functools.update_wrapper(size, fn)
    return size


_patches = None


def patches():
    global _patches
    reg = _registry.registry()
    if _patches is None or _patches.reg is not reg:
        _patches = _Patches(reg)
    return _patches


_RANDOM_OPS = ("rand", "randn", "randint", "randperm", "bernoulli", "multinomial", "normal", "poisson", "rrelu",
               "uniform_", "normal_", "exponential_", "geometric_", "cauchy_", "log_normal_", "random_")


class Tracer:
    def __init__(self, attr_names):
        self.thread = threading.get_ident()
        self.depth = 0
        self.graph = Graph()
        self.map = {}          # id(tensor) -> value index
        self.keep = []         # every tensor in self.map (ids stay unique while tracing)
        self.attr_names = attr_names  # id(param or buffer) -> state_dict name
        self.const_ids = {}    # id(tensor) -> constant index
        self.nondeterministic = []
        self.n_node_values = 0

    # -- values -----------------------------------------------------------------------------------
    def traced(self, t):
        return id(t) in self.map or id(t) in self.attr_names

    def value_index(self, t):
        """The value index of a traced input / intermediate (not of parameters)."""
        vi = self.map.get(id(t))
        if vi is None or self.graph.values[vi].kind == "attr":
            return None
        return vi

    def _new_value(self, t, kind, name=None):
        g = self.graph
        if kind == "node":
            self.n_node_values += 1
            name = str(self.n_node_values)
        vi = g.add_value(name, kind, t)
        self.map[id(t)] = vi
        self.keep.append(t)
        return vi

    def ref(self, t):
        vi = self.map.get(id(t))
        if vi is not None:
            return Val(vi)
        name = self.attr_names.get(id(t))
        if name is not None:
            vi = self._new_value(t, "attr", name)
            self.graph.attrs.append(vi)
            return Val(vi)
        ci = self.const_ids.get(id(t))
        if ci is None:
            if t.requires_grad:
                raise RuntimeError(
                    "Cannot insert a Tensor that requires grad as a constant. Consider making it a parameter or "
                    f"input, or detaching the gradient\nTensor: shape {tuple(t.shape)}, dtype {t.dtype}, "
                    f"grad_fn={type(t.grad_fn).__name__ if t.grad_fn is not None else None}")
            c = Tensor._make(t._data.copy())
            ci = self.const_ids[id(t)] = len(self.graph.constants)
            self.graph.constants.append(c)
            self.keep.append(t)
        return Const(ci)

    def involves(self, a):
        t = type(a)
        if isinstance(a, Tensor):
            return id(a) in self.map or id(a) in self.attr_names
        if t is SymInt:
            return a.tracer is self
        if t is tuple or t is list or isinstance(a, tuple):
            return any(self.involves(v) for v in a)
        if t is dict:
            return any(self.involves(v) for v in a.values())
        if t is slice:
            return self.involves(a.start) or self.involves(a.stop) or self.involves(a.step)
        return False

    def encode(self, a):
        if isinstance(a, Tensor):
            return self.ref(a)
        t = type(a)
        if t is SymInt:
            return Dim(a.vi, a.dim) if a.tracer is self else int(a)
        if t is Size:
            return Size(self.encode(v) for v in a)
        if t is tuple or t is list:
            return t(self.encode(v) for v in a)
        if isinstance(a, tuple):  # a namedtuple
            return tuple(self.encode(v) for v in a)
        if t is dict:
            return {k: self.encode(v) for k, v in a.items()}
        if t is slice:
            return slice(self.encode(a.start), self.encode(a.stop), self.encode(a.step))
        if isinstance(a, int) and not isinstance(a, bool) and t is not int:
            return int(a)
        return a

    # -- recording --------------------------------------------------------------------------------
    def call(self, name, fn, args, kwargs):
        if not (self.involves(args) or (kwargs and self.involves(kwargs))):
            self.depth += 1
            try:
                return fn(*args, **kwargs)
            finally:
                self.depth -= 1
        self.depth += 1
        try:
            eargs = self.encode(args)
            ekwargs = self.encode(kwargs)
            out = fn(*args, **kwargs)
        finally:
            self.depth -= 1
        ret = out
        if hasattr(out, "__next__"):  # an iterator over tensors (Tensor.__iter__)
            out = list(out)
            ret = iter(out)
        ts = flatten_tensors(out, [])
        if not ts:
            if isinstance(out, (bool, int, float)):
                warnings.warn(_conversion_message("a Python value") + f" (from {name})", TracerWarning,
                              stacklevel=3)
            # a call with no tensor result (an assertion, a Python value): nothing to record
            return ret
        node = Node(name, fn, eargs, ekwargs, [])
        for t in ts:
            node.outputs.append(self._new_value(t, "node"))
        self.graph.nodes.append(node)
        short = name.rsplit(".", 1)[-1]
        if short in _RANDOM_OPS or (("dropout" in short or short == "rrelu") and self._training_flag(node)):
            self.nondeterministic.append(name)
        return ret

    @staticmethod
    def _training_flag(node):
        try:
            b = node.bound()
        except TypeError:
            return True
        return bool(b.get("training", True)) and b.get("p", 1) != 0

    def dispatch(self, name, fn, args, kwargs):
        """Replaying a traced graph inside another trace: record its calls here."""
        if self.depth:
            return fn(*args, **kwargs)
        return self.call(name, fn, args, kwargs)

    def run(self, fn, args, kwargs, instances=()):
        """Call ``fn`` with the recorder installed.  ``instances``: objects (the traced module's
        submodules) whose instance attributes may hold op functions (``self.activation = F.relu``);
        those are wrapped too."""
        global _STATE
        if _STATE is not None:
            raise RuntimeError("engine.jit.trace: a trace is already active (nested tracing is not supported)")
        p = patches()
        undo = p.install()
        fns = p.reg.module_fns
        seen = set()
        for obj in instances:
            for cls in type(obj).__mro__:
                if id(cls) not in seen and not cls.__module__.startswith("engine."):
                    seen.add(id(cls))
                    try:
                        p.patch_class(cls, undo)
                    except (TypeError, AttributeError):
                        pass
            d = getattr(obj, "__dict__", None) or {}
            for k, v in list(d.items()):
                if type(v) is types.FunctionType and id(v) in fns and fns[id(v)] is v:
                    undo.append((_DictSlot(d), k, v))
                    d[k] = p.wrapper(v)
        _STATE = self
        try:
            return fn(*args, **kwargs)
        finally:
            _STATE = None
            restore(undo)

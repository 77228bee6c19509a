"""The closed set of ops a trace may record, by name, and the places they are reachable from.

Every public op entry point gets one canonical name:

* ``torch.<name>``  — the functions in ``engine.ops.FUNCTIONS`` (``engine.<name>``);
* ``F.<name>``      — the public functions of ``engine.nn.functional`` plus the two high-level
  kernels ``F.rnn_forward`` (``engine.nn._functional.rnn``) and ``F.multi_head_attention_forward``;
* ``Tensor.<name>`` — the Tensor methods, Python operators and properties attached by ``engine.ops``
  (plus ``detach``) that are not already one of the above.

A method that *is* a ``torch.*`` function (``x.add(y)`` and ``engine.add(x, y)`` are the same
function object) is recorded under the ``torch.*`` name.  Loading a saved trace looks op names up
in :func:`ops` and nowhere else — never ``import``/``getattr`` driven by the file.
"""
import importlib
import sys
import types

from ..tensor import Tensor

# Tensor attributes defined in engine/tensor.py that a trace records (the rest of the class is
# attached by engine.ops and listed in its METHODS tables).
_EXTRA_METHODS = ("detach",)
# Conversions to Python values: not recordable, they only warn (data-dependent control flow).
CONVERSIONS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__", "__complex__",
               "__array__")

_cache = None


class _Registry:
    def __init__(self):
        from .. import ops as _ops

        self.by_name = {}      # every accepted name -> callable (a property's getter for properties)
        self.canonical = {}    # id(function object) -> canonical name
        self.keep = []         # the function objects (ids stay valid)
        self.methods = {}      # Tensor attribute name -> (original attribute, canonical name)
        self.module_fns = {}   # id(function) -> function, for patching module-level aliases

        for name, fn in _ops.FUNCTIONS.items():
            if isinstance(fn, types.FunctionType):
                self._add("torch." + name, fn)
        F = importlib.import_module("engine.nn.functional")
        for name in sorted(vars(F)):
            fn = getattr(F, name)
            if name.startswith("_") or not isinstance(fn, types.FunctionType):
                continue
            if not (getattr(fn, "__module__", "") or "").startswith("engine."):
                continue
            self._add("F." + name, fn)
        for modname, name in (("engine.nn._functional.rnn", "rnn_forward"),
                              ("engine.nn._functional.attention", "multi_head_attention_forward"),
                              ("engine.nn.functional", "multi_head_attention_forward")):
            mod = sys.modules.get(modname) or importlib.import_module(modname)
            fn = getattr(mod, name, None)
            if isinstance(fn, types.FunctionType):
                self._add("F." + name, fn)
        method_names = set(_EXTRA_METHODS)
        for modname in _ops.MODULES:
            method_names.update(getattr(importlib.import_module(f"engine.ops.{modname}"), "METHODS", {}))
        for name in sorted(method_names):
            attr = Tensor.__dict__.get(name)
            if isinstance(attr, types.FunctionType):
                canon = self._add("Tensor." + name, attr)
                self.methods[name] = (attr, canon)
            elif isinstance(attr, property) and isinstance(attr.fget, types.FunctionType):
                canon = self._add("Tensor." + name, attr.fget)
                self.methods[name] = (attr, canon)

    def _add(self, name, fn):
        """Register ``fn`` under ``name``; returns its canonical name (the first name it got)."""
        fn = getattr(fn, "__jit_original__", fn)  # never a recorder installed by an active trace
        self.by_name.setdefault(name, fn)
        key = id(fn)
        if key not in self.canonical:
            self.canonical[key] = name
            self.keep.append(fn)
            self.module_fns[key] = fn
        return self.canonical[key]


def _fingerprint():
    from .. import ops as _ops

    F = sys.modules.get("engine.nn.functional")
    rnn = sys.modules.get("engine.nn._functional.rnn")
    return (len(_ops.FUNCTIONS), len(vars(F)) if F else 0, len(Tensor.__dict__),
            id(getattr(rnn, "rnn_forward", None)), id(getattr(F, "multi_head_attention_forward", None)))


def registry():
    """The tables, rebuilt when an op module gained functions since they were built."""
    global _cache
    fp = _fingerprint()
    if _cache is None or _cache.fingerprint != fp:
        _cache = _Registry()
        _cache.fingerprint = fp
    return _cache


def refresh():
    """Rebuild the tables."""
    global _cache
    _cache = None
    return registry()


def lookup(name):
    """The function recorded as ``name``, or ``None`` when the name is not an allow-listed op."""
    if not isinstance(name, str):
        return None
    fn = registry().by_name.get(name)
    if fn is None and name.startswith(("torch.", "F.", "Tensor.")):
        fn = refresh().by_name.get(name)
    return fn


def ops():
    """Sorted names of every op a trace may contain (the load allow-list)."""
    return sorted(registry().by_name)

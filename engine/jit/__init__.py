"""``torch.jit``: tracing a module into an op graph that replays without its Python code.

``engine.jit.trace(model, example_inputs)`` runs the model once with a recorder wrapped around
the public op entry points (``engine.<fn>``, Tensor methods and operators, ``engine.nn.functional``)
and returns a :class:`TracedModule` whose ``forward`` replays the recorded calls in order on new
inputs.  Replaying calls the same engine functions, so it is differentiable and gives the same
numbers.  ``save``/``load`` use Gradlab's safe checkpoint format (no pickle; op names resolve only
through an allow-list).  Scripting is not supported.  See docs/deploy.md.
"""
import inspect
import warnings

import numpy as np

from ..nn.modules.module import Module
from ..tensor import Tensor
from . import _registry
from ._graph import Val, flatten_tensors, identifier
from ._serialize import UnsafeTraceError, load_archive, save_archive
from ._tracer import Tracer, TracerWarning, active

__all__ = ["trace", "trace_module", "script", "save", "load", "TracedModule", "TracedFunction", "ScriptModule",
           "ScriptFunction", "TracerWarning", "UnsafeTraceError", "is_tracing", "is_scripting", "ignore", "unused",
           "export", "freeze", "optimize_for_inference", "Error"]


class Error(RuntimeError):
    pass


def is_tracing():
    """True while ``engine.jit.trace`` is recording in this thread."""
    return active() is not None


def is_scripting():
    return False


def ignore(drop=False, **kwargs):
    """No-op decorator (``@torch.jit.ignore`` / ``@torch.jit.ignore(drop=True)``)."""
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn):
    """No-op decorator (``@torch.jit.unused``)."""
    return fn


def export(fn):
    """No-op decorator (``@torch.jit.export``)."""
    return fn


def script(obj=None, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    raise RuntimeError(
        "engine.jit.script: TorchScript scripting (compiling a model's Python source) is not supported by Gradlab. "
        "Use torch.jit.trace(model, example_inputs) instead: it records the ops the model runs on example "
        "inputs (data-dependent control flow is not captured).")


# -- traced modules --------------------------------------------------------------------------------
class TracedModule(Module):
    """A traced module: the original's parameters, buffers and submodule tree (same names, the same
    tensor objects), and a graph that ``forward`` replays.  Submodules are ``TracedModule`` s too,
    kept for their parameters; only the root's ``forward`` was traced."""

    def __init__(self):
        super().__init__()
        self._original_name = "Module"
        self._graph = None

    @classmethod
    def _wrap(cls, root, graph):
        root._graph = graph
        return root

    def _get_name(self):
        return self._original_name

    def extra_repr(self):
        return f"original_name={self._original_name}"

    def _attr(self, name):
        obj = self
        parts = name.split(".")
        for p in parts[:-1]:
            obj = obj._modules[p]
        leaf = parts[-1]
        v = obj._parameters.get(leaf)
        if v is None:
            v = obj._buffers.get(leaf)
        if v is None:
            raise RuntimeError(f"traced module: attribute {name!r} used by the graph is missing")
        return v

    def forward(self, *args, **kwargs):
        g = self._graph
        if g is None:
            raise RuntimeError(f"this {self._original_name} is a submodule of a traced module: only the traced "
                               "root's forward can be called")
        st = active()
        return g.run(args, kwargs, self._attr, st.dispatch if st is not None else None)

    @property
    def graph(self):
        """The recorded graph as text (inputs, attributes, one line per op call, the return)."""
        self._need_graph()
        return self._graph.text()

    inlined_graph = graph

    @property
    def code(self):
        """The graph as Python-like source."""
        self._need_graph()
        return self._graph.code()

    def _need_graph(self):
        if self._graph is None:
            raise AttributeError(f"this {self._original_name} is a submodule of a traced module and has no graph")

    def save(self, f, _extra_files=None):
        """Write the traced module to ``f`` (a path or a binary file); ``engine.jit.load`` reads it."""
        self._need_graph()
        save_archive(self, f)

    def save_to_buffer(self):
        import io

        b = io.BytesIO()
        self.save(b)
        return b.getvalue()


class TracedFunction:
    """A traced plain function: ``f(*inputs)`` replays the graph."""

    def __init__(self, graph, name):
        self._graph = graph
        self.__name__ = self.name = name
        self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        st = active()
        return self._graph.run(args, kwargs, _no_attr, st.dispatch if st is not None else None)

    @property
    def graph(self):
        return self._graph.text()

    inlined_graph = graph

    @property
    def code(self):
        return self._graph.code(self_arg=False)

    def save(self, f, _extra_files=None):
        save_archive(self, f)

    def __repr__(self):
        return f"<traced function {self.name}>"


ScriptModule = TracedModule
ScriptFunction = TracedFunction


def _no_attr(name):
    raise RuntimeError(f"traced function: unknown attribute {name!r}")


def _mirror(m, memo):
    got = memo.get(id(m))
    if got is not None:
        return got
    tm = TracedModule()
    memo[id(m)] = tm
    tm._original_name = type(m).__name__
    tm.training = m.training
    tm._parameters.update(m._parameters)
    tm._buffers.update(m._buffers)
    tm._non_persistent_buffers_set.update(m._non_persistent_buffers_set)
    for name, child in m._modules.items():
        tm._modules[name] = None if child is None else _mirror(child, memo)
    return tm


def _build_mirror_from_records(mods, params, bufs, nonpersistent):
    from ._serialize import _bad

    by_name = {}
    for rec in mods:
        if not (isinstance(rec, list) and len(rec) == 3 and isinstance(rec[0], str) and isinstance(rec[1], str)
                and isinstance(rec[2], bool)):
            raise _bad(f"module record {rec!r}")
        name, cls, training = rec
        if name in by_name:
            continue
        tm = TracedModule()
        tm._original_name = cls
        tm.training = training
        if name:
            parent, _, leaf = name.rpartition(".")
            if parent not in by_name or not leaf:
                raise _bad(f"module {name!r} has no parent")
            by_name[parent]._modules[leaf] = tm
        elif by_name:
            raise _bad("the root module is not first")
        by_name[name] = tm
    if "" not in by_name:
        raise _bad("no root module")

    def place(full):
        mod, _, leaf = full.rpartition(".")
        if mod not in by_name or not leaf:
            raise _bad(f"{full!r} belongs to no module")
        return by_name[mod], leaf

    for full, p in params.items():
        m, leaf = place(full)
        m._parameters[leaf] = p
    for full, b in bufs.items():
        m, leaf = place(full)
        m._buffers[leaf] = b
        if full in nonpersistent:
            m._non_persistent_buffers_set.add(leaf)
    return by_name[""]


# -- trace -----------------------------------------------------------------------------------------
def _clone_structure(a):
    if isinstance(a, Tensor):
        return Tensor._make(a._data.copy())
    if type(a) in (tuple, list):
        return type(a)(_clone_structure(v) for v in a)
    if type(a) is dict:
        return {k: _clone_structure(v) for k, v in a.items()}
    return a


def _input_template(tracer, a, name):
    if isinstance(a, Tensor):
        return Val(tracer._new_value(a, "input", name))
    if type(a) in (tuple, list):
        return type(a)(_input_template(tracer, v, f"{name}_{i}") for i, v in enumerate(a))
    if type(a) is dict:
        return {k: _input_template(tracer, v, f"{name}_{identifier(k, 'k')}") for k, v in a.items()}
    return a


def _input_names(fn, n):
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = []
    var = None
    try:
        var = next((p.name for p in inspect.signature(fn).parameters.values() if p.kind == p.VAR_POSITIONAL), None)
    except (TypeError, ValueError):
        pass
    for i in range(n):
        if i < len(params):
            names.append(identifier(params[i].name, f"input_{i}"))
        else:
            names.append(f"{var or 'input'}_{i}")
    return names


def _check_output_containers(out, strict):
    if not strict:
        return
    if isinstance(out, (list, dict)):
        kind = "list" if isinstance(out, list) else "dict"
        raise RuntimeError(
            f"Encountering a {kind} at the output of the tracer might cause the trace to be incorrect, this is only "
            "valid if the container structure does not change based on the module's inputs. Consider using a "
            "constant container instead (e.g. for `list`, use a `tuple` instead. for `dict`, use a `NamedTuple` "
            "instead). If you absolutely need this and know the side effects, pass strict=False to trace() to allow "
            "this behavior.")
    if isinstance(out, tuple):
        for v in out:
            _check_output_containers(v, strict)


def _compare(expected, got, tol, what):
    e = flatten_tensors(expected, [])
    g = flatten_tensors(got, [])
    if len(e) != len(g):
        warnings.warn(f"{what}: the traced function returned {len(g)} tensors, the Python function {len(e)}",
                      TracerWarning, stacklevel=3)
        return
    for k, (a, b) in enumerate(zip(e, g)):
        x, y = np.asarray(a._data), np.asarray(b._data)
        if x.shape != y.shape or not np.allclose(x, y, rtol=tol, atol=tol, equal_nan=True):
            diff = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) if x.shape == y.shape else None
            detail = f"shapes {y.shape} vs {x.shape}" if diff is None else f"max abs difference {diff:g}"
            warnings.warn(f"Output nr {k + 1}. of the traced function does not match the corresponding output of "
                          f"the Python function ({what}). Detailed error: {detail} (tolerance {tol:g})",
                          TracerWarning, stacklevel=3)


def _buffer_snapshot(mod):
    if not isinstance(mod, Module):
        return []
    return [(b, b._data.copy()) for _, b in mod.named_buffers()]


def _restore_buffers(snap):
    for b, data in snap:
        if b._data.shape == data.shape and b._data.dtype == data.dtype:
            b._data[...] = data
        else:
            b._data = data


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
          strict=True, _force_outplace=False, _module_class_compilation_unit=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs=True):
    """Record the ops ``func`` (a Module or a function) runs on ``example_inputs``.

    ``example_inputs`` is a tuple of positional inputs or a single tensor; ``example_kwarg_inputs``
    a dict of keyword inputs.  Returns a :class:`TracedModule` for a module, a
    :class:`TracedFunction` otherwise.  Python control flow is baked in as it ran; converting a
    traced tensor to a Python value (``.item()``, ``bool()``…) warns with :class:`TracerWarning`.
    ``check_trace`` replays the trace on the example inputs (and ``check_inputs``) and warns when
    the outputs differ or the trace holds nondeterministic ops."""
    if isinstance(func, (TracedModule, TracedFunction)):
        warnings.warn("The input to trace is already a ScriptModule, tracing it is a no-op. Returning the object "
                      "as is.", stacklevel=2)
        return func
    if example_inputs is None and example_kwarg_inputs is None:
        raise ValueError("engine.jit.trace needs example_inputs (a tuple of inputs, or a tensor) or "
                         "example_kwarg_inputs")
    if example_inputs is None:
        args = ()
    elif isinstance(example_inputs, tuple):
        args = example_inputs
    else:
        args = (example_inputs,)
    kwargs = dict(example_kwarg_inputs or {})
    is_module = isinstance(func, Module)
    if not is_module and not callable(func):
        raise TypeError(f"engine.jit.trace expects a Module or a function, got {type(func).__name__}")
    target = func.forward if is_module else func

    attr_names = {}
    if is_module:
        for name, p in func.named_parameters():
            attr_names.setdefault(id(p), name)
        for name, b in func.named_buffers():
            attr_names.setdefault(id(b), name)
    tracer = Tracer(attr_names)
    g = tracer.graph
    names = _input_names(target, len(args))
    g.inputs = tuple(_input_template(tracer, a, nm) for a, nm in zip(args, names))
    g.kw_inputs = {k: _input_template(tracer, v, identifier(k, "kw")) for k, v in kwargs.items()}
    clones = (_clone_structure(args), _clone_structure(kwargs)) if check_trace else None

    out = tracer.run(func, args, kwargs, list(func.modules()) if is_module else ())
    _check_output_containers(out, strict)
    g.output = tracer.encode(out)
    expected = _clone_structure(out) if check_trace else None

    if is_module:
        traced = TracedModule._wrap(_mirror(func, {}), g)
    else:
        traced = TracedFunction(g, getattr(func, "__name__", "traced_fn"))
    if check_trace:
        _check(traced, func, tracer, clones, expected, check_inputs, check_tolerance)
    return traced


def _check(traced, func, tracer, clones, expected, check_inputs, tol):
    from ..autograd.grad_mode import no_grad

    if tracer.nondeterministic:
        warnings.warn("Trace had nondeterministic nodes. Did you forget call .eval() on your model? Nodes:\n\t"
                      + "\n\t".join(tracer.nondeterministic[:8])
                      + "\nThis may cause errors in trace checking. To disable trace checking, pass "
                        "check_trace=False to torch.jit.trace()", TracerWarning, stacklevel=3)
        return
    snap = _buffer_snapshot(func)
    try:
        with no_grad():
            got = traced(*clones[0], **clones[1])
            _compare(expected, got, tol, "on the example inputs")
            for inputs in check_inputs or ():
                a = inputs if isinstance(inputs, tuple) else (inputs,)
                ref = func(*_clone_structure(a))
                _restore_buffers(snap)
                got = traced(*_clone_structure(a))
                _compare(ref, got, tol, "on check_inputs")
    finally:
        _restore_buffers(snap)


def trace_module(mod, inputs, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
                 strict=True, _force_outplace=False, _module_class_compilation_unit=None,
                 example_inputs_is_kwarg=False, _store_inputs=True):
    """``torch.jit.trace_module``: ``inputs`` maps method names to example inputs; only ``forward``
    can be traced into the returned module."""
    if not isinstance(mod, Module):
        raise AttributeError("expected torch.nn.Module as the first argument")
    if not isinstance(inputs, dict) or set(inputs) - {"forward"}:
        raise RuntimeError("engine.jit.trace_module traces the 'forward' method only; pass {'forward': inputs}")
    ex = inputs["forward"]
    if example_inputs_is_kwarg:
        return trace(mod, None, check_trace=check_trace, check_tolerance=check_tolerance, strict=strict,
                     example_kwarg_inputs=ex)
    return trace(mod, ex, check_trace=check_trace, check_inputs=check_inputs, check_tolerance=check_tolerance,
                 strict=strict)


def save(m, f, _extra_files=None):
    """Save a traced module or function (``engine.jit.trace``'s result) to a path or binary file."""
    if not isinstance(m, (TracedModule, TracedFunction)) or getattr(m, "_graph", None) is None:
        raise TypeError(f"engine.jit.save expects a traced module (engine.jit.trace(model, example_inputs)), got "
                        f"{type(m).__name__}; to save a model's weights use engine.save(model.state_dict(), f)")
    save_archive(m, f)


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    """Load a traced module saved by ``engine.jit.save`` / ``traced.save``.  Nothing in the file is
    executed: op names must be allow-listed engine ops, tensors are raw data."""
    return load_archive(f, map_location=map_location)


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    return mod


def optimize_for_inference(mod, other_methods=None):
    return mod


def allowed_ops():
    """Names of every op a saved trace may call."""
    return _registry.ops()


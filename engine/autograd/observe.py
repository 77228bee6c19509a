"""Observation of the autograd graph, for tools that draw it (the playground) and for tests.

API
---
``Observer(max_nodes=20000, max_steps=20000, keep_values=False, max_passes=None, keep_inputs_bytes=0)``
    ``with Observer() as obs:`` (or ``obs.start()`` / ``obs.stop()``) records while active.
    With ``keep_values`` and ``keep_inputs_bytes``, each op record also keeps the tensors the op
    was called with (until that many bytes of inputs are kept), for ``check_gradient``.
    Observers nest: the innermost one records, the outer one resumes when it stops.
``obs.name(tensor, "fc1.weight")``
    display name of a leaf tensor (before or after it was recorded).
``obs.nodes``
    list of :class:`NodeRecord`, ``obs.nodes[r.id] is r``, in creation order.
``obs.steps``
    list of :class:`StepRecord`, one per executed backward node, in execution order.
``obs.record_of(grad_fn_or_leaf)``
    record id of a graph node or a recorded leaf tensor, or None.
``obs.edges()`` / ``obs.outputs()``
    ``(src, dst)`` record-id pairs; ids of op records nothing else consumes.
``obs.as_dict()``
    everything as JSON-ready dicts (the contract described in docs/observe.md).
``obs.check_gradient(node_id)``
    the node's backward against finite differences of its forward (see ``gradcheck.check_node``),
    at the values it was recorded with.
``obs.backward_passes``, ``obs.dropped_nodes``, ``obs.dropped_steps``
    counters.
``scope(name)``
    context manager pushing one module-path component (``nn.Module.__call__`` uses it), so
    records get ``module == "encoder.fc1"``; :func:`current_scope` reads the path.
``active()``
    the observer in charge, or None.

What is recorded
----------------
* every graph node an op creates: a ``NodeRecord`` with the op name as PyTorch names its
  grad_fn (``MulBackward0``), the records its gradient flows to (one per input; None for an
  input that needs no gradient or whose producer was not recorded), input and output shapes
  and dtypes, the user source file and line that created it, and the module path;
* the leaves those nodes reach (``kind == 'leaf'``, ``op == 'leaf'``), with their names;
* every backward step in execution order: the node, summaries of the gradients flowing in and
  out, and for ``AccumulateGrad`` steps the leaf the gradient is accumulated into.

Cost: ops and the backward executor test the module global ``_active``; when it is None
nothing else happens.  An active observer keeps at most ``max_nodes`` node records and
``max_steps`` steps; past that it counts what it dropped.  While active it holds references
to the nodes it recorded (and, with ``keep_values``, to output tensors and gradients).
"""
import os
import sys

import numpy as _np

_active = None  # the Observer in charge, read by ops and the backward executor
_scope = []  # module path stack, pushed by nn.Module.__call__

_ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class scope:
    """Context manager that pushes one module-path component (used by ``nn.Module``)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        _scope.append(self.name)
        return self

    def __exit__(self, *exc):
        _scope.pop()
        return False


def current_scope():
    return ".".join(s for s in _scope if s)


def _user_frame():
    """The innermost frame outside the engine package and outside any observer's ``on_node`` (a
    subclass may extend it from anywhere): the user code that made the node, however deep the
    engine's own calls are."""
    f = sys._getframe(1)
    while f is not None and (f.f_code.co_filename.startswith(_ENGINE_DIR)
                             or (f.f_code.co_name == "on_node" and isinstance(f.f_locals.get("self"), Observer))):
        f = f.f_back
    return f


class NodeRecord:
    """One graph node (``kind == 'op'``) or leaf tensor (``kind == 'leaf'``)."""

    __slots__ = ("id", "op", "kind", "inputs", "input_nrs", "in_shapes", "in_dtypes", "out_shapes",
                 "out_dtypes", "file", "line", "module", "name", "seq", "tensor", "grad_fn")

    def as_dict(self):
        return {
            "id": self.id, "op": self.op, "kind": self.kind, "inputs": list(self.inputs),
            "input_nrs": list(self.input_nrs),
            "in_shapes": [list(s) if s is not None else None for s in self.in_shapes],
            "in_dtypes": list(self.in_dtypes),
            "out_shapes": [list(s) for s in self.out_shapes], "out_dtypes": list(self.out_dtypes),
            "file": self.file, "line": self.line, "module": self.module, "name": self.name, "seq": self.seq,
        }

    def __repr__(self):
        label = self.name or self.op
        return f"NodeRecord({self.id}, {label!r}, inputs={list(self.inputs)}, out={list(self.out_shapes)})"


class StepRecord:
    """One executed backward node.  ``grads_in``/``grads_out`` are summaries (see
    :func:`summarize`), computed when first read when the observer keeps values."""

    __slots__ = ("index", "backward", "node", "op", "_in", "_out", "leaf", "values")

    @property
    def grads_in(self):
        if self._in is None and self.values is not None:
            self._in = [summarize(g) for g in self.values[0]]
        return self._in

    @grads_in.setter
    def grads_in(self, v):
        self._in = v

    @property
    def grads_out(self):
        if self._out is None and self.values is not None:
            self._out = [summarize(g) for g in self.values[1]]
        return self._out

    @grads_out.setter
    def grads_out(self, v):
        self._out = v

    def as_dict(self):
        return {"index": self.index, "backward": self.backward, "node": self.node, "op": self.op,
                "grads_in": self.grads_in, "grads_out": self.grads_out, "leaf": self.leaf}

    def __repr__(self):
        return f"StepRecord({self.index}, {self.op!r}, node={self.node}, leaf={self.leaf})"


def summarize(t):
    """Shape, dtype and a few statistics of a gradient, cheap enough for every step."""
    if t is None:
        return None
    a = t._data
    if type(a).__module__ != "numpy":  # cupy: summarise on the host
        a = a.get()
    info = {"shape": list(a.shape), "dtype": t.dtype.name}
    if a.size and t.dtype.is_floating_point:
        flat = a.reshape(-1)
        # reductions straight on the array (no float64 copy): sums accumulate in float64
        info["norm"] = float(_np.sqrt(_np.dot(flat, flat, out=None).astype("float64")))
        info["mean"] = float(_np.add.reduce(flat, dtype="float64") / flat.size)
        info["min"] = float(flat.min())
        info["max"] = float(flat.max())
        if a.size == 1:
            info["value"] = float(flat[0])
    return info


class Observer:
    """Records graph nodes and backward steps while active (``with`` or ``start``/``stop``)."""

    def __init__(self, max_nodes=20000, max_steps=20000, keep_values=False, max_passes=None, keep_inputs_bytes=0):
        self.max_nodes = max_nodes
        self.max_steps = max_steps
        self.keep_values = keep_values
        # After ``max_passes`` backward passes the observer stops recording and steps aside, so a
        # long training loop pays for the first few iterations only.
        self.max_passes = max_passes
        self.paused = False
        self.nodes = []
        self.steps = []
        self.backward_passes = 0
        self.dropped_nodes = 0
        self.dropped_steps = 0
        self._ids = {}  # id(graph node or leaf tensor) -> record id
        self._keep = []  # objects whose ids are in _ids, so ids stay unique
        self._names = {}
        self._prev = None
        # record id -> ((tensor, its version then, whether the op wrote into it) or None, ...)
        self.inputs_of = {}
        self.keep_inputs_bytes = keep_inputs_bytes if keep_values else 0
        self.kept_bytes = 0
        self._kept_ids = set()

    # -- activation -------------------------------------------------------------------------
    def start(self):
        global _active
        self._prev = _active
        _active = self
        return self

    def stop(self):
        global _active
        _active = self._prev
        self._prev = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- naming -----------------------------------------------------------------------------
    def name(self, tensor, name):
        """Give a leaf tensor a display name (``fc1.weight``)."""
        self._names[id(tensor)] = (tensor, name)
        rid = self._ids.get(id(tensor))
        if rid is not None and self.nodes[rid].kind == "leaf" and self.nodes[rid].tensor is tensor:
            self.nodes[rid].name = name

    def record_of(self, obj):
        """Record id of a graph node (grad_fn) or a recorded leaf tensor, or None."""
        rid = self._ids.get(id(obj))
        if rid is None:
            return None
        r = self.nodes[rid]
        if r.grad_fn is obj or (r.kind == "leaf" and r.tensor is obj):
            return rid
        return None

    # -- graph ------------------------------------------------------------------------------
    def _leaf(self, t):
        rid = self._ids.get(id(t))
        if rid is not None:
            r = self.nodes[rid]
            if r.kind == "leaf" and r.tensor is t:
                return rid
        if len(self.nodes) >= self.max_nodes:
            self.dropped_nodes += 1
            return None
        r = NodeRecord()
        r.id = len(self.nodes)
        r.op = "leaf"
        r.kind = "leaf"
        r.inputs = ()
        r.input_nrs = ()
        r.in_shapes = ()
        r.in_dtypes = ()
        r.out_shapes = (tuple(t.shape),)
        r.out_dtypes = (t.dtype.name,)
        r.file = r.line = None
        r.module = ""
        named = self._names.get(id(t))
        r.name = named[1] if named is not None and named[0] is t else None
        r.seq = None
        r.tensor = t
        r.grad_fn = None
        self._ids[id(t)] = r.id
        self._keep.append(t)
        self.nodes.append(r)
        return r.id

    def on_node(self, node, inputs, outputs):
        """Called by ops for each node they create (only while this observer is active)."""
        if len(self.nodes) >= self.max_nodes:
            self.dropped_nodes += 1
            return
        src = []
        nrs = []
        for (nxt, nr), t in zip(node.next_functions, inputs):
            if nxt is None:
                src.append(None)
                nrs.append(None)
            elif t is not None and t.grad_fn is None:
                src.append(self._leaf(t))
                nrs.append(0)
            else:
                rid = self._ids.get(id(nxt))
                if rid is not None and self.nodes[rid].grad_fn is not nxt:
                    rid = None
                src.append(rid)
                nrs.append(nr if rid is not None else None)
        r = NodeRecord()
        r.id = len(self.nodes)
        r.op = node.name()
        r.kind = "op"
        r.inputs = tuple(src)
        r.input_nrs = tuple(nrs)
        r.in_shapes = tuple(tuple(t.shape) if t is not None else None for t in inputs)
        r.in_dtypes = tuple(t.dtype.name if t is not None else None for t in inputs)
        r.out_shapes = tuple(tuple(o.shape) for o in outputs)
        r.out_dtypes = tuple(o.dtype.name for o in outputs)
        f = _user_frame()
        r.file = f.f_code.co_filename if f is not None else None
        r.line = f.f_lineno if f is not None else None
        r.module = current_scope()
        r.name = None
        r.seq = node._seq
        r.tensor = outputs[0] if self.keep_values and outputs else None
        r.grad_fn = node
        self._ids[id(node)] = r.id
        self._keep.append(node)
        node._obs = r.id
        self.nodes.append(r)
        if self.kept_bytes < self.keep_inputs_bytes:
            for t in inputs:
                if t is not None and id(t) not in self._kept_ids:
                    self._kept_ids.add(id(t))
                    self.kept_bytes += t._data.nbytes
            self.inputs_of[r.id] = tuple(
                None if t is None else (t, t._vc.v, any(t is o for o in outputs)) for t in inputs)

    def edges(self):
        """(source record id, destination record id) for each drawn edge."""
        return [(s, r.id) for r in self.nodes for s in r.inputs if s is not None]

    def outputs(self):
        """Ids of op records that no other record takes input from."""
        used = {s for r in self.nodes for s in r.inputs if s is not None}
        return [r.id for r in self.nodes if r.kind == "op" and r.id not in used]

    def as_dict(self):
        return {
            "nodes": [r.as_dict() for r in self.nodes],
            "steps": [s.as_dict() for s in self.steps],
            "backward_passes": self.backward_passes,
            "dropped_nodes": self.dropped_nodes,
            "dropped_steps": self.dropped_steps,
        }

    # -- gradient check ---------------------------------------------------------------------
    def check_gradient(self, node_id, **limits):
        """Check the backward of op record ``node_id`` at the values it was recorded with (needs
        ``keep_values`` and ``keep_inputs_bytes``).  A dict: ``ok``, ``reason`` (why it could not
        be checked), ``op``, ``eps``, ``cotangent``, ``note`` and ``inputs`` (see
        ``gradcheck.check_node``; each input's ``node`` is the record its value came from)."""
        from .gradcheck import check_node

        if not self.nodes:
            return _unchecked("no graph yet: run a cell that builds one")
        if not 0 <= node_id < len(self.nodes):
            return _unchecked(f"no node {node_id} in the last graph")
        r = self.nodes[node_id]
        if r.kind == "leaf":
            return _unchecked("gradient check is available for op nodes (this is a leaf tensor)")
        node = r.grad_fn
        if node is None or r.op == "AccumulateGrad":
            return _unchecked("gradient check is available for op nodes")
        kept = self.inputs_of.get(node_id)
        if kept is None or r.tensor is None:
            return _unchecked("the graph's values were not kept")
        if any(k is not None and k[2] for k in kept):
            return _unchecked(f"{r.op} was done in place (its input was overwritten by its result): "
                              "gradient check is not available for in-place ops")
        changed = [f"input {i}" + (f" (node {r.inputs[i]})" if i < len(r.inputs) and r.inputs[i] is not None else "")
                   for i, k in enumerate(kept)
                   if k is not None and k[0]._vc.v != k[1] and k[0].is_floating_point()
                   and i < len(node.next_functions) and node.next_functions[i][0] is not None]
        cotangent = None
        for s in reversed(self.steps):  # the gradient that flowed into this node, if it was kept
            if s.node == node_id and s.op == r.op and s.values is not None and s.values[0]:
                g = s.values[0][0]
                if g is not None:
                    cotangent = g._data if type(g._data).__module__ == "numpy" else g._data.get()
                break
        res = check_node(node, [None if k is None else k[0] for k in kept], r.out_shapes[0], cotangent,
                         input_names=list(r.inputs), **limits)
        res["op"] = r.op
        notes = []
        if changed and res.get("inputs"):
            notes.append(", ".join(changed) + " changed in place since the graph was recorded (an optimizer "
                         "step?): compared at the current values")
        if res.get("sampled"):
            notes.append("compared a sample of the elements of " + ", ".join(f"input {i}" for i in res["sampled"]))
        if res.get("partial"):
            notes.append("outputs that are NaN/inf (or get a NaN gradient) were left out")
        if any(e["skipped"] for e in res.get("inputs", ())):
            notes.append("elements where the op is not differentiable here (a kink, a NaN) were skipped")
        res["note"] = "; ".join(notes) or None
        res.pop("sampled", None)
        res.pop("partial", None)
        return res

    # -- backward ---------------------------------------------------------------------------
    def backward_begin(self, roots):
        self.backward_passes += 1

    def backward_step(self, index, node, grads_in, grads_out, accumulated=None):
        """Called by the executor after each node ran (``accumulated``: the leaf for AccumulateGrad)."""
        if len(self.steps) >= self.max_steps:
            self.dropped_steps += 1
            return
        s = StepRecord()
        s.index = len(self.steps)
        s.backward = self.backward_passes - 1
        if accumulated is not None:
            s.node = self.record_of(accumulated)
            s.op = "AccumulateGrad"
            s.leaf = s.node
        else:
            s.node = self.record_of(node)
            s.op = node.name()
            s.leaf = None
        if self.keep_values:
            s.values = (tuple(grads_in), tuple(grads_out))
            s._in = s._out = None  # summarised when read
        else:
            s.values = None
            s._in = [summarize(g) for g in grads_in]
            s._out = [summarize(g) for g in grads_out]
        self.steps.append(s)

    def backward_end(self):
        global _active
        if self.max_passes is not None and self.backward_passes >= self.max_passes and _active is self:
            self.paused = True
            _active = self._prev  # recording is over: ops stop calling this observer


def _unchecked(reason):
    return {"ok": False, "reason": reason, "inputs": []}


def active():
    """The active observer, or None."""
    return _active

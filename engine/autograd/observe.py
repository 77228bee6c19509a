"""Observation of the autograd graph, for tools that draw it (the playground) and for tests.

``with observe.Observer() as obs:`` records, while active:

* every graph node an op creates: a ``NodeRecord`` with the op name as PyTorch names it
  (``MulBackward0``), the records it takes gradients from, input and output shapes and dtypes,
  the user source line that created it, and the module path (``encoder.fc1``) pushed by
  ``nn.Module.__call__`` through :func:`scope`;
* the leaves those nodes reach (``kind == 'leaf'``), named when a tool called :meth:`Observer.name`;
* every backward step in execution order: the node, summaries of the gradients in and out,
  and the accumulation of gradients into leaves.

When no observer is active, ops pay one global lookup.  An active observer keeps at most
``max_nodes`` node records and ``max_steps`` steps; past that it counts what it dropped.
"""
import os
import sys

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
    f = sys._getframe(3)
    while f is not None and f.f_code.co_filename.startswith(_ENGINE_DIR):
        f = f.f_back
    return f


class NodeRecord:
    __slots__ = ("id", "op", "kind", "inputs", "in_shapes", "in_dtypes", "out_shapes", "out_dtypes",
                 "file", "line", "module", "name", "tensor", "grad_fn")

    def as_dict(self):
        return {
            "id": self.id, "op": self.op, "kind": self.kind, "inputs": list(self.inputs),
            "in_shapes": [list(s) if s is not None else None for s in self.in_shapes],
            "in_dtypes": list(self.in_dtypes),
            "out_shapes": [list(s) for s in self.out_shapes], "out_dtypes": list(self.out_dtypes),
            "file": self.file, "line": self.line, "module": self.module, "name": self.name,
        }

    def __repr__(self):
        return f"NodeRecord({self.id}, {self.op!r}, inputs={self.inputs}, out={self.out_shapes})"


class StepRecord:
    __slots__ = ("index", "node", "op", "grads_in", "grads_out", "leaf", "values")

    def as_dict(self):
        return {"index": self.index, "node": self.node, "op": self.op, "grads_in": self.grads_in,
                "grads_out": self.grads_out, "leaf": self.leaf}

    def __repr__(self):
        return f"StepRecord({self.index}, {self.op!r}, node={self.node}, leaf={self.leaf})"


def summarize(t):
    """Shape, dtype and a few statistics of a gradient, cheap enough for every step."""
    if t is None:
        return None
    a = t._data
    info = {"shape": list(a.shape), "dtype": t.dtype.name}
    if a.size and t.dtype.is_floating_point:
        m = t.device  # noqa: F841 - summaries are computed where the array lives
        info["norm"] = float((a.astype("float64") ** 2).sum() ** 0.5)
        info["mean"] = float(a.mean())
        if a.size == 1:
            info["value"] = float(a.reshape(()))
    return info


class Observer:
    """Records graph nodes and backward steps while active (``with`` or ``start``/``stop``)."""

    def __init__(self, max_nodes=20000, max_steps=20000, keep_values=False):
        self.max_nodes = max_nodes
        self.max_steps = max_steps
        self.keep_values = keep_values
        self.nodes = []
        self.steps = []
        self.backward_passes = 0
        self.dropped_nodes = 0
        self.dropped_steps = 0
        self._ids = {}  # id(graph node or leaf tensor) -> record id
        self._keep = []  # objects whose ids are in _ids, so ids stay unique
        self._names = {}
        self._prev = None

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

    def record_of(self, obj):
        """Record id of a graph node (grad_fn) or a leaf tensor, or None."""
        return self._ids.get(id(obj))

    # -- graph ------------------------------------------------------------------------------
    def _leaf(self, t):
        rid = self._ids.get(id(t))
        if rid is not None:
            return rid
        r = NodeRecord()
        r.id = len(self.nodes)
        r.op = "leaf"
        r.kind = "leaf"
        r.inputs = ()
        r.in_shapes = ()
        r.in_dtypes = ()
        r.out_shapes = (tuple(t.shape),)
        r.out_dtypes = (t.dtype.name,)
        r.file = r.line = None
        r.module = ""
        named = self._names.get(id(t))
        r.name = named[1] if named else None
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
        for (nxt, _), t in zip(node.next_functions, inputs):
            if nxt is None:
                src.append(None)
            elif t is not None and t.grad_fn is None:
                src.append(self._leaf(t))
            else:
                src.append(self._ids.get(id(nxt)))
        r = NodeRecord()
        r.id = len(self.nodes)
        r.op = node.name()
        r.kind = "op"
        r.inputs = tuple(src)
        r.in_shapes = tuple(tuple(t.shape) if t is not None else None for t in inputs)
        r.in_dtypes = tuple(t.dtype.name if t is not None else None for t in inputs)
        r.out_shapes = tuple(tuple(o.shape) for o in outputs)
        r.out_dtypes = tuple(o.dtype.name for o in outputs)
        f = _user_frame()
        r.file = f.f_code.co_filename if f is not None else None
        r.line = f.f_lineno if f is not None else None
        r.module = current_scope()
        r.name = None
        r.tensor = outputs[0] if self.keep_values else None
        r.grad_fn = node
        self._ids[id(node)] = r.id
        self._keep.append(node)
        node._obs = r.id
        self.nodes.append(r)

    def edges(self):
        """(source record id, destination record id) for each drawn edge."""
        return [(s, r.id) for r in self.nodes for s in r.inputs if s is not None]

    def outputs(self):
        """Ids of op records that no other record takes input from."""
        used = {s for r in self.nodes for s in r.inputs if s is not None}
        return [r.id for r in self.nodes if r.kind == "op" and r.id not in used]

    # -- backward ---------------------------------------------------------------------------
    def backward_begin(self, roots):
        self.backward_passes += 1

    def backward_step(self, index, node, grads_in, grads_out, accumulated=None):
        if len(self.steps) >= self.max_steps:
            self.dropped_steps += 1
            return
        s = StepRecord()
        s.index = len(self.steps)
        if accumulated is not None:
            s.node = self._ids.get(id(accumulated))
            s.op = "AccumulateGrad"
            s.leaf = s.node
        else:
            s.node = self._ids.get(id(node))
            s.op = node.name()
            s.leaf = None
        s.grads_in = [summarize(g) for g in grads_in]
        s.grads_out = [summarize(g) for g in grads_out]
        s.values = (tuple(grads_in), tuple(grads_out)) if self.keep_values else None
        self.steps.append(s)

    def backward_end(self):
        pass


def active():
    """The active observer, or None."""
    return _active

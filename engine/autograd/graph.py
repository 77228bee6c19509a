"""Graph nodes.

Every differentiable op creates one ``Node`` subclass instance named as PyTorch names its
grad_fn (``MulBackward0``).  A node knows where the gradient of each input goes
(``next_functions``: ``(node, output_nr)`` or ``(None, 0)``), the shape and dtype each input
gradient must have, and the tensors its backward formula needs (saved with their version so
that an in-place change is caught).  ``AccumulateGrad`` ends every path at a leaf.
"""
import itertools
import re
import weakref

_seq = itertools.count()

FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


class Node:
    """A backward function.  Subclasses implement ``backward(*grads) -> tuple``."""

    __slots__ = ("next_functions", "_meta", "_seq", "_saved", "_versions", "_freed",
                 "_pre_hooks", "_hooks", "_retain", "_obs", "__weakref__", "__dict__")
    n_outputs = 1
    # The texts the playground shows while stepping through backpropagation (see ``rule``).
    # ``forward``: what the op computed, in the names its ``formula`` uses: the inputs named as in
    # PyTorch's signature (self, other, mat2, weight, ...), ``result`` for the output (or the
    # outputs' names when there are several), e.g. "result = self * other".  None: ``rule``
    # builds "result = mul(...)" from the class name.
    forward = None
    # ``formula``: the local derivative rule, PyTorch derivatives.yaml style, one assignment per
    # input joined with "; ", e.g. "grad_self = grad * other; grad_other = grad * self".  On the
    # right, ``grad`` is the gradient of ``result`` (``grad_<output>`` or ``grads`` when there
    # are several outputs).  Each assignment is one of:
    #   grad_<input> = expr     the gradient of one input ("= None ...": none is propagated);
    #   grad_<list>[i] = expr   the gradient of each tensor of a list input (cat's tensors);
    #   grads = expr            all the input gradients at once (custom Function, module hooks,
    #                           a fused recurrent layer, an op without a derivative);
    #   leaf.grad += grad       AccumulateGrad.
    # A bracketed factor such as "[/ numel]" applies only in some modes (reduction="mean").
    # Python-like ASCII math; one line per assignment.  None: no rule to show.
    formula = None
    _custom = False  # custom autograd.Function nodes run backward even when every grad is None

    def __init__(self):
        self._seq = next(_seq)
        self._saved = None
        self._freed = False
        self._pre_hooks = None
        self._hooks = None
        self._retain = None
        self._obs = None

    # -- metadata ---------------------------------------------------------------------------
    def name(self):
        return type(self).__name__

    @classmethod
    def rule(cls):
        """``{"forward": str, "lines": [str, ...]}``: ``forward`` (or "result = mul(...)" built
        from the class name when it is None) and ``formula`` split into its assignments (``[]``
        when it is None).  Callable on the class or on a node (``y.grad_fn.rule()``); either way
        the text is the class's."""
        fwd = cls.forward
        if fwd is None:
            fwd = f"result = {op_name(cls.__name__)}(...)"
        return {"forward": fwd, "lines": cls.formula.split("; ") if cls.formula else []}

    def _sequence_nr(self):
        return self._seq

    @property
    def needs_input_grad(self):
        return tuple(f is not None for f, _ in self.next_functions)

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    # -- saved tensors ----------------------------------------------------------------------
    def save(self, *tensors):
        self._saved = tensors
        self._versions = tuple(t._vc.v if t is not None else 0 for t in tensors)

    def saved(self):
        if self._freed:
            raise RuntimeError(FREED_MSG)
        ts = self._saved
        for t, v in zip(ts, self._versions):
            if t is not None and t._vc.v != v:
                raise RuntimeError(_version_msg(self, t, v))
        return ts

    @property
    def saved_tensors(self):
        return self.saved()

    def release(self):
        if self._saved is not None:
            self._saved = None
            self._freed = True
        self._release_extra()

    def _release_extra(self):
        pass

    # -- hooks ------------------------------------------------------------------------------
    def register_hook(self, fn):
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return _Handle(self._hooks, fn)

    def register_prehook(self, fn):
        return self._add_pre_hook(None, fn)

    def _add_pre_hook(self, output_nr, fn):
        if self._pre_hooks is None:
            self._pre_hooks = []
        entry = (output_nr, fn)
        self._pre_hooks.append(entry)
        return _Handle(self._pre_hooks, entry)

    def backward(self, *grads):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- replay (gradient check) ----------------------------------------------------------------
    # ``replay(xs, out_shape)`` recomputes the node's output from ``xs`` -- the tensors the op was
    # called with, one per ``next_functions`` entry, None for an operand it did not take as a
    # tensor -- with the engine's ops, recording a node of the same class when an input requires
    # grad.  ``gradcheck.check_node`` differentiates it numerically and compares with what the
    # node's backward gives.  An op defines it next to its backward; nodes without one cannot be
    # checked.  ``replay_rebuilds = False``: the replay computes the same values but through other
    # nodes, so the analytic side is this node's own ``backward``.
    replay_rebuilds = True

    def replay(self, xs, out_shape):
        raise NotImplementedError(f"{self.name()} has no replay")

    @classmethod
    def can_replay(cls):
        return cls.replay is not Node.replay

    def __call__(self, *grads):
        return self.backward(*grads)


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[0-9]D)(?=[A-Z])")
_NODE_NAME = re.compile(r"^(.*?)((?:Backward)*)\d*$")


def op_name(node_name):
    """The op a node class is named after: "LogSoftmaxBackward0" -> "log_softmax",
    "MaxPool2DWithIndicesBackward0" -> "max_pool2d_with_indices", "AvgPool2DBackwardBackward0"
    -> "avg_pool2d_backward", "torch::autograd::NotImplemented" -> "not_implemented"."""
    base, backwards = _NODE_NAME.match(node_name.rsplit("::", 1)[-1]).group(1, 2)
    return _CAMEL.sub("_", base).lower() + "_backward" * max(0, backwards.count("Backward") - 1)


class _Handle:
    """Removable handle, as returned by ``register_hook``."""

    __slots__ = ("_list", "_item")

    def __init__(self, lst, item):
        self._list, self._item = lst, item

    def remove(self):
        try:
            self._list.remove(self._item)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class AccumulateGrad(Node):
    """Sink of a leaf tensor: adds the incoming gradient into ``variable.grad``."""

    __slots__ = ("variable", "_post_hooks")
    forward = "leaf tensor (requires_grad=True)"
    formula = "leaf.grad += grad"

    def __init__(self, variable):
        super().__init__()
        self._seq = float("inf")  # runs as soon as it is ready, as in PyTorch
        self.variable = variable
        self.next_functions = ()
        self._meta = ((variable.shape, variable.dtype),)
        self._post_hooks = None

    def accumulate(self, grad, create_graph):
        var = self.variable
        old = var.grad
        if old is None:
            # a copy: the incoming array may be shared (a hook, the caller's grad_outputs, a view);
            # keeping it when nobody else holds it measured no faster (an MLP step, within noise)
            var.grad = grad if create_graph else grad._detached_copy()
        elif create_graph:
            var.grad = old + grad
        else:
            old._iadd_data(grad)
        if self._post_hooks:
            for h in self._post_hooks:
                h(var)


def _tensor_type_name(t):
    prefix = "torch.cuda." if t.device.type == "cuda" else "torch."
    return prefix + _TYPE_NAMES[t.dtype.name]


from ..dtypes import TENSOR_TYPE_NAMES as _TYPE_NAMES  # noqa: E402


def _saved_by(node, t, limit):
    """Whether ``t`` was saved by ``node`` as one of its own outputs: then ``node`` is in the
    in-place history of ``t`` (each in-place op's first edge leads to the previous grad_fn)."""
    fn = t.grad_fn
    for _ in range(limit):
        if fn is None:
            return False
        if fn is node:
            return True
        nf = fn.next_functions
        fn = nf[0][0] if nf else None
    return False


def _short_name(node):
    """PyTorch names the node without its ``Backward<N>`` suffix in this message."""
    name = node.name()
    i = name.rfind("Backward")
    if i > 0 and name[i + 8:].isdigit() or i > 0 and i + 8 == len(name):
        return name[:i]
    return name


def _version_msg(node, t, expected):
    """PyTorch's message for a saved tensor modified in place (computed only on failure)."""
    shape = ", ".join(str(s) for s in t.shape)
    where = ""
    # A tensor saved as an output of ``node`` names ``node``; any other its current grad_fn.
    fn = node if _saved_by(node, t, 4 * (t._vc.v - expected) + 4) else t.grad_fn
    if fn is not None:
        where = f", which is output {t._output_nr} of {_short_name(fn)},"
    return (
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [{_tensor_type_name(t)} [{shape}]]{where} is at version {t._vc.v}; expected "
        f"version {expected} instead. Hint: enable anomaly detection to find the operation that failed "
        "to compute its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False)."
    )


def grad_accumulator(t):
    """The (cached) AccumulateGrad node of a leaf that requires grad."""
    ref = t._accum
    node = ref() if ref is not None else None
    if node is None:
        node = AccumulateGrad(t)
        t._accum = weakref.ref(node)
    return node

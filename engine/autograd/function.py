"""Custom differentiable functions: ``class F(Function)`` with ``forward``/``backward``.

The graph node of a custom function *is* its ``ctx`` (class ``<F>Backward``): what
``forward`` (or ``setup_context``) saves on ``ctx`` is what ``backward`` reads.  As in
PyTorch, ``next_functions`` has one edge per *tensor* argument, while ``backward`` returns one
gradient per forward argument (``None`` for non-tensors) and ``ctx.needs_input_grad`` has one
flag per forward argument.
"""
import functools

from .grad_mode import GradMode, no_grad
from .graph import Node, grad_accumulator

_LEAF_DIRTY = "a leaf Variable that requires grad has been used in an in-place operation."


class FunctionCtx(Node):
    """Context object handed to ``forward``/``backward``; also the graph node."""

    # each Function's node class names the Function (see _FunctionMeta)
    forward = "result = <Function>.forward(ctx, ...)"
    formula = "grads = <Function>.backward(ctx, grad)"
    _custom = True
    _materialize = True
    _non_diff = ()
    _dirty = ()

    def save_for_backward(self, *tensors):
        self.save(*tensors)

    def mark_non_differentiable(self, *tensors):
        self._non_diff = {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        self._dirty = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        self._materialize = bool(value)

    @property
    def needs_input_grad(self):
        return self._needs

    @property
    def saved_tensors(self):
        if self._saved is None and not self._freed:
            return ()
        return self.saved()

    def backward(self, *grads):
        if self._materialize:
            from ..ops.creation import zeros

            grads = tuple(
                g if g is not None else zeros(shape, dtype=dt, device=dev)
                for g, (shape, dt, dev) in zip(grads, self._out_meta)
            )
        res = self._fn.backward(self, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        tensor_pos = self._tensor_pos
        n = self._n_args
        if len(res) != n:
            if len(res) < n or any(r is not None for r in res[n:]):
                raise RuntimeError(
                    f"function {self.name()} returned an incorrect number of gradients (expected {n}, got {len(res)})"
                )
            res = res[:n]
        if len(tensor_pos) == n:
            return res
        is_tensor = set(tensor_pos)
        for i, r in enumerate(res):
            if r is not None and i not in is_tensor:
                raise RuntimeError(
                    f"function {self.name()} returned a gradient different than None at position {i + 1}, but the "
                    "corresponding forward input was not a Variable"
                )
        return tuple(res[i] for i in tensor_pos)


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        # The graph node class, named as PyTorch names it: MyFunc -> MyFuncBackward.
        cls._backward_cls = type(name + "Backward", (FunctionCtx,), {
            "_fn": cls, "forward": f"result = {name}.forward(ctx, ...)",
            "formula": f"grads = {name}.backward(ctx, grad)"})


class Function(metaclass=_FunctionMeta):
    """Base class of user-defined differentiable operations."""

    def __init__(self, *args, **kwargs):
        pass

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @classmethod
    def apply(cls, *args, **kwargs):
        from ..tensor import Tensor
        from . import observe as _observe

        ctx = cls._backward_cls()
        tensor_pos = []
        tensor_args = []
        needs_flags = []
        edges = []
        meta = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                tensor_pos.append(i)
                tensor_args.append(a)
                if a._rg:
                    edges.append((a.grad_fn, a._output_nr) if a.grad_fn is not None else (grad_accumulator(a), 0))
                    meta.append((a.shape, a.dtype))
                    needs_flags.append(True)
                    continue
                edges.append((None, 0))
                meta.append(None)
            needs_flags.append(False)
        needs = GradMode.enabled and any(needs_flags)
        ctx.next_functions = tuple(edges)
        ctx._meta = tuple(meta)
        ctx._tensor_pos = tuple(tensor_pos)
        ctx._n_args = len(args)
        ctx._needs = tuple(needs_flags) if GradMode.enabled else (False,) * len(args)
        custom_setup = cls.setup_context is not Function.setup_context
        with no_grad():
            if custom_setup:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        if not needs:
            return out
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        non_diff = ctx._non_diff
        dirty = ctx._dirty
        wrapped = []
        out_meta = []
        nr = 0
        for o in outs:
            if isinstance(o, Tensor):
                is_input = any(o is a for a in tensor_args)
                if id(o) in dirty:
                    if o._rg and o.grad_fn is None:
                        raise RuntimeError(_LEAF_DIRTY)
                    o._vc.v += 1  # mark_dirty bumps the version, as PyTorch does
                elif is_input:
                    o = o.view_as(o)  # returning an input: hand back an alias, as PyTorch does
                    o.grad_fn = None
                    o._rg = False
                if id(o) not in non_diff and o.is_floating_point():
                    o.grad_fn = ctx
                    o._rg = True
                    o._output_nr = nr
                out_meta.append((tuple(o.shape), o.dtype, o.device))
                nr += 1
            wrapped.append(o)
        ctx.n_outputs = nr
        ctx._out_meta = out_meta
        obs = _observe._active
        if obs is not None:
            obs.on_node(ctx, tensor_args, [o for o in wrapped if isinstance(o, Tensor)])
        return wrapped[0] if single else tuple(wrapped)


class InplaceFunction(Function):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace


class NestedIOFunction(Function):
    pass


def once_differentiable(fn):
    """Decorator for ``backward``: run it without building a graph."""

    @functools.wraps(fn)
    def wrapper(ctx, *grads):
        with no_grad():
            return fn(ctx, *grads)

    return wrapper

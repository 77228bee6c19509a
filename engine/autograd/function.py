"""Custom differentiable functions: ``class F(Function)`` with ``forward``/``backward``.

The graph node of a custom function *is* its ``ctx``: what ``forward`` saves on ``ctx`` is
what ``backward`` reads, and ``ctx.needs_input_grad`` comes from the node's edges.
"""
import functools

from .grad_mode import GradMode, no_grad
from .graph import Node, grad_accumulator


class FunctionCtx(Node):
    """Context object handed to ``forward``/``backward``; also the graph node."""

    def save_for_backward(self, *tensors):
        self.save(*tensors)

    def mark_non_differentiable(self, *tensors):
        self._non_diff = {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        self._dirty = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        self._materialize = bool(value)

    @property
    def saved_tensors(self):
        if self._saved is None and not self._freed:
            return ()
        return self.saved()

    def backward(self, *grads):
        fn = self._fn
        if getattr(self, "_materialize", True):
            from ..ops.creation import zeros

            grads = tuple(
                g if g is not None else zeros(shape, dtype=dt, device=dev)
                for g, (shape, dt, dev) in zip(grads, self._out_meta)
            )
        res = fn.backward(self, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        n = len(self.next_functions)
        if len(res) < n:
            raise RuntimeError(
                f"function {self.name()} returned an incorrect number of gradients (expected {n}, got {len(res)})"
            )
        if len(res) > n:
            extra = res[n:]
            if any(r is not None for r in extra):
                raise RuntimeError(
                    f"function {self.name()} returned an incorrect number of gradients (expected {n}, got {len(res)})"
                )
            res = res[:n]
        return tuple(res)


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        # The graph node class, named as PyTorch names it: MyFunc -> MyFuncBackward.
        cls._backward_cls = type(name + "Backward", (FunctionCtx,), {"_fn": cls})


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
        tensor_args = [a if isinstance(a, Tensor) else None for a in args]
        needs = GradMode.enabled and any(t is not None and t._rg for t in tensor_args)
        edges = []
        meta = []
        for t in tensor_args:
            if t is None or not t._rg:
                edges.append((None, 0))
                meta.append(None)
            elif t.grad_fn is not None:
                edges.append((t.grad_fn, t._output_nr))
                meta.append((t.shape, t.dtype))
            else:
                edges.append((grad_accumulator(t), 0))
                meta.append((t.shape, t.dtype))
        ctx.next_functions = tuple(edges)
        ctx._meta = tuple(meta)
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
        non_diff = getattr(ctx, "_non_diff", ())
        wrapped = []
        out_meta = []
        nr = 0
        for o in outs:
            if isinstance(o, Tensor):
                if any(o is a for a in tensor_args) and id(o) not in getattr(ctx, "_dirty", ()):
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
            obs.on_node(ctx, [t for t in tensor_args], [o for o in wrapped if isinstance(o, Tensor)])
        return wrapped[0] if single else tuple(wrapped)


def once_differentiable(fn):
    """Decorator for ``backward``: run it without building a graph."""

    @functools.wraps(fn)
    def wrapper(ctx, *grads):
        with no_grad():
            return fn(ctx, *grads)

    return wrapper

"""``engine.autograd``: backward, grad, grad modes, custom Functions, gradcheck, observation."""
from . import observe  # noqa: F401
from .engine import run_backward
from .function import Function, FunctionCtx, once_differentiable  # noqa: F401
from .grad_mode import (  # noqa: F401
    enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad, set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401
from .graph import Node  # noqa: F401


def _tensor_tuple(x):
    from ..tensor import Tensor

    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _make_grads(outputs, grads):
    from ..tensor import Tensor
    from ..ops.creation import ones_like

    if grads is None:
        grads = (None,) * len(outputs)
    else:
        grads = _tensor_tuple(grads) if isinstance(grads, Tensor) or grads is not None else grads
        if len(grads) != len(outputs):
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs")
    res = []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if g is None:
            if out._rg and out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if out._rg and not out.is_floating_point():
                raise RuntimeError(
                    f"grad can be implicitly created only for real scalar outputs but got {out.dtype}"
                )
            g = ones_like(out)
        elif not isinstance(g, Tensor):
            raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
        elif tuple(g.shape) != tuple(out.shape):
            if g._data.size == out._data.size == 1 and False:
                pass
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] has a shape of "
                f"{out.shape}."
            )
        res.append(g)
    return res


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves they depend on."""
    tensors = _tensor_tuple(tensors)
    if grad_tensors is None:
        grad_tensors = grad_variables
    for i, t in enumerate(tensors):
        if not t._rg:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
    grads = _make_grads(tensors, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _tensor_tuple(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        res = run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs, allow_unused=True,
                           accumulate=False)
        for t, g in zip(inputs, res):
            if g is None:
                continue
            if t.grad is None:
                t.grad = g if create_graph else g._detached_copy()
            else:
                t.grad = t.grad + g
        return
    run_backward(tensors, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated."""
    outputs = _tensor_tuple(outputs)
    single = not isinstance(inputs, (tuple, list))
    inputs = _tensor_tuple(inputs)
    for i, t in enumerate(outputs):
        if not t._rg:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
    grads = _make_grads(outputs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    res = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs,
                       allow_unused=allow_unused, accumulate=False)
    if materialize_grads:
        from ..ops.creation import zeros_like

        res = tuple(zeros_like(t) if g is None else g for t, g in zip(inputs, res))
    return res


class _Functional:
    """``torch.autograd.functional``: jacobian and hessian by repeated ``grad`` calls."""

    @staticmethod
    def jacobian(func, inputs, create_graph=False):
        from ..ops.creation import zeros_like
        from ..ops.shape import stack

        single = not isinstance(inputs, (tuple, list))
        ins = (inputs,) if single else tuple(inputs)
        ins = tuple(x.detach().requires_grad_(True) for x in ins)
        with enable_grad():
            out = func(*ins)
        flat = out.reshape(-1)
        rows = [[] for _ in ins]
        for k in range(flat.shape[0]):
            gs = grad(flat[k], ins, retain_graph=True, create_graph=create_graph, allow_unused=True)
            for j, (x, g) in enumerate(zip(ins, gs)):
                rows[j].append(zeros_like(x) if g is None else g)
        jac = tuple(stack(r).reshape(tuple(out.shape) + tuple(x.shape)) for r, x in zip(rows, ins))
        return jac[0] if single else jac

    @staticmethod
    def hessian(func, inputs, create_graph=False):
        def first(*xs):
            with enable_grad():
                y = func(*xs)
                g = grad(y, xs, create_graph=True)
            return g[0]

        return _Functional.jacobian(first, inputs, create_graph=create_graph)


functional = _Functional

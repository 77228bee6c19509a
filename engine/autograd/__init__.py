"""``engine.autograd``: backward, grad, grad modes, custom Functions, gradcheck, observation."""
from . import observe  # noqa: F401
from . import function  # noqa: F401
from . import graph  # noqa: F401
from .engine import run_backward
from .function import Function, FunctionCtx, once_differentiable  # noqa: F401
from .grad_mode import (  # noqa: F401
    detect_anomaly, enable_grad, inference_mode, is_anomaly_check_nan_enabled, is_anomaly_enabled,
    is_grad_enabled, is_inference_mode_enabled, no_grad, set_detect_anomaly, set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401
from .graph import Node  # noqa: F401


def _is_tensor(x):
    from ..tensor import Tensor

    return isinstance(x, Tensor)


def _tensor_or_tensors_to_tuple(tensors, length):
    if tensors is None:
        return (None,) * length
    if _is_tensor(tensors):
        return (tensors,)
    return tuple(tensors)


def _make_grads(outputs, grads):
    """The root gradients: given ones checked against their output, missing ones implicit."""
    from ..ops.creation import ones_like

    res = []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if _is_tensor(g):
            if tuple(g.shape) != tuple(out.shape):
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] has a shape of "
                    f"{out.shape}."
                )
            if out._rg and g.dtype is not out.dtype and out.is_floating_point():
                g = g.to(out.dtype)  # PyTorch's validate_outputs casts root gradients
            res.append(g)
        elif g is None:
            if out._rg:
                if out.numel() != 1:
                    raise RuntimeError("grad can be implicitly created only for scalar outputs")
                if not out.is_floating_point():
                    raise RuntimeError(
                        f"grad can be implicitly created only for real scalar outputs but got {out.dtype}"
                    )
                res.append(ones_like(out))
            else:
                res.append(None)
        else:
            raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
    if len(grads) != len(outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grads)} gradients")
    for i, out in enumerate(outputs):
        if not out._rg:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
    return res


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves they depend on (only
    into ``inputs`` when given; a non-leaf input gets ``retain_grad()``, as in PyTorch)."""
    if grad_variables is not None:
        if grad_tensors is not None:
            raise RuntimeError("'grad_tensors' and 'grad_variables' (deprecated) arguments both passed to "
                               "'backward'. Please only use 'grad_tensors'.")
        grad_tensors = grad_variables
    if inputs is not None:
        inputs = (inputs,) if _is_tensor(inputs) else tuple(inputs)
        if len(inputs) == 0:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    tensors = (tensors,) if _is_tensor(tensors) else tuple(tensors)
    grads = _make_grads(tensors, _tensor_or_tensors_to_tuple(grad_tensors, len(tensors)))
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        for t in inputs:
            if t.grad_fn is not None:
                t.retain_grad()
    run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated."""
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    outputs = (outputs,) if _is_tensor(outputs) else tuple(outputs)
    inputs = (inputs,) if _is_tensor(inputs) else tuple(inputs)
    if not inputs:
        raise RuntimeError("grad requires non-empty inputs.")
    grads = _make_grads(outputs, _tensor_or_tensors_to_tuple(grad_outputs, len(outputs)))
    if retain_graph is None:
        retain_graph = create_graph
    res = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs,
                       allow_unused=allow_unused, accumulate=False)
    if materialize_grads:
        from ..ops.creation import zeros_like

        res = tuple(zeros_like(t) if g is None else g for t, g in zip(inputs, res))
    return res


class _Functional:
    """``torch.autograd.functional``: jacobian, hessian, vjp, hvp by repeated reverse passes."""

    @staticmethod
    def _prepare(inputs, create_graph):
        is_tuple = isinstance(inputs, (tuple, list))
        ins = tuple(inputs) if is_tuple else (inputs,)
        prepared = tuple(
            x.view_as(x) if create_graph and x._rg else x.detach().requires_grad_(True) for x in ins
        )
        return is_tuple, prepared

    @staticmethod
    def _post(t, create_graph):
        return t if create_graph else t.detach()

    @staticmethod
    def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
        from ..ops.creation import zeros, zeros_like
        from ..ops.shape import stack

        in_tuple, ins = _Functional._prepare(inputs, create_graph)
        with enable_grad():
            out = func(*ins)
            out_tuple = isinstance(out, tuple)
            outs = out if out_tuple else (out,)
            jac = []
            for o in outs:
                per_in = [[] for _ in ins]
                n = o.numel()
                for k in range(n):
                    if o._rg:
                        go = zeros_like(o)
                        go._data.reshape(-1)[k] = 1
                        gs = grad(o, ins, go, retain_graph=True, create_graph=create_graph, allow_unused=True)
                    else:
                        gs = (None,) * len(ins)
                    for j, (x, g) in enumerate(zip(ins, gs)):
                        per_in[j].append(zeros_like(x) if g is None else g)
                row = []
                for x, col in zip(ins, per_in):
                    shape = tuple(o.shape) + tuple(x.shape)
                    j_t = stack(col).reshape(shape) if col else zeros(shape, dtype=x.dtype)
                    row.append(_Functional._post(j_t, create_graph))
                jac.append(tuple(row))
        if out_tuple:
            return tuple(r if in_tuple else r[0] for r in jac)
        return jac[0] if in_tuple else jac[0][0]

    @staticmethod
    def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
                outer_jacobian_strategy="reverse-mode"):
        in_tuple = isinstance(inputs, (tuple, list))

        def single(*xs):
            out = func(*xs)
            if isinstance(out, tuple) or out.numel() != 1:
                raise RuntimeError("The function given to hessian should return a single Tensor")
            return out.reshape(())

        def jac_func(*xs):
            return _Functional.jacobian(single, xs, create_graph=True)

        res = _Functional.jacobian(jac_func, tuple(inputs) if in_tuple else (inputs,), create_graph=create_graph)
        if in_tuple:
            return res
        return res[0][0]

    @staticmethod
    def vjp(func, inputs, v=None, create_graph=False, strict=False):
        in_tuple, ins = _Functional._prepare(inputs, create_graph)
        with enable_grad():
            out = func(*ins)
            gs = grad(out, ins, v, create_graph=create_graph, allow_unused=True)
        from ..ops.creation import zeros_like

        gs = tuple(_Functional._post(zeros_like(x) if g is None else g, create_graph) for x, g in zip(ins, gs))
        out = out if create_graph else out.detach()
        return out, (gs if in_tuple else gs[0])

    @staticmethod
    def hvp(func, inputs, v=None, create_graph=False, strict=False):
        in_tuple, ins = _Functional._prepare(inputs, True)
        vs = tuple(v) if in_tuple else (v,)
        with enable_grad():
            out = func(*ins)
            g1 = grad(out, ins, create_graph=True, allow_unused=True)
            pairs = [(g, u) for g, u in zip(g1, vs) if g is not None]
            g2 = grad([g for g, _ in pairs], ins, [u for _, u in pairs], create_graph=create_graph,
                      allow_unused=True)
        from ..ops.creation import zeros_like

        g2 = tuple(_Functional._post(zeros_like(x) if g is None else g, create_graph) for x, g in zip(ins, g2))
        out = out if create_graph else out.detach()
        return out, (g2 if in_tuple else g2[0])

    vhp = hvp  # the Hessian is symmetric


functional = _Functional


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802 - PyTorch's legacy name
    """Legacy ``torch.autograd.Variable``: today just the tensor itself."""
    if requires_grad:
        data.requires_grad_(True)
    return data

"""Full module backward hooks (``register_full_backward_hook`` / ``register_full_backward_pre_hook``).

As in PyTorch, the tensors going into and coming out of the module pass through an identity
node, ``BackwardHookFunctionBackward``.  When the output node runs, it has the gradients with
respect to the module outputs: the backward pre-hooks see (and may replace) them.  When the
input node runs, it has the gradients with respect to the module inputs: the backward hooks get
``(module, grad_input, grad_output)`` and may replace ``grad_input``.  Non-tensor positions
are ``None``; a tensor input that got no gradient shows zeros, as PyTorch's materialised
custom-function gradients do.
"""
import warnings

from ...autograd.grad_mode import GradMode
from ...autograd.graph import Node
from ...ops._util import record_multi
from ...tensor import Tensor


class BackwardHookFunctionBackward(Node):
    """Identity over several tensors; keeps the gradients it returned for the module hook."""

    forward = "outputs = inputs  (identity around a module, for its backward hooks)"
    formula = "grads = grad_outputs  (passed through, the module's backward hooks see and may replace them)"

    _custom = True

    def backward(self, *grads):
        out = []
        for g, (shape, dtype, device) in zip(grads, self._out_meta):
            if g is None:
                from ...ops.creation import zeros

                g = zeros(shape, dtype=dtype, device=device)
            out.append(g)
        self._last = tuple(out)
        return self._last

    def _release_extra(self):
        self._last = None


def _apply_identity(tensors):
    """``BackwardHookFunction.apply(*tensors)``: new tensors sharing data and version counters;
    those that do not require grad are non-differentiable outputs."""
    node = BackwardHookFunctionBackward()
    outs = []
    diff = []
    meta = []
    for t in tensors:
        o = Tensor._make(t._data)
        o._vc = t._vc
        outs.append(o)
        diff.append(t._rg)
        meta.append((tuple(t.shape), t.dtype, t.device))
    node._out_meta = meta
    node._last = None
    record_multi(node, tuple(tensors), outs, diff)
    return tuple(outs), node


class BackwardHook:
    """Links the gradients captured at a module's outputs with those at its inputs and calls the
    user hooks once both are known."""

    def __init__(self, module, user_hooks, user_pre_hooks):
        self.module = module
        self.user_hooks = user_hooks
        self.user_pre_hooks = user_pre_hooks
        self.grad_outputs = None
        self.n_outputs = -1
        self.output_tensors_index = None
        self.n_inputs = -1
        self.input_tensors_index = None

    @staticmethod
    def _pack_with_none(indices, values, size):
        res = [None] * size
        for i, v in zip(indices, values):
            res[i] = v
        return tuple(res)

    @staticmethod
    def _apply_on_tensors(args):
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in idx]
        if not (GradMode.enabled and any(t._rg for t in tensors)):
            return args, None, None
        new, node = _apply_identity(tensors)
        lst = list(args)
        for i, v in zip(idx, new):
            lst[i] = v
        out = tuple(lst) if type(args) is tuple else type(args)(*lst)
        return out, idx, node

    # -- inputs -------------------------------------------------------------------------------
    def setup_input_hook(self, args):
        res, idx, node = self._apply_on_tensors(args)
        self.n_inputs = len(args)
        self.input_tensors_index = idx
        if node is not None:
            def hook(grad_input, _grad_output):
                if self.grad_outputs is None:
                    return None  # the gradient reached the inputs without passing the outputs
                got = node._last if node._last is not None else grad_input
                res = self._pack_with_none(self.input_tensors_index, got, self.n_inputs)
                for user_hook in self.user_hooks:
                    out = user_hook(self.module, res, self.grad_outputs)
                    if out is None:
                        continue
                    if len(out) != len(res):
                        raise RuntimeError("Backward hook returned an invalid number of grad_input, "
                                           f"got {len(out)}, but expected {len(res)}")
                    res = out
                self.grad_outputs = None
                return tuple(res[i] for i in self.input_tensors_index)

            node.register_hook(hook)
        return res

    # -- outputs ------------------------------------------------------------------------------
    def setup_output_hook(self, args):
        is_tuple = isinstance(args, tuple)
        if not is_tuple:
            args = (args,)
        res, idx, node = self._apply_on_tensors(args)
        self.n_outputs = len(args)
        self.output_tensors_index = idx
        if node is not None:
            def hook(_grad_input, grad_output):
                self.grad_outputs = self._pack_with_none(self.output_tensors_index, grad_output, self.n_outputs)
                if self.user_pre_hooks:
                    expected = len(self.grad_outputs)
                    for pre in self.user_pre_hooks:
                        new = pre(self.module, self.grad_outputs)
                        if new is None:
                            continue
                        if len(new) != expected:
                            raise RuntimeError("Backward pre hook returned an invalid number of grad_output, "
                                               f"got {len(new)}, but expected {expected}")
                        self.grad_outputs = new
                local = self.grad_outputs
                if self.input_tensors_index is None:
                    warnings.warn(
                        "Full backward hook is firing when gradients are computed with respect to module outputs "
                        "since no inputs require gradients. See https://docs.pytorch.org/docs/main/generated/"
                        "torch.nn.Module.html#torch.nn.Module.register_full_backward_hook for more details.",
                        stacklevel=2)
                    grad_inputs = (None,) * self.n_inputs
                    for user_hook in self.user_hooks:
                        r = user_hook(self.module, grad_inputs, self.grad_outputs)
                        if r is not None and not (isinstance(r, tuple) and all(el is None for el in r)):
                            raise RuntimeError("Backward hook for Modules where no input requires gradient should "
                                               "always return None or None for all gradients.")
                    self.grad_outputs = None
                if local is not None:
                    return tuple(local[i] for i in self.output_tensors_index)
                return None

            node.register_hook(hook)
        return res if is_tuple else res[0]

"""The slow path of ``Module.__call__``: forward pre-hooks and hooks (global ones first), full
and non-full backward hooks, and observation scopes (module paths and parameter names for the
autograd observer), in PyTorch's order."""
import warnings

from ...autograd import observe as _observe
from ...tensor import Tensor
from . import module as _m
from .module import (register_module_forward_hook, register_module_forward_pre_hook,  # noqa: F401
                     register_module_full_backward_hook, register_module_full_backward_pre_hook,
                     register_module_backward_hook)


def _child_name(parent, child):
    for name, m in parent._modules.items():
        if m is child:
            return name
    return type(child).__name__


def call_module(mod, args, kwargs):
    obs = _observe._active
    if obs is None:
        return _run(mod, args, kwargs)
    stack = _m._module_stack
    if stack:
        name = _child_name(stack[-1], mod)
    else:
        name = ""
        for pname, p in mod.named_parameters():
            obs.name(p, pname)
    scope = _observe.scope(name)
    scope.__enter__()
    stack.append(mod)
    try:
        return _run(mod, args, kwargs)
    finally:
        stack.pop()
        scope.__exit__(None, None, None)


def _run(mod, args, kwargs):
    called_always = set()
    result = None
    try:
        full_bw, non_full_bw, bw_pre = [], [], []
        if mod._backward_pre_hooks or _m._global_backward_pre_hooks:
            bw_pre = mod._get_backward_pre_hooks()
        if mod._backward_hooks or _m._global_backward_hooks:
            full_bw, non_full_bw = mod._get_backward_hooks()

        if _m._global_forward_pre_hooks or mod._forward_pre_hooks:
            with_kw = mod._forward_pre_hooks_with_kwargs
            for hid, hook in (*_m._global_forward_pre_hooks.items(), *mod._forward_pre_hooks.items()):
                if hid in with_kw:
                    res = hook(mod, args, kwargs)
                    if res is not None:
                        if isinstance(res, tuple) and len(res) == 2:
                            args, kwargs = res
                        else:
                            raise RuntimeError("forward pre-hook must return None or a tuple of (new_args, "
                                               f"new_kwargs), but got {res}.")
                else:
                    res = hook(mod, args)
                    if res is not None:
                        args = res if isinstance(res, tuple) else (res,)

        bw_hook = None
        if full_bw or bw_pre:
            from ._backward_hooks import BackwardHook

            bw_hook = BackwardHook(mod, full_bw, bw_pre)
            args = bw_hook.setup_input_hook(args)

        result = mod.forward(*args, **kwargs)

        if _m._global_forward_hooks or mod._forward_hooks:
            for hid, hook in (*_m._global_forward_hooks.items(), *mod._forward_hooks.items()):
                if hid in mod._forward_hooks_always_called or hid in _m._global_forward_hooks_always_called:
                    called_always.add(hid)
                if hid in mod._forward_hooks_with_kwargs or hid in _m._global_forward_hooks_with_kwargs:
                    res = hook(mod, args, kwargs, result)
                else:
                    res = hook(mod, args, result)
                if res is not None:
                    result = res

        if bw_hook is not None:
            if not isinstance(result, (Tensor, tuple)):
                warnings.warn("For backward hooks to be called, module output should be a Tensor or a tuple of "
                              f"Tensors but received {type(result)}", stacklevel=3)
            result = bw_hook.setup_output_hook(result)

        if non_full_bw:
            var = result
            while not isinstance(var, Tensor):
                if isinstance(var, dict):
                    var = next(v for v in var.values() if isinstance(v, Tensor))
                else:
                    var = var[0]
            fn = var.grad_fn
            if fn is not None:
                for hook in non_full_bw:
                    fn.register_hook(_m._WrappedHook(hook, mod))
        return result
    except Exception:
        # forward hooks registered with always_call=True still run, then the error propagates
        for hid, hook in (*_m._global_forward_hooks.items(), *mod._forward_hooks.items()):
            if ((hid in mod._forward_hooks_always_called or hid in _m._global_forward_hooks_always_called)
                    and hid not in called_always):
                try:
                    if hid in mod._forward_hooks_with_kwargs or hid in _m._global_forward_hooks_with_kwargs:
                        res = hook(mod, args, kwargs, result)
                    else:
                        res = hook(mod, args, result)
                    if res is not None:
                        result = res
                except Exception as e:  # noqa: BLE001
                    warnings.warn("global module forward hook with ``always_call=True`` raised an exception "
                                  f"that was silenced as another error was raised in forward: {str(e)}")
        raise

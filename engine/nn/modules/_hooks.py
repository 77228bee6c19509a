"""The slow path of ``Module.__call__``: forward pre-hooks and hooks, full backward hooks, and
observation scopes (module paths and parameter names for the autograd observer)."""
from ...autograd import observe as _observe
from ...tensor import Tensor
from . import module as _m


def _child_name(parent, child):
    for name, m in parent._modules.items():
        if m is child:
            return name
    return type(child).__name__


def call_module(mod, args, kwargs):
    obs = _observe._active
    stack = _m._module_stack
    scope = None
    if obs is not None:
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
        for hid, hook in list(_m._global_forward_pre_hooks.items()) + list(mod._forward_pre_hooks.items()):
            if mod._forward_pre_hooks_with_kwargs.get(hid):
                res = hook(mod, args, kwargs)
                if res is not None:
                    args, kwargs = res
            else:
                res = hook(mod, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        bw_hooks = mod._backward_hooks or mod._backward_pre_hooks
        if bw_hooks:
            from ._backward_hooks import BackwardHook

            bh = BackwardHook(mod)
            args = bh.setup_input(args)
        out = mod.forward(*args, **kwargs)
        for hid, hook in list(_m._global_forward_hooks.items()) + list(mod._forward_hooks.items()):
            if mod._forward_hooks_with_kwargs.get(hid):
                res = hook(mod, args, kwargs, out)
            else:
                res = hook(mod, args, out)
            if res is not None:
                out = res
        if bw_hooks:
            out = bh.setup_output(out)
        return out
    finally:
        if scope is not None:
            stack.pop()
            scope.__exit__(None, None, None)


def register_module_forward_hook(hook):
    h = _m.RemovableHandle(_m._global_forward_hooks)
    _m._global_forward_hooks[h.id] = hook
    return h


def register_module_forward_pre_hook(hook):
    h = _m.RemovableHandle(_m._global_forward_pre_hooks)
    _m._global_forward_pre_hooks[h.id] = hook
    return h


_ = Tensor

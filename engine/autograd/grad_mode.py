"""Grad modes: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``, and
anomaly detection.

Each mode works as a context manager and as a decorator (``@no_grad``, ``@no_grad()``,
``@enable_grad``, ``@inference_mode``, ``@inference_mode(False)``, ``@set_grad_enabled(False)``),
also on generator functions, whose every resumption runs under the mode.

The state is process-wide.  Ops read one flag, ``GradMode.enabled``: whether they record
graph nodes.  Inside ``inference_mode`` that flag stays off even under ``enable_grad`` (as
PyTorch's inference tensors never record); the grad mode the user asked for there is kept in
``GradMode.grad_in_inference`` and is what ``is_grad_enabled()`` reports.
"""
import functools
import inspect
import warnings


class GradMode:
    enabled = True  # ops record graph nodes
    inference = False
    grad_in_inference = False  # is_grad_enabled() while inference mode is on


class _Anomaly:
    enabled = False
    check_nan = True


def is_grad_enabled():
    return GradMode.grad_in_inference if GradMode.inference else GradMode.enabled


def is_inference_mode_enabled():
    return GradMode.inference


def _set_grad(flag):
    if GradMode.inference:
        GradMode.grad_in_inference = flag
    else:
        GradMode.enabled = flag


def _wrap(make_ctx, fn):
    """``fn`` run under a fresh context manager from ``make_ctx`` (each call, each resumption)."""
    if inspect.isgeneratorfunction(fn):
        return functools.wraps(fn)(_gen_with_return(make_ctx, fn))

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with make_ctx():
            return fn(*args, **kwargs)

    return wrapper


def _gen_with_return(make_ctx, fn):
    def generator(*args, **kwargs):
        gen = fn(*args, **kwargs)
        try:
            with make_ctx():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with make_ctx():
                        gen.close()
                    raise
                except BaseException as e:
                    with make_ctx():
                        response = gen.throw(e)
                else:
                    with make_ctx():
                        response = gen.send(request)
        except StopIteration as stop:
            return stop.value

    return generator


class _DecoratorContextManager:
    """Context manager usable as a decorator: each call of the decorated function runs under
    a clone, so the decorated function is reentrant."""

    def __call__(self, fn):
        return _wrap(self.clone, fn)

    def clone(self):
        return self.__class__()

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__qualname__} object at {hex(id(self))}>"


class _NoParamDecoratorContextManager(_DecoratorContextManager):
    """Also allows the bare decorator form, ``@no_grad`` without parentheses."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamDecoratorContextManager):
    """Disable gradient recording."""

    def __init__(self):
        self.prev = False

    def __enter__(self):
        self.prev = is_grad_enabled()
        _set_grad(False)

    def __exit__(self, *exc):
        _set_grad(self.prev)


class enable_grad(_NoParamDecoratorContextManager):
    """Enable gradient recording (inside ``no_grad``)."""

    def __enter__(self):
        self.prev = is_grad_enabled()
        _set_grad(True)

    def __exit__(self, *exc):
        _set_grad(self.prev)


class set_grad_enabled(_DecoratorContextManager):
    """Set gradient recording on or off; takes effect at once when called as a function."""

    def __init__(self, mode):
        self.prev = is_grad_enabled()
        self.mode = bool(mode)
        _set_grad(self.mode)

    def __call__(self, fn):
        _set_grad(self.prev)  # used as a decorator: undo the call-time switch
        return super().__call__(fn)

    def __enter__(self):
        _set_grad(self.mode)

    def __exit__(self, *exc):
        _set_grad(self.prev)

    def __repr__(self):
        return f"{type(self).__module__}.{type(self).__qualname__}(mode={self.mode})"

    def clone(self):
        return self.__class__(self.mode)


class inference_mode(_DecoratorContextManager):
    """No graph recording at all (``inference_mode(False)`` turns it off again)."""

    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)

    def __init__(self, mode=True):
        self.mode = mode

    def __enter__(self):
        self._prev = (GradMode.enabled, GradMode.inference, GradMode.grad_in_inference)
        if self.mode:
            GradMode.grad_in_inference = False
            GradMode.enabled = False
            GradMode.inference = True
        else:
            GradMode.inference = False
            GradMode.enabled = True

    def __exit__(self, *exc):
        GradMode.enabled, GradMode.inference, GradMode.grad_in_inference = self._prev

    def clone(self):
        return self.__class__(self.mode)


# -- anomaly detection ----------------------------------------------------------------------
def is_anomaly_enabled():
    return _Anomaly.enabled


def is_anomaly_check_nan_enabled():
    return _Anomaly.check_nan


class detect_anomaly:
    """Context manager: backward checks every gradient a node returns for NaN."""

    def __init__(self, check_nan=True):
        self.prev = _Anomaly.enabled
        self.check_nan = check_nan
        self.prev_check_nan = _Anomaly.check_nan
        warnings.warn(
            "Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
            "enabled for debugging.", stacklevel=2,
        )

    def __enter__(self):
        _Anomaly.enabled = True
        _Anomaly.check_nan = self.check_nan

    def __exit__(self, *exc):
        _Anomaly.enabled = self.prev
        _Anomaly.check_nan = self.prev_check_nan


class set_detect_anomaly:
    """Turn anomaly detection on or off (at once, or for a ``with`` block)."""

    def __init__(self, mode, check_nan=True):
        self.prev = _Anomaly.enabled
        self.prev_check_nan = _Anomaly.check_nan
        _Anomaly.enabled = bool(mode)
        _Anomaly.check_nan = check_nan

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _Anomaly.enabled = self.prev
        _Anomaly.check_nan = self.prev_check_nan

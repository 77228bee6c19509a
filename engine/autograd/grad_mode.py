"""Grad modes: ``no_grad``, ``enable_grad``, ``set_grad_enabled`` and ``inference_mode``.

Each works as a context manager and as a decorator.  The state is one process-wide flag,
read on every op, so it is a plain attribute lookup.
"""
import functools


class GradMode:
    enabled = True
    inference = False


def is_grad_enabled():
    return GradMode.enabled


def is_inference_mode_enabled():
    return GradMode.inference


class _Mode:
    """Base for the grad-mode context managers; subclasses set ``_target``."""

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args()):
                return fn(*args, **kwargs)

        return wrapper

    def _args(self):
        return ()

    def __enter__(self):
        self._prev = GradMode.enabled
        GradMode.enabled = self._target
        return self

    def __exit__(self, *exc):
        GradMode.enabled = self._prev
        return False

    def clone(self):
        return self.__class__(*self._args())


class no_grad(_Mode):
    _target = False

    def __init__(self, orig_func=None):
        if orig_func is not None and callable(orig_func):
            raise TypeError("no_grad() takes no positional arguments; use @no_grad() or @no_grad")


class enable_grad(_Mode):
    _target = True


class set_grad_enabled(_Mode):
    def __init__(self, mode):
        self._target = bool(mode)
        self._prev = GradMode.enabled
        GradMode.enabled = self._target  # takes effect as a function call too

    def _args(self):
        return (self._target,)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        GradMode.enabled = self._prev
        return False

    def __call__(self, fn):
        GradMode.enabled = self._prev  # used as a decorator: undo the call-time switch
        return super().__call__(fn)


class inference_mode(_Mode):
    def __init__(self, mode=True):
        if callable(mode) and not isinstance(mode, bool):
            raise TypeError("inference_mode() takes a bool; use @inference_mode()")
        self.mode = bool(mode)
        self._target = not self.mode if self.mode else GradMode.enabled

    def _args(self):
        return (self.mode,)

    def __enter__(self):
        self._prev = GradMode.enabled
        self._prev_inf = GradMode.inference
        if self.mode:
            GradMode.enabled = False
            GradMode.inference = True
        return self

    def __exit__(self, *exc):
        GradMode.enabled = self._prev
        GradMode.inference = self._prev_inf
        return False


# Decorator forms without parentheses (``@torch.no_grad``) are handled by __new__ trickery in
# PyTorch; we support them by letting the class be called with a function.
def _wrap_bare(cls):
    orig_new = cls.__new__

    def __new__(klass, *args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not isinstance(args[0], bool) and not kwargs:
            fn = args[0]

            @functools.wraps(fn)
            def wrapper(*a, **k):
                with klass():
                    return fn(*a, **k)

            return wrapper
        return orig_new(klass) if orig_new is object.__new__ else orig_new(klass, *args, **kwargs)

    cls.__new__ = staticmethod(__new__)
    return cls


for _c in (no_grad, enable_grad, inference_mode):
    _wrap_bare(_c)
no_grad.__init__ = lambda self, *a: None

"""Grad modes as context managers and decorators, against real PyTorch."""
import pytest
import torch

import engine
from test_autograd import both


def test_no_grad_enable_grad_nesting():
    def f(lib):
        x = lib.tensor([1.0], requires_grad=True)
        out = []
        with lib.no_grad():
            out.append(((x * 2).requires_grad, lib.is_grad_enabled()))
            with lib.enable_grad():
                out.append(((x * 2).requires_grad, lib.is_grad_enabled()))
                with lib.no_grad():
                    out.append(lib.is_grad_enabled())
            out.append(lib.is_grad_enabled())
        out.append(lib.is_grad_enabled())
        return out

    both(f)


def test_decorators_with_and_without_parentheses():
    def f(lib):
        x = lib.tensor([1.0], requires_grad=True)

        @lib.no_grad()
        def a():
            return (x * 2).requires_grad

        @lib.no_grad
        def b():
            return (x * 2).requires_grad

        @lib.enable_grad
        def c():
            return (x * 2).requires_grad

        @lib.enable_grad()
        def d():
            return (x * 2).requires_grad

        @lib.set_grad_enabled(False)
        def e():
            return lib.is_grad_enabled()

        @lib.inference_mode
        def g():
            return lib.is_inference_mode_enabled(), (x * 2).requires_grad

        @lib.inference_mode()
        def h():
            return lib.is_inference_mode_enabled()

        @lib.inference_mode(False)
        def i():
            return lib.is_inference_mode_enabled()

        with lib.no_grad():
            inside = (c(), d())
        return a(), b(), inside, e(), lib.is_grad_enabled(), g(), h(), i(), a.__name__, b.__name__

    both(f)


def test_set_grad_enabled_function_and_context():
    def f(lib):
        x = lib.tensor([1.0], requires_grad=True)
        out = []
        lib.set_grad_enabled(False)
        out.append(lib.is_grad_enabled())
        lib.set_grad_enabled(True)
        out.append(lib.is_grad_enabled())
        with lib.set_grad_enabled(False):
            out.append(((x * 2).requires_grad, lib.is_grad_enabled()))
            with lib.set_grad_enabled(True):
                out.append((x * 2).requires_grad)
        out.append(lib.is_grad_enabled())
        with lib.no_grad():
            with lib.set_grad_enabled(True):
                out.append((x * 2).requires_grad)
        out.append(lib.is_grad_enabled())
        return out

    both(f)


def test_inference_mode():
    def f(lib):
        x = lib.tensor([1.0], requires_grad=True)
        out = []
        with lib.inference_mode():
            y = x * 2
            out.append((y.requires_grad, y.grad_fn is None, lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
            with lib.enable_grad():
                out.append((lib.is_grad_enabled(), (x * 2).requires_grad))
            with lib.inference_mode(False):
                out.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
        with lib.no_grad():
            with lib.inference_mode(False):
                out.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
        out.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
        return out

    both(f)


def test_mode_restored_after_exception():
    def f(lib):
        for ctx in (lib.no_grad(), lib.inference_mode(), lib.set_grad_enabled(False)):
            try:
                with ctx:
                    raise ValueError
            except ValueError:
                pass
        return lib.is_grad_enabled(), lib.is_inference_mode_enabled()

    assert both(f) == (True, False)


def test_generator_decorated():
    def f(lib):
        @lib.no_grad()
        def gen():
            yield lib.is_grad_enabled()
            yield lib.is_grad_enabled()
            return 5

        g = gen()
        first = next(g)
        outside = lib.is_grad_enabled()
        second = next(g)
        try:
            next(g)
            ret = None
        except StopIteration as s:
            ret = s.value
        return first, outside, second, ret

    both(f)


def test_decorated_function_is_reentrant():
    def f(lib):
        @lib.no_grad()
        def rec(n):
            if n == 0:
                return lib.is_grad_enabled()
            with lib.enable_grad():
                inner = lib.is_grad_enabled()
            return inner and rec(n - 1) is False

        return rec(3), lib.is_grad_enabled()

    both(f)


def test_backward_inside_no_grad_still_works():
    def f(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        with lib.no_grad():
            y.backward()
        return x.grad

    both(f)


def test_create_graph_mode_inside_hooks():
    def f(lib):
        seen = []
        x = lib.tensor([1.0], requires_grad=True)
        y = x * x
        y.register_hook(lambda g: seen.append(lib.is_grad_enabled()))
        y.backward(retain_graph=True)
        y.backward(create_graph=True)
        return seen

    both(f)


def test_no_grad_rejects_arguments():
    with pytest.raises(TypeError):
        torch.no_grad(1, 2)
    with pytest.raises(TypeError):
        engine.no_grad(1, 2)

"""Custom ``autograd.Function`` against real PyTorch."""
import pytest
import torch

import engine
from test_autograd import both, errors


def make(lib):
    F = lib.autograd.Function

    class ScaledExp(F):
        @staticmethod
        def forward(ctx, x, k):
            r = x.exp() * k
            ctx.save_for_backward(r)
            ctx.k = k
            ctx.needs = ctx.needs_input_grad
            return r

        @staticmethod
        def backward(ctx, g):
            (r,) = ctx.saved_tensors
            return g * r, None

    class Cube(F):  # setup_context style
        @staticmethod
        def forward(x):
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x

    return ScaledExp, Cube


def test_forward_backward_saved_tensors_needs_input_grad():
    def f(lib):
        ScaledExp, _ = make(lib)
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        y = ScaledExp.apply(x, 2.0)
        info = (type(y.grad_fn).__name__, y.grad_fn.name(), len(y.grad_fn.next_functions),
                type(y.grad_fn.next_functions[0][0]).__name__, y.grad_fn.needs)
        y.sum().backward()
        return y, info, x.grad

    y, info, g = both(f)
    assert info[0] == "ScaledExpBackward" and info[4] == (True, False)


def test_needs_input_grad_mixed_tensors():
    def f(lib):
        class Mul(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, b):
                ctx.save_for_backward(a, b)
                return a * b

            @staticmethod
            def backward(ctx, g):
                a, b = ctx.saved_tensors
                flags.append(ctx.needs_input_grad)
                return g * b, g * a

        flags = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        Mul.apply(x, lib.tensor([3.0, 4.0])).sum().backward()
        return flags, x.grad, len(Mul.apply(x, lib.ones(2)).grad_fn.next_functions)

    both(f)


def test_setup_context_and_double_backward():
    def f(lib):
        _, Cube = make(lib)
        x = lib.tensor([2.0, -1.0], requires_grad=True)
        y = Cube.apply(x)
        (g1,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad(g1.sum(), x)
        return y, g1, g2

    y, g1, g2 = both(f)
    assert g2.tolist() == [12.0, -6.0]  # 6x at x = 2, -1: exact


def test_wrong_number_of_grads():
    def too_few(lib):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, g):
                return g

        x = lib.tensor([1.0], requires_grad=True)
        Bad.apply(x, x).sum().backward()

    assert "returned an incorrect number of gradients (expected 2, got 1)" in errors(too_few)

    def too_many(lib):
        class Bad3(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g, g, g

        Bad3.apply(lib.tensor([1.0], requires_grad=True)).sum().backward()

    errors(too_many)

    def extra_none_ok(lib):
        class Ok(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2, None

        x = lib.tensor([1.0], requires_grad=True)
        Ok.apply(x).sum().backward()
        return x.grad

    both(extra_none_ok)

    def grad_for_non_tensor(lib):
        class NT(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, g):
                return g, g

        NT.apply(lib.tensor([1.0], requires_grad=True), 2.0).sum().backward()

    errors(grad_for_non_tensor)


def test_mark_non_differentiable_and_materialize():
    def f(lib):
        seen = []

        class Sort(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                idx = lib.tensor([1, 0])
                ctx.mark_non_differentiable(idx)
                return x * 1, idx

            @staticmethod
            def backward(ctx, g, gi):
                seen.append(gi)
                return g

        class Two(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                return x * 1, x * 2

            @staticmethod
            def backward(ctx, g1, g2):
                seen.append(g2)
                return g1

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, i = Sort.apply(x)
        flags = (a.requires_grad, i.requires_grad)
        a.sum().backward()
        b, _ = Two.apply(x)
        b.sum().backward()
        return flags, seen, x.grad

    both(f)


def test_backward_called_with_zeros_when_no_grad_arrives():
    def f(lib):
        calls = []

        class NoneB(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 1

            @staticmethod
            def backward(ctx, g):
                return None

        class After(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 1

            @staticmethod
            def backward(ctx, g):
                calls.append(g)
                return g

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        NoneB.apply(After.apply(x)).sum().backward()
        return calls, x.grad

    both(f)


def test_once_differentiable():
    def f(lib):
        class Sq(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 2

            @staticmethod
            @lib.autograd.function.once_differentiable
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * 2 * x

        x = lib.tensor([2.0], requires_grad=True)
        (g1,) = lib.autograd.grad(Sq.apply(x), x, create_graph=True)
        return g1, g1.requires_grad, g1.grad_fn is None

    both(f)


def test_no_graph_when_not_needed():
    def f(lib):
        _, Cube = make(lib)
        y = Cube.apply(lib.tensor([2.0]))
        x = lib.tensor([2.0], requires_grad=True)
        with lib.no_grad():
            z = Cube.apply(x)
        return y.requires_grad, y.grad_fn is None, z.requires_grad

    both(f)


def test_returning_input_and_mark_dirty():
    def f(lib):
        class Ident(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 2

        class Dbl(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(2)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 2

        x = lib.tensor([2.0], requires_grad=True)
        y = Ident.apply(x)
        info = (y is x, y.grad_fn.name(), x.grad_fn is None)
        y.backward()
        g1 = x.grad.clone()
        h = x * 1
        v0 = h._version
        out = Dbl.apply(h)
        info2 = (out is h, h.grad_fn.name(), h._version - v0)
        out.sum().backward()
        return info, g1, info2, x.grad, h

    both(f)
    errors(lambda lib: _dirty_leaf(lib))


def _dirty_leaf(lib):
    class Dbl(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    Dbl.apply(lib.tensor([1.0], requires_grad=True))


def test_multiple_outputs_output_nr():
    def f(lib):
        class Two(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                return g1 * 2 + g2 * 3

        x = lib.tensor([2.0], requires_grad=True)
        a, b = Two.apply(x)
        (a + b).sum().backward()
        return a.output_nr, b.output_nr, x.grad

    both(f)


def test_saved_tensor_modified_in_place():
    def f(lib):
        class G(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                r = x.exp()
                ctx.save_for_backward(r)
                return r

            @staticmethod
            def backward(ctx, g):
                return g * ctx.saved_tensors[0]

        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = G.apply(x)
        y.mul_(2)
        y.sum().backward()

    assert "which is output 0 of G," in errors(f)


def test_saved_tensors_freed_after_backward():
    def f(lib):
        _, Cube = make(lib)
        x = lib.tensor([1.0], requires_grad=True)
        y = Cube.apply(x)
        y.backward()
        y.backward()

    errors(f)


def test_gradcheck_custom_function():
    _, Cube = make(engine)
    x = engine.tensor([0.4, -1.1], dtype=engine.float64, requires_grad=True)
    assert engine.autograd.gradcheck(Cube.apply, (x,))
    assert engine.autograd.gradgradcheck(Cube.apply, (x,))


def test_custom_function_in_deep_graph():
    _, Cube = make(engine)
    tx = torch.tensor([0.9], dtype=torch.float64, requires_grad=True)
    ex = engine.tensor([0.9], dtype=engine.float64, requires_grad=True)
    _, TCube = make(torch)
    ty, ey = tx, ex
    for _ in range(30):
        ty = TCube.apply(ty) * 1.1 + 0.01
        ey = Cube.apply(ey) * 1.1 + 0.01
    ty.sum().backward()
    ey.sum().backward()
    # float64, 30 steps y -> 1.1y^3 + 0.01 (<= 6u each; the first 4 scale relative errors by <= 3, the rest
    # contract to 0.01), gradient = product of the 30 factors 3.3y^2: <= ~1100u = 1.2e-13 relative << 1e-9
    assert ex.grad.item() == pytest.approx(tx.grad.item(), rel=1e-9)

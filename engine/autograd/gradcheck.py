"""Finite-difference checks of analytic gradients: ``gradcheck`` and ``gradgradcheck``."""
import numpy as np

from .grad_mode import enable_grad, no_grad


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    from ..tensor import Tensor

    return (x,) if isinstance(x, Tensor) else tuple(x)


def _numerical_jacobian(fn, inputs, outputs_count, eps):
    """Central differences: one column per perturbed input element."""
    jac = []  # jac[i][j]: (out_j.numel, in_i.numel)
    for t in inputs:
        if t is None or not getattr(t, "_rg", False):
            jac.append(None)
            continue
        data = t._data  # perturbed in place, element by element (works for strided inputs too)
        cols = []
        for idx in np.ndindex(*data.shape):
            orig = data[idx].item()
            data[idx] = orig + eps
            with no_grad():
                plus = [o._data.astype(np.float64).reshape(-1).copy() for o in _as_tuple(fn(*inputs))]
            data[idx] = orig - eps
            with no_grad():
                minus = [o._data.astype(np.float64).reshape(-1).copy() for o in _as_tuple(fn(*inputs))]
            data[idx] = orig
            cols.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
        per_out = []
        for j in range(outputs_count):
            if cols:
                per_out.append(np.stack([c[j] for c in cols], axis=1))
            else:
                per_out.append(np.zeros((0, 0)))
        jac.append(per_out)
    return jac


def _analytical_jacobian(outputs, inputs):
    from . import grad as autograd_grad
    from ..ops.creation import zeros_like

    res = []
    for i, t in enumerate(inputs):
        res.append([np.zeros((o.numel(), t.numel() if t is not None else 0)) for o in outputs]
                   if t is not None and t._rg else None)
    diff_inputs = [t for t in inputs if t is not None and t._rg]
    for j, o in enumerate(outputs):
        if not o._rg:
            continue
        flat_n = o.numel()
        for k in range(flat_n):
            g = zeros_like(o)
            g._data.reshape(-1)[k] = 1
            grads = autograd_grad(o, diff_inputs, g, retain_graph=True, allow_unused=True)
            gi = iter(grads)
            for i, t in enumerate(inputs):
                if t is None or not t._rg:
                    continue
                gr = next(gi)
                if gr is not None:
                    res[i][j][k, :] = gr._data.astype(np.float64).reshape(-1)
    return res


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False, fast_mode=False,
              masked=None):
    """Compare the analytic Jacobian of ``func`` at ``inputs`` with central differences."""
    from ..tensor import Tensor

    inputs = _as_tuple(inputs)
    for t in inputs:
        if isinstance(t, Tensor) and t._rg and t.dtype.name != "float64":
            import warnings

            warnings.warn(
                f"Input #{inputs.index(t)} requires gradient and is not a double precision floating point. "
                "This check will likely fail if all the inputs are not of double precision floating point. "
            )
    with enable_grad():
        outputs = _as_tuple(func(*inputs))
    outputs = tuple(o for o in outputs if isinstance(o, Tensor))
    tin = [t if isinstance(t, Tensor) else None for t in inputs]
    analytical = _analytical_jacobian(outputs, tin)
    numerical = _numerical_jacobian(lambda *xs: func(*xs), inputs, len(outputs), eps)
    for i, (a_i, n_i) in enumerate(zip(analytical, numerical)):
        if a_i is None:
            continue
        for j, (a, n) in enumerate(zip(a_i, n_i)):
            if not outputs[j].is_floating_point():
                continue
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                msg = (f"Jacobian mismatch for output {j} with respect to input {i},\n"
                       f"numerical:{n}\nanalytical:{a}\n")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception=True, nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
                  check_batched_grad=False, check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """Check second derivatives: gradcheck of the function that returns first derivatives."""
    from . import grad as autograd_grad
    from ..ops.creation import tensor as make_tensor
    from ..tensor import Tensor

    inputs = _as_tuple(inputs)
    with enable_grad():
        outputs = tuple(o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor) and o._rg)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(
            make_tensor(rng.standard_normal(o.shape).astype(np.float64), dtype=o.dtype, requires_grad=True)
            for o in outputs
        )
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t._rg]

    def first_derivatives(*args):
        xs, gos = args[:n_in], args[n_in:]
        with enable_grad():
            outs = tuple(o for o in _as_tuple(func(*xs)) if isinstance(o, Tensor) and o._rg)
            grads = autograd_grad(outs, [xs[i] for i in diff_idx], gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)

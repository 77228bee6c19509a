"""Finite-difference checks of analytic gradients: ``gradcheck`` and ``gradgradcheck`` (of a
function), and ``check_node`` (of one recorded graph node, through its ``replay``)."""
import time

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


# -- one graph node, as the playground's "Check gradient" asks -----------------------------------
NODE_CHECK_EPS = 1e-6
NODE_CHECK_MAX_ELEMS = 2000        # elements of one input compared, at most (a sample beyond)
NODE_CHECK_BUDGET_S = 3.0          # wall time for the finite differences of one check
NODE_CHECK_MAX_NUMEL = 4_000_000   # larger inputs/outputs are not checked
NODE_CHECK_ATOL = 1e-5
NODE_CHECK_RTOL = 1e-3


def _host64(a, dtype=np.float64):
    if type(a).__module__ != "numpy":
        a = a.get()
    return np.array(a, dtype=dtype, order="C")


def _refused(reason):
    return {"ok": False, "reason": reason, "inputs": []}


def check_node(node, inputs, out_shape, cotangent=None, *, input_names=None, eps=NODE_CHECK_EPS,
               max_elems=NODE_CHECK_MAX_ELEMS, budget_s=NODE_CHECK_BUDGET_S, max_numel=NODE_CHECK_MAX_NUMEL,
               atol=NODE_CHECK_ATOL, rtol=NODE_CHECK_RTOL):
    """Check one recorded node's backward against central differences of its forward.

    ``inputs``: the tensors the op was called with, one per ``node.next_functions`` entry (None
    for an input the node does not take as a tensor); they are copied to float64 and the node's
    ``replay`` recomputes the output from the copies.  ``cotangent``: the gradient that flowed
    into the node (an array of ``out_shape``), else ones (one element) or a fixed random one.
    The vector-Jacobian product of the node's backward with the cotangent is compared, element
    by element (a sample of ``max_elems`` per input, within ``budget_s``), with the numerical
    derivative of ``sum(cotangent * replay(inputs))``.  Elements where the one-sided differences
    disagree (a kink: relu at 0, clamp at a bound) are skipped and counted.

    Returns a dict: ``ok``, ``reason`` (why nothing could be compared), ``eps``, ``cotangent``
    ("recorded", "ones" or "random"), ``inputs`` (one entry per compared input: index, node
    name, checked, skipped, numel, max_abs_diff, max_rel_diff, analytic_norm, numeric_norm, ok),
    ``sampled`` and ``partial`` (outputs that were NaN/inf were left out)."""
    from ..tensor import Tensor
    from . import grad as autograd_grad
    from . import observe

    if getattr(node, "n_outputs", 1) != 1 or not node.can_replay():
        return _refused(f"no forward rule for {node.name()}")
    edges = node.next_functions
    xs, checked = [], []
    for i, t in enumerate(inputs):
        if t is None:
            xs.append(None)
            continue
        a = t._data
        floating = a.dtype.kind == "f"
        a = _host64(a) if floating else _host64(a, a.dtype)
        if floating and i < len(edges) and edges[i][0] is not None:
            if a.size > max_numel:
                return _refused(f"input {i} has {a.size} elements: too large to check")
            checked.append(i)
        xs.append(Tensor._make(a))
    if not checked:
        return _refused("no input of this node needs a gradient")
    out_shape = tuple(out_shape)
    n_out = int(np.prod(out_shape)) if out_shape else 1
    if n_out > max_numel:
        return _refused(f"the output has {n_out} elements: too large to check")
    if cotangent is not None and tuple(np.shape(cotangent)) == out_shape:
        cot, cot_kind = _host64(cotangent), "recorded"
    elif n_out == 1:
        cot, cot_kind = np.ones(out_shape), "ones"
    else:
        cot, cot_kind = np.random.default_rng(0).standard_normal(out_shape), "random"

    prev = observe._active
    observe._active = None  # the check itself is not part of anybody's graph
    try:
        for i in checked:
            xs[i].requires_grad_(True)
        with enable_grad():
            out = node.replay(xs, out_shape)
        if tuple(out.shape) != out_shape:
            return _refused(f"the forward rule of {node.name()} made shape {list(out.shape)}, not {list(out_shape)}")
        finite = np.isfinite(_host64(out._data)) & np.isfinite(cot)
        if not finite.any():
            return _refused("the node's output (or the gradient flowing into it) is not finite: nothing to compare")
        cot = np.where(finite, cot, 0.0)
        partial = not finite.all()
        with no_grad():
            if not node.replay_rebuilds:
                grads = node.backward(Tensor._make(cot.astype(out._data.dtype)))
                grads = [grads[i] if i < len(grads) else None for i in checked]
            else:
                if type(out.grad_fn) is not type(node):
                    made = out.grad_fn.name() if out.grad_fn is not None else "no node"
                    return _refused(f"the forward rule of {node.name()} rebuilt {made} instead")
                grads = autograd_grad(out, [xs[i] for i in checked], grad_outputs=Tensor._make(cot),
                                      allow_unused=True)
        for i in checked:
            xs[i].requires_grad_(False)
        analytic = []
        for i, g in zip(checked, grads):
            shape = xs[i]._data.shape
            if g is None:
                analytic.append(np.zeros(shape))
            else:
                ga = _host64(g._data)
                analytic.append(np.broadcast_to(ga, shape) if ga.shape != shape else ga)

        def loss():
            with no_grad():
                v = node.replay(xs, out_shape)
            return float(np.sum(cot * np.where(finite, _host64(v._data), 0.0)))

        t0 = time.perf_counter()
        base = loss()
        t_eval = max(time.perf_counter() - t0, 1e-6)
        deadline = time.perf_counter() + budget_s
        per_input = max(1, int(budget_s / (2 * t_eval * len(checked))))
        results = []
        for i, ga in zip(checked, analytic):
            results.append(_compare_input(i, xs[i]._data.reshape(-1), ga.reshape(-1), loss, base, eps,
                                          min(max_elems, per_input), deadline, partial, atol, rtol,
                                          input_names[i] if input_names and i < len(input_names) else None))
    finally:
        observe._active = prev
    ok = all(e["ok"] for e in results)
    reason = None
    if not ok and all(e["checked"] == 0 for e in results):
        reason = "no element could be compared (the op is not differentiable at these values)"
    return {"ok": ok, "reason": reason, "eps": eps, "cotangent": cot_kind, "inputs": results,
            "sampled": [e["index"] for e in results if e["checked"] + e["skipped"] < e["numel"]],
            "partial": partial}


def _compare_input(i, flat, gflat, loss, base, eps, most, deadline, partial, atol, rtol, name):
    """Central differences of ``loss`` over (a sample of) the elements of ``flat`` (a view of
    the input, perturbed in place) against the analytic gradient ``gflat``."""
    if most >= flat.size:
        idx = np.arange(flat.size)
    else:
        idx = np.sort(np.random.default_rng(1234 + i).choice(flat.size, most, replace=False))
    num = np.empty(idx.size)
    keep = np.ones(idx.size, dtype=bool)
    done = 0
    for k, j in enumerate(idx):
        if time.perf_counter() > deadline and done:
            break
        orig = flat[j]
        flat[j] = orig + eps
        fp = loss()
        flat[j] = orig - eps
        fm = loss()
        flat[j] = orig
        num[k] = (fp - fm) / (2 * eps)
        dp, dm = (fp - base) / eps, (base - fm) / eps
        if not (np.isfinite(fp) and np.isfinite(fm)) or abs(dp - dm) > 0.1 * max(abs(dp), abs(dm)) + 1e-4:
            keep[k] = False  # not differentiable here (a kink, a pole): skipped
        done += 1
    num, sel, keep = num[:done], idx[:done], keep[:done]
    a_sel = gflat[sel]
    if partial:  # gradients through NaN/inf outputs are NaN whatever the rule: left out
        keep &= np.isfinite(a_sel)
    a_k, n_k = a_sel[keep], num[keep]
    entry = {"index": i, "node": name, "checked": int(keep.sum()), "skipped": int((~keep).sum()),
             "numel": int(flat.size), "max_abs_diff": None, "max_rel_diff": None,
             "analytic_norm": float(np.linalg.norm(a_k)), "numeric_norm": float(np.linalg.norm(n_k)), "ok": False}
    if a_k.size:
        diff = np.abs(a_k - n_k)
        mag = np.maximum(np.abs(a_k), np.abs(n_k))
        tol = atol * max(1.0, float(mag.max())) + rtol * mag
        entry["max_abs_diff"] = float(diff.max())
        entry["max_rel_diff"] = float((diff / np.maximum(mag, atol)).max())
        entry["ok"] = bool(np.all(diff <= tol)) and bool(np.all(np.isfinite(a_k)))
    return entry

"""Shared helpers: run the same optimization problem on real PyTorch and on the engine."""
import copy

import numpy as np
import torch

import engine

RNG = np.random.default_rng(1234)
W0 = RNG.uniform(-1, 1, (3, 4))
B0 = RNG.uniform(-1, 1, (3,))
X = RNG.uniform(-1, 1, (8, 4))
Y = RNG.uniform(-1, 1, (8, 3))

DT = {"float32": (torch.float32, engine.float32), "float64": (torch.float64, engine.float64)}
# A few steps of an optimizer on this problem are well conditioned: a parameter is a short sum
# (8 samples x 4 features) of terms near 1 plus an update, so one step's rounding is a few ulp
# and TOL (~100 ulp relative in float32, ~5e5 ulp in float64) leaves room for many steps.  Over 25
# steps some optimizers amplify rounding: Adam-type updates divide by sqrt(v), and where a gradient
# is near 0 its rounding noise becomes a step of size ~lr.  assert_trajectory measures that
# amplification on PyTorch itself (see rounding_spread) and widens the tolerance by it.
TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}
UNIT_ROUNDOFF = {"float32": 2.0 ** -24, "float64": 2.0 ** -53}
# Each gradient element is perturbed by NOISE_ULPS units of roundoff at every step: its sum over
# 8 samples of 4-term products rounds differently by at most 2*K*u with K = 8 (see parity._tol), so
# 16 u covers the gradient; the update's own few operations are of the same order, hence SAFETY.
NOISE_ULPS = 16
SAFETY = 4
# Beyond this relative spread a trajectory is too chaotic to compare (compare fewer steps).
MAX_SPREAD = {"float32": 1e-3, "float64": 1e-8}


def make_params(lib, dtype):
    d = DT[dtype][0 if lib is torch else 1]
    return [lib.nn.Parameter(lib.tensor(W0.copy(), dtype=d)), lib.nn.Parameter(lib.tensor(B0.copy(), dtype=d))]


def loss_fn(lib, params, dtype, sign=1.0):
    d = DT[dtype][0 if lib is torch else 1]
    w, b = params
    x = lib.tensor(X, dtype=d)
    y = lib.tensor(Y, dtype=d)
    r = x @ w.t() + b - y
    loss = (r * r).mean() + 0.1 * lib.tanh(w).pow(2).sum() + 0.05 * lib.sin(3 * b).sum()
    return loss * sign


def build(lib, name, kwargs, dtype, groups=False):
    params = make_params(lib, dtype)
    opt_cls = getattr(lib.optim, name)
    if groups:
        opt = opt_cls([{"params": [params[0]]}, {"params": [params[1]], "lr": kwargs.get("lr", 0.01) * 0.5}],
                      **kwargs)
    else:
        opt = opt_cls(params, **kwargs)
    return params, opt


def perturb_grads(params, noise, dtype):
    """Multiply every gradient element by 1 +- NOISE_ULPS*u (random signs from ``noise``): the
    rounding difference another machine's kernels could make in that gradient."""
    if noise is None:
        return
    scale = NOISE_ULPS * UNIT_ROUNDOFF[dtype]
    for p in params:
        if p.grad is not None:
            factor = 1.0 + scale * noise.choice([-1.0, 1.0], tuple(p.grad.shape))
            p.grad.mul_(torch.from_numpy(factor).to(p.grad.dtype))


def train(lib, params, opt, dtype, steps, sign=1.0, closure_mode=False, noise=None):
    for _ in range(steps):
        if closure_mode:
            def closure():
                opt.zero_grad()
                loss = loss_fn(lib, params, dtype, sign)
                loss.backward()
                perturb_grads(params, noise, dtype)
                return loss
            opt.step(closure)
        else:
            opt.zero_grad()
            loss_fn(lib, params, dtype, sign).backward()
            perturb_grads(params, noise, dtype)
            opt.step()


def values(params):
    return [p.detach().numpy().copy() for p in params]


def assert_close(a_list, b_list, dtype):
    for a, b in zip(a_list, b_list):
        np.testing.assert_allclose(b, a, **TOL[dtype])


def rounding_spread(run_torch, dtype, trials=3):
    """PyTorch's result, and how far it moves, element by element, when every step's gradients carry
    rounding-sized noise (max over ``trials`` noise patterns).  ``run_torch(noise)`` runs the
    PyTorch side with ``noise`` (a numpy Generator, or None for the plain run) and returns arrays.

    Rounding differences propagate through the iteration like this noise does (to first order the
    error after T steps is the sum over steps of the later steps' Jacobians times that step's
    rounding), so the spread is the trajectory's own measure of how much it amplifies rounding."""
    base = [np.asarray(v, np.float64) for v in run_torch(None)]
    spread = [np.zeros_like(b) for b in base]
    for seed in range(trials):
        for s, b, o in zip(spread, base, run_torch(np.random.default_rng(seed))):
            np.maximum(s, np.abs(np.asarray(o, np.float64) - b), out=s)
    return base, spread


def assert_trajectory(t_list, e_list, spread, dtype):
    """The engine's parameters equal PyTorch's within TOL plus SAFETY times the rounding spread."""
    tol = TOL[dtype]
    for i, (t, e, s) in enumerate(zip(t_list, e_list, spread)):
        t = np.asarray(t, np.float64)
        rel_spread = float(np.max(s / (np.abs(t) + tol["atol"] / tol["rtol"])))
        assert rel_spread <= MAX_SPREAD[dtype], (
            f"param {i}: PyTorch itself moves by {rel_spread:.2e} (relative) under rounding-sized "
            f"noise: too chaotic to compare over this many steps")
        allowed = tol["atol"] + tol["rtol"] * np.abs(t) + SAFETY * s
        err = np.abs(np.asarray(e, np.float64) - t)
        bad = err > allowed
        assert not bad.any(), (
            f"param {i}: {int(bad.sum())} of {t.size} differ; worst {float(err[bad].max()):.3e} where "
            f"{float(allowed[bad][np.argmax(err[bad])]):.3e} is allowed (rounding spread "
            f"{float(s.max()):.3e})\nengine {np.asarray(e).ravel()}\ntorch  {t.ravel()}")


def compare_state(t_sd, e_sd, dtype, values=True):
    """Structure (and, with ``values``, the values) of the two state dicts agree."""
    assert set(t_sd) == set(e_sd)
    assert len(t_sd["param_groups"]) == len(e_sd["param_groups"])
    for tg, eg in zip(t_sd["param_groups"], e_sd["param_groups"]):
        assert sorted(tg) == sorted(eg)
        for k in tg:
            if k not in ("foreach", "fused"):
                assert tg[k] == eg[k], k
    assert sorted(t_sd["state"]) == sorted(e_sd["state"])
    for k in t_sd["state"]:
        ts, es = t_sd["state"][k], e_sd["state"][k]
        assert list(ts) == list(es)
        for key in ts:
            tv, ev = ts[key], es[key]
            if isinstance(tv, torch.Tensor):
                assert isinstance(ev, engine.Tensor), key
                assert str(tv.dtype) == str(ev.dtype), key
                assert tuple(tv.shape) == tuple(ev.shape), key
                if values:  # loose: for the structure tests; trajectories compare state with assert_trajectory
                    np.testing.assert_allclose(ev.numpy(), tv.numpy(), rtol=1e-4, atol=1e-6)
            elif isinstance(tv, (int, float)):
                assert tv == ev, key

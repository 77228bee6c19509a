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
TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


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


def train(lib, params, opt, dtype, steps, sign=1.0, closure_mode=False):
    for _ in range(steps):
        if closure_mode:
            def closure():
                opt.zero_grad()
                loss = loss_fn(lib, params, dtype, sign)
                loss.backward()
                return loss
            opt.step(closure)
        else:
            opt.zero_grad()
            loss_fn(lib, params, dtype, sign).backward()
            opt.step()


def values(params):
    return [p.detach().numpy().copy() for p in params]


def assert_close(a_list, b_list, dtype):
    for a, b in zip(a_list, b_list):
        np.testing.assert_allclose(b, a, **TOL[dtype])


def compare_state(t_sd, e_sd, dtype):
    """Structure and values of the two state dicts agree."""
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
                np.testing.assert_allclose(ev.numpy(), tv.numpy(), rtol=1e-4, atol=1e-6)
            elif isinstance(tv, (int, float)):
                assert tv == ev, key

"""Every optimizer and its main options: 25 steps on the same problem give PyTorch's parameters."""
import copy

import numpy as np
import pytest
import torch

import engine
from _optim_common import assert_close, assert_trajectory, build, compare_state, rounding_spread, train, values

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("Adam", dict(lr=0.05, betas=(0.3, 0.9), decoupled_weight_decay=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, amsgrad=True, weight_decay=0.2)),
    ("AdamW", dict(lr=0.05, maximize=True)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1, betas=(0.8, 0.99))),
    ("Adamax", dict(lr=0.05, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, maximize=True)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, betas=(0.8, 0.9))),
    ("RAdam", dict(lr=0.05, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1, alpha=0.9)),
    ("RMSprop", dict(lr=0.01, maximize=True, eps=1e-4)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, maximize=True, eps=1e-6)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5)),
    ("Adadelta", dict(lr=2.0, weight_decay=0.1, eps=1e-4)),
    ("Adadelta", dict(maximize=True)),
    ("ASGD", dict(lr=0.1)),
    ("ASGD", dict(lr=0.1, t0=5)),
    ("ASGD", dict(lr=0.1, t0=3, lambd=0.01, alpha=0.5, weight_decay=0.1)),
    ("ASGD", dict(lr=0.1, t0=5, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(1e-4, 0.05))),
    ("Rprop", dict(lr=0.01, maximize=True)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for n, kw in CASES]


def _run_both(name, kwargs, dtype, steps=25, groups=False, closure_mode=False):
    """Both libraries' runs, and PyTorch's rounding spread over the same steps (see rounding_spread)."""
    sign = -1.0 if kwargs.get("maximize") else 1.0
    tp, topt = build(torch, name, kwargs, dtype, groups)
    ep, eopt = build(engine, name, kwargs, dtype, groups)
    train(torch, tp, topt, dtype, steps, sign, closure_mode)
    train(engine, ep, eopt, dtype, steps, sign, closure_mode)

    def run_torch(noise):
        p, o = build(torch, name, kwargs, dtype, groups)
        train(torch, p, o, dtype, steps, sign, closure_mode, noise=noise)
        return values(p) + state_values(o.state_dict())

    _, spread = rounding_spread(run_torch, dtype)
    return tp, topt, ep, eopt, spread


def state_values(sd):
    """The optimizer state's tensors, in a fixed order."""
    return [sd["state"][k][key].detach().numpy().copy() for k in sorted(sd["state"])
            for key in sorted(sd["state"][k]) if hasattr(sd["state"][k][key], "shape")
            and sd["state"][k][key].dim() > 0]


def engine_state_values(sd):
    return [sd["state"][k][key].numpy().copy() for k in sorted(sd["state"])
            for key in sorted(sd["state"][k]) if isinstance(sd["state"][k][key], engine.Tensor)
            and sd["state"][k][key].dim() > 0]


def assert_same_run(tp, topt, ep, eopt, spread, dtype):
    """Parameters and every state tensor within rounding (TOL plus the measured spread)."""
    tvals = values(tp) + state_values(topt.state_dict())
    evals = values(ep) + engine_state_values(eopt.state_dict())
    assert len(tvals) == len(evals)
    assert_trajectory(tvals, evals, spread, dtype)
    compare_state(topt.state_dict(), eopt.state_dict(), dtype, values=False)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_trajectory(name, kwargs, dtype):
    # 25 steps; Adam with beta1 = 0.3 in float32 amplifies rounding past MAX_SPREAD by then (its
    # step is ~lr*sign(g) where g is near 0), so that case is compared over its first 10 steps
    steps = 10 if dtype == "float32" and kwargs.get("betas", (0.9,))[0] < 0.5 else 25
    assert_same_run(*_run_both(name, kwargs, dtype, steps), dtype)


@pytest.mark.parametrize("name,kwargs", CASES[::3], ids=IDS[::3])
def test_param_groups(name, kwargs):
    tp, topt, ep, eopt, spread = _run_both(name, kwargs, "float64", steps=10, groups=True)
    assert_same_run(tp, topt, ep, eopt, spread, "float64")
    assert repr(topt) == repr(eopt)


def _round_trip(lib, name, kwargs, dtype, sign, noise=None):
    """10 steps, save the state dict, load it into a fresh optimizer over the same parameters, 15 more."""
    params, opt = build(lib, name, kwargs, dtype)
    train(lib, params, opt, dtype, 10, sign, noise=noise)
    sd = copy.deepcopy(opt.state_dict())
    opt2 = getattr(lib.optim, name)(params, **kwargs)
    opt2.load_state_dict(sd)
    train(lib, params, opt2, dtype, 15, sign, noise=noise)
    return params, opt2


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_state_dict_round_trip(name, kwargs):
    dtype = "float64"
    sign = -1.0 if kwargs.get("maximize") else 1.0
    tp, topt = _round_trip(torch, name, kwargs, dtype, sign)
    ep, eopt = _round_trip(engine, name, kwargs, dtype, sign)

    def run_torch(noise):
        p, o = _round_trip(torch, name, kwargs, dtype, sign, noise)
        return values(p) + state_values(o.state_dict())

    assert_same_run(tp, topt, ep, eopt, rounding_spread(run_torch, dtype)[1], dtype)
    # and the uninterrupted run ends at the same place: the same library on the same machine runs
    # the same operations in the same order, and a state dict round trip copies values exactly
    cp, copt = build(engine, name, kwargs, dtype)
    train(engine, cp, copt, dtype, 25, sign)
    assert_close(values(cp), values(ep), "float32")


@pytest.mark.parametrize("name,kwargs", [c for c in CASES if c[0] in ("SGD", "Adam", "RMSprop")][:6])
def test_closure_step_returns_loss(name, kwargs):
    dtype = "float64"
    tp, topt, ep, eopt, spread = _run_both(name, kwargs, dtype, 5, closure_mode=True)
    assert_same_run(tp, topt, ep, eopt, spread, dtype)


def test_state_dict_loaded_across_dtype_casts_state():
    tp, topt = build(torch, "Adam", dict(lr=0.05), "float64")
    ep, eopt = build(engine, "Adam", dict(lr=0.05), "float64")
    train(engine, ep, eopt, "float64", 3)
    train(torch, tp, topt, "float64", 3)
    ep32, eopt32 = build(engine, "Adam", dict(lr=0.05), "float32")
    tp32, topt32 = build(torch, "Adam", dict(lr=0.05), "float32")
    eopt32.load_state_dict(eopt.state_dict())
    topt32.load_state_dict(topt.state_dict())
    es, ts = eopt32.state[ep32[0]], topt32.state[tp32[0]]
    assert str(es["exp_avg"].dtype) == str(ts["exp_avg"].dtype) == "torch.float32"
    assert str(es["step"].dtype) == str(ts["step"].dtype)


def test_sparse_adam_rejects_dense_grads():
    for lib in (torch, engine):
        p = lib.nn.Parameter(lib.ones(4, 3))
        opt = lib.optim.SparseAdam([p])
        (p * p).sum().backward()
        with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients, please consider "
                                                "Adam instead"):
            opt.step()
    assert repr(engine.optim.SparseAdam([engine.nn.Parameter(engine.ones(2))])) == \
        repr(torch.optim.SparseAdam([torch.nn.Parameter(torch.ones(2))]))
    with pytest.raises(ValueError, match="Invalid learning rate: 0.0"):
        engine.optim.SparseAdam([engine.nn.Parameter(engine.ones(2))], lr=0.0)


def test_no_graph_and_version_bump():
    ep, eopt = build(engine, "Adam", dict(lr=0.05), "float32")
    v0 = ep[0]._version
    train(engine, ep, eopt, "float32", 2)
    assert ep[0]._version > v0
    assert ep[0].grad_fn is None and ep[0].is_leaf and ep[0].requires_grad
    for st in eopt.state.values():
        for v in st.values():
            if isinstance(v, engine.Tensor):
                assert not v.requires_grad and v.grad_fn is None


def test_param_without_grad_is_skipped():
    for lib in (torch, engine):
        a = lib.nn.Parameter(lib.ones(2))
        b = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.Adam([a, b], lr=0.1)
        (a * 2).sum().backward()
        opt.step()
        assert len(opt.state) == 1
        assert b.detach().numpy().tolist() == [1.0, 1.0]

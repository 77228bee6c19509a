"""Every optimizer and its main options: 25 steps on the same problem give PyTorch's parameters."""
import copy

import numpy as np
import pytest
import torch

import engine
from _optim_common import assert_close, build, compare_state, train, values

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


def _run_both(name, kwargs, dtype, steps=25, groups=False):
    sign = -1.0 if kwargs.get("maximize") else 1.0
    tp, topt = build(torch, name, kwargs, dtype, groups)
    ep, eopt = build(engine, name, kwargs, dtype, groups)
    train(torch, tp, topt, dtype, steps, sign)
    train(engine, ep, eopt, dtype, steps, sign)
    return tp, topt, ep, eopt


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_trajectory(name, kwargs, dtype):
    tp, topt, ep, eopt = _run_both(name, kwargs, dtype)
    assert_close(values(tp), values(ep), dtype)
    compare_state(topt.state_dict(), eopt.state_dict(), dtype)


@pytest.mark.parametrize("name,kwargs", CASES[::3], ids=IDS[::3])
def test_param_groups(name, kwargs):
    tp, topt, ep, eopt = _run_both(name, kwargs, "float64", steps=10, groups=True)
    assert_close(values(tp), values(ep), "float64")
    assert repr(topt) == repr(eopt)


def _round_trip(lib, name, kwargs, dtype, sign):
    """10 steps, save the state dict, load it into a fresh optimizer over the same parameters, 15 more."""
    params, opt = build(lib, name, kwargs, dtype)
    train(lib, params, opt, dtype, 10, sign)
    sd = copy.deepcopy(opt.state_dict())
    opt2 = getattr(lib.optim, name)(params, **kwargs)
    opt2.load_state_dict(sd)
    train(lib, params, opt2, dtype, 15, sign)
    return params, opt2


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_state_dict_round_trip(name, kwargs):
    dtype = "float64"
    sign = -1.0 if kwargs.get("maximize") else 1.0
    tp, topt = _round_trip(torch, name, kwargs, dtype, sign)
    ep, eopt = _round_trip(engine, name, kwargs, dtype, sign)
    assert_close(values(tp), values(ep), dtype)
    compare_state(topt.state_dict(), eopt.state_dict(), dtype)
    # and the uninterrupted run ends at (nearly) the same place
    cp, copt = build(engine, name, kwargs, dtype)
    train(engine, cp, copt, dtype, 25, sign)
    assert_close(values(cp), values(ep), "float32")


@pytest.mark.parametrize("name,kwargs", [c for c in CASES if c[0] in ("SGD", "Adam", "RMSprop")][:6])
def test_closure_step_returns_loss(name, kwargs):
    dtype = "float64"
    sign = -1.0 if kwargs.get("maximize") else 1.0
    tp, topt = build(torch, name, kwargs, dtype)
    ep, eopt = build(engine, name, kwargs, dtype)
    train(torch, tp, topt, dtype, 5, sign, closure_mode=True)
    train(engine, ep, eopt, dtype, 5, sign, closure_mode=True)
    assert_close(values(tp), values(ep), dtype)


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

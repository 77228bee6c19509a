"""Optimizer base behaviour: construction errors, param groups, zero_grad, repr, hooks, pickling."""
import copy
import importlib
import pickle
import warnings

import numpy as np
import pytest
import torch

import engine

ALL = ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta", "ASGD", "Rprop",
       "LBFGS", "SparseAdam"]


def _p(lib, *shape):
    return lib.nn.Parameter(lib.ones(*shape))


def _err(fn_t, fn_e, exc):
    with pytest.raises(exc) as et:
        fn_t()
    with pytest.raises(exc) as ee:
        fn_e()
    assert str(et.value) == str(ee.value)
    return str(ee.value)


@pytest.mark.parametrize("name", ALL)
def test_repr_and_defaults(name):
    kw = {"lr": 0.1} if name == "SGD" else {}
    t = getattr(torch.optim, name)([_p(torch, 2)], **kw)
    e = getattr(engine.optim, name)([_p(engine, 2)], **kw)
    assert repr(t) == repr(e)
    assert t.defaults == e.defaults
    assert list(t.defaults) == list(e.defaults)


@pytest.mark.parametrize("name", [n for n in ALL if n != "SparseAdam"])
def test_invalid_learning_rate(name):
    msg = _err(lambda: getattr(torch.optim, name)([_p(torch, 2)], lr=-0.1),
               lambda: getattr(engine.optim, name)([_p(engine, 2)], lr=-0.1), ValueError)
    assert msg == "Invalid learning rate: -0.1"


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(momentum=-1)), ("SGD", dict(weight_decay=-1)), ("SGD", dict(nesterov=True)),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1)),
    ("Adam", dict(eps=-1)), ("Adam", dict(betas=(1.0, 0.9))), ("Adam", dict(betas=(0.9, -0.1))),
    ("Adam", dict(weight_decay=-1)), ("AdamW", dict(betas=(0.9, 1.5))), ("NAdam", dict(momentum_decay=-1)),
    ("RMSprop", dict(alpha=-1)), ("RMSprop", dict(momentum=-1)), ("Adagrad", dict(lr_decay=-1)),
    ("Adagrad", dict(initial_accumulator_value=-1)), ("Adadelta", dict(rho=1.5)), ("Rprop", dict(etas=(1.1, 1.2))),
    ("SparseAdam", dict(eps=0.0)), ("RAdam", dict(eps=-1)), ("Adamax", dict(betas=(0.5, 2))),
])
def test_invalid_hyperparameters(name, kw):
    kw = dict(kw, lr=0.1)
    _err(lambda: getattr(torch.optim, name)([_p(torch, 2)], **kw),
         lambda: getattr(engine.optim, name)([_p(engine, 2)], **kw), ValueError)


def test_construction_errors():
    assert _err(lambda: torch.optim.SGD([], lr=0.1), lambda: engine.optim.SGD([], lr=0.1),
                ValueError) == "optimizer got an empty parameter list"
    assert _err(lambda: torch.optim.SGD(_p(torch, 2), lr=0.1), lambda: engine.optim.SGD(_p(engine, 2), lr=0.1),
                TypeError).endswith("but got torch.FloatTensor")
    a, b = _p(torch, 2), _p(engine, 2)
    assert _err(lambda: torch.optim.SGD([{"params": [a]}, {"params": [a]}], lr=0.1),
                lambda: engine.optim.SGD([{"params": [b]}, {"params": [b]}], lr=0.1),
                ValueError) == "some parameters appear in more than one parameter group"
    _err(lambda: torch.optim.SGD([torch.ones(2, requires_grad=True) * 2], lr=0.1),
         lambda: engine.optim.SGD([engine.ones(2, requires_grad=True) * 2], lr=0.1), ValueError)
    _err(lambda: torch.optim.SGD([1.0], lr=0.1), lambda: engine.optim.SGD([1.0], lr=0.1), TypeError)
    _err(lambda: torch.optim.SGD([{"params": {_p(torch, 1)}}], lr=0.1),
         lambda: engine.optim.SGD([{"params": {_p(engine, 1)}}], lr=0.1), TypeError)
    _err(lambda: torch.optim.Adam([{"params": [_p(torch, 1)]}]).add_param_group([1]),
         lambda: engine.optim.Adam([{"params": [_p(engine, 1)]}]).add_param_group([1]), TypeError)


def test_params_from_generator_and_named_params():
    for lib in (torch, engine):
        ps = [_p(lib, 2), _p(lib, 3)]
        opt = lib.optim.SGD((p for p in ps), lr=0.1)
        assert len(opt.param_groups[0]["params"]) == 2
        opt = lib.optim.SGD([("w", ps[0]), ("b", ps[1])], lr=0.1)
        assert opt.param_groups[0]["param_names"] == ["w", "b"]
        assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


def test_duplicate_params_warn():
    res = []
    for lib in (torch, engine):
        p = _p(lib, 2)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            lib.optim.SGD([p, p], lr=0.1)
        res.append([str(x.message) for x in w])
    assert res[0] == res[1] and len(res[0]) == 1


def test_add_param_group_and_state_dict_indices():
    out = []
    for lib in (torch, engine):
        a, b, c = _p(lib, 2), _p(lib, 3), _p(lib, 1)
        opt = lib.optim.Adam([a, b], lr=0.1, betas=(0.8, 0.9))
        opt.add_param_group({"params": c, "lr": 0.01, "amsgrad": True})
        ((a * a).sum() + (b * 2).sum() + (c ** 3).sum()).backward()
        opt.step()
        sd = opt.state_dict()
        out.append((repr(opt), sd["param_groups"], {k: sorted(v) for k, v in sd["state"].items()}))
        with pytest.raises(ValueError, match="parameter group didn't specify a value of required optimization "
                                             "parameter lr"):
            o = lib.optim.SGD([a], lr=0.1)
            o.defaults["lr"] = importlib.import_module(lib.__name__ + ".optim.optimizer").required
            o.add_param_group({"params": [c]})
        with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
            opt.add_param_group({"params": [a]})
    assert out[0] == out[1]


def test_zero_grad():
    for lib in (torch, engine):
        p = _p(lib, 3)
        opt = lib.optim.SGD([p], lr=0.1)
        (p * 2).sum().backward()
        g = p.grad
        opt.zero_grad(set_to_none=False)
        assert p.grad is g and p.grad.tolist() == [0.0, 0.0, 0.0]
        opt.zero_grad()
        assert p.grad is None


def test_load_state_dict_errors():
    for lib in (torch, engine):
        a, b = _p(lib, 2), _p(lib, 2)
        o1 = lib.optim.SGD([a, b], lr=0.1)
        o2 = lib.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
        with pytest.raises(ValueError, match="loaded state dict has a different number of parameter groups"):
            o1.load_state_dict(o2.state_dict())
        o3 = lib.optim.SGD([a], lr=0.1)
        with pytest.raises(ValueError, match="loaded state dict contains a parameter group that doesn't match"):
            o3.load_state_dict(o1.state_dict())


def test_load_state_dict_restores_hyperparameters():
    for lib in (torch, engine):
        a = _p(lib, 2)
        o1 = lib.optim.SGD([a], lr=0.3, momentum=0.5)
        o2 = lib.optim.SGD([a], lr=0.1)
        o2.load_state_dict(o1.state_dict())
        assert o2.param_groups[0]["lr"] == 0.3 and o2.param_groups[0]["momentum"] == 0.5
        assert o2.param_groups[0]["params"][0] is a


def test_step_hooks():
    calls = {}
    for lib in (torch, engine):
        log = []
        p = _p(lib, 2)
        opt = lib.optim.SGD([p], lr=0.1)
        h1 = opt.register_step_pre_hook(lambda o, args, kw: log.append(("pre", len(args), type(o).__name__)))
        h2 = opt.register_step_post_hook(lambda o, args, kw: log.append(("post", len(args))))
        g = importlib.import_module(lib.__name__ + ".optim.optimizer").register_optimizer_step_pre_hook(lambda o, a, k: log.append("global"))
        opt.step()
        h1.remove()
        h2.remove()
        g.remove()
        opt.step()
        calls[lib.__name__] = log
    assert calls["torch"] == calls["engine"] == ["global", ("pre", 1, "SGD"), ("post", 1)]


def test_state_dict_hooks():
    for lib in (torch, engine):
        p = _p(lib, 2)
        opt = lib.optim.SGD([p], lr=0.1)
        opt.register_state_dict_post_hook(lambda o, sd: dict(sd, extra=1))
        assert opt.state_dict()["extra"] == 1
        seen = []
        opt.register_load_state_dict_post_hook(lambda o: seen.append(1))
        opt.load_state_dict(opt.state_dict())
        assert seen == [1]


def test_deepcopy_and_pickle():
    p = _p(engine, 2)
    opt = engine.optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    for clone in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
        assert repr(clone) == repr(opt)
        st = list(clone.state.values())[0]
        assert float(st["step"]) == 1.0
        clone.step()


def test_step_under_no_grad_and_closure_gets_grad():
    for lib in (torch, engine):
        p = _p(lib, 2)
        opt = lib.optim.SGD([p], lr=0.1)

        def closure():
            opt.zero_grad()
            loss = (p * p).sum()
            assert loss.requires_grad
            loss.backward()
            return loss

        with lib.no_grad():
            loss = opt.step(closure)
        # 1*1 + 1*1 is exact; 1 - 0.1*2 is one float32 rounding away from 0.8 (approx: 1e-6 relative)
        assert float(loss.detach()) == 2.0
        assert p.detach().tolist() == pytest.approx([0.8, 0.8])


def test_lr_tensor_sgd():
    out = []
    for lib in (torch, engine):
        p = _p(lib, 2)
        opt = lib.optim.SGD([p], lr=lib.tensor(0.25), momentum=0.5)
        for _ in range(3):
            opt.zero_grad()
            (p * p).sum().backward()
            opt.step()
        out.append(p.detach().tolist())
    # 3 elementwise float32 steps (no reductions across elements): a few ulp, inside approx's 1e-6
    assert out[0] == pytest.approx(out[1])

"""Every scheduler: the learning rates (and cycled momenta) over many steps equal PyTorch's."""
import copy
import math
import warnings

import numpy as np
import pytest
import torch

import engine


def _opt(lib, name="SGD", groups=1, **kw):
    ps = [lib.nn.Parameter(lib.ones(2)) for _ in range(groups)]
    kw = dict(lr=0.1, momentum=0.9, **kw) if name == "SGD" else dict(lr=0.1, **kw)
    if groups == 1:
        return getattr(lib.optim, name)(ps, **kw)
    return getattr(lib.optim, name)([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(ps)], **kw)


def _momenta(opt):
    out = []
    for g in opt.param_groups:
        out.append(g["betas"][0] if "betas" in g else g.get("momentum"))
    return out


SCHEDULERS = {
    "StepLR": lambda L, o: L.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda L, o: L.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3),
    "ExponentialLR": lambda L, o: L.ExponentialLR(o, gamma=0.95),
    "CosineAnnealingLR": lambda L, o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "CosineAnnealingWarmRestarts": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=5, eta_min=0.01),
    "CosineAnnealingWarmRestarts-Tmult": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    "LinearLR": lambda L, o: L.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=8),
    "ConstantLR": lambda L, o: L.ConstantLR(o, factor=0.5, total_iters=6),
    "LambdaLR": lambda L, o: L.LambdaLR(o, lr_lambda=lambda e: 1.0 / (1 + 0.3 * e)),
    "MultiplicativeLR": lambda L, o: L.MultiplicativeLR(o, lr_lambda=lambda e: 0.97 if e % 3 else 1.01),
    "PolynomialLR": lambda L, o: L.PolynomialLR(o, total_iters=20, power=2.0),
    "OneCycleLR-cos": lambda L, o: L.OneCycleLR(o, max_lr=1.0, total_steps=60),
    "OneCycleLR-linear": lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 0.5][:len(o.param_groups)] if len(
        o.param_groups) == 2 else 1.0, total_steps=60, anneal_strategy="linear", pct_start=0.4),
    "OneCycleLR-three-phase": lambda L, o: L.OneCycleLR(o, max_lr=0.8, epochs=6, steps_per_epoch=10,
                                                        three_phase=True, div_factor=10.0),
    "OneCycleLR-no-momentum": lambda L, o: L.OneCycleLR(o, max_lr=0.8, total_steps=60, cycle_momentum=False),
    "CyclicLR-triangular": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5),
    "CyclicLR-triangular2": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4,
                                                    step_size_down=6, mode="triangular2"),
    "CyclicLR-exp_range": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range",
                                                  gamma=0.97, base_momentum=0.7, max_momentum=0.95),
    "CyclicLR-scale_fn": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3,
                                                 scale_fn=lambda x: 0.5 ** x, scale_mode="iterations",
                                                 cycle_momentum=False),
    "SequentialLR": lambda L, o: L.SequentialLR(o, schedulers=[L.LinearLR(o, start_factor=0.1, total_iters=5),
                                                               L.ExponentialLR(o, gamma=0.9)], milestones=[5]),
    "SequentialLR-3": lambda L, o: L.SequentialLR(o, schedulers=[L.ConstantLR(o, factor=0.1, total_iters=4),
                                                                 L.StepLR(o, step_size=3, gamma=0.5),
                                                                 L.CosineAnnealingLR(o, T_max=8)],
                                                  milestones=[4, 15]),
    "ChainedScheduler": lambda L, o: L.ChainedScheduler([L.ConstantLR(o, factor=0.5, total_iters=4),
                                                         L.ExponentialLR(o, gamma=0.9)]),
    "ChainedScheduler-opt": lambda L, o: L.ChainedScheduler([L.LinearLR(o, start_factor=0.2, total_iters=6),
                                                             L.MultiStepLR(o, milestones=[8, 16])], optimizer=o),
}
NEEDS_ADAM = {"CyclicLR-exp_range"}


def _trajectory(lib, key, steps, groups=1):
    opt = _opt(lib, "Adam" if key in NEEDS_ADAM else "SGD", groups)
    sched = SCHEDULERS[key](lib.optim.lr_scheduler, opt)
    lrs, moms = [list(sched.get_last_lr())], [_momenta(opt)]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(list(sched.get_last_lr()))
        moms.append(_momenta(opt))
    return lrs, moms, sched, opt


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("key", list(SCHEDULERS))
def test_schedule_matches(key, groups):
    steps = 59 if key.startswith("OneCycle") else 80
    tl, tm, _, topt = _trajectory(torch, key, steps, groups)
    el, em, _, eopt = _trajectory(engine, key, steps, groups)
    # Learning rates are Python floats on both sides, computed by the same CPython math functions in
    # the same process (no BLAS, no SIMD: nothing here depends on the processor).  Where the two
    # differ in formula (closed form vs. PyTorch's chained lr *= factor) each step adds at most a
    # couple of roundings: 80 steps * 2 * 2**-53 = 1.8e-14 relative <= 1e-13.
    np.testing.assert_allclose(np.array(el, float), np.array(tl, float), rtol=1e-13, atol=0)
    np.testing.assert_allclose(np.array(em, float), np.array(tm, float), rtol=1e-13, atol=0)
    assert repr(topt) == repr(eopt)


@pytest.mark.parametrize("key", [k for k in SCHEDULERS if "Lambda" not in k and "Multiplicative" not in k
                                 and "scale_fn" not in k])
def test_state_dict_round_trip(key):
    """Run 20 steps, save scheduler + optimizer, rebuild both, load, run 20 more: same lrs as one run."""
    steps = 59 if key.startswith("OneCycle") else 40
    tl, _, _, _ = _trajectory(torch, key, steps)
    for lib, ref in ((torch, tl), (engine, tl)):
        lrs, _, sched, opt = _trajectory(lib, key, 20)
        ssd = copy.deepcopy(sched.state_dict())
        osd = copy.deepcopy(opt.state_dict())
        opt2 = _opt(lib, "Adam" if key in NEEDS_ADAM else "SGD")
        sched2 = SCHEDULERS[key](lib.optim.lr_scheduler, opt2)
        sched2.load_state_dict(ssd)
        opt2.load_state_dict(osd)
        for _ in range(steps - 20):
            opt2.step()
            sched2.step()
            lrs.append(list(sched2.get_last_lr()))
        # Python floats, <= 59 steps of a couple of roundings each (see test_schedule_matches)
        np.testing.assert_allclose(np.array(lrs, float), np.array(ref, float), rtol=1e-13)


def test_state_dict_keys():
    for key in ["StepLR", "CyclicLR-triangular", "OneCycleLR-cos", "SequentialLR", "ChainedScheduler"]:
        t = _trajectory(torch, key, 3)[2].state_dict()
        e = _trajectory(engine, key, 3)[2].state_dict()
        assert sorted(t) == sorted(e), key


def test_lambda_state_dict_with_callable_object():
    class Fn:
        def __init__(self, k):
            self.k = k

        def __call__(self, e):
            return self.k ** e

    for lib in (torch, engine):
        o = _opt(lib)
        s = lib.optim.lr_scheduler.LambdaLR(o, Fn(0.9))
        sd = s.state_dict()
        assert sd["lr_lambdas"] == [{"k": 0.9}]
        o2 = _opt(lib)
        s2 = lib.optim.lr_scheduler.LambdaLR(o2, Fn(0.5))
        s2.load_state_dict(sd)
        assert s2.lr_lambdas[0].k == 0.9


@pytest.mark.parametrize("mode,threshold_mode,kw", [
    ("min", "rel", dict()),
    ("min", "abs", dict(patience=2, cooldown=2, threshold=0.05)),
    ("max", "rel", dict(patience=1, factor=0.5, min_lr=0.01)),
    ("max", "abs", dict(patience=0, factor=0.7, eps=1e-3)),
])
def test_reduce_lr_on_plateau(mode, threshold_mode, kw):
    rng = np.random.default_rng(0)
    metrics = list(np.abs(np.cumsum(rng.normal(size=100))) + 1.0)
    metrics[40:60] = [5.0] * 20
    out = []
    for lib in (torch, engine):
        o = _opt(lib, groups=2)
        s = lib.optim.lr_scheduler.ReduceLROnPlateau(o, mode=mode, threshold_mode=threshold_mode, **kw)
        lrs = []
        for i, m in enumerate(metrics):
            o.step()
            s.step(lib.tensor(m) if i % 2 else m)
            lrs.append(s.get_last_lr())
        out.append((lrs, s.num_bad_epochs, s.best, s.cooldown_counter, s.last_epoch))
        # round trip
        sd = copy.deepcopy(s.state_dict())
        s2 = lib.optim.lr_scheduler.ReduceLROnPlateau(_opt(lib, groups=2), mode="max")
        s2.load_state_dict(sd)
        assert s2.mode == mode and s2.best == s.best
    assert out[0][0] == out[1][0]
    assert out[0][1:] == out[1][1:]


def test_reduce_lr_on_plateau_min_lr_list_and_errors():
    for lib in (torch, engine):
        o = _opt(lib, groups=2)
        s = lib.optim.lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.05, 0.001], patience=0)
        for m in [3, 4, 5, 6, 7, 8]:
            s.step(m)
        assert [round(x, 12) for x in s.get_last_lr()] == [0.05, 0.001]
        with pytest.raises(ValueError, match="Factor should be < 1.0."):
            lib.optim.lr_scheduler.ReduceLROnPlateau(o, factor=1.0)
        with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
            lib.optim.lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1])
        with pytest.raises(ValueError, match="mode foo is unknown!"):
            lib.optim.lr_scheduler.ReduceLROnPlateau(o, mode="foo")


def _warnings(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn()
    return [(x.category, str(x.message)) for x in w]


def test_warns_when_scheduler_steps_before_optimizer():
    res = []
    for lib in (torch, engine):
        o = _opt(lib)
        s = lib.optim.lr_scheduler.StepLR(o, 3)
        res.append(_warnings(lambda: s.step()))
    assert res[0] == res[1] and len(res[0]) == 1 and "before `optimizer.step()`" in res[0][0][1]
    # right order: no warning
    res = []
    for lib in (torch, engine):
        o = _opt(lib)
        s = lib.optim.lr_scheduler.StepLR(o, 3)
        res.append(_warnings(lambda: (o.step(), s.step())))
    assert res[0] == res[1] == []


def test_warns_on_epoch_argument_and_get_lr():
    res = []
    for lib in (torch, engine):
        o = _opt(lib)
        s = lib.optim.lr_scheduler.StepLR(o, 3)
        o.step()
        w = _warnings(lambda: s.step(7))
        w += _warnings(lambda: s.get_lr())
        res.append((w, s.get_last_lr()))
    assert res[0] == res[1]
    assert len(res[0][0]) == 2


def test_closed_form_with_epoch():
    keys = ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "ConstantLR",
            "PolynomialLR", "CosineAnnealingWarmRestarts", "CosineAnnealingWarmRestarts-Tmult"]
    for key in keys:
        out = []
        for lib in (torch, engine):
            o = _opt(lib)
            s = SCHEDULERS[key](lib.optim.lr_scheduler, o)
            lrs = []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for e in [3, 1, 10, 17, 4, 25]:
                    o.step()
                    s.step(e)
                    lrs.append(s.get_last_lr())
            out.append(lrs)
        # Python floats, closed forms evaluated once per call: a few roundings (see test_schedule_matches)
        np.testing.assert_allclose(out[1], out[0], rtol=1e-13, err_msg=key)


def test_scheduler_errors():
    for lib in (torch, engine):
        L = lib.optim.lr_scheduler
        o = _opt(lib)
        with pytest.raises(TypeError, match="list is not an Optimizer"):
            L.StepLR([], 3)
        with pytest.raises(KeyError):
            L.StepLR(o, 3, last_epoch=4)
        with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
            L.CosineAnnealingWarmRestarts(o, T_0=0)
        with pytest.raises(ValueError, match="You must define either total_steps OR"):
            L.OneCycleLR(o, max_lr=1.0)
        with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
            s = L.OneCycleLR(o, max_lr=1.0, total_steps=3)
            for _ in range(4):
                o.step()
                s.step()
        o2 = _opt(lib, "Adagrad")
        with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
            L.CyclicLR(o2, 0.01, 0.1)
        with pytest.raises(ValueError, match="Sequential Schedulers expects number of schedulers provided to be one"):
            L.SequentialLR(o, [L.StepLR(o, 2), L.StepLR(o, 3)], milestones=[])
        with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
            L.ChainedScheduler([L.ReduceLROnPlateau(o)])


def test_lr_as_tensor_is_filled_in_place():
    res = []
    for lib in (torch, engine):
        p = lib.nn.Parameter(lib.ones(2))
        lr = lib.tensor(0.1)
        o = lib.optim.SGD([p], lr=lr)
        s = lib.optim.lr_scheduler.ExponentialLR(o, 0.5)
        for _ in range(3):
            o.step()
            s.step()
        assert o.param_groups[0]["lr"] is lr
        res.append(float(lr))
    assert res[0] == res[1]

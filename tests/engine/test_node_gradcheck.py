"""Check gradient of single graph nodes (``Observer.check_gradient`` -> ``gradcheck.check_node``):
every node class with a ``replay`` is exercised by a real op here, and its backward agrees with
central differences of its replay."""
import numpy as np
import pytest

import engine
import engine.nn.functional as F
from engine.autograd import observe
from engine.autograd.graph import Node

rng = np.random.default_rng(7)


def t(*shape, positive=False, grad=True):
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return engine.tensor(a, dtype=engine.float64, requires_grad=grad)


def unit(*shape):  # inside (-1, 1): asin, acos
    return engine.tensor(rng.uniform(-0.8, 0.8, shape), dtype=engine.float64, requires_grad=True)


CASES = {
    "AddBackward0": lambda: engine.add(t(3, 4), t(4), alpha=2.0),
    "SubBackward0": lambda: engine.sub(t(3, 4), t(3, 4), alpha=0.5),
    "RsubBackward1": lambda: 2.0 - t(3),
    "RsubAlpha": lambda: engine.rsub(t(3), 2.0, alpha=3.0),
    "MulBackward0": lambda: t(2, 3) * t(3),
    "MulBackward1": lambda: t(2, 3) * 2.5,
    "DivBackward0": lambda: t(2, 3) / t(2, 3, positive=True),
    "DivBackward1": lambda: t(2, 3) / 4.0,
    "NegBackward0": lambda: -t(5),
    "PowBackward0": lambda: t(4) ** 3,
    "PowBackward1": lambda: t(4, positive=True) ** t(4),
    "PowBackward2": lambda: 2.0 ** t(4),
    "ClampBackward1": lambda: engine.clamp(t(20), -0.5, 0.5),
    "ClampMinBackward0": lambda: engine.clamp_min(t(20), 0.1),
    "ClampMaxBackward0": lambda: engine.clamp_max(t(20), 0.1),
    "MmBackward0": lambda: engine.mm(t(3, 4), t(4, 2)),
    "MvBackward0": lambda: engine.mv(t(3, 4), t(4)),
    "BmmBackward0": lambda: engine.bmm(t(2, 3, 4), t(2, 4, 5)),
    "DotBackward0": lambda: engine.dot(t(5), t(5)),
    "VdotBackward0": lambda: engine.vdot(t(5), t(5)),
    "_MatmulBackward": lambda: engine.matmul(t(2, 3, 4), t(4, 2)),
    "AddmmBackward0": lambda: engine.addmm(t(3, 2), t(3, 4), t(4, 2), beta=0.5, alpha=2.0),
    "BaddbmmBackward0": lambda: engine.baddbmm(t(2, 3, 5), t(2, 3, 4), t(2, 4, 5), beta=0.5, alpha=2.0),
    "AddmvBackward0": lambda: engine.addmv(t(3), t(3, 4), t(4), beta=0.5, alpha=2.0),
    "TransposeBackward0": lambda: t(2, 3, 4).transpose(0, 2),
    "TBackward0": lambda: t(3, 4).t(),
    "PermuteBackward0": lambda: t(2, 3, 4).permute(2, 0, 1),
    "ViewBackward0": lambda: t(2, 6).view(3, 4),
    "UnsafeViewBackward0": lambda: F.linear(t(2, 3, 4), t(5, 4)),
    "SqueezeBackward4": lambda: F.linear(t(4), t(5, 4)),
    "_KeyBackward": lambda: t(4, 5)[1:3, ::2],
    "ExpandBackward0": lambda: t(3, 1).expand(3, 4),
    "SumBackward0": lambda: t(3, 4).sum(),
    "SumBackward1": lambda: t(3, 4).sum(dim=1, keepdim=True),
    "MeanBackward0": lambda: t(3, 4).mean(),
    "MeanBackward1": lambda: t(3, 4).mean(dim=0),
    "SoftmaxBackward0": lambda: engine.softmax(t(3, 4), 1),
    "LogSoftmaxBackward0": lambda: engine.log_softmax(t(3, 4), 1),
    "MseLossBackward0": lambda: F.mse_loss(t(3, 4), t(3, 4)),
    "HuberLossBackward0": lambda: F.huber_loss(t(3, 4), t(3, 4), delta=0.5),
    "SmoothL1LossBackward0": lambda: F.smooth_l1_loss(t(3, 4), t(3, 4), beta=0.5),
    "NllLossBackward0": lambda: F.nll_loss(F.log_softmax(t(4, 3), 1), engine.tensor([0, 2, 1, 2])),
    "CrossEntropy": lambda: F.cross_entropy(t(4, 3), engine.tensor([0, 2, 1, 2])),
    "SelectBackward0": lambda: t(3, 4)[1],
    "SliceBackward0": lambda: t(5)[1:3],
    "AliasBackward0": lambda: t(2, 3)[...],
    "SqueezeBackward0": lambda: t(3, 1).squeeze(),
    "SqueezeBackward1": lambda: t(3, 1).squeeze(1),
    "SqueezeBackward2": lambda: t(3, 1, 1).squeeze((1, 2)),
    "UnsqueezeBackward0": lambda: t(3).unsqueeze(0),
    "NllLoss2DBackward0": lambda: F.nll_loss(F.log_softmax(t(2, 3, 4, 4), 1), engine.tensor(rng.integers(0, 3, (2, 4, 4)))),
    # the loss module's own scalar steps: mean over classes, label smoothing, a margin
    "LossDivBackward1": lambda: F.cross_entropy(t(4, 3), engine.softmax(t(4, 3, grad=False), 1)),
    "LossMulBackward1": lambda: F.cross_entropy(t(4, 3), engine.tensor([0, 2, 1, 2]), label_smoothing=0.1),
    "LossAddBackward1": lambda: F.margin_ranking_loss(t(5), t(5), engine.tensor([1.0, -1.0, 1.0, 1.0, -1.0]),
                                                      margin=0.1),
    # the transposes matmul's backward makes, recorded when it builds a graph of its own
    "MatmulDoubleBackward": lambda: _double_backward(),
}


def _double_backward():
    a, b = t(3, 4), t(4, 2)
    (g,) = engine.autograd.grad(engine.mm(a, b).pow(2).sum(), a, create_graph=True)
    return g

for _fn in ("abs", "exp", "exp2", "expm1", "sin", "cos", "tan", "atan", "sinh", "cosh", "tanh", "sigmoid",
            "relu", "erf"):
    CASES[_fn] = (lambda f: lambda: getattr(engine, f)(t(6)))(_fn)
for _fn in ("log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal"):
    CASES[_fn] = (lambda f: lambda: getattr(engine, f)(t(6, positive=True)))(_fn)
for _fn in ("asin", "acos"):
    CASES[_fn] = (lambda f: lambda: getattr(engine, f)(unit(6)))(_fn)


def _subclasses(cls):
    for s in cls.__subclasses__():
        yield s
        yield from _subclasses(s)


def run_case(make):
    obs = observe.Observer(keep_values=True, keep_inputs_bytes=1 << 24)
    with obs:
        y = make()
        y.sum().backward() if y.numel() > 1 else y.backward()
    return obs


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_replayable_node_checks_out(case):
    obs = run_case(CASES[case])
    checked = 0
    for r in obs.nodes:
        if r.kind != "op" or not type(r.grad_fn).can_replay():
            continue
        res = obs.check_gradient(r.id)
        assert res["ok"], (r.op, res)
        assert res["op"] == r.op and res["cotangent"] in ("recorded", "ones", "random")
        assert all(e["checked"] > 0 and e["max_abs_diff"] is not None for e in res["inputs"]), res
        checked += 1
    assert checked, f"{case} recorded no replayable node"


def test_every_class_with_a_replay_is_covered_here():
    import pkgutil
    import importlib
    for m in pkgutil.walk_packages(engine.__path__, "engine."):
        importlib.import_module(m.name)
    seen = set()
    for make in CASES.values():
        obs = run_case(make)
        seen |= {type(r.grad_fn) for r in obs.nodes if r.kind == "op"}
    def owner(c):  # the class whose replay c runs
        return next(k for k in c.__mro__ if "replay" in vars(k))

    defined = {owner(c) for c in _subclasses(Node) if c.can_replay()}
    covered = {owner(c) for c in seen if c.can_replay()}
    missing = defined - covered
    assert not missing, sorted(f"{c.__module__}.{c.__qualname__}" for c in missing)


def test_a_wrong_backward_is_caught():
    x = t(4)
    obs = observe.Observer(keep_values=True, keep_inputs_bytes=1 << 20)
    with obs:
        y = x * 3.0
        y.sum().backward()
    node = next(r for r in obs.nodes if r.op == "MulBackward0")
    original = type(node.grad_fn).backward
    try:
        type(node.grad_fn).backward = lambda self, grad: (grad * (self.other + 1),)
        res = obs.check_gradient(node.id)
    finally:
        type(node.grad_fn).backward = original
    assert not res["ok"]
    e = res["inputs"][0]
    # analytic 4 * grad against 3 * grad, with the recorded cotangent of ones
    assert e["checked"] == 4 and e["max_abs_diff"] == pytest.approx(1.0, rel=1e-6)


def test_refusals_say_why():
    obs = run_case(lambda: engine.cumsum(t(4), 0))
    r = next(r for r in obs.nodes if r.kind == "op")
    assert not type(r.grad_fn).can_replay()
    assert obs.check_gradient(r.id) == {"ok": False, "reason": f"no forward rule for {r.op}", "inputs": [],
                                        "op": r.op, "note": None}
    leaf = next(r for r in obs.nodes if r.kind == "leaf")
    assert "leaf tensor" in obs.check_gradient(leaf.id)["reason"]
    assert "no node 999" in obs.check_gradient(999)["reason"]
    obs, op_id = run_case_without_inputs()
    assert "not kept" in obs.check_gradient(op_id)["reason"]


def run_case_without_inputs():
    obs = observe.Observer(keep_values=True)
    with obs:
        (t(3) * 2.0).sum().backward()
    return obs, next(r.id for r in obs.nodes if r.kind == "op")


def test_kink_elements_are_skipped_not_failed():
    x = engine.tensor([-1.0, 0.0, 1.0, 2.0], dtype=engine.float64, requires_grad=True)
    obs = observe.Observer(keep_values=True, keep_inputs_bytes=1 << 20)
    with obs:
        engine.relu(x).sum().backward()
    r = next(r for r in obs.nodes if r.op == "ReluBackward0")
    res = obs.check_gradient(r.id)
    assert res["ok"] and res["inputs"][0]["skipped"] == 1 and res["inputs"][0]["checked"] == 3
    assert "not differentiable" in res["note"]

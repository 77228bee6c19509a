"""The observation API (engine.autograd.observe): graph records, names, source lines, module
scopes, backward steps in PyTorch's execution order, bounds."""
import json

import numpy as np
import torch

import engine
from engine.autograd import observe


def _line_of(marker):
    with open(__file__) as f:
        for i, line in enumerate(f, 1):
            if marker in line and "_line_of" not in line:
                return i
    raise AssertionError(marker)


def seed_graph():
    x = engine.tensor(3.0, requires_grad=True)
    w = engine.tensor(2.0, requires_grad=True)
    b = engine.tensor(1.0, requires_grad=True)
    with observe.Observer() as obs:
        obs.name(w, "w")
        obs.name(b, "b")
        with observe.scope("encoder"):
            with observe.scope("fc1"):
                y = w * x  # <mul line>
            y = y + b  # <add line>
        z = y ** 2  # <pow line>
        obs.name(x, "x")  # naming after the leaf was recorded also works
        z.backward()
    return obs, (x, w, b, z)


def test_node_records():
    obs, (x, w, b, z) = seed_graph()
    ops = [r for r in obs.nodes if r.kind == "op"]
    assert [r.op for r in ops] == ["MulBackward0", "AddBackward0", "PowBackward0"]
    assert [r.op for r in ops] == [type(f).__name__ for f in _torch_seed_grad_fns()]
    leaves = {r.name: r for r in obs.nodes if r.kind == "leaf"}
    assert set(leaves) == {"w", "x", "b"}
    mul, add, pw = ops
    assert mul.inputs == (leaves["w"].id, leaves["x"].id)
    assert add.inputs == (mul.id, leaves["b"].id)
    assert pw.inputs == (add.id,)
    assert mul.input_nrs == (0, 0)
    assert mul.in_shapes == ((), ()) and mul.out_shapes == ((),)
    assert mul.in_dtypes == ("float32", "float32") and pw.out_dtypes == ("float32",)
    assert mul.module == "encoder.fc1" and add.module == "encoder" and pw.module == ""
    assert mul.file == __file__
    assert (mul.line, add.line, pw.line) == (_line_of("<mul line>"), _line_of("<add line>"), _line_of("<pow line>"))
    assert all(obs.nodes[i].id == i for i in range(len(obs.nodes)))
    assert obs.record_of(z.grad_fn) == pw.id and obs.record_of(w) == leaves["w"].id
    assert sorted(obs.edges()) == sorted([(leaves["w"].id, mul.id), (leaves["x"].id, mul.id), (mul.id, add.id),
                                          (leaves["b"].id, add.id), (add.id, pw.id)])
    assert obs.outputs() == [pw.id]


def _torch_seed_grad_fns():
    x = torch.tensor(3.0, requires_grad=True)
    w = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(1.0, requires_grad=True)
    y = w * x
    y2 = y + b
    z = y2 ** 2
    return [y.grad_fn, y2.grad_fn, z.grad_fn]


def test_backward_steps_order_and_values():
    obs, (x, w, b, z) = seed_graph()
    leaf = {r.name: r.id for r in obs.nodes if r.kind == "leaf"}
    steps = obs.steps
    assert [s.op for s in steps] == ["PowBackward0", "AddBackward0", "AccumulateGrad", "MulBackward0",
                                     "AccumulateGrad", "AccumulateGrad"]
    assert [s.leaf for s in steps if s.op == "AccumulateGrad"] == [leaf["b"], leaf["w"], leaf["x"]]
    assert steps[0].grads_in[0]["value"] == 1.0 and steps[0].grads_out[0]["value"] == 14.0
    assert [g["value"] for g in steps[3].grads_out] == [42.0, 28.0]
    acc = {s.leaf: s.grads_in[0]["value"] for s in steps if s.op == "AccumulateGrad"}
    assert acc == {leaf["w"]: 42.0, leaf["b"]: 14.0, leaf["x"]: 28.0}
    assert (w.grad.item(), b.grad.item(), x.grad.item()) == (42.0, 14.0, 28.0)
    assert all(s.backward == 0 for s in steps) and obs.backward_passes == 1


def test_step_order_matches_torch_hooks():
    """The observed step order is the order in which PyTorch runs the same graph's nodes."""
    log = []
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    c = torch.tensor([3.0, 4.0], requires_grad=True)
    h = a * c
    out = (h.exp() + h * a).sum()
    seen = set()
    stack = [out.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        fn.register_prehook(lambda go, n=fn.name(): log.append(n))
        stack.extend(f for f, _ in fn.next_functions)
    out.backward()

    ea = engine.tensor([1.0, 2.0], requires_grad=True)
    ec = engine.tensor([3.0, 4.0], requires_grad=True)
    with observe.Observer() as obs:
        eh = ea * ec
        eout = (eh.exp() + eh * ea).sum()
        eout.backward()
    ours = [s.op if s.op != "AccumulateGrad" else "torch::autograd::AccumulateGrad" for s in obs.steps]
    assert ours == log


def test_as_dict_is_json():
    obs, _ = seed_graph()
    d = obs.as_dict()
    text = json.dumps(d)
    back = json.loads(text)
    assert back["nodes"][0].keys() >= {"id", "op", "kind", "inputs", "input_nrs", "in_shapes", "in_dtypes",
                                       "out_shapes", "out_dtypes", "file", "line", "module", "name", "seq"}
    assert back["steps"][0].keys() >= {"index", "backward", "node", "op", "grads_in", "grads_out", "leaf"}


def test_max_nodes_and_steps_bound():
    x = engine.tensor([1.0], requires_grad=True)
    with observe.Observer(max_nodes=10, max_steps=5) as obs:
        y = x
        for _ in range(50):
            y = y * 1.5
        y.sum().backward()
    assert len(obs.nodes) == 10 and obs.dropped_nodes > 0
    assert len(obs.steps) == 5 and obs.dropped_steps > 0
    # the engine multiplies by 1.5 fifty times in float32 (each <= u/2, u = 2**-24; exact up to 1.5**15),
    # torch calls powf (<= 1 ulp): <= 50 * 2**-25 + 2**-23 = 1.6e-6 relative apart
    np.testing.assert_allclose(x.grad.item(), torch.tensor([1.5]).pow(50).item(), rtol=2e-6)


def test_inactive_and_nested_observers():
    assert observe.active() is None
    x = engine.tensor([1.0], requires_grad=True)
    outer = observe.Observer()
    with outer:
        a = x * 2
        with observe.Observer() as inner:
            b = a * 3
        c = b * 4
    d = c * 5
    assert [r.op for r in outer.nodes if r.kind == "op"] == ["MulBackward0", "MulBackward0"]
    assert [r.op for r in inner.nodes if r.kind == "op"] == ["MulBackward0"]
    assert inner.nodes[0].inputs == (None,)  # producer recorded by another observer
    assert observe.active() is None and d.grad_fn is not None


def test_custom_function_and_inplace_recorded():
    class Sq(engine.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            return x * x * k

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x, None

    x = engine.tensor([1.0, 2.0], requires_grad=True)
    with observe.Observer() as obs:
        y = Sq.apply(x, 3.0)  # <custom line>
        y.mul_(2)
        y.sum().backward()
    ops = [r for r in obs.nodes if r.kind == "op"]
    assert [r.op for r in ops] == ["SqBackward", "MulBackward0", "SumBackward0"]
    assert ops[0].line == _line_of("<custom line>")
    assert ops[1].inputs[0] == ops[0].id
    assert [s.op for s in obs.steps] == ["SumBackward0", "MulBackward0", "SqBackward", "AccumulateGrad"]
    assert x.grad.tolist() == [4.0, 8.0]  # what this (deliberately simple) backward returns


def test_keep_values():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    with observe.Observer(keep_values=True) as obs:
        y = (x * 3).sum()
        y.backward()
    assert obs.nodes[-1].tensor is y
    grads_in, grads_out = obs.steps[-1].values
    assert grads_in[0].tolist() == [3.0, 3.0]


def test_observer_steps_aside_after_max_passes():
    w = engine.tensor([1.0, 2.0], requires_grad=True)
    with observe.Observer(keep_values=True, max_passes=2) as obs:
        for _ in range(5):
            (w * 3).sum().backward()
        assert observe.active() is None  # paused: ops no longer call it
    assert obs.paused and obs.backward_passes == 2
    assert [s.backward for s in obs.steps].count(0) == [s.backward for s in obs.steps].count(1) > 0
    assert {s.backward for s in obs.steps} == {0, 1}
    assert sum(1 for r in obs.nodes if r.op == "MulBackward0") == 2
    # summaries are computed lazily and agree with the gradient values
    acc = [s for s in obs.steps if s.op == "AccumulateGrad"][0]
    assert acc.grads_in[0]["shape"] == [2] and acc.grads_in[0]["mean"] == 3.0
    assert abs(acc.grads_in[0]["norm"] - (18 ** 0.5)) < 1e-6  # 3*3 + 3*3 = 18 exact, sqrt in float64: 1e-15
    assert w.grad.tolist() == [15.0, 15.0]

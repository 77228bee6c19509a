"""nn.Module against real PyTorch: registration, traversal, state dicts, modes, moves, hooks
(forward, full backward), printing, errors and observation scopes."""
import copy
import warnings

import numpy as np
import pytest
import torch

import engine
from _nn_core_util import both, close, copy_params, grad_fn_chain, run_both


def make_net(nn):
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 5)
            self.act = nn.Tanh() if hasattr(nn, "Tanh") else nn.Identity()
            self.register_buffer("steps", (torch if nn is torch.nn else engine).zeros(3))
            self.register_buffer("tmp", (torch if nn is torch.nn else engine).ones(2), persistent=False)
            self.fc2 = nn.Linear(5, 3, bias=False)

        def forward(self, x):
            return self.fc2(self.fc1(x).tanh())

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Block()
            self.scale = nn.Parameter((torch if nn is torch.nn else engine).ones(3) * 0.5)
            self.head = nn.Sequential(nn.Linear(3, 2), nn.Identity())

        def forward(self, x):
            return self.head(self.encoder(x) * self.scale)

    return Net()


def test_named_traversal_matches_torch():
    tm, em = both(make_net)
    assert [n for n, _ in tm.named_parameters()] == [n for n, _ in em.named_parameters()]
    assert [n for n, _ in tm.named_buffers()] == [n for n, _ in em.named_buffers()]
    assert [n for n, _ in tm.named_modules()] == [n for n, _ in em.named_modules()]
    assert [n for n, _ in tm.named_children()] == [n for n, _ in em.named_children()]
    assert [n for n, _ in tm.named_parameters(prefix="m", recurse=True)] == \
        [n for n, _ in em.named_parameters(prefix="m")]
    assert [n for n, _ in tm.named_parameters(recurse=False)] == [n for n, _ in em.named_parameters(recurse=False)]
    assert [n for n, _ in tm.named_modules(prefix="root")] == [n for n, _ in em.named_modules(prefix="root")]
    assert list(tm.state_dict()) == list(em.state_dict())
    assert len(list(em.parameters())) == 6 and len(list(em.buffers())) == 2


def test_shared_modules_and_remove_duplicate():
    def f(nn):
        lin = nn.Linear(2, 2)
        return nn.Sequential(lin, nn.Identity(), lin)

    tm, em = both(f)
    for kw in ({}, {"remove_duplicate": False}):
        assert [n for n, _ in tm.named_parameters(**kw)] == [n for n, _ in em.named_parameters(**kw)]
        assert [n for n, _ in tm.named_modules(**kw)] == [n for n, _ in em.named_modules(**kw)]
    assert list(tm.state_dict()) == list(em.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_forward_backward_parity():
    tm, em = both(make_net)
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    run_both(tm, em, x)


def test_reassignment_keeps_order_and_kinds():
    for nn, lib in ((torch.nn, torch), (engine.nn, engine)):
        m = nn.Module()
        m.a = nn.Parameter(lib.ones(1))
        m.b = nn.Parameter(lib.ones(1))
        m.a = nn.Parameter(lib.zeros(2))
        assert list(m._parameters) == ["a", "b"]
        m.c = nn.Linear(1, 1)
        m.d = nn.Linear(1, 1)
        m.c = nn.Identity()
        assert list(m._modules) == ["c", "d"]
        m.a = None
        assert m.a is None and "a" in m._parameters
        m.x = 3
        m.x = nn.Parameter(lib.ones(1))  # a plain attribute becomes a parameter
        assert "x" in m._parameters and "x" not in m.__dict__
        del m.b
        assert list(m._parameters) == ["a", "x"]
        m.register_buffer("buf", lib.ones(1))
        m.buf = lib.zeros(3)
        assert list(m.buf.shape) == [3]
        m.nb = nn.Buffer(lib.ones(2), persistent=False)
        assert "nb" in m._buffers and "nb" not in m.state_dict()


def _err(fn_torch, fn_engine):
    with pytest.raises(Exception) as te:
        fn_torch()
    with pytest.raises(Exception) as ee:
        fn_engine()
    assert type(ee.value) is type(te.value), (te.value, ee.value)
    assert str(ee.value) == str(te.value)


@pytest.mark.parametrize("case", [
    lambda nn, lib: setattr(nn.Linear(2, 2), "weight", lib.ones(2, 2)),
    lambda nn, lib: setattr(nn.Sequential(nn.Linear(1, 1)), "0", 3),
    lambda nn, lib: nn.Module().register_parameter("a.b", None),
    lambda nn, lib: nn.Module().register_parameter("", None),
    lambda nn, lib: nn.Module().register_parameter("w", lib.ones(2)),
    lambda nn, lib: nn.Module().register_parameter(3, None),
    lambda nn, lib: nn.Module().register_buffer("b", 3),
    lambda nn, lib: nn.Module().register_buffer("a.b", None),
    lambda nn, lib: nn.Module().add_module("x", 3),
    lambda nn, lib: nn.Module().add_module("a.b", nn.Identity()),
    lambda nn, lib: nn.Module().add_module("", nn.Identity()),
    lambda nn, lib: nn.Linear(2, 2).add_module("weight", nn.Identity()),
    lambda nn, lib: nn.Linear(2, 2).nonexistent,
    lambda nn, lib: nn.Module()(lib.ones(1)),
    lambda nn, lib: nn.Module().train("yes"),
    lambda nn, lib: nn.Linear(2, 2).to(lib.int64),
    lambda nn, lib: nn.Module(3),
    lambda nn, lib: nn.Module(x=3),
    lambda nn, lib: nn.Linear(2, 2).get_submodule("foo"),
    lambda nn, lib: nn.Sequential(nn.Linear(2, 2)).get_parameter("0.foo"),
    lambda nn, lib: nn.Sequential(nn.Linear(2, 2)).get_buffer("0.weight"),
    lambda nn, lib: nn.Linear(2, 2).register_parameter("w", (lib.ones(2, requires_grad=True) * 2)),
])
def test_registration_errors(case):
    _err(lambda: case(torch.nn, torch), lambda: case(engine.nn, engine))


def test_parameter_int_dtype_error():
    _err(lambda: torch.nn.Parameter(torch.tensor([1])), lambda: engine.nn.Parameter(engine.tensor([1])))
    assert repr(engine.nn.Parameter(engine.tensor([1]), requires_grad=False)) == \
        repr(torch.nn.Parameter(torch.tensor([1]), requires_grad=False))


def test_state_dict_values_and_roundtrip():
    tm, em = both(make_net)
    tsd, esd = tm.state_dict(), em.state_dict()
    for k in tsd:
        close(tsd[k], esd[k])
        assert not esd[k].requires_grad
    assert hasattr(esd, "_metadata") and list(esd._metadata) == list(tsd._metadata)
    kv = em.state_dict(keep_vars=True)
    assert kv["scale"] is em.scale
    assert list(em.state_dict(prefix="model.")) == list(tm.state_dict(prefix="model."))
    # load back into a fresh engine model: same outputs
    em2 = make_net(engine.nn)
    em2.load_state_dict(em.state_dict())
    x = engine.randn(3, 4)
    close(em(x), em2(x))


def _sd(lib_nn, m, drop=(), extra=(), reshape=None):
    to = engine.tensor if lib_nn is engine.nn else torch.tensor
    sd = {k: to(v.detach().numpy() if isinstance(v, torch.Tensor) else np.asarray(v._data))
          for k, v in m.state_dict().items() if k not in drop}
    for k in extra:
        sd[k] = to(np.zeros(2, dtype=np.float32))
    if reshape:
        sd[reshape] = to(np.zeros((7, 7), dtype=np.float32))
    return sd


@pytest.mark.parametrize("kw", [
    dict(drop=("encoder.fc1.bias",)),
    dict(extra=("encoder.fc9.weight", "bogus")),
    dict(drop=("scale", "head.0.weight"), extra=("encoder.extra",)),
    dict(reshape="encoder.fc2.weight"),
    dict(reshape="scale", drop=("encoder.steps",)),
])
@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_errors(kw, strict):
    tm, em = both(make_net)
    tsd = _sd(torch.nn, tm, **kw)
    esd = _sd(engine.nn, tm, **kw)
    try:
        tres = tm.load_state_dict(tsd, strict=strict)
        terr = None
    except Exception as e:  # noqa: BLE001
        terr = e
    if terr is None:
        eres = em.load_state_dict(esd, strict=strict)
        assert eres.missing_keys == tres.missing_keys and eres.unexpected_keys == tres.unexpected_keys
        assert repr(eres) == repr(tres)
    else:
        with pytest.raises(type(terr)) as ee:
            em.load_state_dict(esd, strict=strict)
        assert str(ee.value) == str(terr)


def test_load_state_dict_all_matched_repr_and_non_tensor():
    tm, em = both(make_net)
    assert repr(em.load_state_dict(em.state_dict())) == repr(tm.load_state_dict(tm.state_dict())) == \
        "<All keys matched successfully>"
    tsd = dict(tm.state_dict())
    esd = dict(em.state_dict())
    tsd["scale"] = [1.0, 2.0, 3.0]
    esd["scale"] = [1.0, 2.0, 3.0]
    _err(lambda: tm.load_state_dict(tsd), lambda: em.load_state_dict(esd))
    _err(lambda: tm.load_state_dict([1]), lambda: em.load_state_dict([1]))


def test_load_state_dict_assign_and_hooks():
    em = engine.nn.Linear(2, 3)
    new_w = engine.ones(3, 2)
    em.load_state_dict({"weight": new_w, "bias": engine.zeros(3)}, assign=True)
    assert isinstance(em.weight, engine.nn.Parameter) and em.weight.requires_grad
    seen = []
    em.register_load_state_dict_post_hook(lambda m, keys: seen.append((type(m).__name__, list(keys.missing_keys))))
    em.load_state_dict({"weight": engine.ones(3, 2)}, strict=False)
    assert seen == [("Linear", ["bias"])]
    pre = []
    h = em.register_state_dict_pre_hook(lambda m, prefix, keep_vars: pre.append(prefix))
    em.state_dict(prefix="p.")
    h.remove()
    em.state_dict()
    assert pre == ["p."]


def test_train_eval_children_and_override():
    calls = []

    for nn in (torch.nn, engine.nn):
        class D(nn.Module):
            def train(self, mode=True):
                calls.append((nn.__name__, mode))
                return super().train(mode)

        m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(D()))
        assert m.training
        m.eval()
        assert not any(x.training for x in m.modules())
        m.train()
        assert all(x.training for x in m.modules())
    assert calls == [("torch.nn", False), ("torch.nn", True), ("engine.nn", False), ("engine.nn", True)]


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    tm, em = both(make_net)
    run_both(tm, em, np.ones((2, 4), np.float32))
    tm.zero_grad(set_to_none=set_to_none)
    em.zero_grad(set_to_none=set_to_none)
    for (n, tp), (_, ep) in zip(tm.named_parameters(), em.named_parameters()):
        if set_to_none:
            assert tp.grad is None and ep.grad is None
        else:
            close(tp.grad, ep.grad)
            assert float(ep.grad.abs().sum()) == 0.0  # zeroed: exact


def test_requires_grad_apply_and_dtype_moves():
    em = make_net(engine.nn)
    ids = [id(p) for p in em.parameters()]
    em.requires_grad_(False)
    assert not any(p.requires_grad for p in em.parameters())
    em.requires_grad_()
    em.double()
    assert all(str(p.dtype) == "torch.float64" for p in em.parameters())
    assert str(em.encoder.steps.dtype) == "torch.float64"
    assert [id(p) for p in em.parameters()] == ids  # same Parameter objects, as optimizers need
    em.float()
    assert all(str(p.dtype) == "torch.float32" for p in em.parameters())
    em.half()
    assert str(em.encoder.fc1.weight.dtype) == "torch.float16"
    em.to(engine.float32)
    em.to("cpu")
    em.to(dtype=engine.float64)
    assert str(em.scale.dtype) == "torch.float64"
    out = em(engine.randn(2, 4, dtype=engine.float64))
    out.sum().backward()
    assert str(em.scale.grad.dtype) == "torch.float64"
    em.float()
    assert str(em.scale.grad.dtype) == "torch.float32"
    names = []
    em.apply(lambda m: names.append(type(m).__name__))
    tn = []
    make_net(torch.nn).apply(lambda m: tn.append(type(m).__name__))
    assert names == tn


def test_int_buffers_survive_float_moves():
    for nn, lib in ((torch.nn, torch), (engine.nn, engine)):
        m = nn.Module()
        m.register_buffer("count", lib.zeros(2, dtype=lib.int64))
        m.double()
        assert str(m.count.dtype) == "torch.int64"


def test_print_model_matches_torch():
    tm, em = both(make_net)
    assert repr(em) == repr(tm)
    for f in (lambda nn: nn.Linear(3, 4, bias=False), lambda nn: nn.Identity(),
              lambda nn: nn.Sequential(nn.Sequential(nn.Linear(1, 2)), nn.Flatten()),
              lambda nn: nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.Identity()})):
        assert repr(f(engine.nn)) == repr(f(torch.nn))

    for nn in (torch.nn, engine.nn):
        class E(nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = nn.Linear(2, 2)

            def extra_repr(self):
                return "line one\nline two"
        if nn is torch.nn:
            t = repr(E())
        else:
            assert repr(E()) == t


def test_forward_hooks_order_kwargs_prepend_and_removal():
    logs = {}
    for nn, lib in ((torch.nn, torch), (engine.nn, engine)):
        log = logs[nn.__name__] = []
        m = nn.Linear(2, 2)
        with torch.no_grad():
            pass
        h1 = m.register_forward_pre_hook(lambda mod, args: log.append(("pre1", len(args))))
        m.register_forward_pre_hook(lambda mod, args: log.append(("pre0",)), prepend=True)
        m.register_forward_pre_hook(lambda mod, args, kwargs: (log.append(("prekw", sorted(kwargs))), None)[1],
                                    with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: log.append(("post", tuple(out.shape))))
        m.register_forward_hook(lambda mod, args, kwargs, out: out * 0, with_kwargs=True)
        out = m(lib.ones(3, 2))
        log.append(("zero", float(out.detach().abs().sum())))  # out * 0: exactly 0 in both
        h1.remove()
        m(lib.ones(1, 2))
        # a pre-hook may replace the input
        m2 = nn.Identity()
        m2.register_forward_pre_hook(lambda mod, args: args[0] + 1)
        log.append(("replaced", float(m2(lib.zeros(1)).sum())))  # 0 + 1: exact
    assert logs["torch.nn"] == logs["engine.nn"]


def test_forward_pre_hook_bad_kwargs_return():
    def f(nn, lib):
        m = nn.Identity()
        m.register_forward_pre_hook(lambda mod, a, k: 5, with_kwargs=True)
        return m(lib.ones(1))
    _err(lambda: f(torch.nn, torch), lambda: f(engine.nn, engine))


def test_global_forward_hooks():
    from engine.nn.modules import module as em_mod
    seen = []
    h = em_mod.register_module_forward_hook(lambda m, a, o: seen.append(type(m).__name__))
    try:
        engine.nn.Sequential(engine.nn.Identity())(engine.ones(1))
    finally:
        h.remove()
    engine.nn.Identity()(engine.ones(1))
    assert seen == ["Identity", "Sequential"]


def test_always_call_hook_runs_on_error():
    for nn, lib in ((torch.nn, torch), (engine.nn, engine)):
        seen = []

        class Bad(nn.Module):
            def forward(self, x):
                raise ValueError("boom")

        m = Bad()
        m.register_forward_hook(lambda mod, a, o: seen.append(o), always_call=True)
        with pytest.raises(ValueError):
            m(lib.ones(1))
        assert seen == [None]


def _bw_model(nn):
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, a, b, k=None):
            return self.fc(a) * 2, self.fc(b).sum(-1)

    return Two()


def _summ(x):
    if x is None:
        return None
    return np.array(x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x._data), dtype=np.float64)


def _same_log(t, e):
    """Hook logs of the two libraries: the same structure and names, gradients within ``close``'s float32
    tolerance (a Linear(3, 2) and sums over a batch of 4: K <= 4, see _nn_core_util).  Rounding the values
    to a few decimals and comparing exactly would not do: an ulp apart, two values can round differently."""
    if isinstance(t, np.ndarray) or isinstance(e, np.ndarray):
        assert isinstance(t, np.ndarray) and isinstance(e, np.ndarray) and t.shape == e.shape, (t, e)
        np.testing.assert_allclose(e, t, atol=1e-5, rtol=1e-5)
    elif isinstance(t, (list, tuple)):
        assert type(e) is type(t) and len(e) == len(t), (t, e)
        for a, b in zip(t, e):
            _same_log(a, b)
    else:
        assert e == t, (t, e)


@pytest.mark.parametrize("b_grad", [True, False])
@pytest.mark.parametrize("use_second", [True, False])
def test_full_backward_hooks_match_torch(b_grad, use_second):
    tm, em = both(_bw_model)
    rec = {}
    a = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    for m, lib in ((tm, torch), (em, engine)):
        log = rec[lib.__name__] = []
        m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", [_summ(g) for g in go])))
        m.register_full_backward_hook(
            lambda mod, gi, go: log.append(("hook", [_summ(g) for g in gi], [_summ(g) for g in go])))
        ta = lib.tensor(a, requires_grad=True)
        tb = lib.tensor(b, requires_grad=b_grad)
        o1, o2 = m(ta, tb, k=3)
        loss = o1.sum() + (o2 * 3).sum() if use_second else o1.pow(2).sum()
        loss.backward()
        log.append(("a.grad", _summ(ta.grad)))
        log.append(("w.grad", _summ(m.fc.weight.grad)))
        assert type(o1.grad_fn).__name__ == "BackwardHookFunctionBackward"
    _same_log(rec["torch"], rec["engine"])


def test_full_backward_hook_replaces_grad_input_and_grad_output():
    rec = {}
    for nn, lib in ((torch.nn, torch), (engine.nn, engine)):
        torch.manual_seed(0)
        m = nn.Linear(3, 3) if nn is torch.nn else None
        if m is None:
            m = engine.nn.Linear(3, 3)
            copy_params(tm_ref, m)
        else:
            tm_ref = m
        m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 2,))
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0] + 1,))
        x = lib.ones(2, 3, requires_grad=True)
        m(x).sum().backward()
        rec[nn.__name__] = (_summ(x.grad), _summ(m.weight.grad))
    _same_log(rec["torch.nn"], rec["engine.nn"])


def test_full_backward_hook_no_input_grad_and_bad_returns():
    rec = {}
    for nn, lib in ((torch.nn, torch), (engine.nn, engine)):
        log = rec[nn.__name__] = []
        m = nn.Linear(2, 2)
        m.register_full_backward_hook(lambda mod, gi, go: log.append((gi, len(go))))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m(lib.ones(1, 2)).sum().backward()
        log.append(any("Full backward hook is firing" in str(x.message) for x in w))
        m2 = nn.Linear(2, 2)
        m2.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
        with pytest.raises(RuntimeError) as e:
            m2(lib.ones(1, 2, requires_grad=True)).sum().backward()
        log.append(str(e.value))
        m3 = nn.Linear(2, 2)
        m3.register_full_backward_pre_hook(lambda mod, go: (go[0], go[0]))
        with pytest.raises(RuntimeError) as e:
            m3(lib.ones(1, 2, requires_grad=True)).sum().backward()
        log.append(str(e.value))
        m4 = nn.Linear(2, 2)
        m4.register_backward_hook(lambda *a: None)
        with pytest.raises(RuntimeError) as e:
            m4.register_full_backward_hook(lambda *a: None)
        log.append(str(e.value))
    assert rec["torch.nn"] == rec["engine.nn"]


def test_backward_hooks_in_nested_model_fire_in_order():
    rec = {}
    for nn, lib in ((torch.nn, torch), (engine.nn, engine)):
        log = rec[nn.__name__] = []
        m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
        for name, sub in m.named_modules():
            sub.register_full_backward_hook(lambda mod, gi, go, name=name: log.append(name))
        m(lib.ones(4, 2, requires_grad=True)).sum().backward()
    assert rec["torch.nn"] == rec["engine.nn"]


def test_observer_records_module_paths_and_parameter_names():
    from engine.autograd import observe

    em = make_net(engine.nn)
    x = engine.randn(2, 4)
    with observe.Observer() as obs:
        em(x).sum().backward()
    ops = [r for r in obs.nodes if r.kind == "op"]
    mods = {r.module for r in ops}
    assert {"encoder.fc1", "encoder.fc2", "head.0", "encoder", ""} <= mods
    addmm = [r for r in ops if r.op == "AddmmBackward0"]
    assert [r.module for r in addmm] == ["encoder.fc1", "head.0"]
    leaves = {r.name for r in obs.nodes if r.kind == "leaf"}
    assert {"encoder.fc1.weight", "encoder.fc1.bias", "encoder.fc2.weight", "scale", "head.0.weight",
            "head.0.bias"} <= leaves
    # no observer: the fast path leaves no scope behind
    assert observe.current_scope() == ""


def test_deepcopy_and_parameter_basics():
    em = make_net(engine.nn)
    em2 = copy.deepcopy(em)
    for (n, p), (_, q) in zip(em.named_parameters(), em2.named_parameters()):
        assert p is not q and isinstance(q, engine.nn.Parameter) and q.requires_grad
        close(p, q)
    p = engine.nn.Parameter(engine.ones(2))
    tp = torch.nn.Parameter(torch.ones(2))
    assert repr(p) == repr(tp)
    assert repr(engine.nn.Parameter(engine.ones(2), requires_grad=False)) == \
        repr(torch.nn.Parameter(torch.ones(2), requires_grad=False))
    with engine.no_grad():
        assert engine.nn.Parameter(engine.ones(1)).requires_grad
    shared = engine.nn.Linear(2, 2)
    seq = engine.nn.Sequential(shared, shared)
    seq2 = copy.deepcopy(seq)
    assert seq2[0] is seq2[1]
    b = engine.nn.Buffer(engine.ones(2))
    assert isinstance(b, engine.nn.Buffer) and not isinstance(engine.ones(2), engine.nn.Buffer)


def test_dir_getattr_and_submodule_helpers():
    em = make_net(engine.nn)
    assert em.get_submodule("encoder.fc1") is em.encoder.fc1
    assert em.get_parameter("encoder.fc1.weight") is em.encoder.fc1.weight
    assert em.get_buffer("encoder.steps") is em.encoder.steps
    assert {"encoder", "scale", "head"} <= set(dir(em))


def test_fast_path_overhead_is_small():
    import time

    m = engine.nn.Identity()
    x = engine.ones(1)
    t0 = time.perf_counter()
    for _ in range(20000):
        m(x)
    per_call = (time.perf_counter() - t0) / 20000
    assert per_call < 5e-6, per_call


def test_grad_fn_of_linear_under_model():
    tm, em = both(lambda nn: nn.Sequential(nn.Linear(3, 2)))
    x = np.ones((4, 3), np.float32)
    to, eo = run_both(tm, em, x)
    assert grad_fn_chain(to.grad_fn) == grad_fn_chain(eo.grad_fn)

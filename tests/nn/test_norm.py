"""BatchNorm / LayerNorm / GroupNorm vs PyTorch: outputs, input and parameter gradients, running
statistics (momentum, cumulative average, num_batches_tracked) in train and eval, printing,
parameter/buffer names, errors; gradcheck and double backward of the functional forms."""
import numpy as np
import pytest
import torch

import engine
import engine.nn as enn
import engine.nn.functional as EF
from parity import check_gradcheck, check_op

TF = torch.nn.functional
# (atol, rtol) of the module tests: parity.py's defaults (x10 for gradients), and why they hold here although
# batch norm reduces over up to K = 4*5*6 = 120 elements per channel (layer/group norm <= 15).  Inputs are
# 2*N(0, 1) + 0.5 (|x| <= 9, sd 2), affine parameters U(0.5, 1.5), cotangents N(0, 1), u = 2**-53 / 2**-24:
#   float64: worst case 2*K*u*S: mean/var 2*120*u*9 = 2.4e-13 relative to sd 2, output ~1e-12; weight
#            grads sum 120 terms |g*x_hat| <= 4*5: 2*120*u*2400 = 6.4e-11 < 1e-9 (grad atol);
#   float32: 2*K*u = 1.4e-5 relative without cancellation (running_var, weight grads) < rtol 1e-4; where
#            terms cancel, the random walk of parity.py: u*T*K/sqrt(3) = 4e-6 rms for K = 120 terms of
#            rms T = 1 (weight/bias grads: atol 1e-4 = 25 rms); the mean carries it / K, the output and input
#            grads ~1e-7;
#   the running statistics are convex combinations over <= 3 steps (no amplification); the 2-element groups
#   of GroupNorm(2, 4) on (2, 4) have sd >= 0.178 in these draws, and their input gradients (cancelling
#   terms, see test_group_norm_functional) carry 8*2**-24*|g|*|w|/sd = 8*2**-24*2.3*1.5/0.178 = 9e-6 < 1e-4.
DT = {"float32": (torch.float32, engine.float32, 1e-5, 1e-4), "float64": (torch.float64, engine.float64, 1e-10, 1e-9)}


def F(x):
    return TF if isinstance(x, torch.Tensor) else EF


def npy(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach()._data)


def copy_state(tm, em):
    """Copy every parameter and buffer of the torch module into the engine module."""
    for name, t in list(tm.named_parameters()) + list(tm.named_buffers()):
        e = dict(list(em.named_parameters()) + list(em.named_buffers()))[name]
        e._data[...] = t.detach().numpy()


def compare_modules(tm, em, atol, rtol):
    tp = dict(tm.named_parameters())
    ep = dict(em.named_parameters())
    assert list(tp) == list(ep)
    for k in tp:
        np.testing.assert_allclose(npy(ep[k]), npy(tp[k]), atol=atol, rtol=rtol, err_msg=k)
        if tp[k].grad is None:
            assert ep[k].grad is None
        else:
            np.testing.assert_allclose(npy(ep[k].grad), npy(tp[k].grad), atol=atol * 10, rtol=rtol * 10,
                                       err_msg=k + ".grad")
    tb, eb = dict(tm.named_buffers()), dict(em.named_buffers())
    assert list(tb) == list(eb)
    for k in tb:
        assert str(eb[k].dtype) == str(tb[k].dtype), k
        np.testing.assert_allclose(npy(eb[k]), npy(tb[k]), atol=atol, rtol=rtol, err_msg=k)


def run_steps(make, shape, dtype="float32", steps=2, train=True, seed=0, mode_switch=True):
    """Forward/backward a few batches through twin modules; compare everything after each."""
    tdt, edt, atol, rtol = DT[dtype]
    tm, em = make(torch.nn).to(tdt), make(enn).to(edt)
    assert repr(tm) == repr(em)
    copy_state(tm, em)
    rng = np.random.default_rng(seed)
    with torch.no_grad():  # non-trivial affine parameters
        for p in tm.parameters():
            p.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, tuple(p.shape))).to(tdt))
    copy_state(tm, em)
    tm.train(train)
    em.train(train)
    for _ in range(steps):
        a = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        tx, ex = torch.tensor(a, requires_grad=True), engine.tensor(a, requires_grad=True)
        ty, ey = tm(tx), em(ex)
        assert type(ey.grad_fn).__name__ == type(ty.grad_fn).__name__
        np.testing.assert_allclose(npy(ey), npy(ty), atol=atol, rtol=rtol)
        ty.backward(torch.tensor(g))
        ey.backward(engine.tensor(g))
        np.testing.assert_allclose(npy(ex.grad), npy(tx.grad), atol=atol * 10, rtol=rtol * 10)
        compare_modules(tm, em, atol, rtol)
    if mode_switch:  # the other mode with the statistics accumulated so far
        tm.train(not train)
        em.train(not train)
        a = rng.standard_normal(shape).astype(dtype)
        ty, ey = tm(torch.tensor(a)), em(engine.tensor(a))
        np.testing.assert_allclose(npy(ey), npy(ty), atol=atol, rtol=rtol)
        compare_modules(tm, em, atol, rtol)


# -- batch norm -------------------------------------------------------------------------------
BN_CASES = [
    ("BatchNorm1d", (8, 4), {}), ("BatchNorm1d", (6, 4, 5), {}), ("BatchNorm2d", (4, 3, 5, 6), {}),
    ("BatchNorm2d", (4, 3, 5, 6), {"momentum": None}), ("BatchNorm2d", (4, 3, 2, 2), {"momentum": 0.5}),
    ("BatchNorm2d", (3, 3, 4, 4), {"affine": False}), ("BatchNorm2d", (3, 3, 4, 4), {"track_running_stats": False}),
    ("BatchNorm2d", (3, 3, 4, 4), {"bias": False}), ("BatchNorm2d", (3, 3, 4, 4), {"eps": 1e-3}),
    ("BatchNorm3d", (2, 3, 2, 3, 4), {}),
    ("BatchNorm1d", (5, 3), {"affine": False, "track_running_stats": False, "momentum": None}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("cls,shape,kw", BN_CASES, ids=[f"{c}-{s}-{k}" for c, s, k in BN_CASES])
def test_batchnorm_module(cls, shape, kw, train, dtype):
    run_steps(lambda m: getattr(m, cls)(shape[1], **kw), shape, dtype, steps=3, train=train)


def test_batchnorm_buffers_and_repr():
    for args, kw in [((6,), {}), ((6,), {"momentum": None, "affine": False}), ((2,), {"track_running_stats": False}),
                     ((4,), {"eps": 1e-3, "bias": False})]:
        for cls in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"):
            tm, em = getattr(torch.nn, cls)(*args, **kw), getattr(enn, cls)(*args, **kw)
            assert repr(tm) == repr(em)
            assert [(k, tuple(v.shape), str(v.dtype)) for k, v in tm.named_parameters()] == \
                [(k, tuple(v.shape), str(v.dtype)) for k, v in em.named_parameters()]
            assert [(k, tuple(v.shape), str(v.dtype)) for k, v in tm.named_buffers()] == \
                [(k, tuple(v.shape), str(v.dtype)) for k, v in em.named_buffers()]
            assert list(tm.state_dict()) == list(em.state_dict())
            compare_modules(tm, em, 0, 0)


def test_batchnorm_num_batches_tracked_and_versions():
    bn = enn.BatchNorm1d(3)
    v = bn.running_mean._version
    for i in range(3):
        bn(engine.randn(4, 3))
        assert int(bn.num_batches_tracked) == i + 1
    assert bn.running_mean._version == v  # running statistics are updated without a version bump
    bn.eval()
    bn(engine.randn(4, 3))
    assert int(bn.num_batches_tracked) == 3


@pytest.mark.parametrize("make,x,msg", [
    (lambda m: m.BatchNorm1d(3), (2, 3, 4, 5), "expected 2D or 3D input (got 4D input)"),
    (lambda m: m.BatchNorm2d(3), (2, 3, 4), "expected 4D input (got 3D input)"),
    (lambda m: m.BatchNorm3d(3), (2, 3, 4), "expected 5D input (got 3D input)"),
    (lambda m: m.BatchNorm1d(3), (1, 3), "Expected more than 1 value per channel when training, got input size "
                                         "torch.Size([1, 3])"),
])
def test_batchnorm_value_errors(make, x, msg):
    with pytest.raises(ValueError) as te:
        make(torch.nn)(torch.randn(x))
    with pytest.raises(ValueError) as ee:
        make(enn)(engine.randn(x))
    assert str(te.value) == str(ee.value) == msg


def _bn_call(lib, F, *args, **kw):
    return F.batch_norm(*args, **kw)


@pytest.mark.parametrize("case", [
    lambda L, x: (x, L.zeros(3), L.ones(2), None, None, True),
    lambda L, x: (x, L.zeros(4), L.ones(3), None, None, True),
    lambda L, x: (x, L.zeros(3), L.ones(3), L.ones(4), None, False),
    lambda L, x: (x, L.zeros(3), L.ones(3), None, L.ones(4), False),
    lambda L, x: (x, None, None, None, None, False),
    lambda L, x: (x, L.zeros(3), None, None, None, False),
])
def test_batch_norm_functional_errors(case):
    msgs = []
    for L, Fm in ((torch, TF), (engine, EF)):
        with pytest.raises(RuntimeError) as info:
            Fm.batch_norm(*case(L, L.ones(4, 3)))
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


def test_batch_norm_int_input():
    msgs = []
    for L, Fm in ((torch, TF), (engine, EF)):
        with pytest.raises(NotImplementedError) as info:
            Fm.batch_norm(L.ones(4, 3, dtype=L.int64), L.zeros(3), L.ones(3), training=True)
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (2, 3, 2, 2)])
def test_batch_norm_functional(shape, training):
    def f(x, w, b):
        L = torch if isinstance(x, torch.Tensor) else engine
        rm = L.linspace(-0.5, 0.5, 3, dtype=x.dtype)
        rv = L.linspace(0.5, 2.0, 3, dtype=x.dtype)
        y = F(x).batch_norm(x, rm, rv, w, b, training, 0.3, 1e-4)
        return y, rm, rv

    check_op(f, [shape, (3,), (3,)])
    check_op(lambda x: F(x).batch_norm(x, None, None, training=True), [shape])
    check_gradcheck(lambda x, w, b: EF.batch_norm(x, None, None, w, b, training=training) if training else
                    EF.batch_norm(x, engine.zeros(3, dtype=engine.float64), engine.ones(3, dtype=engine.float64) * 2,
                                  w, b, training=False), [shape, (3,), (3,)])


# -- layer norm -------------------------------------------------------------------------------
LN_CASES = [((4, 5), 5, {}), ((2, 3, 5), (3, 5), {}), ((2, 3, 5), 5, {"elementwise_affine": False}),
            ((2, 3, 5), [5], {"bias": False}), ((3, 4), 4, {"eps": 1e-2}), ((6,), 6, {})]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,ns,kw", LN_CASES, ids=[str(c) for c in LN_CASES])
def test_layernorm_module(shape, ns, kw, dtype):
    run_steps(lambda m: m.LayerNorm(ns, **kw), shape, dtype, steps=2, mode_switch=False)
    tm, em = torch.nn.LayerNorm(ns, **kw), enn.LayerNorm(ns, **kw)
    assert repr(tm) == repr(em)
    compare_modules(tm, em, 0, 0)


@pytest.mark.parametrize("shape,ns", [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((2, 3, 4), (2, 3, 4))])
def test_layer_norm_functional(shape, ns):
    check_op(lambda x, w, b: F(x).layer_norm(x, ns, w, b), [shape, ns, ns])
    check_op(lambda x: F(x).layer_norm(x, ns), [shape])
    check_gradcheck(lambda x, w, b: EF.layer_norm(x, ns, w, b), [shape, ns, ns])


@pytest.mark.parametrize("args", [
    lambda L: (L.ones(4, 3, 6), (5,)), lambda L: (L.ones(4, 3, 6), (3, 6), L.ones(6)),
    lambda L: (L.ones(4, 3, 6), (6,), L.ones(6), L.ones(5)),
])
def test_layer_norm_errors(args):
    msgs = []
    for L, Fm in ((torch, TF), (engine, EF)):
        with pytest.raises(RuntimeError) as info:
            Fm.layer_norm(*args(L))
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


# -- group norm -------------------------------------------------------------------------------
GN_CASES = [((2, 6, 5), 2, 6, {}), ((3, 6, 2, 2), 3, 6, {}), ((2, 4, 3), 4, 4, {"affine": False}),
            ((2, 4, 3, 2), 1, 4, {"eps": 1e-3}), ((2, 4), 2, 4, {"bias": False})]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,g,c,kw", GN_CASES, ids=[str(c) for c in GN_CASES])
def test_groupnorm_module(shape, g, c, kw, dtype):
    run_steps(lambda m: m.GroupNorm(g, c, **kw), shape, dtype, steps=2, mode_switch=False)
    assert repr(torch.nn.GroupNorm(g, c, **kw)) == repr(enn.GroupNorm(g, c, **kw))


@pytest.mark.parametrize("shape,g", [((2, 6, 5), 3), ((2, 4, 2, 3), 2), ((3, 4), 2), ((2, 4, 3), 4)])
def test_group_norm_functional(shape, g):
    c = shape[1]
    # (3, 4) in 2 groups: 2 elements per group, x_hat = +-1 up to eps, and the input gradient w/sd * (g -
    # mean(g) - x_hat*mean(g*x_hat)) is terms |g| <= 4 cancelling to ~0, whose rounding (<= 8 roundings) is
    # amplified by |w|/sd <= 2/0.049 (the smallest sd of check_op's draw): 8*2**-24*4*41 = 7.8e-5 in float32
    # -> atol 1e-4 (1e-3 on grads); in float64 8*2**-53*4*41 = 1.5e-13 and the defaults hold
    f32 = dict(atol=1e-4) if shape == (3, 4) else {}
    for dt, kw in (("float32", f32), ("float64", {})):
        check_op(lambda x, w, b: F(x).group_norm(x, g, w, b), [shape, (c,), (c,)], dtypes=(dt,), **kw)
        check_op(lambda x: F(x).group_norm(x, g), [shape], dtypes=(dt,), **kw)
    check_gradcheck(lambda x, w, b: EF.group_norm(x, g, w, b), [shape, (c,), (c,)])


def test_group_norm_errors():
    for args in [lambda L: (L.ones(2, 3, 5), 2), lambda L: (L.ones(2, 4, 5), 2, L.ones(3)), lambda L: (L.ones(4), 2)]:
        msgs = []
        for L, Fm in ((torch, TF), (engine, EF)):
            with pytest.raises(RuntimeError) as info:
                Fm.group_norm(*args(L))
            msgs.append(str(info.value))
        assert msgs[0] == msgs[1]
    with pytest.raises(ValueError) as te:
        torch.nn.GroupNorm(2, 3)
    with pytest.raises(ValueError) as ee:
        enn.GroupNorm(2, 3)
    assert str(te.value) == str(ee.value)


# -- double backward (create_graph) -----------------------------------------------------------
@pytest.mark.parametrize("name", ["bn_train", "bn_eval", "ln", "gn"])
def test_double_backward(name):
    rng = np.random.default_rng(5)
    shape = (4, 3, 5)
    a, w, b = rng.standard_normal(shape), rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)
    wl, bl = rng.uniform(0.5, 1.5, 5), rng.standard_normal(5)
    res = []
    for L, Fm in ((torch, TF), (engine, EF)):
        x = L.tensor(a, requires_grad=True)
        if name == "bn_train":
            wt, bt = L.tensor(w, requires_grad=True), L.tensor(b, requires_grad=True)
            y = Fm.batch_norm(x, None, None, wt, bt, training=True)
        elif name == "bn_eval":
            wt, bt = L.tensor(w, requires_grad=True), L.tensor(b, requires_grad=True)
            y = Fm.batch_norm(x, L.tensor(b), L.tensor(w), wt, bt, training=False)
        elif name == "ln":
            wt, bt = L.tensor(wl, requires_grad=True), L.tensor(bl, requires_grad=True)
            y = Fm.layer_norm(x, (5,), wt, bt)
        else:
            wt, bt = L.tensor(w, requires_grad=True), L.tensor(b, requires_grad=True)
            y = Fm.group_norm(x, 3, wt, bt)
        gx, gw = L.autograd.grad((y * y * y).sum(), (x, wt), create_graph=True)
        ggx, ggw = L.autograd.grad((gx * gx).sum() + (gw * gw).sum(), (x, wt))
        res.append([npy(t) for t in (gx, gw, ggx, ggw)])
    # float64, reductions over <= 20 elements; the second derivatives chain ~400 products of values <= 10,
    # amplified by 1/sd**2 <= 4 (sd >= 0.51 for this draw): K*u*S with S <= 100x the values is
    # 400*2**-53*1e3*4 = 1.8e-10 < atol 1e-9
    for i, (e, t) in enumerate(zip(res[1], res[0])):
        np.testing.assert_allclose(e, t, rtol=1e-7, atol=1e-9, err_msg=str(i))


def test_normalize():
    for p, dim in [(2.0, 1), (1.0, 0), (3.0, -1), (float("inf"), 1)]:
        check_op(lambda x: F(x).normalize(x, p, dim), [(3, 4, 2)])
    check_gradcheck(lambda x: EF.normalize(x, 2.0, 1), [(3, 4)])
    z = np.zeros((2, 3), np.float32)
    # 0 / max(0, eps) = 0 exactly in both
    np.testing.assert_array_equal(npy(EF.normalize(engine.tensor(z))), npy(TF.normalize(torch.tensor(z))))

"""Quantized tensors and dynamic quantization on the engine against PyTorch 2.13 (fbgemm, CPU).

Tolerances: quantized tensors (int_repr, dequantize) and ``DynamicQuantizedLinear`` outputs are
compared for exact equality: the engine reproduces fbgemm's rounding step by step, and every step is
exact or one correctly rounded IEEE operation (float32 x*(1/scale) fused with + zero_point, round half
to even, integer products summed exactly -- reduce_range keeps the u8*s8 pair sums of fbgemm's
non-VNNI kernels below int16 saturation, 2*127*128 < 32767 -- and fma(acc, scale_x*scale_w, bias)), the
same on fbgemm's AVX2, AVX-512 and AVX-512-VNNI paths (FBGEMM_ENABLE_INSTRUCTIONS) and with any
thread count.  The dynamic LSTM's gates go through float32 sigmoid/tanh (numpy's and ATen's SIMD
versions differ in the last ulps): see test_dynamic_lstm_matches_torch for its tolerance.
"""
import copy
import io
import time

import numpy as np
import pytest
import torch

import engine
import engine.nn as enn
from _nn_core_util import both

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")]
tq = torch.ao.quantization
eq = engine.quantization


def _exact(t, e):
    a = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    b = np.asarray(e._data) if isinstance(e, engine.Tensor) else np.asarray(e)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_array_equal(a, b)


def _tie_values(scale, rng, n=4000):
    """Values on and just around rounding ties (x / scale = k + 0.5), plus ordinary ones."""
    k = rng.integers(-60, 60, n)
    near = (k + 0.5) * scale + rng.standard_normal(n) * scale * 1e-6
    return np.concatenate([near, (k + 0.5) * scale, rng.standard_normal(500) * 30]).astype(np.float32)


# -- quantized tensors ------------------------------------------------------------------------------
@pytest.mark.parametrize("dt", ["qint8", "quint8", "qint32"])
@pytest.mark.parametrize("scale,zp", [(0.1, 0), (0.1, 3), (0.37, 5), (1 / 3, 100)])
def test_quantize_per_tensor_matches_torch(dt, scale, zp):
    x = _tie_values(scale, np.random.default_rng(0))
    t = torch.quantize_per_tensor(torch.tensor(x), scale, zp, getattr(torch, dt))
    e = engine.quantize_per_tensor(engine.tensor(x), scale, zp, getattr(engine, dt))
    _exact(t.int_repr(), e.int_repr())
    _exact(t.dequantize(), e.dequantize())
    assert str(e.int_repr().dtype) == str(t.int_repr().dtype)
    assert e.q_scale() == t.q_scale() and e.q_zero_point() == t.q_zero_point()
    assert str(e.dtype) == str(t.dtype) and str(e.qscheme()) == str(t.qscheme())
    assert e.is_quantized and not engine.tensor(x).is_quantized
    assert e.shape == t.shape and e.element_size() == t.element_size()


@pytest.mark.parametrize("dt", ["qint8", "quint8", "qint32"])
@pytest.mark.parametrize("axis", [0, 1])
def test_quantize_per_channel_matches_torch(dt, axis):
    rng = np.random.default_rng(1)
    x = _tie_values(0.02, rng, 1500)[:3000].reshape(3, 1000)
    if axis != 0:
        x = np.ascontiguousarray(x.T)
    n = x.shape[axis]
    scales = rng.uniform(0.01, 0.3, n)
    zps = rng.integers(0, 20, n)
    t = torch.quantize_per_channel(torch.tensor(x), torch.tensor(scales), torch.tensor(zps), axis, getattr(torch, dt))
    e = engine.quantize_per_channel(engine.tensor(x), engine.tensor(scales), engine.tensor(zps), axis,
                                    getattr(engine, dt))
    _exact(t.int_repr(), e.int_repr())
    _exact(t.dequantize(), e.dequantize())
    _exact(t.q_per_channel_scales(), e.q_per_channel_scales())
    _exact(t.q_per_channel_zero_points(), e.q_per_channel_zero_points())
    assert str(e.q_per_channel_scales().dtype) == "torch.float64"
    assert str(e.q_per_channel_zero_points().dtype) == "torch.int64"
    assert e.q_per_channel_axis() == t.q_per_channel_axis()
    assert str(e.qscheme()) == "torch.per_channel_affine"
    with pytest.raises(RuntimeError) as te:
        torch.quantize_per_channel(torch.tensor(x), torch.tensor(scales), torch.tensor(zps), -1, getattr(torch, dt))
    with pytest.raises(RuntimeError) as ee:
        engine.quantize_per_channel(engine.tensor(x), engine.tensor(scales), engine.tensor(zps), -1,
                                    getattr(engine, dt))
    assert str(ee.value) == str(te.value)


def test_quantized_tensor_repr_matches_torch():
    cases = [([0.1, 0.25, -1.0], 0.1, 0, "qint8"), ([[0.5, 1.5], [2.0, -3.25]], 0.25, 10, "quint8"),
             (np.linspace(-2, 2, 40).reshape(5, 8).tolist(), 0.013, -3, "qint8"), ([], 0.5, 0, "qint8"),
             ([1.0, 2.0], 1e-3, 0, "qint32")]
    for vals, s, z, dt in cases:
        t = torch.quantize_per_tensor(torch.tensor(vals), s, z, getattr(torch, dt))
        e = engine.quantize_per_tensor(engine.tensor(vals), s, z, getattr(engine, dt))
        assert repr(e) == repr(t)
    x = [[0.1, 0.25], [-1.0, 3.0]]
    t = torch.quantize_per_channel(torch.tensor(x), torch.tensor([0.1, 0.2]), torch.tensor([0, 3]), 0, torch.quint8)
    e = engine.quantize_per_channel(engine.tensor(x), engine.tensor([0.1, 0.2]), engine.tensor([0, 3]), 0,
                                    engine.quint8)
    assert repr(e) == repr(t)
    for name in ("qint8", "quint8", "qint32", "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric",
                 "per_channel_symmetric", "per_channel_affine_float_qparams"):
        assert repr(getattr(engine, name)) == repr(getattr(torch, name))
    for name in ("qint8", "quint8", "qint32"):
        a, b = getattr(engine, name), getattr(torch, name)
        assert (a.is_floating_point, a.itemsize) == (b.is_floating_point, b.itemsize)


def test_quantized_tensor_copies_and_pickle():
    import pickle

    e = engine.quantize_per_channel(engine.tensor([[1.0, -2.0], [0.5, 0.25]]), engine.tensor([0.1, 0.05]),
                                    engine.tensor([0, 1]), 0, engine.qint8)
    for c in (copy.deepcopy(e), pickle.loads(pickle.dumps(e)), e.clone(), e.detach()):
        assert repr(c) == repr(e)
        _exact(e.int_repr().numpy(), c.int_repr())
    assert copy.deepcopy(engine.qint8) is engine.qint8
    assert engine.dequantize(e).dtype is engine.float32


# -- quantize_dynamic: Linear -----------------------------------------------------------------------
def _mlp(nn):
    # ReLU, not Tanh, between the layers: the engine's float32 tanh may differ from ATen's by an ulp
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10))


@pytest.mark.parametrize("per_channel", [False, True])
def test_quantize_dynamic_mlp_matches_torch_exactly(per_channel):
    tm, em = both(_mlp)
    if per_channel:
        ts = {torch.nn.Linear: tq.per_channel_dynamic_qconfig}
        es = {enn.Linear: eq.per_channel_dynamic_qconfig}
    else:
        ts, es = {torch.nn.Linear}, {enn.Linear}
    tqm = tq.quantize_dynamic(tm, ts, dtype=torch.qint8)
    eqm = eq.quantize_dynamic(em, es, dtype=engine.qint8)
    assert repr(eqm) == repr(tqm)
    assert type(eqm[0]).__name__ == "DynamicQuantizedLinear" and type(eqm[1]) is enn.ReLU
    assert list(eqm.state_dict()) == list(tqm.state_dict())
    for i in (0, 2, 4):
        _exact(tqm[i].weight().int_repr(), eqm[i].weight().int_repr())
        assert repr(eqm[i].weight()) == repr(tqm[i].weight())
        _exact(tqm[i].bias(), eqm[i].bias())
    rng = np.random.default_rng(0)
    for shape, scale, shift in (((64, 20), 1.0, 0.0), ((3, 5, 20), 4.0, 1.0), ((1, 20), 0.01, 0.0),
                                ((7, 20), 1.0, 5.0), ((2, 20), 0.0, 0.0)):
        x = (rng.standard_normal(shape) * scale + shift).astype(np.float32)
        _exact(tqm(torch.tensor(x)), eqm(engine.tensor(x)))
    assert not eqm.training and em.training and em[0].weight.dtype is engine.float32


def test_dynamic_linear_wide_layer_and_no_bias():
    tm, em = both(lambda nn: nn.Sequential(nn.Linear(784, 64, bias=False), nn.Linear(64, 5)), seed=3)
    tqm, eqm = tq.quantize_dynamic(tm, {torch.nn.Linear}), eq.quantize_dynamic(em, {enn.Linear})
    x = np.random.default_rng(4).uniform(-0.5, 3.0, (100, 784)).astype(np.float32)
    _exact(tqm(torch.tensor(x)), eqm(engine.tensor(x)))
    assert eqm[0].bias() is None


def test_float_model_untouched_unless_inplace():
    tm, em = both(_mlp)
    before = {k: v.detach().numpy().copy() for k, v in em.state_dict().items()}
    q = eq.quantize_dynamic(em, {enn.Linear})
    assert q is not em and type(em[0]) is enn.Linear and em.training
    for k, v in em.state_dict().items():
        np.testing.assert_array_equal(before[k], v._data)
    assert not any(hasattr(m, "qconfig") for m in em.modules())
    assert not any(hasattr(m, "qconfig") for m in q.modules())
    q2 = eq.quantize_dynamic(em, {enn.Linear}, inplace=True)
    assert q2 is em and type(em[0]).__name__ == "DynamicQuantizedLinear" and not em.training


def test_qconfig_spec_forms_behave_as_torch():
    tm, em = both(_mlp)
    # the seeds' call: integer keys match no module, so torch returns an unchanged (deep) copy
    tr = tq.quantize_dynamic(tm, {0: 1, 1: 1, 2: 1})
    er = eq.quantize_dynamic(em, {0: 1, 1: 1, 2: 1})
    assert repr(er) == repr(tr) and er is not em and type(er[0]) is enn.Linear
    x = np.random.default_rng(0).standard_normal((2, 20)).astype(np.float32)
    # unchanged float32 MLP (K <= 32 per Linear): parity.py's float32 defaults (the old atol 1e-6 was ~10 rms of
    # the random walk u*T*K/sqrt(3) with T = 0.3, K = 32, three layers deep)
    np.testing.assert_allclose(tr(torch.tensor(x)).detach().numpy(), er(engine.tensor(x)).detach().numpy(),
                               atol=1e-5, rtol=1e-4)
    # qualified names select single submodules; a set of names uses the default qconfig
    assert repr(eq.quantize_dynamic(em, {"2"})) == repr(tq.quantize_dynamic(tm, {"2"}))
    assert repr(eq.quantize_dynamic(em, {"0": eq.default_dynamic_qconfig})) == \
        repr(tq.quantize_dynamic(tm, {"0": tq.default_dynamic_qconfig}))
    # default spec (None) and the root module itself is never swapped
    assert repr(eq.quantize_dynamic(em)) == repr(tq.quantize_dynamic(tm))
    assert repr(eq.quantize_dynamic(enn.Linear(3, 3))) == repr(tq.quantize_dynamic(torch.nn.Linear(3, 3)))
    # a non-qconfig value on a matching key fails as in torch
    with pytest.raises(AttributeError) as te:
        tq.quantize_dynamic(tm, {torch.nn.Linear: 1})
    with pytest.raises(AttributeError) as ee:
        eq.quantize_dynamic(em, {enn.Linear: 1})
    assert str(te.value) == str(ee.value)
    with pytest.raises(AssertionError) as te:
        tq.quantize_dynamic(tm, {torch.nn.Linear: tq.float_qparams_weight_only_qconfig})
    with pytest.raises(AssertionError) as ee:
        eq.quantize_dynamic(em, {enn.Linear: eq.float_qparams_weight_only_qconfig})
    assert str(te.value) == str(ee.value)
    # torch.quantization and torch.ao.quantization are the same module here
    assert engine.ao.quantization.quantize_dynamic is eq.quantize_dynamic


def test_dynamic_linear_errors_and_float16():
    tm, em = both(lambda nn: nn.Sequential(nn.Linear(4, 3)))
    tqm, eqm = tq.quantize_dynamic(tm, {torch.nn.Linear}), eq.quantize_dynamic(em, {enn.Linear})
    for bad_t, bad_e in ((torch.ones(4), engine.ones(4)),
                         (torch.ones(2, 4, dtype=torch.float64), engine.ones(2, 4, dtype=engine.float64))):
        with pytest.raises(RuntimeError) as te:
            tqm(bad_t)
        with pytest.raises(RuntimeError) as ee:
            eqm(bad_e)
        assert str(ee.value) in str(te.value)
    t16, e16 = tq.quantize_dynamic(tm, {torch.nn.Linear}, dtype=torch.float16), \
        eq.quantize_dynamic(em, {enn.Linear}, dtype=engine.float16)
    assert repr(e16) == repr(t16)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    # float16 weights widened to float32, K = 4 terms of |x*w| <= 3*0.5 (+ bias): fbgemm's FMA-blocked sum
    # vs numpy's, 2*K*u*S = 2*4*2**-24*6.5 = 3.1e-6 worst case -> atol 1e-5
    np.testing.assert_allclose(t16(torch.tensor(x)).detach().numpy(), e16(engine.tensor(x))._data, atol=1e-5)


def test_state_dict_roundtrip_and_saved_size():
    tm, em = both(_mlp)
    eqm = eq.quantize_dynamic(em, {enn.Linear})
    sd = eqm.state_dict()
    w, b = sd["0._packed_params._packed_params"]
    assert w.dtype is engine.qint8 and w.is_quantized and b.dtype is engine.float32
    assert sd["0._packed_params.dtype"] is engine.qint8
    assert sd["0.scale"].dtype is engine.float32 and sd["0.zero_point"].dtype is engine.int64
    fresh = eq.quantize_dynamic(both(_mlp, seed=5)[1], {enn.Linear})
    fresh.load_state_dict(sd)
    x = np.random.default_rng(1).standard_normal((6, 20)).astype(np.float32)
    _exact(eqm(engine.tensor(x)).numpy(), fresh(engine.tensor(x)))
    # a deep copy works the same, and the weights take a quarter of the float bytes
    _exact(eqm(engine.tensor(x)).numpy(), copy.deepcopy(eqm)(engine.tensor(x)))
    assert eq.weight_bytes(em) >= 3.5 * eq.weight_bytes(eqm) - 400
    buf_f, buf_q = io.BytesIO(), io.BytesIO()
    engine.save(em.state_dict(), buf_f)
    engine.save(sd, buf_q)
    assert len(buf_q.getvalue()) < len(buf_f.getvalue())
    # a saved quantized state_dict loads back into a fresh quantized model with the same outputs
    buf_q.seek(0)
    loaded = engine.load(buf_q)
    lw = loaded["0._packed_params._packed_params"][0]
    assert lw.dtype is engine.qint8 and lw.q_scale() == w.q_scale() and lw.q_zero_point() == w.q_zero_point()
    np.testing.assert_array_equal(lw.int_repr().numpy(), w.int_repr().numpy())
    again = eq.quantize_dynamic(both(_mlp, seed=7)[1], {enn.Linear})
    again.load_state_dict(loaded)
    _exact(eqm(engine.tensor(x)).numpy(), again(engine.tensor(x)))


@pytest.mark.parametrize("per_channel", [False, True])
def test_quantized_tensors_save_and_load(per_channel):
    x = engine.tensor(np.random.default_rng(2).standard_normal((3, 5)).astype(np.float32))
    if per_channel:
        q = engine.quantize_per_channel(x, engine.tensor([0.05, 0.1, 0.2], dtype=engine.float64),
                                        engine.tensor([0, 3, -2]), 0, engine.qint8)
    else:
        q = engine.quantize_per_tensor(x, 0.03, 7, engine.quint8)
    buf = io.BytesIO()
    engine.save({"a": q, "b": q}, buf)
    buf.seek(0)
    back = engine.load(buf)
    assert back["a"] is back["b"] and back["a"].dtype is q.dtype and back["a"].qscheme() is q.qscheme()
    assert repr(back["a"]) == repr(q)
    np.testing.assert_array_equal(back["a"].int_repr().numpy(), q.int_repr().numpy())


# -- quantize_dynamic: LSTM -------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [dict(num_layers=1), dict(num_layers=2, bidirectional=True),
                                 dict(num_layers=2, batch_first=True)])
def test_dynamic_lstm_matches_torch(cfg):
    tm, em = both(lambda nn: nn.Sequential(nn.LSTM(5, 8, **cfg), nn.Identity()))
    tqm, eqm = tq.quantize_dynamic(tm, {torch.nn.LSTM}), eq.quantize_dynamic(em, {enn.LSTM})
    assert repr(eqm) == repr(tqm)
    assert list(eqm.state_dict()) == list(tqm.state_dict())
    D = 2 if cfg.get("bidirectional") else 1
    B, T = 4, 7
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, 5) if cfg.get("batch_first") else (T, B, 5)).astype(np.float32)
    h0 = rng.standard_normal((cfg["num_layers"] * D, B, 8)).astype(np.float32)
    c0 = rng.standard_normal((cfg["num_layers"] * D, B, 8)).astype(np.float32)
    for hx_t, hx_e in ((None, None), ((torch.tensor(h0), torch.tensor(c0)), (engine.tensor(h0), engine.tensor(c0)))):
        yt, (ht, ct) = tqm[0](torch.tensor(x), hx_t)
        ye, (he, ce) = eqm[0](engine.tensor(x), hx_e)
        # The integer parts agree: the quantized inputs of later steps are h's of earlier steps, which the two
        # libraries compute <= 2 ulp apart (measured, 1.2e-7) -- moving a value by <= 1.2e-7*127/0.18 =
        # 8.4e-5 quantization steps, while the nearest rounding tie (of a value or a zero point) in these
        # runs is 1.6e-4 steps away; perturbing every h and c by up to 8 ulp at every step changed no
        # quantized value in 120 trials.  The float parts: each step's sigmoid/tanh differ by <= 4 ulp per
        # library (<= 2.4e-7 on values < 1) and |c| <= 3, so h and c by <= (|c| + 2)*2.4e-7 + 2 roundings =
        # 2.5e-6 per step, carried by c (|forget gate| < 1) over T = 7 steps: <= 1.75e-5 -> atol 2e-5.
        for a, b in ((yt, ye), (ht, he), (ct, ce)):
            np.testing.assert_allclose(a.detach().numpy(), b._data, atol=2e-5, rtol=0)
    # the float LSTM differs from its quantized version by far more than that (1.3e-3 to 4.5e-3 here)
    yf, _ = tm[0](torch.tensor(x))
    assert np.abs(yf.detach().numpy() - ye._data).max() > 5e-4


def test_dynamic_lstm_packed_and_unbatched():
    from torch.nn.utils.rnn import pack_padded_sequence as tpack
    from engine.nn.utils.rnn import pack_padded_sequence as epack

    tm, em = both(lambda nn: nn.Sequential(nn.LSTM(5, 6, num_layers=2, bidirectional=True)), seed=2)
    tqm, eqm = tq.quantize_dynamic(tm, {torch.nn.LSTM}), eq.quantize_dynamic(em, {enn.LSTM})
    x = np.random.default_rng(3).standard_normal((7, 4, 5)).astype(np.float32)
    lens = [7, 5, 5, 2]
    yt, (ht, ct) = tqm[0](tpack(torch.tensor(x), lens, enforce_sorted=False))
    ye, (he, ce) = eqm[0](epack(engine.tensor(x), lens, enforce_sorted=False))
    # as in test_dynamic_lstm_matches_torch (T <= 7; nearest rounding tie here 8.8e-4 quantization steps away)
    np.testing.assert_allclose(yt.data.detach().numpy(), ye.data._data, atol=2e-5, rtol=0)
    np.testing.assert_allclose(ht.detach().numpy(), he._data, atol=2e-5, rtol=0)
    np.testing.assert_allclose(ct.detach().numpy(), ce._data, atol=2e-5, rtol=0)
    for bad_t, bad_e in ((torch.tensor(x[:, 0]), engine.tensor(x[:, 0])),
                         (torch.tensor(x[..., :3]), engine.tensor(x[..., :3]))):
        with pytest.raises(RuntimeError) as te:
            tqm[0](bad_t)
        with pytest.raises(RuntimeError) as ee:
            eqm[0](bad_e)
        assert str(ee.value) == str(te.value)
    with pytest.raises(AssertionError, match="mod.bias must be True"):
        eq.quantize_dynamic(enn.Sequential(enn.LSTM(3, 4, bias=False)), {enn.LSTM})


# -- a real model: digits MLP -----------------------------------------------------------------------
def test_digits_mlp_quantized_keeps_accuracy_and_shrinks():
    from engine.vision.datasets import Digits

    start = time.perf_counter()
    engine.manual_seed(0)

    def load(train):
        ds = Digits(train=train)
        x = (np.asarray(ds.data._data, dtype=np.float32).reshape(-1, 784) / 255.0 - 0.1307) / 0.3081
        return engine.tensor(x), engine.tensor(np.asarray(ds.targets._data))

    xtr, ytr = load(True)
    xte, yte = load(False)
    model = enn.Sequential(enn.Linear(784, 128), enn.ReLU(), enn.Linear(128, 10))
    opt = engine.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    n = xtr.shape[0]
    for epoch in range(2):
        perm = np.random.default_rng(epoch).permutation(n)
        for i in range(0, n, 64):
            idx = engine.tensor(perm[i:i + 64])
            opt.zero_grad()
            loss = engine.nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
    model.eval()
    qmodel = eq.quantize_dynamic(model, {enn.Linear}, dtype=engine.qint8)
    with engine.no_grad():
        acc_f = (model(xte).argmax(1) == yte).float().mean().item() * 100
    acc_q = (qmodel(xte).argmax(1) == yte).float().mean().item() * 100
    size_f, size_q = eq.weight_bytes(model), eq.weight_bytes(qmodel)
    # 2 epochs of SGD: other kernels move the trajectory (acc_f 91.6-91.85% over the kernel families of
    # tools/test_portable.sh); 90% is 32 digits of 2,000 below.  Quantizing flips ~1-4 predictions (0.05-0.2
    # points); the bound, 1 point, is 20 digits.
    assert acc_f > 90, acc_f
    assert abs(acc_f - acc_q) <= 1.0, (acc_f, acc_q)
    assert size_f >= 3 * size_q, (size_f, size_q)
    assert time.perf_counter() - start < 30

"""Scaled dot-product attention, MultiheadAttention and the Transformer family against real
PyTorch: outputs, input and parameter gradients, attention weights, masks (bool/float, 2-D/3-D,
key padding, causal), parameter names and shapes, printing, initialisation, errors and warnings,
the functional-call contract of MultiheadAttention, gradcheck in float64."""
import math
import warnings

import numpy as np
import pytest
import torch

import engine
import engine.nn as enn
import engine.nn.functional as EF
from _nn_core_util import both, close, copy_params, to_engine

TF = torch.nn.functional
pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
              pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors"),
              pytest.mark.filterwarnings("ignore:Support for mismatched")]


def _arr(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _pair(a, grad=True):
    t = torch.tensor(a, requires_grad=grad and a.dtype.kind == "f")
    e = engine.tensor(a, requires_grad=grad and a.dtype.kind == "f")
    return t, e


def _npy(x):
    return x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x.detach()._data)


def _backward_both(touts, eouts, seed=1):
    """Backward the same random cotangents through every (torch, engine) output pair."""
    rng = np.random.default_rng(seed)
    tl, el, tg, eg = [], [], [], []
    for t, e in zip(touts, eouts):
        if t is None or not t.requires_grad:
            continue
        g = rng.standard_normal(tuple(t.shape)).astype(_npy(t).dtype)
        tl.append(t)
        el.append(e)
        tg.append(torch.tensor(g))
        eg.append(engine.tensor(g))
    torch.autograd.backward(tl, tg)
    engine.autograd.backward(el, eg)


def _compare_grads(tins, eins, tm=None, em=None, atol=1e-5):
    for i, (a, b) in enumerate(zip(tins, eins)):
        if isinstance(a, torch.Tensor) and a.requires_grad:
            if a.grad is None:
                assert b.grad is None or not np.any(_npy(b.grad)), i
            else:
                close(a.grad, b.grad, atol=atol, rtol=atol)
    if tm is not None:
        tp = dict(tm.named_parameters())
        ep = dict(em.named_parameters())
        assert list(tp) == list(ep)
        for k in tp:
            if tp[k].grad is None:
                assert ep[k].grad is None, k
            else:
                assert ep[k].grad is not None, k
                close(tp[k].grad, ep[k].grad, atol=atol, rtol=atol)


# ---------------------------------------------------------------------------------------------
# scaled_dot_product_attention
# ---------------------------------------------------------------------------------------------
SDPA_CASES = {
    "plain": dict(q=(2, 3, 4, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 6)),
    "3d": dict(q=(3, 4, 8), k=(3, 6, 8), v=(3, 6, 8)),
    "2d": dict(q=(4, 8), k=(6, 8), v=(6, 5)),
    "broadcast_batch": dict(q=(1, 3, 4, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 8)),
    "bool_mask": dict(q=(2, 3, 4, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 6), mask=("bool", (4, 5))),
    "bool_mask_4d": dict(q=(2, 3, 4, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 6), mask=("bool", (2, 1, 4, 5))),
    "bool_mask_dead_row": dict(q=(2, 3, 4, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 6), mask=("dead", (4, 5))),
    "float_mask": dict(q=(2, 3, 4, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 6), mask=("float", (3, 4, 5))),
    "float_mask_inf_row": dict(q=(2, 3, 4, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 6), mask=("inf", (4, 5))),
    "causal": dict(q=(2, 3, 5, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 8), causal=True),
    "causal_rect_tall": dict(q=(2, 2, 6, 8), k=(2, 2, 4, 8), v=(2, 2, 4, 8), causal=True),
    "causal_rect_wide": dict(q=(2, 2, 3, 8), k=(2, 2, 6, 8), v=(2, 2, 6, 8), causal=True),
    "scale": dict(q=(2, 3, 4, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 6), scale=0.37),
    "scale_causal": dict(q=(2, 3, 4, 8), k=(2, 3, 4, 8), v=(2, 3, 4, 8), scale=1.3, causal=True),
    "gqa": dict(q=(2, 6, 4, 8), k=(2, 2, 5, 8), v=(2, 2, 5, 8), gqa=True),
    "gqa_mask": dict(q=(2, 4, 4, 8), k=(2, 2, 5, 8), v=(2, 2, 5, 6), gqa=True, mask=("bool", (4, 5))),
    "gqa_same_heads": dict(q=(2, 2, 4, 8), k=(2, 2, 5, 8), v=(2, 2, 5, 8), gqa=True),
}


def _sdpa_inputs(case, dtype):
    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal(case[n]).astype(dtype) for n in ("q", "k", "v")]
    mask = None
    if "mask" in case:
        kind, shape = case["mask"]
        if kind == "bool":
            mask = rng.random(shape) > 0.3
            mask[..., 0] = True
        elif kind == "dead":
            mask = rng.random(shape) > 0.3
            mask[..., 0] = True
            mask[1] = False
        elif kind == "float":
            mask = rng.standard_normal(shape).astype(dtype)
        else:
            mask = rng.standard_normal(shape).astype(dtype)
            mask[2] = -np.inf
    return arrs, mask


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(SDPA_CASES))
def test_sdpa_parity(name, dtype):
    case = SDPA_CASES[name]
    arrs, mask = _sdpa_inputs(case, dtype)
    tin, ein = zip(*[_pair(a) for a in arrs])
    tm = em = None
    if mask is not None:
        tm, em = _pair(mask, grad=mask.dtype.kind == "f" and case["mask"][0] == "float")
    kw = dict(is_causal=case.get("causal", False), scale=case.get("scale"), enable_gqa=case.get("gqa", False))
    to = TF.scaled_dot_product_attention(*tin, tm, **kw)
    eo = EF.scaled_dot_product_attention(*ein, em, **kw)
    # logits q.k*scale: K = 8 terms of N(0, 1) products, scale <= 1.3; softmax over <= 6 keys (a logit's
    # absolute error is the probabilities' relative error: no amplification); outputs sum <= 6 p*v.
    # float32: random walk u*1.3*K/sqrt(3) = 3.6e-7 rms per logit, times |v| <= 3.5: 1.3e-6 rms, atol 1e-5
    # = 8 rms (x10 on grads); float64: 2*K*u*S = 2*8*2**-53*94 = 1.7e-13 per logit, < 1e-12 throughout.
    tol = 1e-5 if dtype == np.float32 else 1e-10
    close(to, eo, atol=tol, rtol=tol)
    assert str(to.dtype) == str(eo.dtype)
    _backward_both([to], [eo])
    _compare_grads(list(tin) + [tm], list(ein) + [em], atol=tol * 10)


def test_sdpa_no_grad_and_broadcast_mask_values():
    arrs, _ = _sdpa_inputs(SDPA_CASES["plain"], np.float32)
    mask = np.random.default_rng(3).random((1, 3, 1, 5)) > 0.4
    mask[..., 1] = True
    with torch.no_grad():
        to = TF.scaled_dot_product_attention(*[torch.tensor(a) for a in arrs], torch.tensor(mask))
    with engine.no_grad():
        eo = EF.scaled_dot_product_attention(*[engine.tensor(a) for a in arrs], engine.tensor(mask))
    assert eo.grad_fn is None
    close(to, eo)


@pytest.mark.parametrize("mask", ["bool", "float"])
def test_sdpa_mask_with_causal_fused_route(mask):
    """4-D inputs with one head dim: PyTorch's fused kernel applies the mask and the causal mask."""
    arrs, _ = _sdpa_inputs(SDPA_CASES["gqa_same_heads"], np.float32)
    rng = np.random.default_rng(4)
    m = rng.random((4, 5)) > 0.3 if mask == "bool" else rng.standard_normal((4, 5)).astype(np.float32)
    tin, ein = zip(*[_pair(a) for a in arrs])
    to = TF.scaled_dot_product_attention(*tin, torch.tensor(m), is_causal=True)
    eo = EF.scaled_dot_product_attention(*ein, engine.tensor(m), is_causal=True)
    # scale 1/sqrt(8), <= 5 keys: test_sdpa_parity's argument (0.35x its logits), outputs ~5e-7 rms and the
    # grads ~2 stages more (~1e-6 rms): atol = rtol = 1e-5
    close(to, eo)
    _backward_both([to], [eo])
    _compare_grads(tin, ein)


def test_sdpa_double_backward():
    arrs, mask = _sdpa_inputs(SDPA_CASES["bool_mask_dead_row"], np.float64)
    for lib, F in ((torch, TF), (engine, EF)):
        q, k, v = [lib.tensor(a, requires_grad=True) for a in arrs]
        o = F.scaled_dot_product_attention(q, k, v, lib.tensor(mask))
        (gq,) = lib.autograd.grad((o * o).sum(), q, create_graph=True)
        gq.sum().backward()
        if lib is torch:
            ref = [t.grad.numpy().copy() for t in (k, v)] + [gq.detach().numpy()]
        else:
            got = [np.asarray(t.grad._data) for t in (k, v)] + [np.asarray(gq.detach()._data)]
    # float64, K <= 8 per logit, 5 keys; the second derivatives chain ~200 products of values <= 2 (S <= 100x):
    # 200*2**-53*200 = 4.4e-12 < 1e-9
    for a, b in zip(ref, got):
        np.testing.assert_allclose(b, a, atol=1e-9, rtol=1e-9)


def test_sdpa_gradcheck():
    rng = np.random.default_rng(0)
    q, k, v = [engine.tensor(rng.standard_normal(s), dtype=engine.float64, requires_grad=True)
               for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3))]
    m = engine.tensor(rng.standard_normal((3, 5)), dtype=engine.float64, requires_grad=True)
    assert engine.autograd.gradcheck(lambda a, b, c, d: EF.scaled_dot_product_attention(a, b, c, d), (q, k, v, m))
    assert engine.autograd.gradcheck(lambda a, b, c: EF.scaled_dot_product_attention(a, b, c, is_causal=True,
                                                                                    scale=0.7), (q, k, v))
    assert engine.autograd.gradgradcheck(lambda a, b, c: EF.scaled_dot_product_attention(a, b, c), (q, k, v))


def test_sdpa_dropout():
    q = engine.ones(2, 4, 8)
    v = engine.tensor(_arr((2, 6, 8)))
    engine.manual_seed(0)
    a = EF.scaled_dot_product_attention(q, q[:, :1].expand(2, 6, 8), v, dropout_p=0.5)
    engine.manual_seed(0)
    b = EF.scaled_dot_product_attention(q, q[:, :1].expand(2, 6, 8), v, dropout_p=0.5)
    close(a, b, atol=0, rtol=0)  # the engine twice, same seed, same kernels: identical
    c = EF.scaled_dot_product_attention(q, q[:, :1].expand(2, 6, 8), v, dropout_p=0.0)
    assert not np.allclose(_npy(a), _npy(c))
    z = EF.scaled_dot_product_attention(q, q[:, :1].expand(2, 6, 8), v, dropout_p=1.0)
    assert not np.any(_npy(z))


@pytest.mark.parametrize("what", ["mask_and_causal", "int_mask", "dims", "dtype", "gqa_heads", "head_mismatch"])
def test_sdpa_errors(what):
    def run(lib, F):
        q = lib.zeros(2, 3, 4, 8)
        k = lib.zeros(2, 3, 5, 8)
        if what == "mask_and_causal":
            return F.scaled_dot_product_attention(q, k, k[..., :6], lib.ones(4, 5, dtype=lib.bool), is_causal=True)
        if what == "int_mask":
            return F.scaled_dot_product_attention(q, k, k, lib.zeros(4, 5, dtype=lib.int64))
        if what == "dims":
            return F.scaled_dot_product_attention(q[0, 0, 0], k[0, 0], k[0, 0])
        if what == "dtype":
            return F.scaled_dot_product_attention(q.double(), k, k)
        if what == "gqa_heads":
            return F.scaled_dot_product_attention(lib.zeros(2, 3, 4, 8), lib.zeros(2, 2, 5, 8),
                                                  lib.zeros(2, 2, 5, 8), enable_gqa=True)
        return F.scaled_dot_product_attention(q, k[..., :7], k)

    with pytest.raises(RuntimeError) as ti:
        run(torch, TF)
    with pytest.raises(RuntimeError) as ei:
        run(engine, EF)
    if what != "gqa_heads":
        assert str(ei.value) == str(ti.value)


# ---------------------------------------------------------------------------------------------
# MultiheadAttention
# ---------------------------------------------------------------------------------------------
def _mha_run(tm, em, q, k=None, v=None, atol=2e-5, grad=True, **kw):
    """Forward both modules (self-attention when k/v are None), compare outputs and weights, then
    gradients of the inputs and of every parameter.

    Tolerance (float32, atol = rtol = 2e-5, x5 on grads): every stage -- in/out projections (K <= E = 12 or
    kdim/vdim <= 10), logits over head_dim <= 6, softmax over <= 7 keys, attention times V, parameter grads
    over <= 10 positions -- sums K <= 12 terms of |x*w| <= 4*0.35 (xavier bound): 2*K*u = 1.4e-6 relative
    per stage, ~6 stages deep 8.6e-6 < rtol; where terms cancel, u*T*K/sqrt(3) = 1.5e-7 rms per stage
    (T = 0.35), 4e-7 over 6 stages, atol 2e-5 = 50 rms.  float64 callers pass 1e-10 (2*K*u*S = 2*12*2**-53
    *17 = 5e-14 per stage)."""
    def build(a_list):
        pairs = [_pair(a, grad) for a in a_list]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    arrays = [q] + [a for a in (k, v) if a is not None]
    tins, eins = build(arrays)
    if k is None:
        targs, eargs = (tins[0],) * 3, (eins[0],) * 3
    elif v is None:
        targs, eargs = (tins[0], tins[1], tins[1]), (eins[0], eins[1], eins[1])
    else:
        targs, eargs = tuple(tins), tuple(eins)
    tkw, ekw = {}, {}
    for name, val in kw.items():
        if isinstance(val, np.ndarray):
            tkw[name], ekw[name] = torch.tensor(val), engine.tensor(val)
        else:
            tkw[name] = ekw[name] = val
    to, tw = tm(*targs, **tkw)
    eo, ew = em(*eargs, **ekw)
    close(to, eo, atol=atol, rtol=atol)
    if tw is None:
        assert ew is None
    else:
        close(tw, ew, atol=atol, rtol=atol)
    if grad:
        _backward_both([to, tw], [eo, ew])
        _compare_grads(tins, eins, tm, em, atol=atol * 5)
    return to, eo


MHA_OPTS = [
    dict(),
    dict(bias=False),
    dict(add_bias_kv=True),
    dict(add_zero_attn=True),
    dict(add_bias_kv=True, add_zero_attn=True),
    dict(kdim=6, vdim=10),
    dict(kdim=6, vdim=10, add_bias_kv=True, bias=False),
    dict(batch_first=True),
    dict(batch_first=True, kdim=5, vdim=7, add_zero_attn=True),
]


def _mha_id(o):
    return ",".join(f"{k}={v}" for k, v in o.items()) or "default"


@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("opts", MHA_OPTS, ids=_mha_id)
def test_mha_options(opts, need_weights, average):
    E, H, L, S, B = 12, 3, 4, 5, 2
    tm, em = both(lambda nn: nn.MultiheadAttention(E, H, **opts))
    bf = opts.get("batch_first", False)
    kd, vd = opts.get("kdim", E), opts.get("vdim", E)
    shp = (lambda n, d: (B, n, d)) if bf else (lambda n, d: (n, B, d))
    q, k, v = _arr(shp(L, E), 0), _arr(shp(S, kd), 1), _arr(shp(S, vd), 2)
    kpm = np.zeros((B, S), dtype=bool)
    kpm[1, -2:] = True
    am = np.triu(np.ones((L, S), dtype=bool), 2)
    _mha_run(tm, em, q, k, v, need_weights=need_weights, average_attn_weights=average, key_padding_mask=kpm,
             attn_mask=am)
    if kd == vd == E:  # self-attention and shared key/value keep their own projection routes
        tm.zero_grad()
        em.zero_grad()
        _mha_run(tm, em, q, need_weights=need_weights, average_attn_weights=average)
        tm.zero_grad()
        em.zero_grad()
        _mha_run(tm, em, q, k, need_weights=need_weights, average_attn_weights=average)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("mask", ["none", "bool2d", "float2d", "bool3d", "float3d", "kpm_bool", "kpm_float",
                                  "both_bool", "both_float", "causal", "causal_kpm"])
def test_mha_masks(mask, need_weights):
    E, H, L, B = 8, 2, 5, 3
    tm, em = both(lambda nn: nn.MultiheadAttention(E, H))
    x = _arr((L, B, E))
    rng = np.random.default_rng(5)
    kw = {}
    kpm_b = rng.random((B, L)) > 0.7
    kpm_b[:, 0] = False
    am_b = rng.random((L, L)) > 0.7
    np.fill_diagonal(am_b, False)
    am3_b = rng.random((B * H, L, L)) > 0.7
    for i in range(B * H):
        np.fill_diagonal(am3_b[i], False)
    if mask == "bool2d":
        kw["attn_mask"] = am_b
    elif mask == "float2d":
        kw["attn_mask"] = rng.standard_normal((L, L)).astype(np.float32)
    elif mask == "bool3d":
        kw["attn_mask"] = am3_b
    elif mask == "float3d":
        kw["attn_mask"] = rng.standard_normal((B * H, L, L)).astype(np.float32)
    elif mask == "kpm_bool":
        kw["key_padding_mask"] = kpm_b
    elif mask == "kpm_float":
        kw["key_padding_mask"] = np.where(kpm_b, -np.inf, 0.0).astype(np.float32)
    elif mask == "both_bool":
        kw["attn_mask"], kw["key_padding_mask"] = am_b, kpm_b
    elif mask == "both_float":
        kw["attn_mask"] = rng.standard_normal((L, L)).astype(np.float32)
        kw["key_padding_mask"] = np.where(kpm_b, -np.inf, 0.0).astype(np.float32)
    elif mask == "causal":
        kw["attn_mask"], kw["is_causal"] = np.triu(np.ones((L, L), dtype=bool), 1), True
    elif mask == "causal_kpm":
        kw["attn_mask"], kw["is_causal"] = np.triu(np.ones((L, L), dtype=bool), 1), True
        kw["key_padding_mask"] = kpm_b
    _mha_run(tm, em, x, need_weights=need_weights, **kw)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("opts", [dict(), dict(kdim=4, vdim=6), dict(add_bias_kv=True, add_zero_attn=True)],
                         ids=_mha_id)
def test_mha_unbatched(opts, need_weights):
    E, H, L, S = 8, 2, 3, 4
    tm, em = both(lambda nn: nn.MultiheadAttention(E, H, **opts))
    q, k, v = _arr((L, E), 0), _arr((S, opts.get("kdim", E)), 1), _arr((S, opts.get("vdim", E)), 2)
    kpm = np.array([False, False, True, False])
    am = np.random.default_rng(0).standard_normal((H, L, S)).astype(np.float32)
    _mha_run(tm, em, q, k, v, need_weights=need_weights, key_padding_mask=kpm, attn_mask=am)


def test_mha_dead_rows_nan_like_torch():
    """Every key padded: the weights route gives NaN, as PyTorch does."""
    tm, em = both(lambda nn: nn.MultiheadAttention(4, 2))
    x = _arr((3, 2, 4))
    kpm = np.zeros((2, 3), dtype=bool)
    kpm[1] = True
    with torch.no_grad():
        to, tw = tm(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(kpm))
    with engine.no_grad():
        eo, ew = em(*(engine.tensor(x),) * 3, key_padding_mask=engine.tensor(kpm))
    np.testing.assert_array_equal(np.isnan(_npy(eo)), np.isnan(_npy(to)))
    # weights p <= 1 carry a logit's absolute error (in_proj K = 4, q.k K = 2, |logit| <= 5: 2*K*u*S <= 2e-6)
    # plus exp/sum/divide (<= 8u = 4.8e-7): < 3e-6 -> atol 1e-5 (was 1e-6)
    np.testing.assert_allclose(_npy(ew), _npy(tw), atol=1e-5, equal_nan=True)


def test_mha_float64_and_eval_dropout():
    tm, em = both(lambda nn: nn.MultiheadAttention(8, 4, dropout=0.5).double())
    tm.eval()
    em.eval()
    x = _arr((4, 2, 8), dtype=np.float64)
    _mha_run(tm, em, x, atol=1e-10)


def test_mha_training_dropout_runs():
    em = enn.MultiheadAttention(8, 2, dropout=0.5)
    x = engine.tensor(_arr((4, 2, 8)), requires_grad=True)
    engine.manual_seed(0)
    a, w = em(x, x, x)
    engine.manual_seed(0)
    b, _ = em(x, x, x)
    close(a, b, atol=0, rtol=0)  # the engine twice, same seed, same kernels: identical
    a.sum().backward()
    assert x.grad is not None and w.shape == (2, 4, 4)


def test_mha_eval_fast_path_numbers():
    """PyTorch takes its fused kernel here (eval, batch_first, no grad); numbers still agree."""
    tm, em = both(lambda nn: nn.MultiheadAttention(16, 4, batch_first=True))
    tm.eval()
    em.eval()
    x = _arr((3, 5, 16))
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[0, 3:] = True
    with torch.no_grad():
        to, tw = tm(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(kpm))
    with engine.no_grad():
        eo, ew = em(*(engine.tensor(x),) * 3, key_padding_mask=engine.tensor(kpm))
    close(to, eo, atol=2e-5, rtol=2e-5)  # E = 16, head_dim 4, 5 keys: _mha_run's argument with K <= 16
    close(tw, ew, atol=2e-5, rtol=2e-5)


@pytest.mark.parametrize("opts", [dict(), dict(kdim=4, vdim=6), dict(add_bias_kv=True, bias=False)], ids=_mha_id)
def test_mha_parameters_and_print(opts):
    tm = torch.nn.MultiheadAttention(8, 2, **opts)
    em = enn.MultiheadAttention(8, 2, **opts)
    assert [(n, tuple(p.shape)) for n, p in tm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in em.named_parameters()]
    assert list(tm.state_dict()) == list(em.state_dict())
    assert str(tm) == str(em)
    assert type(em.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert isinstance(em.out_proj, enn.Linear)
    for name in ("embed_dim", "kdim", "vdim", "_qkv_same_embed_dim", "num_heads", "dropout", "batch_first",
                 "head_dim", "add_zero_attn"):
        assert getattr(tm, name) == getattr(em, name), name
    assert (em.bias_k is None) == (tm.bias_k is None)


def test_mha_init():
    engine.manual_seed(0)
    m = enn.MultiheadAttention(64, 4, add_bias_kv=True)
    w = _npy(m.in_proj_weight)
    bound = math.sqrt(6.0 / (64 + 192))
    # numpy's draws mapped by correctly rounded float64 ops and a cast: the same values on any machine (the
    # max of 12288 draws is ~1e-4*bound below it, a cast moves it by <= 6e-8 relative)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not np.any(_npy(m.in_proj_bias)) and not np.any(_npy(m.out_proj.bias))
    assert np.any(_npy(m.bias_k)) and m.bias_k.shape == (1, 1, 64)
    ob = 1 / math.sqrt(64)
    assert np.abs(_npy(m.out_proj.weight)).max() <= ob
    m2 = enn.MultiheadAttention(8, 2, kdim=3, vdim=5)
    assert m2.in_proj_weight is None and m2.k_proj_weight.shape == (8, 3) and m2.v_proj_weight.shape == (8, 5)


@pytest.mark.parametrize("what", ["divisible", "zero_heads", "embed_check", "kpm_shape", "mask_shape_2d",
                                  "mask_shape_3d", "query_dims", "int_mask", "causal_without_mask"])
def test_mha_errors(what):
    def run(lib):
        nn = lib.nn
        if what == "divisible":
            return nn.MultiheadAttention(10, 3)
        if what == "zero_heads":
            return nn.MultiheadAttention(8, 0)
        m = nn.MultiheadAttention(8, 2)
        x = lib.zeros(4, 2, 8)
        if what == "embed_check":
            y = lib.zeros(4, 2, 6)
            return m(y, y, y)
        if what == "kpm_shape":
            return m(x, x, x, key_padding_mask=lib.zeros(2, 3, dtype=lib.bool))
        if what == "mask_shape_2d":
            return m(x, x, x, attn_mask=lib.zeros(4, 3))
        if what == "mask_shape_3d":
            return m(x, x, x, attn_mask=lib.zeros(3, 4, 4))
        if what == "query_dims":
            return m(x[0, 0], x[0, 0], x[0, 0])
        if what == "int_mask":
            return m(x, x, x, attn_mask=lib.zeros(4, 4, dtype=lib.int64))
        return m(x, x, x, is_causal=True)

    with pytest.raises(Exception) as ti:
        run(torch)
    with pytest.raises(Exception) as ei:
        run(engine)
    assert type(ei.value) is type(ti.value)
    assert str(ei.value) == str(ti.value)


def test_mha_mismatched_mask_warning():
    x = _arr((3, 2, 4))
    tm, em = both(lambda nn: nn.MultiheadAttention(4, 2))
    kpm = np.zeros((2, 3), dtype=bool)
    am = np.zeros((3, 3), dtype=np.float32)
    msgs = []
    for lib, m in ((torch, tm), (engine, em)):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            t = lib.tensor(x)
            m(t, t, t, key_padding_mask=lib.tensor(kpm), attn_mask=lib.tensor(am))
        msgs.append(sorted({str(i.message) for i in w if "mismatched" in str(i.message)}))
    assert msgs[0] == msgs[1] and msgs[0]


def test_mha_calls_functional_once():
    calls = []
    orig = EF.multi_head_attention_forward

    def spy(*a, **k):
        calls.append(1)
        return orig(*a, **k)

    m = enn.MultiheadAttention(8, 2, kdim=4, vdim=4)
    layer = enn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    EF.multi_head_attention_forward = spy
    try:
        x = engine.randn(3, 2, 8)
        m(x, engine.randn(5, 2, 4), engine.randn(5, 2, 4))
        assert len(calls) == 1
        layer(x)
        assert len(calls) == 2
    finally:
        EF.multi_head_attention_forward = orig


@pytest.mark.parametrize("opts", [dict(), dict(add_bias_kv=True), dict(add_zero_attn=True, bias=False)],
                         ids=_mha_id)
def test_functional_mha_static_kv_and_separate(opts):
    """F.multi_head_attention_forward directly: static_k/static_v and use_separate_proj_weight."""
    E, H, L, S, B = 8, 2, 3, 4, 2
    tm, em = both(lambda nn: nn.MultiheadAttention(E, H, **opts))
    q = _arr((L, B, E))
    sk, sv = _arr((B * H, S + 1, E // H), 1), _arr((B * H, S + 1, E // H), 2)
    kv = _arr((S, B, E), 3)
    outs = []
    for lib, F, m in ((torch, TF, tm), (engine, EF, em)):
        ins = [lib.tensor(a, requires_grad=True) for a in (q, kv, sk, sv)]
        w = m.in_proj_weight
        kw = dict(training=False, need_weights=True)
        if opts.get("add_bias_kv"):
            o = F.multi_head_attention_forward(ins[0], ins[1], ins[1], E, H, None, m.in_proj_bias, m.bias_k,
                                               m.bias_v, m.add_zero_attn, 0.0, m.out_proj.weight, m.out_proj.bias,
                                               use_separate_proj_weight=True, q_proj_weight=w[:E],
                                               k_proj_weight=w[E:2 * E], v_proj_weight=w[2 * E:], **kw)
        else:
            o = F.multi_head_attention_forward(ins[0], ins[1], ins[1], E, H, w, m.in_proj_bias, None, None,
                                               m.add_zero_attn, 0.0, m.out_proj.weight, m.out_proj.bias,
                                               static_k=ins[2], static_v=ins[3], **kw)
        (o[0].sum() + (o[1] * o[1]).sum()).backward()
        outs.append([o[0], o[1]] + [i.grad for i in ins if i.grad is not None] + [w.grad])
    assert len(outs[0]) == len(outs[1])
    for a, b in zip(*outs):
        close(a, b, atol=2e-5, rtol=2e-5)  # E = 8, head_dim 4, <= 6 keys: _mha_run's argument


def test_mha_gradcheck_float64():
    engine.manual_seed(0)
    m = enn.MultiheadAttention(4, 2, add_bias_kv=True).double()
    rng = np.random.default_rng(0)
    q = engine.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    k = engine.tensor(rng.standard_normal((2, 2, 4)), requires_grad=True)
    kpm = engine.tensor(np.array([[False, True], [False, False]]))
    w = m.in_proj_weight

    def f(q, k, w_in):
        return EF.multi_head_attention_forward(q, k, k, 4, 2, w_in, m.in_proj_bias, m.bias_k, m.bias_v, False,
                                               0.0, m.out_proj.weight, m.out_proj.bias, key_padding_mask=kpm,
                                               need_weights=True, average_attn_weights=False)

    assert engine.autograd.gradcheck(f, (q, k, w))
    assert engine.autograd.gradcheck(lambda q, k, w_in: f(q, k, w_in)[0], (q, k, w))

    def g(q, k):
        return m(q, k, k, need_weights=False, key_padding_mask=kpm)[0]

    assert engine.autograd.gradcheck(g, (q, k))


# ---------------------------------------------------------------------------------------------
# Transformer layers and stacks
# ---------------------------------------------------------------------------------------------
def _acts(nn, name):
    F = torch.nn.functional if nn is torch.nn else EF
    return {"relu": "relu", "gelu": "gelu", "fn_gelu": F.gelu, "module_relu": nn.ReLU(),
            "custom": (lambda x: x * 0.5 + x.tanh())}[name]


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("act", ["relu", "gelu", "module_relu", "custom"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer(norm_first, act, batch_first):
    tm, em = both(lambda nn: nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation=_acts(nn, act),
                                                        batch_first=batch_first, norm_first=norm_first))
    assert str(tm) == str(em)
    assert tm.activation_relu_or_gelu == em.activation_relu_or_gelu
    x = _arr((3, 5, 16))
    src_mask = np.triu(np.full((x.shape[1 if batch_first else 0],) * 2, -np.inf, np.float32), 1)
    _layer_run(tm, em, x, src_mask=src_mask)
    tm.zero_grad()
    em.zero_grad()
    bkpm = np.zeros((x.shape[0 if batch_first else 1], x.shape[1 if batch_first else 0]), dtype=bool)
    bkpm[-1, -2:] = True
    _layer_run(tm, em, x, src_key_padding_mask=bkpm)


def _layer_run(tm, em, *arrays, atol=3e-5, **kw):
    """Tolerance (float32, atol = rtol = 3e-5, x5 on grads): d_model <= 16, feed-forward <= 32, head_dim
    <= 8, so every product sums K <= 32 terms of |x*w| <= 4*0.31 (rms T ~ 0.18); an encoder layer is ~8 such
    stages, a decoder layer ~12, the stacks and nn.Transformer up to ~50.  LayerNorm divides by sd ~1 of
    its 16 inputs (no amplification) and subtracts their mean, so signs mix and parity.py's random-walk
    argument applies: u*T*K/sqrt(3) = 2e-7 rms per stage, sqrt(50)x: 1.4e-6 rms, atol 3e-5 = 20 rms."""
    pairs = [_pair(a) for a in arrays]
    tins, eins = [p[0] for p in pairs], [p[1] for p in pairs]
    tkw, ekw = {}, {}
    for name, val in kw.items():
        if isinstance(val, np.ndarray):
            tkw[name], ekw[name] = torch.tensor(val), engine.tensor(val)
        else:
            tkw[name] = ekw[name] = val
    to = tm(*tins, **tkw)
    eo = em(*eins, **ekw)
    close(to, eo, atol=atol, rtol=atol)
    _backward_both([to], [eo])
    _compare_grads(tins, eins, tm, em, atol=atol * 5)
    return to, eo


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("act", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer(norm_first, act, batch_first):
    tm, em = both(lambda nn: nn.TransformerDecoderLayer(16, 4, 24, dropout=0.0, activation=act,
                                                        batch_first=batch_first, norm_first=norm_first))
    assert str(tm) == str(em)
    T, S, B = 4, 6, 2
    shp = (lambda n: (B, n, 16)) if batch_first else (lambda n: (n, B, 16))
    tgt, mem = _arr(shp(T), 0), _arr(shp(S), 1)
    tmask = np.triu(np.full((T, T), -np.inf, np.float32), 1)
    mkpm = np.zeros((B, S), dtype=bool)
    mkpm[0, -3:] = True
    tkpm = np.zeros((B, T), dtype=bool)
    tkpm[1, -1] = True
    _layer_run(tm, em, tgt, mem, tgt_mask=tmask, memory_key_padding_mask=mkpm, tgt_key_padding_mask=tkpm)
    tm.zero_grad()
    em.zero_grad()
    _layer_run(tm, em, tgt, mem, tgt_mask=tmask, tgt_is_causal=True,
               memory_mask=np.random.default_rng(2).standard_normal((T, S)).astype(np.float32))


def test_layers_in_training_with_dropout_run():
    engine.manual_seed(0)
    enc = enn.TransformerEncoderLayer(8, 2, 16, dropout=0.3)
    dec = enn.TransformerDecoderLayer(8, 2, 16, dropout=0.3, norm_first=True)
    x = engine.randn(4, 2, 8, requires_grad=True)
    y = dec(engine.randn(3, 2, 8), enc(x))
    y.sum().backward()
    assert y.shape == (3, 2, 8) and x.grad is not None and enc.linear1.weight.grad is not None


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_decoder_stacks(norm_first):
    def mk_enc(nn):
        layer = nn.TransformerEncoderLayer(16, 2, 24, dropout=0.0, norm_first=norm_first)
        return nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(16), enable_nested_tensor=False)

    def mk_dec(nn):
        layer = nn.TransformerDecoderLayer(16, 2, 24, dropout=0.0, norm_first=norm_first, activation="gelu")
        return nn.TransformerDecoder(layer, 3, norm=nn.LayerNorm(16))

    tm, em = both(mk_enc)
    assert str(tm) == str(em)
    assert list(tm.state_dict()) == list(em.state_dict())
    x = _arr((5, 3, 16))
    mask = np.triu(np.full((5, 5), -np.inf, np.float32), 1)
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[2, -2:] = True
    _layer_run(tm, em, x, mask=mask, src_key_padding_mask=kpm)
    tm.zero_grad()
    em.zero_grad()
    _layer_run(tm, em, x, mask=mask, is_causal=True)
    td, ed = both(mk_dec)
    assert str(td) == str(ed)
    _layer_run(td, ed, _arr((4, 3, 16), 1), x, tgt_mask=np.triu(np.full((4, 4), -np.inf, np.float32), 1),
               memory_key_padding_mask=kpm)


def test_encoder_clones_are_deep_copies():
    layer = enn.TransformerEncoderLayer(8, 2, 16)
    enc = enn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
    ws = [enc.layers[i].linear1.weight for i in range(3)]
    assert ws[0] is not ws[1] and ws[0] is not layer.linear1.weight
    np.testing.assert_array_equal(_npy(ws[0]), _npy(ws[2]))
    assert len(list(enc.parameters())) == 3 * len(list(layer.parameters()))


@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True), dict(batch_first=True), dict(batch_first=True,
                                                                                          nhead=3),
                                dict(batch_first=True, activation=lambda x: x), dict(batch_first=True,
                                                                                     bias=False)],
                         ids=lambda k: ",".join(f"{a}" for a in k) or "default")
def test_encoder_nested_tensor_warning(kw):
    kw = dict(kw)
    nhead = kw.pop("nhead", 2)
    msgs = []
    for nn in (torch.nn, enn):
        layer = nn.TransformerEncoderLayer(6, nhead, 8, **kw)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            enc = nn.TransformerEncoder(layer, 1)
        msgs.append(([str(i.message) for i in w], enc.use_nested_tensor))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        assert not w
    assert msgs[0] == msgs[1]


def test_encoder_nested_route_zeroes_padding_in_inference():
    """PyTorch's inference route packs the batch into a nested tensor: padded positions come back
    as zeros before the final norm."""
    def mk(nn):
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True)
        return nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8))

    tm, em = both(mk)
    tm.eval()
    em.eval()
    x = _arr((3, 5, 8))
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[0, 3:] = True
    kpm[2, 1:] = True
    with torch.no_grad():
        to = tm(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm))
    with engine.no_grad():
        eo = em(engine.tensor(x), src_key_padding_mask=engine.tensor(kpm))
    close(to, eo, atol=3e-5, rtol=3e-5)  # d_model 8, 2 layers: _layer_run's argument
    # with grad the regular route runs in both
    to = tm(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm))
    eo = em(engine.tensor(x), src_key_padding_mask=engine.tensor(kpm))
    close(to, eo, atol=3e-5, rtol=3e-5)
    # not left-aligned padding: no nested route
    kpm2 = kpm.copy()
    kpm2[1, 0] = True
    with torch.no_grad():
        to = tm(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm2))
    with engine.no_grad():
        eo = em(engine.tensor(x), src_key_padding_mask=engine.tensor(kpm2))
    close(to, eo, atol=3e-5, rtol=3e-5)


def test_encoder_layer_eval_fast_path_numbers():
    tm, em = both(lambda nn: nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, activation="gelu"))
    tm.eval()
    em.eval()
    x = _arr((2, 6, 16))
    with torch.no_grad():
        to = tm(torch.tensor(x))
    with engine.no_grad():
        eo = em(engine.tensor(x))
    close(to, eo, atol=3e-5, rtol=3e-5)  # d_model 16, ff 32: _layer_run's argument


# ---------------------------------------------------------------------------------------------
# nn.Transformer
# ---------------------------------------------------------------------------------------------
def _small_transformer(nn, **kw):
    return nn.Transformer(d_model=16, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=24,
                          dropout=0.0, **kw)


@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, activation="gelu"), dict(batch_first=True),
                                dict(bias=False)],
                         ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "default")
def test_transformer_parity(kw):
    tm, em = both(lambda nn: _small_transformer(nn, **kw))
    assert str(tm) == str(em)
    assert [(n, tuple(p.shape)) for n, p in tm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in em.named_parameters()]
    assert list(tm.state_dict()) == list(em.state_dict())
    bf = kw.get("batch_first", False)
    S, T, B = 5, 4, 2
    shp = (lambda n: (B, n, 16)) if bf else (lambda n: (n, B, 16))
    src, tgt = _arr(shp(S), 0), _arr(shp(T), 1)
    tgt_mask = np.triu(np.full((T, T), -np.inf, np.float32), 1)
    skpm = np.zeros((B, S), dtype=bool)
    skpm[1, -2:] = True
    _layer_run(tm, em, src, tgt, tgt_mask=tgt_mask, src_key_padding_mask=skpm, memory_key_padding_mask=skpm)


def test_transformer_unbatched_and_causal_flags():
    tm, em = both(lambda nn: _small_transformer(nn))
    src, tgt = _arr((5, 16), 0), _arr((3, 16), 1)
    m = torch.nn.Transformer.generate_square_subsequent_mask(3).numpy()
    _layer_run(tm, em, src, tgt, tgt_mask=m, tgt_is_causal=True)


def test_transformer_custom_encoder_decoder():
    def mk(nn):
        enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0), 1,
                                    enable_nested_tensor=False)
        dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 12, dropout=0.0), 2)
        return nn.Transformer(d_model=8, nhead=2, custom_encoder=enc, custom_decoder=dec)

    tm, em = both(mk)
    assert str(tm) == str(em)
    assert list(tm.state_dict()) == list(em.state_dict())
    assert em.encoder.norm is None and len(em.decoder.layers) == 2
    _layer_run(tm, em, _arr((4, 2, 8), 0), _arr((3, 2, 8), 1))


def test_transformer_init_and_mask():
    engine.manual_seed(0)
    m = _small_transformer(enn)
    for n, p in m.named_parameters():
        a = _npy(p)
        if p.dim() > 1:
            fan_out, fan_in = p.shape[0], int(np.prod(p.shape[1:]))
            # float32 draws of U(-b, b): a cast may round onto float32(b) <= b*(1 + 2**-24) < b + 1e-7
            assert np.abs(a).max() <= math.sqrt(6.0 / (fan_in + fan_out)) + 1e-7, n
        elif n.endswith("norm1.weight"):
            assert np.all(a == 1)
    for sz in (1, 4):
        tmask = torch.nn.Transformer.generate_square_subsequent_mask(sz)
        emask = enn.Transformer.generate_square_subsequent_mask(sz)
        np.testing.assert_array_equal(_npy(emask), tmask.numpy())  # 0 and -inf: exact
        assert str(emask.dtype) == str(tmask.dtype)
    e64 = enn.Transformer.generate_square_subsequent_mask(3, dtype=engine.float64)
    assert e64.dtype == engine.float64
    assert m.generate_square_subsequent_mask(2).shape == (2, 2)


@pytest.mark.parametrize("what", ["batch", "batch_bf", "feature", "activation"])
def test_transformer_errors(what):
    def run(nn, lib):
        if what == "activation":
            return nn.TransformerEncoderLayer(8, 2, activation="tanh")
        m = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=8,
                           batch_first=what == "batch_bf")
        if what == "batch":
            return m(lib.zeros(3, 2, 8), lib.zeros(3, 4, 8))
        if what == "batch_bf":
            return m(lib.zeros(2, 3, 8), lib.zeros(4, 3, 8))
        return m(lib.zeros(3, 2, 8), lib.zeros(3, 2, 6))

    with pytest.raises(RuntimeError) as ti:
        run(torch.nn, torch)
    with pytest.raises(RuntimeError) as ei:
        run(enn, engine)
    assert str(ei.value) == str(ti.value)


def test_seed_transformer_call():
    """The seeds' exact call: nn.Transformer(d_model=512, nhead=8) on (10, 32, 512) / (20, 32, 512)."""
    torch.manual_seed(0)
    tm = torch.nn.Transformer(d_model=512, nhead=8)
    em = enn.Transformer(d_model=512, nhead=8)
    assert str(tm) == str(em)
    copy_params(tm, em)
    tm.eval()
    em.eval()
    src = torch.rand((10, 32, 512))
    tgt = torch.rand((20, 32, 512))
    with torch.no_grad():
        to = tm(src, tgt)
    with engine.no_grad():
        eo = em(to_engine(src), to_engine(tgt))
    assert tuple(eo.shape) == (20, 32, 512)
    # d_model 512, feed-forward 2048, 6 + 6 layers (~120 products deep), xavier weights |w| <= 0.048: a K =
    # 2048 product walks u*T*K/sqrt(3) = 2e-6 rms (T = 0.028; blocked BLAS sums walk less), sqrt(120)x:
    # 1.1e-5 rms, atol 1e-4 = 9 rms; the final LayerNorm keeps |values| <= 4 (rtol adds <= 4e-4)
    close(to, eo, atol=1e-4, rtol=1e-4)

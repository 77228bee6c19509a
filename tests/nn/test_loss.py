"""Parity of the loss functions and loss modules with PyTorch: values for every reduction and option,
input (and target) gradients, gradcheck in float64, grad_fn names, warnings and errors."""
import warnings

import numpy as np
import pytest
import torch

import engine
import engine.nn
import engine.nn.functional
from _loss_util import REDS, const, nn_of, nnF
from parity import check_gradcheck, check_op

RNG = np.random.default_rng(1)


# -- pointwise losses of (input, target) -------------------------------------------------------
PAIR = {
    "mse": (lambda F, x, y, r: F.mse_loss(x, y, reduction=r), {}),
    "l1": (lambda F, x, y, r: F.l1_loss(x, y, reduction=r), {}),
    "smooth_l1": (lambda F, x, y, r: F.smooth_l1_loss(x, y, reduction=r), {}),
    "smooth_l1_b05": (lambda F, x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.5), {}),
    "smooth_l1_b0": (lambda F, x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.0), {}),
    "huber": (lambda F, x, y, r: F.huber_loss(x, y, reduction=r), {}),
    "huber_d03": (lambda F, x, y, r: F.huber_loss(x, y, reduction=r, delta=0.3), {}),
    "bce": (lambda F, x, y, r: F.binary_cross_entropy(x, y, reduction=r), {"low": 0.05, "high": 0.95}),
    "bcel": (lambda F, x, y, r: F.binary_cross_entropy_with_logits(x, y, reduction=r), {}),
    "kl": (lambda F, x, y, r: F.kl_div(x, y, reduction=r), {"low": 0.05, "high": 0.95}),
    "kl_log_target": (lambda F, x, y, r: F.kl_div(x, y, reduction=r, log_target=True), {}),
}


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("name", list(PAIR))
def test_pair_losses(name, red):
    fn, kw = PAIR[name]
    f = (lambda x, y: fn(nnF(x), x, y, red))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(f, [(4, 5), (4, 5)], **kw)
        check_op(f, [(), ()], **kw)
        check_gradcheck(f, [(3, 4), (3, 4)], **kw)


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("name", ["mse", "l1", "smooth_l1", "huber", "kl", "kl_log_target"])
def test_pair_losses_broadcast(name, red):
    fn, kw = PAIR[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(lambda x, y: fn(nnF(x), x, y, red), [(3, 4), (4,)], **kw)
        check_op(lambda x, y: fn(nnF(x), x, y, red), [(4,), (3, 4)], **kw)


@pytest.mark.parametrize("red", REDS)
def test_bce_weight(red):
    w = RNG.random(5)
    check_op(lambda x, y: nnF(x).binary_cross_entropy(x, y, weight=const(x, w), reduction=red),
             [(4, 5), (4, 5)], low=0.05, high=0.95)
    check_op(lambda x, y: nnF(x).binary_cross_entropy(x, y, weight=const(x, RNG.random((4, 5)) * 0 + 0.5),
                                                      reduction=red), [(4, 5), (4, 5)], low=0.05, high=0.95)
    check_gradcheck(lambda x, y: engine.nn.functional.binary_cross_entropy(x, y, weight=const(x, w), reduction=red),
                    [(4, 5), (4, 5)], low=0.05, high=0.95)


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("opts", ["w", "pw", "w_pw", "pw_row"])
def test_bce_with_logits_weights(red, opts):
    w, pw = RNG.random(5) + 0.5, RNG.random(5) * 3
    pw2 = RNG.random((4, 5)) * 3

    def f(x, y):
        kw = {}
        if "w" in opts.split("_"):
            kw["weight"] = const(x, w)
        if opts in ("pw", "w_pw"):
            kw["pos_weight"] = const(x, pw)
        if opts == "pw_row":
            kw["pos_weight"] = const(x, pw2)
        return nnF(x).binary_cross_entropy_with_logits(x, y, reduction=red, **kw)

    check_op(f, [(4, 5), (4, 5)], low=-4, high=4)
    check_gradcheck(f, [(4, 5), (4, 5)])


def test_bce_extremes():
    x = np.array([0.0, 1.0, 0.5, 1e-30], np.float32)
    y = np.array([1.0, 0.0, 0.5, 1.0], np.float32)
    t = torch.nn.functional.binary_cross_entropy(torch.from_numpy(x), torch.from_numpy(y), reduction="none")
    e = engine.nn.functional.binary_cross_entropy(engine.from_numpy(x), engine.from_numpy(y), reduction="none")
    # float32, elementwise: log clamped at -100 (exact 100) or one log (<= 4 ulp = 8u) and 3 roundings per
    # library: 2*11u = 1.3e-6 relative apart -> rtol 2e-6
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=2e-6)
    xl = np.array([-100.0, 100.0, 0.0, 30.0], np.float32)
    t = torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(xl), torch.from_numpy(y), reduction="none")
    e = engine.nn.functional.binary_cross_entropy_with_logits(engine.from_numpy(xl), engine.from_numpy(y),
                                                              reduction="none")
    # 100 (log1p(exp(-100)) rounds away), log(2) (one exp/log, <= 22u apart as above) and log(1 + 9e-14) = 0
    # exactly (1 + 9e-14 rounds to 1 in float32): rtol 2e-6
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=2e-6)


@pytest.mark.parametrize("red", REDS)
def test_soft_margin(red):
    y = np.sign(RNG.standard_normal((4, 5)))
    f = lambda x: nnF(x).soft_margin_loss(x, const(x, y), reduction=red)  # noqa: E731
    check_op(f, [(4, 5)])
    check_gradcheck(f, [(4, 5)])


@pytest.mark.parametrize("red", REDS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(red, log_target):
    tgt = RNG.random((3, 4)) * (not log_target) + RNG.standard_normal((3, 4)) * log_target
    tgt[0, 0] = 0.0 if not log_target else tgt[0, 0]
    f = lambda x: nnF(x).kl_div(x, const(x, tgt), reduction=red, log_target=log_target)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(f, [(3, 4)])
        check_gradcheck(f, [(3, 4)])


# -- grad_fn names -----------------------------------------------------------------------------
def _chain(y):
    out, fn = [], y.grad_fn
    while fn is not None:
        out.append(type(fn).__name__)
        nf = [f for f, _ in fn.next_functions if f is not None and "Accum" not in type(f).__name__]
        fn = nf[0] if nf else None
    return out


NAMED = {
    "ce": lambda F, x, t, p: F.cross_entropy(x, t),
    "ce_w": lambda F, x, t, p: F.cross_entropy(x, t, weight=p[0]),
    "ce_prob": lambda F, x, t, p: F.cross_entropy(x, p),
    "ce_4d": lambda F, x, t, p: F.cross_entropy(x.view(3, 5, 1, 1), t.view(3, 1, 1)),
    "ce_3d": lambda F, x, t, p: F.cross_entropy(x.view(3, 5, 1), t.view(3, 1), reduction="none"),
    "nll": lambda F, x, t, p: F.nll_loss(x, t),
    "mse": lambda F, x, t, p: F.mse_loss(x, p),
    "l1": lambda F, x, t, p: F.l1_loss(x, p),
    "sl1": lambda F, x, t, p: F.smooth_l1_loss(x, p),
    "sl1_b0": lambda F, x, t, p: F.smooth_l1_loss(x, p, beta=0.0),
    "huber": lambda F, x, t, p: F.huber_loss(x, p),
    "bce": lambda F, x, t, p: F.binary_cross_entropy(x.sigmoid(), p),
    "bcel": lambda F, x, t, p: F.binary_cross_entropy_with_logits(x, p, pos_weight=p[0]),
    "kl": lambda F, x, t, p: F.kl_div(x, p, reduction="batchmean"),
    "kl_lt": lambda F, x, t, p: F.kl_div(x, p, reduction="sum", log_target=True),
    "soft": lambda F, x, t, p: F.soft_margin_loss(x, p),
}


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("name", list(NAMED))
def test_grad_fn_names(name, red):
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    t = np.array([1, 0, 4])
    p = np.random.default_rng(1).random((3, 5)).astype(np.float32)
    chains = []
    for L in (torch, engine):
        xx = L.tensor(x, requires_grad=True)
        F = torch.nn.functional if L is torch else engine.nn.functional
        src = NAMED[name].__code__
        fn = NAMED[name]
        if "reduction" not in src.co_consts and name not in ("kl", "kl_lt", "ce_3d"):
            out = _call_with_red(fn, F, xx, L.tensor(t), L.tensor(p), red)
        else:
            out = fn(F, xx, L.tensor(t), L.tensor(p))
        chains.append(_chain(out))
    assert chains[1] == chains[0]


def _call_with_red(fn, F, x, t, p, red):
    class _F:
        def __getattr__(self, n):
            g = getattr(F, n)
            return lambda *a, **k: g(*a, **{**k, "reduction": red})
    return fn(_F(), x, t, p)


# -- errors and warnings -----------------------------------------------------------------------
def _both(fn):
    res = []
    for L in (torch, engine):
        F = torch.nn.functional if L is torch else engine.nn.functional
        try:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                fn(L, F)
            res.append(("ok", [str(m.message) for m in w]))
        except Exception as e:  # noqa: BLE001
            res.append((type(e).__name__, str(e)))
    return res


ERRORS = {
    "ce_batch": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.tensor([1, 2, 3, 4])),
    "ce_oob": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.tensor([1, 2, 10])),
    "ce_neg": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.tensor([1, -3, 2])),
    "ce_float_tgt": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.tensor([1.0, 2.0, 3.0])),
    "ce_int32_tgt": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.tensor([1, 2, 3], dtype=L.int32)),
    "ce_2d_tgt": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.zeros(3, 2, dtype=L.long)),
    "ce_prob_long": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.zeros(3, 5, dtype=L.long)),
    "ce_prob_ignore": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.zeros(3, 5), ignore_index=1),
    "ce_0d": lambda L, F: F.cross_entropy(L.zeros(()), L.tensor(1)),
    "ce_w_bad": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.tensor([1, 2, 3]), weight=L.ones(3)),
    "ce_w_2d": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.tensor([1, 2, 3]), weight=L.ones(5, 1)),
    "ce_w_dtype": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.tensor([1, 2, 3]), weight=L.ones(5).double()),
    "ce_prob_w_bad": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.zeros(3, 5), weight=L.ones(4)),
    "ce_ls_big": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.tensor([1, 2, 3]), label_smoothing=1.5),
    "ce_prob_ls_big": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.zeros(3, 5), label_smoothing=1.1),
    "ce_red": lambda L, F: F.cross_entropy(L.zeros(3, 5), L.tensor([1, 2, 3]), reduction="foo"),
    "ce_int_input": lambda L, F: F.cross_entropy(L.zeros(3, 5, dtype=L.long), L.tensor([1, 2, 3])),
    "ce_3d_tgt": lambda L, F: F.cross_entropy(L.zeros(2, 5, 3), L.zeros(2, 4, dtype=L.long)),
    "ce_4d_tgt": lambda L, F: F.cross_entropy(L.zeros(2, 5, 3, 4), L.zeros(2, 3, 3, dtype=L.long)),
    "nll_4d_tgt_dim": lambda L, F: F.nll_loss(L.zeros(2, 5, 3, 4), L.zeros(2, 12, dtype=L.long)),
    "nll_4d_oob": lambda L, F: F.nll_loss(L.zeros(2, 5, 3, 4), L.full((2, 3, 4), 9)),
    "nll_3d_oob": lambda L, F: F.nll_loss(L.zeros(2, 5, 3), L.full((2, 3), 9)),
    "nll_0d": lambda L, F: F.nll_loss(L.zeros(()), L.tensor(1)),
    "nll_1d_2tgt": lambda L, F: F.nll_loss(L.zeros(5), L.tensor([1, 2])),
    "nll_2d_0dtgt": lambda L, F: F.nll_loss(L.zeros(3, 5), L.tensor(1)),
    "nll_int": lambda L, F: F.nll_loss(L.zeros(3, 5, dtype=L.long), L.tensor([1, 2, 3])),
    "nll_4d_int": lambda L, F: F.nll_loss(L.zeros(2, 5, 3, 4, dtype=L.long), L.zeros(2, 3, 4, dtype=L.long)),
    "nll_4d_w": lambda L, F: F.nll_loss(L.zeros(2, 5, 3, 4), L.zeros(2, 3, 4, dtype=L.long), weight=L.ones(3)),
    "nll_4d_bs": lambda L, F: F.nll_loss(L.zeros(2, 5, 3, 4), L.zeros(3, 3, 4, dtype=L.long)),
    "nll_w_grad": lambda L, F: F.nll_loss(L.zeros(3, 5, requires_grad=True), L.tensor([1, 2, 3]),
                                          weight=L.ones(5, requires_grad=True)),
    "nll_ignored_oob_ok": lambda L, F: F.nll_loss(L.zeros(3, 5), L.tensor([1, 2, 7]), ignore_index=7),
    "mse_warn": lambda L, F: F.mse_loss(L.zeros(64, 10), L.zeros(64, 1)),
    "mse_bad": lambda L, F: F.mse_loss(L.zeros(64, 10), L.zeros(63, 1)),
    "mse_int": lambda L, F: F.mse_loss(L.zeros(4, dtype=L.long), L.zeros(4, dtype=L.long)),
    "mse_red": lambda L, F: F.mse_loss(L.zeros(4), L.zeros(4), reduction="foo"),
    "mse_legacy": lambda L, F: F.mse_loss(L.zeros(4), L.zeros(4), size_average=False),
    "mse_legacy2": lambda L, F: F.mse_loss(L.zeros(4), L.zeros(4), reduce=False),
    "l1_warn": lambda L, F: F.l1_loss(L.zeros(64, 10), L.zeros(64, 1)),
    "sl1_negbeta": lambda L, F: F.smooth_l1_loss(L.zeros(6), L.zeros(6), beta=-1.0),
    "huber_delta0": lambda L, F: F.huber_loss(L.zeros(6), L.zeros(6), delta=0.0),
    "huber_warn": lambda L, F: F.huber_loss(L.zeros(6, 2), L.zeros(6, 1)),
    "bce_range": lambda L, F: F.binary_cross_entropy(L.tensor([0.5, 1.5]), L.tensor([0.5, 0.5])),
    "bce_nan": lambda L, F: F.binary_cross_entropy(L.tensor([float("nan"), 0.5]), L.tensor([0.5, 0.5])),
    "bce_size": lambda L, F: F.binary_cross_entropy(L.ones(6) / 2, L.ones(6, 1) / 2),
    "bce_w_bad": lambda L, F: F.binary_cross_entropy(L.ones(2, 6) / 2, L.ones(2, 6) / 2, weight=L.ones(5)),
    "bce_long_tgt": lambda L, F: F.binary_cross_entropy(L.ones(6) / 2, L.ones(6, dtype=L.long)),
    "bce_double_tgt": lambda L, F: F.binary_cross_entropy(L.ones(6) / 2, L.ones(6).double()),
    "bce_w_grad": lambda L, F: F.binary_cross_entropy(L.ones(6, requires_grad=True) / 2, L.ones(6) / 2,
                                                      weight=L.ones(6, requires_grad=True)),
    "bcel_size": lambda L, F: F.binary_cross_entropy_with_logits(L.ones(6), L.ones(6, 1)),
    "bcel_long": lambda L, F: F.binary_cross_entropy_with_logits(L.ones(6), L.ones(6, dtype=L.long)),
    "bcel_pw_bad": lambda L, F: F.binary_cross_entropy_with_logits(L.ones(2, 6), L.ones(2, 6), pos_weight=L.ones(5)),
    "bcel_pw_grad": lambda L, F: F.binary_cross_entropy_with_logits(L.ones(6), L.ones(6),
                                                                    pos_weight=L.ones(6, requires_grad=True)),
    "kl_mean_warn": lambda L, F: F.kl_div(L.zeros(2, 3), L.ones(2, 3)),
    "kl_red": lambda L, F: F.kl_div(L.zeros(2, 3), L.ones(2, 3), reduction="foo"),
    "soft_tgt_grad": lambda L, F: F.soft_margin_loss(L.ones(6), L.ones(6, requires_grad=True)),
    "soft_size": lambda L, F: F.soft_margin_loss(L.ones(6), L.ones(6, 1)),
    "cos_tgt": lambda L, F: F.cosine_embedding_loss(L.ones(3, 4), L.ones(3, 4), L.ones(3, 1)),
    "cos_0d": lambda L, F: F.cosine_embedding_loss(L.ones(3, 4), L.ones(3, 4), L.ones(())),
    "cos_1d": lambda L, F: F.cosine_embedding_loss(L.ones(4), L.ones(3, 4), L.ones(3)),
    "mrl_dims": lambda L, F: F.margin_ranking_loss(L.ones(3), L.ones(3, 1), L.ones(3)),
    "gau_size": lambda L, F: F.gaussian_nll_loss(L.ones(3, 4), L.ones(3, 4), L.ones(2)),
    "gau_neg": lambda L, F: F.gaussian_nll_loss(L.ones(3, 4), L.ones(3, 4), -L.ones(3, 4)),
    "gau_red": lambda L, F: F.gaussian_nll_loss(L.ones(3, 4), L.ones(3, 4), L.ones(3, 4), reduction="x"),
    "pois_red": lambda L, F: F.poisson_nll_loss(L.ones(3, 4), L.ones(3, 4), reduction="x"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_and_warnings(name):
    t, e = _both(ERRORS[name])
    assert e == t


# -- modules -----------------------------------------------------------------------------------
MODULES = ["MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
           "BCEWithLogitsLoss", "KLDivLoss", "SoftMarginLoss", "MarginRankingLoss", "CosineEmbeddingLoss",
           "PoissonNLLLoss", "GaussianNLLLoss"]


@pytest.mark.parametrize("name", MODULES)
def test_module_attributes(name):
    tm, em = getattr(torch.nn, name)(), getattr(engine.nn, name)()
    assert repr(em) == repr(tm)
    for k, v in vars(tm).items():
        if not k.startswith("_"):
            assert getattr(em, k) == v, k
    assert list(em._buffers) == list(tm._buffers)
    assert list(em.state_dict()) == list(tm.state_dict())


@pytest.mark.parametrize("kw", [{"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True}])
@pytest.mark.parametrize("name", ["MSELoss", "CrossEntropyLoss", "KLDivLoss", "BCELoss"])
def test_module_legacy_args(name, kw):
    res = []
    for L in (torch, engine):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m = getattr(L.nn, name)(**kw)
        res.append((m.reduction, [str(x.message) for x in w]))
    assert res[1] == res[0]


MODULE_CALLS = {
    "MSELoss": lambda nn, x, y: nn.MSELoss(reduction="sum")(x, y),
    "L1Loss": lambda nn, x, y: nn.L1Loss()(x, y),
    "SmoothL1Loss": lambda nn, x, y: nn.SmoothL1Loss(beta=0.4, reduction="none")(x, y),
    "HuberLoss": lambda nn, x, y: nn.HuberLoss(delta=0.4)(x, y),
    "CrossEntropyLoss": lambda nn, x, y: nn.CrossEntropyLoss(weight=const(x, np.arange(1.0, 6.0)), ignore_index=0,
                                                             label_smoothing=0.1)(x, const(x, np.array([0, 1, 4, 3]))),
    "NLLLoss": lambda nn, x, y: nn.NLLLoss(weight=const(x, np.arange(1.0, 6.0)))(x, const(x, np.array([2, 1, 4, 3]))),
    "BCELoss": lambda nn, x, y: nn.BCELoss(weight=const(x, np.arange(1.0, 6.0)))(x.sigmoid(), y.sigmoid()),
    "BCEWithLogitsLoss": lambda nn, x, y: nn.BCEWithLogitsLoss(pos_weight=const(x, np.arange(1.0, 6.0)))(x, y.sigmoid()),
    "KLDivLoss": lambda nn, x, y: nn.KLDivLoss(reduction="batchmean")(x, y.softmax(1)),
    "SoftMarginLoss": lambda nn, x, y: nn.SoftMarginLoss()(x, y.detach().sign()),
    "MarginRankingLoss": lambda nn, x, y: nn.MarginRankingLoss(margin=0.3)(x, y, const(x, np.sign(np.arange(20).reshape(4, 5) - 9.5))),
    "CosineEmbeddingLoss": lambda nn, x, y: nn.CosineEmbeddingLoss(margin=0.2)(x, y, const(x, np.array([1., -1, 1, -1]))),
    "PoissonNLLLoss": lambda nn, x, y: nn.PoissonNLLLoss(full=True)(x, y.abs() * 3),
    "GaussianNLLLoss": lambda nn, x, y: nn.GaussianNLLLoss(full=True)(x, y, (x.detach() * 0 + 0.5)),
}


@pytest.mark.parametrize("name", MODULES)
def test_module_forward(name):
    f = lambda x, y: MODULE_CALLS[name](nn_of(x), x, y)  # noqa: E731
    check_op(f, [(4, 5), (4, 5)])
    check_gradcheck(f, [(4, 5), (4, 5)])


# -- extras ------------------------------------------------------------------------------------
@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("margin", [0.0, 0.4])
def test_margin_ranking(red, margin):
    y = np.sign(RNG.standard_normal(6))
    f = lambda a, b: nnF(a).margin_ranking_loss(a, b, const(a, y), margin=margin, reduction=red)  # noqa: E731
    check_op(f, [(6,), (6,)])
    check_gradcheck(f, [(6,), (6,)])


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("margin", [0.0, -0.3])
@pytest.mark.parametrize("batched", [True, False])
def test_cosine_embedding(red, margin, batched):
    y = np.array([1.0, -1, -1, 1]) if batched else np.array(-1.0)
    shape = (4, 3) if batched else (3,)
    f = lambda a, b: nnF(a).cosine_embedding_loss(a, b, const(a, y), margin=margin, reduction=red)  # noqa: E731
    check_op(f, [shape, shape])
    check_gradcheck(f, [shape, shape])


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll(red, log_input, full):
    y = RNG.random((3, 4)) * 4
    f = lambda x: nnF(x).poisson_nll_loss(x, const(x, y), log_input=log_input, full=full, reduction=red)  # noqa: E731
    check_op(f, [(3, 4)], low=0.1, high=2)
    check_gradcheck(f, [(3, 4)], low=0.1, high=2)


def test_gaussian_nll_float_var():
    check_op(lambda x, y: nnF(x).gaussian_nll_loss(x, y, 0.7), [(3, 4), (3, 4)])


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("vshape", [(3, 4), (3,), (3, 1)])
def test_gaussian_nll(red, full, vshape):
    f = lambda x, y, v: nnF(x).gaussian_nll_loss(x, y, v, full=full, reduction=red)  # noqa: E731
    check_op(f, [(3, 4), (3, 4), vshape], low=0.1, high=2)
    check_gradcheck(f, [(3, 4), (3, 4), vshape], low=0.1, high=2)


def test_create_graph_double_backward():
    """Second derivatives through the fused nodes match PyTorch."""
    tgt = np.array([1, 0, 4])
    res = []
    for L in (torch, engine):
        F = torch.nn.functional if L is torch else engine.nn.functional
        x = L.tensor(np.random.default_rng(0).standard_normal((3, 5)), requires_grad=True)
        p = L.tensor(np.random.default_rng(1).random((3, 5)))
        out = []
        for loss in (F.cross_entropy(x, L.tensor(tgt)), F.mse_loss(x, p), F.smooth_l1_loss(x, p, beta=0.7),
                     F.huber_loss(x, p, delta=0.7), F.binary_cross_entropy_with_logits(x, p),
                     F.binary_cross_entropy(x.sigmoid(), p), F.soft_margin_loss(x, p)):
            (g,) = L.autograd.grad(loss, x, create_graph=True)
            (gg,) = L.autograd.grad((g * g).sum(), x)
            out.append((g.detach().numpy(), gg.numpy()))
        res.append(out)
    # float64 (3, 5): elementwise but for the 5-term softmax and the 15-term means, ~20 roundings and libm
    # calls per value <= 3: <= 100u = 1.1e-14 relative, 3e-14 absolute where terms cancel
    for (tg, tgg), (eg, egg) in zip(*res):
        np.testing.assert_allclose(eg, tg, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(egg, tgg, rtol=1e-7, atol=1e-10)

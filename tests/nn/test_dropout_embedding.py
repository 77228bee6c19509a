"""Dropout (statistics with a fixed seed: keep probability, 1/(1-p) scaling, eval identity, p=0 and
p=1, channel-wise masks, in-place) and Embedding / one_hot vs PyTorch (values, gradients with
padding_idx, scale_grad_by_freq, max_norm renormalisation, from_pretrained, errors, printing)."""
import warnings

import numpy as np
import pytest
import torch

import engine
import engine.nn as enn
import engine.nn.functional as EF
from parity import check_gradcheck

TF = torch.nn.functional


def npy(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach()._data)


# -- dropout ----------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [engine.float32, engine.float64])
def test_dropout_statistics(p, dtype):
    engine.manual_seed(0)
    x = engine.ones(200, 300, dtype=dtype, requires_grad=True)
    y = EF.dropout(x, p)
    assert y.dtype == dtype and y.shape == x.shape
    assert type(y.grad_fn).__name__ == "MulBackward0"
    a = npy(y)
    kept = a != 0
    # fixed seed, 60000 Bernoulli draws: sampling sd sqrt(p(1-p)/6e4) <= 2e-3, the bound is 5 sd
    assert abs(kept.mean() - (1 - p)) < 0.01
    np.testing.assert_allclose(a[kept], 1 / (1 - p), rtol=1e-6)  # 1 * scale: one rounding, 6e-8
    y.sum().backward()
    np.testing.assert_array_equal(npy(x.grad), a)  # gradient = the same scaled mask (1 * m = m exactly)


def test_dropout_is_random_and_seeded():
    engine.manual_seed(3)
    a = npy(EF.dropout(engine.ones(1000)))
    b = npy(EF.dropout(engine.ones(1000)))
    engine.manual_seed(3)
    c = npy(EF.dropout(engine.ones(1000)))
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_dropout_edge_cases():
    x = engine.randn(4, 5, requires_grad=True)
    assert EF.dropout(x, 0.0) is x
    assert EF.dropout(x, 0.5, training=False) is x
    y = EF.dropout(x, 1.0)
    assert type(y.grad_fn).__name__ == "MulBackward0"
    np.testing.assert_array_equal(npy(y), np.zeros((4, 5), np.float32))
    y.sum().backward()
    np.testing.assert_array_equal(npy(x.grad), np.zeros((4, 5), np.float32))
    t = torch.randn(4, 5)
    assert TF.dropout(t, 0.0) is t and TF.dropout(t, 0.5, False) is t  # the behaviour mirrored above
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError) as te:
            TF.dropout(t, bad)
        with pytest.raises(ValueError) as ee:
            EF.dropout(x, bad)
        assert str(te.value) == str(ee.value)
        with pytest.raises(ValueError) as te:
            torch.nn.Dropout(bad)
        with pytest.raises(ValueError) as ee:
            enn.Dropout(bad)
        assert str(te.value) == str(ee.value)


def test_dropout_inplace():
    engine.manual_seed(1)
    x = engine.ones(50, 40, requires_grad=True)
    y = x * 2
    r = EF.dropout(y, 0.3, inplace=True)
    assert r is y and y._version == 1
    assert type(r.grad_fn).__name__ == "MulBackward0"
    a = npy(r)
    np.testing.assert_allclose(a[a != 0], 2 / 0.7, rtol=1e-6)  # 2 * scale: one rounding, 6e-8
    r.sum().backward()
    np.testing.assert_allclose(npy(x.grad), a, rtol=1e-6)  # (1 * m) * 2 vs 2 * m: exact (power of 2)


def test_dropout_module_train_eval():
    for cls in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"):
        for args in ((), (0.2,), (0.3, True)):
            assert repr(getattr(enn, cls)(*args)) == repr(getattr(torch.nn, cls)(*args))
    m = enn.Dropout(0.5)
    x = engine.randn(20, 30)
    y = m(x)
    assert (npy(y) == 0).mean() > 0.3
    m.eval()
    assert m(x) is x


@pytest.mark.parametrize("shape", [(8, 16, 5, 5), (8, 16, 7)])
def test_dropout2d_channelwise(shape):
    engine.manual_seed(0)
    x = engine.ones(*shape, requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        y = EF.dropout2d(x, 0.4)
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        TF.dropout2d(torch.ones(*shape), 0.4)
    assert [str(m.message) for m in w] == [str(m.message) for m in tw]
    a = npy(y).reshape(shape[0], shape[1], -1)
    per_channel = a[:, :, :1]
    assert np.all(a == per_channel)  # whole channels are kept or dropped
    assert abs((per_channel != 0).mean() - 0.6) < 0.12  # 128 channel draws: sd 0.043, bound 2.8 sd (fixed seed)
    np.testing.assert_allclose(a[a != 0], 1 / 0.6, rtol=1e-6)  # 1 * scale: one rounding
    y.sum().backward()
    np.testing.assert_allclose(npy(x.grad), npy(y))  # both are 1 * mask * scale: exact
    m = enn.Dropout2d(0.4)
    m.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert m(x) is x


def test_dropout2d_warns_for_other_ranks():
    for shape in [(4, 5), (2, 3, 4, 5, 6)]:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            EF.dropout2d(engine.ones(*shape), 0.5)
        with warnings.catch_warnings(record=True) as tw:
            warnings.simplefilter("always")
            TF.dropout2d(torch.ones(*shape), 0.5)
        assert [str(m.message) for m in w] == [str(m.message) for m in tw]


def test_dropout1d_3d_channelwise():
    engine.manual_seed(2)
    y = npy(EF.dropout1d(engine.ones(10, 20, 6), 0.5))
    assert np.all(y == y[:, :, :1])
    y = npy(EF.dropout3d(engine.ones(4, 10, 2, 3, 2), 0.5)).reshape(4, 10, -1)
    assert np.all(y == y[:, :, :1])
    y = npy(EF.dropout1d(engine.ones(20, 6), 0.5))  # unbatched (C, L)
    assert np.all(y == y[:, :1])


def test_alpha_dropout_statistics():
    engine.manual_seed(0)
    x = engine.randn(400, 500)
    y = EF.alpha_dropout(x, 0.2, training=True)
    a = npy(y)
    # self-normalising: mean 0, std 1 preserved.  Fixed seed, 2e5 samples: sampling sd of the mean 2.2e-3
    # (bound 9 sd), of the std ~2e-3 (bound > 10 sd); rounding of the sums is ~1e-7
    assert abs(a.mean()) < 0.02 and abs(a.std() - 1) < 0.03
    assert EF.alpha_dropout(x, 0.2, training=False) is x


# -- embedding --------------------------------------------------------------------------------
def twin_embedding(*args, **kw):
    tm, em = torch.nn.Embedding(*args, **kw), enn.Embedding(*args, **kw)
    em.weight._data[...] = tm.weight.detach().numpy()
    return tm, em


IDX = [[1, 2, 4, 5], [4, 3, 2, 9]]


@pytest.mark.parametrize("kw", [{}, {"padding_idx": 2}, {"padding_idx": -1}, {"scale_grad_by_freq": True},
                                {"padding_idx": 4, "scale_grad_by_freq": True}, {"max_norm": 1.0},
                                {"max_norm": 0.5, "norm_type": 1.0}, {"sparse": True}])
@pytest.mark.parametrize("idx_dtype", ["int64", "int32"])
def test_embedding_module(kw, idx_dtype):
    tm, em = twin_embedding(10, 3, **kw)
    assert repr(tm) == repr(em)
    if "padding_idx" in kw:
        np.testing.assert_array_equal(npy(em.weight)[kw["padding_idx"]], 0)
    idx = np.array(IDX, dtype=idx_dtype)
    ty = tm(torch.tensor(idx))
    ey = em(engine.tensor(idx))
    assert type(ey.grad_fn).__name__ == type(ty.grad_fn).__name__ == "EmbeddingBackward0"
    # a gather copies rows exactly; max_norm rescales a row by max_norm / (norm of 3 elements + 1e-7): a
    # sqrt/pow (<= 4 ulp = 8u) and ~4 roundings per library, 2*12u = 1.4e-6 apart, every element alike
    np.testing.assert_allclose(npy(ey), npy(ty), rtol=2e-6)
    np.testing.assert_allclose(npy(em.weight), npy(tm.weight), rtol=2e-6)  # max_norm renormalised rows
    g = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    ty.backward(torch.tensor(g))
    ey.backward(engine.tensor(g))
    tg = tm.weight.grad.to_dense() if tm.weight.grad.is_sparse else tm.weight.grad
    # each row sums <= 2 cotangents (one correctly rounded add, the same in any order), then an exact
    # division by the count (scale_grad_by_freq: 1 or 2): identical on any machine
    np.testing.assert_allclose(npy(em.weight.grad), npy(tg), rtol=1e-6, atol=1e-7)


def test_embedding_default_init_and_params():
    engine.manual_seed(0)
    em = enn.Embedding(2000, 50, padding_idx=0)
    w = npy(em.weight)
    assert [k for k, _ in em.named_parameters()] == ["weight"]
    assert w.shape == (2000, 50) and em.weight.requires_grad
    np.testing.assert_array_equal(w[0], 0)
    # N(0, 1), fixed seed, ~1e5 samples: sampling sd of the mean 3.2e-3 (bound 3.1 sd), of the std 2.2e-3
    # (4.5 sd); the draws are numpy's (the same on any machine up to an ulp in rare ziggurat tail samples)
    assert abs(w[1:].mean()) < 0.01 and abs(w[1:].std() - 1) < 0.01


def test_embedding_functional_and_gradcheck():
    w = np.random.default_rng(0).standard_normal((6, 4))
    idx = engine.tensor([[0, 2, 2], [5, 0, 1]])
    check_gradcheck(lambda wt: EF.embedding(idx, wt), [(6, 4)])
    check_gradcheck(lambda wt: EF.embedding(engine.tensor([4, 4, 1]), wt), [(6, 2)])
    # padding_idx and scale_grad_by_freq deliberately differ from the true Jacobian: compared with torch instead
    tw, ew = torch.tensor(w, requires_grad=True), engine.tensor(w, requires_grad=True)
    ty = TF.embedding(torch.tensor([[0, 2, 2], [5, 0, 1]]), tw, padding_idx=0)
    ey = EF.embedding(idx, ew, padding_idx=0)
    np.testing.assert_array_equal(npy(ey), npy(ty))  # a gather: exact copies
    (ty * ty).sum().backward()
    (ey * ey).sum().backward()
    np.testing.assert_allclose(npy(ew.grad), npy(tw.grad))  # float64 2*y, <= 2 per row: <= 2 ulp
    assert not np.any(npy(ew.grad)[0])
    # scalar index and 1-D index
    np.testing.assert_array_equal(npy(EF.embedding(engine.tensor(3), ew)), npy(TF.embedding(torch.tensor(3), tw)))


def test_embedding_double_backward():
    w = np.random.default_rng(1).standard_normal((5, 3))
    res = []
    for L, Fm in ((torch, TF), (engine, EF)):
        wt = L.tensor(w, requires_grad=True)
        y = Fm.embedding(L.tensor([1, 1, 3]), wt, padding_idx=3)
        (g,) = L.autograd.grad((y ** 3).sum(), wt, create_graph=True)
        (gg,) = L.autograd.grad((g * g).sum(), wt)
        res.append((npy(g), npy(gg)))
    # float64: 3*y**2 and its derivative, <= 2 terms per row, ~4 roundings in either library's order
    # (a few ulp, 1e-15) against assert_allclose's rtol 1e-7
    np.testing.assert_allclose(res[1][0], res[0][0])
    np.testing.assert_allclose(res[1][1], res[0][1])


def test_embedding_from_pretrained():
    w = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    for freeze in (True, False):
        tm = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=freeze, padding_idx=1)
        em = enn.Embedding.from_pretrained(engine.tensor(w), freeze=freeze, padding_idx=1)
        assert repr(tm) == repr(em)
        assert em.weight.requires_grad == tm.weight.requires_grad == (not freeze)
        np.testing.assert_array_equal(npy(em.weight), w)  # pretrained rows are kept (padding row too)
        np.testing.assert_array_equal(npy(em(engine.tensor([1, 3]))), npy(tm(torch.tensor([1, 3]))))


@pytest.mark.parametrize("call", [
    lambda L, n: n.Embedding.from_pretrained(L.randn(3)),
    lambda L, n: n.Embedding(3, 2, _weight=L.randn(3, 3)),
    lambda L, n: n.Embedding(10, 3, padding_idx=10),
    lambda L, n: n.Embedding(10, 3, padding_idx=-11),
])
def test_embedding_assertions(call):
    with pytest.raises(AssertionError) as te:
        call(torch, torch.nn)
    with pytest.raises(AssertionError) as ee:
        call(engine, enn)
    assert str(te.value) == str(ee.value)


@pytest.mark.parametrize("call,exc", [
    (lambda L, F: F.embedding(L.tensor([1.0]), L.randn(10, 4)), RuntimeError),
    (lambda L, F: F.embedding(L.tensor([10]), L.randn(10, 4)), IndexError),
    (lambda L, F: F.embedding(L.tensor([-1]), L.randn(10, 4)), IndexError),
    (lambda L, F: F.embedding(L.tensor([1]), L.randn(10)), RuntimeError),
    (lambda L, F: F.embedding(L.tensor([1]), L.randn(10, 4), padding_idx=10), AssertionError),
])
def test_embedding_errors(call, exc):
    with pytest.raises(exc) as te:
        call(torch, TF)
    with pytest.raises(exc) as ee:
        call(engine, EF)
    assert str(te.value) == str(ee.value)


# -- one_hot ----------------------------------------------------------------------------------
@pytest.mark.parametrize("idx,n", [([1, 2, 0], -1), ([1, 2, 0], 5), ([[0, 3], [2, 2]], -1), (3, 4), ([], 3)])
def test_one_hot(idx, n):
    t = TF.one_hot(torch.tensor(idx, dtype=torch.int64), n)
    e = EF.one_hot(engine.tensor(idx, dtype=engine.int64), n)
    assert e.dtype == engine.int64 and tuple(e.shape) == tuple(t.shape)
    np.testing.assert_array_equal(npy(e), npy(t))


@pytest.mark.parametrize("idx,n,dt", [([1.0, 2.0], -1, "float32"), ([1, 5], 3, "int64"), ([-1, 2], -1, "int64"),
                                      ([], -1, "int64"), ([], 0, "int64"), ([1], 0, "int64"),
                                      ([1, 2], -2, "int64"), ([1, 2], -1, "int32")])
def test_one_hot_errors(idx, n, dt):
    with pytest.raises(RuntimeError) as te:
        TF.one_hot(torch.tensor(idx, dtype=getattr(torch, dt)), n)
    with pytest.raises(RuntimeError) as ee:
        EF.one_hot(engine.tensor(idx, dtype=getattr(engine, dt)), n)
    assert str(te.value) == str(ee.value)

"""RNN, LSTM, GRU, their cells and ``nn.utils.rnn`` against real PyTorch: outputs, final
states, gradients of inputs / initial states / parameters, parameter names and shapes,
state_dict keys, printing, packed sequences, unbatched input, dropout, errors, gradcheck and
double backward."""
import warnings

import numpy as np
import pytest
import torch

import engine
from _nn_core_util import both, close

tU = torch.nn.utils.rnn
eU = engine.nn.utils.rnn

# float32 tolerances of the module comparisons (outputs, input/state grads, parameter grads alike) and their
# rounding argument (u = 2**-24; tests/engine/parity.py for the general one).  Per step a gate sums
# K <= I + H <= 18 terms (2H + H for an upper bidirectional layer) of |x*w| <= 4*0.41 (N(0, 1) data,
# |w| <= 1/sqrt(H)), through tanh/sigmoid (<= 4 ulp per library); parameter grads sum T*B <= 30 such
# step terms.  The recurrences are short (T <= 7 steps, <= 3 layers) and barely amplify: |d h_t/d h_t-1|
# <= ||W_hh|| * max tanh' ~ 1.2 for 6x6 weights U(-0.41, 0.41) (1.2**7 = 3.6), the LSTM cell state is
# carried with |forget gate| < 1.  Random walk per step u*T*K/sqrt(3) with T = 0.24 (rms of x*w): 1.5e-7
# rms, over <= 24 step-layers and amplified <= 3.6x: 2.6e-6 rms, ATOL 1e-5 is 4 of it (RTOL 1e-4 on
# values ~1); without cancellation 2*K*u = 2.1e-6 relative per step, 1.5e-5 over 7 steps < RTOL.
ATOL = 1e-5
RTOL = 1e-4


def _arr(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _pair(a, grad=True):
    return torch.tensor(a, requires_grad=grad), engine.tensor(a, requires_grad=grad)


def _flat(x):
    if isinstance(x, (tuple, list)):
        return [y for v in x for y in _flat(v)]
    return [x]


def _compare_all(tm, em, touts, eouts, tins, eins, atol=ATOL, seed=1):
    """Compare every output, then backpropagate the same random cotangents through all of them
    and compare the gradients of the inputs and of every parameter."""
    tl, el = _flat(touts), _flat(eouts)
    assert len(tl) == len(el)
    for a, b in zip(tl, el):
        close(a, b, atol=atol, rtol=RTOL)
    rng = np.random.default_rng(seed)
    gs = [rng.standard_normal(tuple(a.shape)).astype(a.detach().numpy().dtype) for a in tl]
    torch.autograd.backward(tl, [torch.tensor(g) for g in gs])
    engine.autograd.backward(el, [engine.tensor(g) for g in gs])
    for a, b in zip(tins, eins):
        if a is not None and a.requires_grad:
            assert b.grad is not None
            close(a.grad, b.grad, atol=atol, rtol=RTOL)
    tp, ep = dict(tm.named_parameters()), dict(em.named_parameters())
    assert list(tp) == list(ep)
    for k in tp:
        if tp[k].grad is None:
            assert ep[k].grad is None, k
        else:
            close(tp[k].grad, ep[k].grad, atol=atol, rtol=RTOL)


def _states(mode, L, B, P, H, seed=3):
    if mode == "LSTM":
        return [_arr((L, B, P), seed), _arr((L, B, H), seed + 1)]
    return [_arr((L, B, H), seed)]


MODES = {
    "RNN": lambda nn, **kw: nn.RNN(**kw),
    "RNN_RELU": lambda nn, **kw: nn.RNN(nonlinearity="relu", **kw),
    "LSTM": lambda nn, **kw: nn.LSTM(**kw),
    "GRU": lambda nn, **kw: nn.GRU(**kw),
}

CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=3),
    dict(num_layers=2, batch_first=True),
    dict(num_layers=1, bias=False, bidirectional=True),
]


def _run_module(mode, cfg, given_hx, T=5, B=3, I=4, H=6, proj=0):
    kw = dict(input_size=I, hidden_size=H, **cfg)
    if proj:
        kw["proj_size"] = proj
    tm, em = both(lambda nn: MODES[mode](nn, **kw))
    D = 2 if cfg.get("bidirectional") else 1
    L = cfg.get("num_layers", 1) * D
    x = _arr((B, T, I) if cfg.get("batch_first") else (T, B, I))
    tx, ex = _pair(x)
    tins, eins = [tx], [ex]
    if given_hx:
        states = [_pair(a) for a in _states(mode, L, B, proj or H, H)]
        ths, ehs = [s[0] for s in states], [s[1] for s in states]
        tins += ths
        eins += ehs
        thx = tuple(ths) if mode == "LSTM" else ths[0]
        ehx = tuple(ehs) if mode == "LSTM" else ehs[0]
        to, th = tm(tx, thx)
        eo, eh = em(ex, ehx)
    else:
        to, th = tm(tx)
        eo, eh = em(ex)
    assert tuple(eo.shape) == tuple(to.shape)
    _compare_all(tm, em, (to, th), (eo, eh), tins, eins)
    return to, th, eo, eh


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_module_parity_given_hx(mode, cfg):
    _run_module(mode, cfg, True)


@pytest.mark.parametrize("mode", list(MODES))
def test_module_parity_default_hx(mode):
    _run_module(mode, dict(num_layers=2, bidirectional=True), False)


@pytest.mark.parametrize("cfg", [dict(num_layers=1), dict(num_layers=2, bidirectional=True),
                                 dict(num_layers=2, batch_first=True, bias=False)],
                         ids=["1", "2-bidir", "bf-nobias"])
@pytest.mark.parametrize("given_hx", [True, False])
def test_lstm_proj_size(cfg, given_hx):
    _run_module("LSTM", cfg, given_hx, H=6, proj=3)


def test_seed_rnn_example():
    torch.manual_seed(0)
    rnn_t = torch.nn.RNN(input_size=10, hidden_size=20, num_layers=2)
    rnn_e = engine.nn.RNN(input_size=10, hidden_size=20, num_layers=2)
    rnn_e.load_state_dict({k: engine.tensor(v.detach().numpy()) for k, v in rnn_t.state_dict().items()})
    input, h0 = _arr((5, 3, 10)), _arr((2, 3, 20), 1)
    to, thn = rnn_t(torch.tensor(input), torch.tensor(h0))
    output, hn = rnn_e(engine.tensor(input), engine.tensor(h0))
    assert tuple(output.shape) == (5, 3, 20) and tuple(hn.shape) == (2, 3, 20)
    # K = 10 + 20 (20 + 20 in layer 2) terms per gate, T = 5, |w| <= 1/sqrt(20): the argument above ATOL
    # (rms of x*w 0.13, K = 40: 1.8e-7 rms per step); relative 2*K*u over 5 steps (2.4e-5) needs RTOL
    close(to, output, atol=ATOL, rtol=RTOL)
    close(thn, hn, atol=ATOL, rtol=RTOL)


def test_seed_lstm_example():
    torch.manual_seed(0)
    lstm_t = torch.nn.LSTM(input_size=10, hidden_size=20, num_layers=2)
    lstm = engine.nn.LSTM(input_size=10, hidden_size=20, num_layers=2)
    lstm.load_state_dict({k: engine.tensor(v.detach().numpy()) for k, v in lstm_t.state_dict().items()})
    input, h0, c0 = _arr((5, 3, 10)), _arr((2, 3, 20), 1), _arr((2, 3, 20), 2)
    to, (thn, tcn) = lstm_t(torch.tensor(input), (torch.tensor(h0), torch.tensor(c0)))
    output, (hn, cn) = lstm(engine.tensor(input), (engine.tensor(h0), engine.tensor(c0)))
    assert tuple(output.shape) == (5, 3, 20) and tuple(hn.shape) == (2, 3, 20) and tuple(cn.shape) == (2, 3, 20)
    # as test_seed_rnn_example (K <= 40, T = 5), the cell state carried with |forget gate| < 1
    close(to, output, atol=ATOL, rtol=RTOL)
    close(thn, hn, atol=ATOL, rtol=RTOL)
    close(tcn, cn, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("given_hx", [False, True])
def test_unbatched_input(mode, batch_first, given_hx):
    kw = dict(input_size=4, hidden_size=5, num_layers=2, bidirectional=True, batch_first=batch_first)
    tm, em = both(lambda nn: MODES[mode](nn, **kw))
    tx, ex = _pair(_arr((6, 4)))
    tins, eins = [tx], [ex]
    if given_hx:
        st = [_pair(_arr((4, 5), 7 + k)) for k in range(2 if mode == "LSTM" else 1)]
        tins += [s[0] for s in st]
        eins += [s[1] for s in st]
        thx = (st[0][0], st[1][0]) if mode == "LSTM" else st[0][0]
        ehx = (st[0][1], st[1][1]) if mode == "LSTM" else st[0][1]
        to, th = tm(tx, thx)
        eo, eh = em(ex, ehx)
    else:
        to, th = tm(tx)
        eo, eh = em(ex)
    assert tuple(eo.shape) == (6, 10)
    _compare_all(tm, em, (to, th), (eo, eh), tins, eins)


@pytest.mark.parametrize("mode", list(MODES))
def test_float64_and_batch_zero(mode):
    tm, em = both(lambda nn: MODES[mode](nn, input_size=3, hidden_size=4, num_layers=2).double())
    tx, ex = _pair(_arr((4, 2, 3), dtype=np.float64))
    to, th = tm(tx)
    eo, eh = em(ex)
    assert str(eo.dtype) == "torch.float64"
    # float64, K <= 3 + 4 terms of |x*w| <= 4*0.5 per gate, 8 step-layers amplified <= ~2: worst case
    # 2*K*u*S = 2*7*2**-53*14 = 2.2e-14 per step, ~4e-13 in all, parameter grads (8 steps * 2) alike
    _compare_all(tm, em, (to, th), (eo, eh), [tx], [ex], atol=1e-10)
    to, th = tm(torch.zeros(4, 0, 3, dtype=torch.float64))
    eo, eh = em(engine.zeros(4, 0, 3, dtype=engine.float64))
    assert tuple(eo.shape) == tuple(to.shape) == (4, 0, 4)
    assert tuple(_flat(eh)[0].shape) == tuple(_flat(th)[0].shape)


# -- parameters, printing, state ---------------------------------------------------------------
@pytest.mark.parametrize("factory,text", [
    (lambda nn: nn.LSTM(10, 20, num_layers=2), "LSTM(10, 20, num_layers=2)"),
    (lambda nn: nn.RNN(10, 20, nonlinearity="relu"), "RNN(10, 20)"),
    (lambda nn: nn.GRU(3, 4, bias=False, batch_first=True, bidirectional=True),
     "GRU(3, 4, bias=False, batch_first=True, bidirectional=True)"),
    (lambda nn: nn.LSTM(10, 20, proj_size=5, num_layers=3, dropout=0.25, bidirectional=True), None),
    (lambda nn: nn.RNNCell(3, 4, bias=False, nonlinearity="relu"), "RNNCell(3, 4, bias=False, nonlinearity=relu)"),
    (lambda nn: nn.LSTMCell(3, 4), "LSTMCell(3, 4)"),
    (lambda nn: nn.GRUCell(3, 4, bias=False), "GRUCell(3, 4, bias=False)"),
    (lambda nn: nn.Sequential(nn.LSTM(2, 3), nn.Linear(3, 1)), None),
])
def test_names_shapes_state_dict_repr(factory, text):
    tm, em = both(factory)
    assert [(n, tuple(p.shape)) for n, p in tm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in em.named_parameters()]
    assert list(tm.state_dict()) == list(em.state_dict())
    assert repr(tm) == repr(em)
    if text is not None:
        assert repr(em) == text


def test_flat_weights_all_weights_and_init_bounds():
    em = engine.nn.LSTM(4, 8, num_layers=2, bidirectional=True, proj_size=3)
    tm = torch.nn.LSTM(4, 8, num_layers=2, bidirectional=True, proj_size=3)
    assert em._flat_weights_names == tm._flat_weights_names
    assert [id(w) for w in em._flat_weights] == [id(getattr(em, n)) for n in em._flat_weights_names]
    assert [[tuple(w.shape) for w in ws] for ws in em.all_weights] == \
        [[tuple(w.shape) for w in ws] for ws in tm.all_weights]
    bound = 1 / np.sqrt(8)
    for p in em.parameters():
        a = p.detach().numpy()
        # numpy's draws mapped by correctly rounded float64 ops and a cast: the same values on any machine
        assert a.min() >= -bound and a.max() <= bound and a.std() > 0.1 * bound
    assert em.flatten_parameters() is None
    # _apply keeps the flat list in sync; reassigning a weight updates it too
    em.double()
    assert all(w.dtype == engine.float64 for w in em._flat_weights)
    new = engine.nn.Parameter(engine.zeros(32, 4, dtype=engine.float64))
    em.weight_ih_l0 = new
    assert em._flat_weights[0] is new
    out, (h, c) = em(engine.zeros(2, 1, 4, dtype=engine.float64))
    assert tuple(out.shape) == (2, 1, 6) and tuple(h.shape) == (4, 1, 3) and tuple(c.shape) == (4, 1, 8)


def test_default_init_cells_bounds():
    for cell in (engine.nn.RNNCell(3, 16), engine.nn.LSTMCell(3, 16), engine.nn.GRUCell(3, 16)):
        for p in cell.parameters():
            a = p.detach().numpy()
            assert np.abs(a).max() <= 0.25  # 1/sqrt(16) = 0.25 is a float32: the cast cannot pass it


def test_load_state_dict_round_trip():
    tm, em = both(lambda nn: nn.GRU(3, 5, num_layers=2))
    em2 = engine.nn.GRU(3, 5, num_layers=2)
    em2.load_state_dict(em.state_dict())
    x = engine.tensor(_arr((4, 2, 3)))
    close(em(x)[0], em2(x)[0])
    close(tm(torch.tensor(_arr((4, 2, 3))))[0], em2(x)[0])


# -- dropout -----------------------------------------------------------------------------------
def test_dropout_eval_is_identity_and_train_differs():
    tm, em = both(lambda nn: nn.LSTM(4, 6, num_layers=3, dropout=0.5))
    tm.eval()
    em.eval()
    tx, ex = _pair(_arr((5, 2, 4)))
    _compare_all(tm, em, tm(tx), em(ex), [tx], [ex])
    em.train()
    engine.manual_seed(0)
    out_train = em(engine.tensor(_arr((5, 2, 4))))[0]
    em.eval()
    out_eval = em(engine.tensor(_arr((5, 2, 4))))[0]
    assert not np.allclose(out_train.detach().numpy(), out_eval.detach().numpy())
    em.train()
    out_train.sum().backward()  # dropout masks are differentiable
    assert em.weight_ih_l0.grad is not None


def test_dropout_warning_and_value_errors():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        engine.nn.GRU(3, 4, dropout=0.2)
    assert any("num_layers greater than 1, but got dropout=0.2 and num_layers=1" in str(x.message) for x in w)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        engine.nn.GRU(3, 4, num_layers=2, dropout=0.2)


# -- packed sequences --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("given_hx", [False, True])
def test_packed_sequence_through_module(mode, given_hx):
    kw = dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True)
    tm, em = both(lambda nn: MODES[mode](nn, **kw))
    lengths = [3, 6, 1, 6, 4]
    tx, ex = _pair(_arr((6, 5, 3)))
    tp = tU.pack_padded_sequence(tx, lengths, enforce_sorted=False)
    ep = eU.pack_padded_sequence(ex, lengths, enforce_sorted=False)
    tins, eins = [tx], [ex]
    if given_hx:
        st = [_pair(a) for a in _states(mode, 4, 5, 5, 5)]
        tins += [s[0] for s in st]
        eins += [s[1] for s in st]
        thx = tuple(s[0] for s in st) if mode == "LSTM" else st[0][0]
        ehx = tuple(s[1] for s in st) if mode == "LSTM" else st[0][1]
        to, th = tm(tp, thx)
        eo, eh = em(ep, ehx)
    else:
        to, th = tm(tp)
        eo, eh = em(ep)
    assert isinstance(eo, eU.PackedSequence)
    assert eo.batch_sizes.tolist() == to.batch_sizes.tolist()
    assert eo.sorted_indices.tolist() == to.sorted_indices.tolist()
    assert eo.unsorted_indices.tolist() == to.unsorted_indices.tolist()
    tpad, tl = tU.pad_packed_sequence(to, batch_first=True)
    epad, el = eU.pad_packed_sequence(eo, batch_first=True)
    assert el.tolist() == tl.tolist()
    _compare_all(tm, em, (tpad, th), (epad, eh), tins, eins)


def test_packed_lstm_proj_sorted():
    tm, em = both(lambda nn: nn.LSTM(3, 6, proj_size=2, num_layers=2))
    tx, ex = _pair(_arr((4, 3, 3)))
    tp = tU.pack_padded_sequence(tx, [4, 2, 2])
    ep = eU.pack_padded_sequence(ex, [4, 2, 2])
    assert ep.sorted_indices is None and ep.unsorted_indices is None
    to, th = tm(tp)
    eo, eh = em(ep)
    _compare_all(tm, em, (to.data, th), (eo.data, eh), [tx], [ex])


def test_pack_pad_round_trip_and_gradients():
    lengths = [2, 5, 3]
    for batch_first in (False, True):
        shape = (3, 5, 2) if batch_first else (5, 3, 2)
        tx, ex = _pair(_arr(shape))
        tp = tU.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        ep = eU.pack_padded_sequence(ex, engine.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        close(tp.data, ep.data)
        assert ep.batch_sizes.tolist() == tp.batch_sizes.tolist() and str(ep.batch_sizes.dtype) == "torch.int64"
        for total in (None, 7):
            tpad, tl = tU.pad_packed_sequence(tp, batch_first=not batch_first, padding_value=-2.0,
                                              total_length=total)
            epad, el = eU.pad_packed_sequence(ep, batch_first=not batch_first, padding_value=-2.0,
                                              total_length=total)
            close(tpad, epad)
            assert el.tolist() == tl.tolist() and str(el.dtype) == "torch.int64"
        g = _arr(tuple(tpad.shape), 9)
        (tpad * torch.tensor(g)).sum().backward()
        (epad * engine.tensor(g)).sum().backward()
        close(tx.grad, ex.grad)


def test_pad_sequence_variants_and_gradients():
    arrays = [_arr((3, 2), 1), _arr((5, 2), 2), _arr((1, 2), 3)]
    for batch_first in (False, True):
        for side in ("right", "left"):
            tps = [torch.tensor(a, requires_grad=True) for a in arrays]
            eps = [engine.tensor(a, requires_grad=True) for a in arrays]
            to = tU.pad_sequence(tps, batch_first=batch_first, padding_value=1.5, padding_side=side)
            eo = eU.pad_sequence(eps, batch_first=batch_first, padding_value=1.5, padding_side=side)
            close(to, eo)
            g = _arr(tuple(to.shape), 4)
            (to * torch.tensor(g)).sum().backward()
            (eo * engine.tensor(g)).sum().backward()
            for a, b in zip(tps, eps):
                close(a.grad, b.grad)
    # 1-D sequences, integer dtype (the first sequence's dtype wins), a tensor as the iterable
    to = tU.pad_sequence([torch.tensor([1, 2, 3]), torch.tensor([4.0])])
    eo = eU.pad_sequence([engine.tensor([1, 2, 3]), engine.tensor([4.0])])
    assert to.tolist() == eo.tolist() and str(eo.dtype) == str(to.dtype)
    m = _arr((2, 3))
    close(tU.pad_sequence(torch.tensor(m)), eU.pad_sequence(engine.tensor(m)))


def test_pack_sequence_unpack_unpad():
    seqs = [_arr((2, 3), 1), _arr((4, 3), 2), _arr((3, 3), 3)]
    tp = tU.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    ep = eU.pack_sequence([engine.tensor(s) for s in seqs], enforce_sorted=False)
    close(tp.data, ep.data)
    assert ep.sorted_indices.tolist() == tp.sorted_indices.tolist()
    for a, b in zip(tU.unpack_sequence(tp), eU.unpack_sequence(ep)):
        close(a, b)
    tpad = tU.pad_sequence([torch.tensor(s) for s in seqs])
    epad = eU.pad_sequence([engine.tensor(s) for s in seqs])
    for a, b in zip(tU.unpad_sequence(tpad, torch.tensor([2, 4, 3])),
                    eU.unpad_sequence(epad, engine.tensor([2, 4, 3]))):
        close(a, b)
    ep2 = eU.pack_sequence([engine.tensor([1.0, 2, 3]), engine.tensor([4.0, 5]), engine.tensor([6.0])])
    assert ep2.data.tolist() == [1.0, 4.0, 6.0, 2.0, 5.0, 3.0] and ep2.batch_sizes.tolist() == [3, 2, 1]


def test_packed_sequence_object():
    ep = eU.pack_sequence([engine.tensor([1.0, 2, 3]), engine.tensor([4.0, 5])])
    assert isinstance(ep, tuple) and ep._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    d = ep.to(engine.float64)
    assert d is not ep and str(d.data.dtype) == "torch.float64" and d.batch_sizes is ep.batch_sizes
    assert ep.to(engine.float32) is ep
    assert str(ep.double().data.dtype) == "torch.float64" and not ep.is_cuda
    data, bs, si, ui = ep
    assert si is None and ui is None
    p2 = eU.PackedSequence(ep.data, ep.batch_sizes, engine.tensor([1, 0]))
    assert p2.unsorted_indices.tolist() == [1, 0]
    p3 = eU.PackedSequence((ep.data, ep.batch_sizes))
    assert p3.batch_sizes is ep.batch_sizes


def _err(fn_t, fn_e, exc=RuntimeError):
    with pytest.raises(exc) as ti:
        fn_t()
    with pytest.raises(exc) as ei:
        fn_e()
    assert str(ti.value) == str(ei.value), (str(ti.value), str(ei.value))


def test_packing_errors():
    x = _arr((5, 3, 2))

    def both_err(call, exc=RuntimeError):
        _err(lambda: call(torch, tU), lambda: call(engine, eU), exc)

    both_err(lambda lib, U: U.pack_padded_sequence(lib.tensor(x), [3, 5, 4]))
    both_err(lambda lib, U: U.pack_padded_sequence(lib.tensor(x), [5, 4, 0]))
    both_err(lambda lib, U: U.pack_padded_sequence(lib.tensor(x), [4, 5, 0], enforce_sorted=False))
    both_err(lambda lib, U: U.pack_padded_sequence(lib.tensor(x), [5, 4]))
    both_err(lambda lib, U: U.pack_padded_sequence(lib.tensor(x), lib.tensor([[5, 4, 3]])))
    both_err(lambda lib, U: U.pad_sequence([]))
    both_err(lambda lib, U: U.pad_sequence(3))
    both_err(lambda lib, U: U.pad_sequence([lib.ones(2), lib.ones(3)], padding_side="middle"))
    seqs = [[1.0, 2.0, 3.0], [4.0]]
    both_err(lambda lib, U: U.pad_packed_sequence(U.pack_sequence([lib.tensor(s) for s in seqs]), total_length=2),
             ValueError)


# -- cells -------------------------------------------------------------------------------------
CELLS = {
    "RNNCell": lambda nn, **kw: nn.RNNCell(**kw),
    "RNNCell_relu": lambda nn, **kw: nn.RNNCell(nonlinearity="relu", **kw),
    "LSTMCell": lambda nn, **kw: nn.LSTMCell(**kw),
    "GRUCell": lambda nn, **kw: nn.GRUCell(**kw),
}


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("given_hx", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_cells(name, batched, given_hx, bias):
    tm, em = both(lambda nn: CELLS[name](nn, input_size=4, hidden_size=5, bias=bias))
    lead = (3,) if batched else ()
    tx, ex = _pair(_arr(lead + (4,)))
    tins, eins = [tx], [ex]
    if given_hx:
        st = [_pair(_arr(lead + (5,), 5 + k)) for k in range(2 if name == "LSTMCell" else 1)]
        tins += [s[0] for s in st]
        eins += [s[1] for s in st]
        thx = (st[0][0], st[1][0]) if name == "LSTMCell" else st[0][0]
        ehx = (st[0][1], st[1][1]) if name == "LSTMCell" else st[0][1]
        to, eo = tm(tx, thx), em(ex, ehx)
    else:
        to, eo = tm(tx), em(ex)
    _compare_all(tm, em, to, eo, tins, eins)


def test_cell_loop_matches_lstm():
    """An LSTMCell unrolled by hand gives the LSTM layer's output."""
    tm, em = both(lambda nn: nn.LSTM(3, 4))
    cell = engine.nn.LSTMCell(3, 4)
    cell.load_state_dict({k[:-3]: v for k, v in em.state_dict().items()})
    x = engine.tensor(_arr((5, 2, 3)))
    h = c = engine.zeros(2, 4)
    outs = []
    for t in range(5):
        h, c = cell(x[t], (h, c))
        outs.append(h)
    out, (hn, cn) = em(x)
    # engine vs engine: the layer projects all steps' inputs at once, the cell one step at a time (other
    # BLAS blockings, K = 3 + 4): a few ulp, within close's defaults
    close(engine.stack(outs), out)
    close(c, cn[0])


def test_cell_errors():
    def both_err(fac, *shapes):
        tm, em = both(fac)

        def call(lib, m):
            args = [lib.zeros(*s) if not isinstance(s, list) else tuple(lib.zeros(*q) for q in s) for s in shapes]
            return m(*args)

        exc = None
        try:
            call(torch, tm)
        except (ValueError, RuntimeError) as e:
            exc = type(e)
        assert exc is not None
        _err(lambda: call(torch, tm), lambda: call(engine, em), exc)

    both_err(lambda nn: nn.LSTMCell(10, 20), (3, 5))
    both_err(lambda nn: nn.LSTMCell(10, 20), (3, 10), [(4, 20), (3, 20)])
    both_err(lambda nn: nn.LSTMCell(10, 20), (3, 10), [(3, 21), (3, 20)])
    both_err(lambda nn: nn.LSTMCell(10, 20), (3, 10), [(3, 20), (3, 21)])
    both_err(lambda nn: nn.LSTMCell(10, 20), (10,), [(3, 20), (3, 20)])
    both_err(lambda nn: nn.LSTMCell(10, 20), (3, 10), [(3, 3, 20), (3, 20)])
    both_err(lambda nn: nn.GRUCell(10, 20), (3, 10), (3, 21))
    both_err(lambda nn: nn.GRUCell(10, 20), (3, 10), (20,))
    both_err(lambda nn: nn.RNNCell(10, 20), (3, 11))
    both_err(lambda nn: nn.RNNCell(10, 20), (2, 3, 10))
    both_err(lambda nn: nn.GRUCell(10, 20), (3, 10), (1, 3, 20))


# -- module errors -----------------------------------------------------------------------------
def test_forward_errors():
    def both_err(fac, x_shape, hx=None, exc=RuntimeError, dtype=None):
        tm, em = both(fac)

        def call(lib, m):
            x = lib.zeros(*x_shape)
            if dtype:
                x = x.double()
            if hx is None:
                return m(x)
            h = tuple(lib.zeros(*s) for s in hx) if isinstance(hx, list) else lib.zeros(*hx)
            return m(x, h)

        _err(lambda: call(torch, tm), lambda: call(engine, em), exc)

    both_err(lambda nn: nn.RNN(10, 20, 2), (5, 3, 9))
    both_err(lambda nn: nn.RNN(10, 20, 2), (5, 3, 10), (2, 4, 20))
    both_err(lambda nn: nn.RNN(10, 20, 2), (5, 3, 10), (1, 3, 20))
    both_err(lambda nn: nn.GRU(10, 20, batch_first=True), (3, 5, 10), (1, 5, 20))
    both_err(lambda nn: nn.LSTM(10, 20, 2), (5, 3, 10), [(2, 3, 20), (2, 3, 21)])
    both_err(lambda nn: nn.LSTM(10, 20, 2), (5, 3, 10), [(2, 4, 20), (2, 3, 20)])
    both_err(lambda nn: nn.LSTM(10, 20, proj_size=5), (5, 3, 10), [(1, 3, 20), (1, 3, 20)])
    both_err(lambda nn: nn.LSTM(10, 20), (5, 3, 10), [(3, 20), (3, 20)])
    both_err(lambda nn: nn.LSTM(10, 20), (5, 10), [(1, 3, 20), (1, 3, 20)])
    both_err(lambda nn: nn.RNN(10, 20), (5, 10), (1, 1, 20))
    both_err(lambda nn: nn.GRU(10, 20), (5, 3, 10), (3, 20))
    both_err(lambda nn: nn.RNN(10, 20), (5, 10), (2, 20))
    both_err(lambda nn: nn.LSTM(10, 20), (5, 3, 10, 2), exc=ValueError)
    both_err(lambda nn: nn.RNN(10, 20), (5, 3, 10, 2), exc=ValueError)
    both_err(lambda nn: nn.GRU(10, 20), (5,), exc=ValueError)
    both_err(lambda nn: nn.LSTM(10, 20), (5, 3, 10), exc=ValueError, dtype="double")
    both_err(lambda nn: nn.LSTM(10, 20), (0, 3, 10))


@pytest.mark.parametrize("call", [
    lambda nn: nn.RNN(10, 20, bias=1),
    lambda nn: nn.RNN(10, 20, batch_first=None),
    lambda nn: nn.RNN(10.0, 20),
    lambda nn: nn.RNN(10, "a"),
])
def test_constructor_type_errors(call):
    _err(lambda: call(torch.nn), lambda: call(engine.nn), TypeError)


@pytest.mark.parametrize("call", [
    lambda nn: nn.RNN(10, 20, dropout=2),
    lambda nn: nn.RNN(10, 20, dropout=True),
    lambda nn: nn.RNN(10, 20, proj_size=2),
    lambda nn: nn.GRU(10, 20, proj_size=2),
    lambda nn: nn.LSTM(10, 20, proj_size=20),
    lambda nn: nn.LSTM(10, 20, proj_size=-1),
    lambda nn: nn.RNN(10, 20, nonlinearity="sig"),
    lambda nn: nn.RNN(10, 20, 1, "sig"),
    lambda nn: nn.RNN(0, 20),
    lambda nn: nn.RNN(10, 0),
    lambda nn: nn.RNN(10, 2, 0),
    lambda nn: nn.RNNBase("XX", 10, 2),
])
def test_constructor_value_errors(call):
    _err(lambda: call(torch.nn), lambda: call(engine.nn), ValueError)


# -- functional contract, gradcheck, double backward -------------------------------------------
def test_rnn_forward_contract():
    from engine.nn._functional import rnn as R

    assert "rnn_forward" in R.__all__ and engine.nn.functional.rnn_forward is R.rnn_forward
    em = engine.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    calls = []
    orig = R.rnn_forward

    def spy(*args):
        calls.append(args)
        return orig(*args)

    R.rnn_forward = spy
    try:
        x = engine.tensor(_arr((2, 5, 3)))
        em.batch_first = True
        em(x)
        engine.nn.GRUCell(3, 4)(x[0])
    finally:
        R.rnn_forward = orig
    assert len(calls) == 2
    mode, inp, hx, weights, has_biases, num_layers, dropout, training, bidirectional, proj_size = calls[0]
    assert mode == "LSTM" and tuple(inp.shape) == (5, 2, 3) and isinstance(hx, tuple)
    assert weights == em._flat_weights and has_biases is True and num_layers == 2 and bidirectional is True
    assert proj_size == 0 and training is True and dropout == 0.0
    assert calls[1][0] == "GRU" and tuple(calls[1][1].shape) == (1, 5, 3)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
def test_gradcheck_float64(mode):
    from engine.nn._functional.rnn import rnn_forward

    rng = np.random.default_rng(0)
    H, I, B, T = 3, 2, 2, 3
    G = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1}[mode] * H

    def t(*shape):
        return engine.tensor(rng.uniform(-0.8, 0.8, shape), dtype=engine.float64, requires_grad=True)

    x, h0 = t(T, B, I), t(2, B, H)
    c0 = t(2, B, H)
    ws = [t(G, I), t(G, H), t(G), t(G), t(G, I), t(G, H), t(G), t(G)]

    def fn(x, h0, c0, *ws):
        hx = (h0, c0) if mode == "LSTM" else h0
        out, h = rnn_forward(mode, x, hx, list(ws), True, 1, 0.0, True, True, 0)
        return (out,) + (tuple(h) if mode == "LSTM" else (h,))

    assert engine.autograd.gradcheck(fn, (x, h0, c0, *ws))


def test_gradcheck_lstm_proj_packed():
    from engine.nn._functional.rnn import rnn_forward_packed

    rng = np.random.default_rng(1)

    def t(*shape):
        return engine.tensor(rng.uniform(-0.8, 0.8, shape), dtype=engine.float64, requires_grad=True)

    data, h0, c0 = t(6, 2), t(1, 3, 2), t(1, 3, 3)
    ws = [t(12, 2), t(12, 2), t(2, 3)]

    def fn(data, h0, c0, *ws):
        out, (h, c) = rnn_forward_packed("LSTM", data, [3, 2, 1], (h0, c0), list(ws), False, 1, 0.0, False,
                                         False, 2)
        return out, h, c

    assert engine.autograd.gradcheck(fn, (data, h0, c0, *ws))


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_RELU"])
def test_double_backward_matches_torch(mode):
    tm, em = both(lambda nn: MODES["RNN_RELU" if mode == "RNN_RELU" else mode](nn, input_size=3, hidden_size=4,
                                                                               num_layers=2).double())
    tx, ex = _pair(_arr((4, 2, 3), dtype=np.float64))
    to, _ = tm(tx)
    eo, _ = em(ex)
    (tg,) = torch.autograd.grad((to ** 2).sum(), tx, create_graph=True)
    (eg,) = engine.autograd.grad((eo ** 2).sum(), ex, create_graph=True)
    # float64, H = 4, T = 4, 2 layers: first and second derivatives chain <= ~1000 products, results <= 4
    # (sum|terms| S <= 100x that): K*u*S = 1000*2**-53*400 = 4.4e-11 < atol 1e-9; tg <= 0.5: < 1e-11
    close(tg, eg, atol=1e-10)
    (tg * tg).sum().backward()
    (eg * eg).sum().backward()
    close(tx.grad, ex.grad, atol=1e-9)
    for (n, a), (_, b) in zip(tm.named_parameters(), em.named_parameters()):
        close(a.grad, b.grad, atol=1e-9)


def test_no_grad_forward_and_backward_twice_error():
    em = engine.nn.GRU(3, 4)
    x = engine.tensor(_arr((3, 2, 3)))
    with engine.no_grad():
        out, h = em(x)
    assert out.grad_fn is None and not out.requires_grad
    out, h = em(x)
    out.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.sum().backward()


def test_double_backward_packed_bidirectional_proj():
    tm, em = both(lambda nn: nn.LSTM(2, 4, proj_size=3, bidirectional=True).double())
    lengths = [2, 4, 3]
    tx, ex = _pair(_arr((4, 3, 2), dtype=np.float64))
    to, (th, tc) = tm(tU.pack_padded_sequence(tx, lengths, enforce_sorted=False))
    eo, (eh, ec) = em(eU.pack_padded_sequence(ex, lengths, enforce_sorted=False))
    tl = (to.data ** 2).sum() + (th * tc[..., :3]).sum()
    el = (eo.data ** 2).sum() + (eh * ec[..., :3]).sum()
    (tg,) = torch.autograd.grad(tl, tx, create_graph=True)
    (eg,) = engine.autograd.grad(el, ex, create_graph=True)
    # float64, H = 4 (proj 3), T <= 4, bidirectional: as test_double_backward_matches_torch
    close(tg, eg, atol=1e-10)
    (tg ** 2).sum().backward()
    (eg ** 2).sum().backward()
    close(tx.grad, ex.grad, atol=1e-9)
    for (n, a), (_, b) in zip(tm.named_parameters(), em.named_parameters()):
        close(a.grad, b.grad, atol=1e-9)


@pytest.mark.parametrize("mode", ["RNN", "RNN_RELU", "GRU"])
def test_inplace_change_of_output_keeps_gradients(mode):
    """PyTorch's output is not saved for backward: changing it in place leaves the gradients
    intact, here too.  (PyTorch's oneDNN float32 LSTM saves its output and raises instead.)"""
    tm, em = both(lambda nn: MODES[mode](nn, input_size=3, hidden_size=4))
    tx, ex = _pair(_arr((3, 2, 3)))
    to, th = tm(tx)
    eo, eh = em(ex)
    g = _arr((3, 2, 4), 5)
    tl = (to * torch.tensor(g)).sum()
    el = (eo * engine.tensor(g)).sum()
    with torch.no_grad():
        to.add_(1)
        _flat(th)[0].mul_(3)
    with engine.no_grad():
        eo.add_(1)
        _flat(eh)[0].mul_(3)
    tl.backward()
    el.backward()
    close(tx.grad, ex.grad)
    for (n, a), (_, b) in zip(tm.named_parameters(), em.named_parameters()):
        close(a.grad, b.grad)


def test_deepcopy_and_save_load(tmp_path):
    import copy

    em = engine.nn.LSTM(3, 4, num_layers=2)
    em2 = copy.deepcopy(em)
    assert all(a is getattr(em2, n) for a, n in zip(em2._flat_weights, em2._flat_weights_names))
    assert all(a is not b for a, b in zip(em._flat_weights, em2._flat_weights))
    x = engine.tensor(_arr((3, 2, 3)))
    close(em(x)[0], em2(x)[0])
    engine.save(em.state_dict(), tmp_path / "m.pt")
    em3 = engine.nn.LSTM(3, 4, num_layers=2)
    em3.load_state_dict(engine.load(tmp_path / "m.pt"))
    close(em(x)[0], em3(x)[0])
    import pickle

    em4 = pickle.loads(pickle.dumps(em))
    assert em4._flat_weights[0] is em4.weight_ih_l0
    close(em(x)[0], em4(x)[0])

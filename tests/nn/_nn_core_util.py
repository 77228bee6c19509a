"""Helpers shared by the nn tests: build the same model in both libraries, copy torch's
parameters into the engine model, compare outputs and gradients."""
import numpy as np
import torch

import engine


def to_engine(t):
    return engine.tensor(t.detach().numpy().copy())


def copy_params(tm, em):
    """Load torch module ``tm``'s state (numpy-converted) into engine module ``em``."""
    sd = {k: to_engine(v) for k, v in tm.state_dict().items()}
    res = em.load_state_dict(sd)
    assert not res.missing_keys and not res.unexpected_keys
    return em


def both(factory, seed=0):
    """``factory(nn)`` evaluated with torch.nn and engine.nn; engine gets torch's parameters."""
    torch.manual_seed(seed)
    tm = factory(torch.nn)
    em = factory(engine.nn)
    copy_params(tm, em)
    return tm, em


# Default tolerances of ``close`` / ``run_both`` (atol = rtol = 1e-5, float32 results) and their
# rounding argument (tests/engine/parity.py states the general one; u = 2**-24).  The callers that keep
# the defaults run a few small layers: K <= 64 terms per output, input gradient or parameter gradient
# (Linear fan-in, conv window C_in*kH*kW, batch), terms |x*w| <= 4 (N(0, 1) or U(-2, 2) data, weights
# |w| <= 1/sqrt(fan_in)), or K <= 8 terms of |x*w| <= 12 (test_nn_utils scales its inputs by 3):
#   without cancellation two summation orders differ by 2*K*u <= 7.6e-6 relative (K = 64, one layer;
#   the deeper models have K <= 10 per layer) < rtol 1e-5;
#   where terms cancel, rounding errors add like a random walk: u*T*K/sqrt(3) = 2.2e-6 rms for K = 64,
#   T = 1 (rms of a term) and 3.3e-6 for K = 8, T = 12, so atol 1e-5 is >= 3 rms of the larger one;
#   copies, masks, state_dict round trips, zeroed gradients and engine-vs-engine reruns are exact.
# Callers with larger or amplified sums (conv and pooling modules, RNNs, attention, interpolation)
# pass their own atol with their own argument.
def close(a, b, atol=1e-5, rtol=1e-5):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a.detach()._data)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b.detach()._data)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol)


def run_both(tm, em, *arrays, grad=True, atol=1e-5):
    """Forward both models on the same inputs, backward a fixed random cotangent, compare
    outputs, input grads and parameter grads."""
    tin = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    ein = [engine.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    to = tm(*tin)
    eo = em(*ein)
    close(to, eo, atol=atol, rtol=atol)
    assert str(to.dtype) == str(eo.dtype)
    if grad:
        g = np.random.default_rng(1).standard_normal(tuple(to.shape)).astype(np.float32 if to.dtype == torch.float32
                                                                             else np.float64)
        to.backward(torch.tensor(g))
        eo.backward(engine.tensor(g))
        for a, b in zip(tin, ein):
            if a.requires_grad:
                close(a.grad, b.grad, atol=atol, rtol=atol)
        tp = dict(tm.named_parameters())
        ep = dict(em.named_parameters())
        assert list(tp) == list(ep)
        for k in tp:
            if tp[k].grad is None:
                assert ep[k].grad is None, k
            else:
                close(tp[k].grad, ep[k].grad, atol=atol, rtol=atol)
    return to, eo


def grad_fn_chain(fn, depth=3):
    if fn is None or depth < 0:
        return ""
    name = fn.name() if hasattr(fn, "name") else type(fn).__name__
    name = name.replace("torch::autograd::", "")
    kids = ",".join(grad_fn_chain(n, depth - 1) for n, _ in fn.next_functions)
    return f"{name}[{kids}]"

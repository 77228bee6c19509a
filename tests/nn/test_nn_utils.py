"""nn.utils against real PyTorch: clip_grad_norm_ (norm types, returned total norm, non-finite
error), clip_grad_value_, parameters_to_vector / vector_to_parameters."""
import warnings

import numpy as np
import pytest
import torch

import engine
from _nn_core_util import both, close, run_both


def _model(nn):
    return nn.Sequential(nn.Linear(4, 6), nn.Linear(6, 3, bias=False))


def _trained():
    tm, em = both(_model)
    run_both(tm, em, np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32) * 3)
    return tm, em


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e6])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf"), "inf"])
def test_clip_grad_norm(max_norm, norm_type):
    tm, em = _trained()
    tn = torch.nn.utils.clip_grad_norm_(tm.parameters(), max_norm, norm_type=norm_type)
    en = engine.nn.utils.clip_grad_norm_(em.parameters(), max_norm, norm_type=norm_type)
    assert isinstance(en, engine.Tensor) and tuple(en.shape) == () and str(en.dtype) == str(tn.dtype)
    # float32 norm of K = 48 gradient entries (same-sign terms |g|**p, p = 1, 2, 3.5; inf is an exact max):
    # <= 2*K*u = 5.7e-6 relative apart (pow/sqrt <= 4 ulp, divided by p), + 6e-7 from the gradients
    # themselves (sums over a batch of 5): on norms <= 60, 3.8e-4 < atol 1e-4 + rtol 1e-5 * 60
    close(tn, en, atol=1e-4)
    # clipped: g * max_norm / (norm + 1e-6), relative 6.3e-6 + 3u = 6.5e-6 < rtol 1e-5
    for tp, ep in zip(tm.parameters(), em.parameters()):
        close(tp.grad, ep.grad, atol=1e-5)
    assert not en.requires_grad


def test_clip_grad_norm_single_tensor_and_no_grads():
    t = torch.ones(3, requires_grad=True)
    e = engine.ones(3, requires_grad=True)
    (t * 4).sum().backward()
    (e * 4).sum().backward()
    close(torch.nn.utils.clip_grad_norm_(t, 1.0), engine.nn.utils.clip_grad_norm_(e, 1.0))
    close(t.grad, e.grad)
    # no gradients at all: total norm 0
    r = engine.nn.utils.clip_grad_norm_([engine.nn.Parameter(engine.ones(2))], 1.0)
    assert float(r) == 0.0 and float(torch.nn.utils.clip_grad_norm_([torch.nn.Parameter(torch.ones(2))], 1.0)) == 0.0
    # (no gradients: the norm of nothing, exactly 0)


def test_clip_grad_norm_empty_generator_warns():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        engine.nn.utils.clip_grad_norm_((p for p in []), 1.0)
    assert any("empty generator" in str(x.message) for x in w)


def test_clip_grad_norm_nonfinite():
    msgs = []
    for lib in (torch, engine):
        p = lib.nn.Parameter(lib.ones(2))
        p.grad = lib.tensor([float("inf"), 1.0])
        n = lib.nn.utils.clip_grad_norm_([p], 1.0)  # allowed without the flag
        assert np.isinf(float(n))
        with pytest.raises(RuntimeError) as e:
            lib.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


@pytest.mark.parametrize("clip", [0.01, 0.5, 100])
def test_clip_grad_value(clip):
    tm, em = _trained()
    assert torch.nn.utils.clip_grad_value_(tm.parameters(), clip) is None
    assert engine.nn.utils.clip_grad_value_(em.parameters(), clip) is None
    for tp, ep in zip(tm.parameters(), em.parameters()):
        close(tp.grad, ep.grad)


def test_parameters_to_vector_and_back():
    tm, em = both(_model)
    tv = torch.nn.utils.parameters_to_vector(tm.parameters())
    ev = engine.nn.utils.parameters_to_vector(em.parameters())
    close(tv, ev)
    assert ev.requires_grad and tuple(ev.shape) == (4 * 6 + 6 + 18,)
    # differentiable: gradient of a function of the vector flows to the parameters
    (tv * tv).sum().backward()
    (ev * ev).sum().backward()
    for tp, ep in zip(tm.parameters(), em.parameters()):
        close(tp.grad, ep.grad)
    new = np.arange(tv.numel(), dtype=np.float32)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), tm.parameters())
    ids = [id(p) for p in em.parameters()]
    engine.nn.utils.vector_to_parameters(engine.tensor(new), em.parameters())
    assert [id(p) for p in em.parameters()] == ids
    for tp, ep in zip(tm.parameters(), em.parameters()):
        close(tp, ep)
    with pytest.raises(TypeError) as te:
        torch.nn.utils.vector_to_parameters([1.0], tm.parameters())
    with pytest.raises(TypeError) as ee:
        engine.nn.utils.vector_to_parameters([1.0], em.parameters())
    assert str(ee.value) == str(te.value)

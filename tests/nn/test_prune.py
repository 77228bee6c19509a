"""``torch.nn.utils.prune`` on the engine against PyTorch: the same weights give the same masks,
parameter/buffer names, state_dict keys, composed masks, gradients and errors."""
import math

import numpy as np
import pytest
import torch
import torch.nn.utils.prune as tprune

import engine
import engine.nn.utils.prune as eprune

from _nn_core_util import both, close, to_engine


def _mask_eq(tm, em, name="weight"):
    # Masks rank |w| (exact) or Ln norms of channels, sums of <= 72 float32 terms |w|**n (pow <= 4 ulp):
    # <= 2*(K + 8)*u = 1e-5 relative apart between libraries.  At the pruning threshold the two ranked
    # channels' norms differ by >= 1% (n = 1, 2, 3) in these tests, >= 0.2% for n = +-inf (max/min of |w|,
    # exact): the same channels are pruned on any machine, so the masks compare exactly.
    np.testing.assert_array_equal(getattr(tm, name + "_mask").numpy(), getattr(em, name + "_mask")._data)


def _same_layout(tm, em):
    assert [k for k, _ in tm.named_parameters()] == [k for k, _ in em.named_parameters()]
    assert [k for k, _ in tm.named_buffers()] == [k for k, _ in em.named_buffers()]
    assert list(tm.state_dict()) == list(em.state_dict())


def test_l1_unstructured_float_amount_matches_torch():
    tm, em = both(lambda nn: nn.Linear(7, 5))
    tprune.l1_unstructured(tm, "weight", amount=0.3)
    eprune.l1_unstructured(em, "weight", amount=0.3)
    _mask_eq(tm, em)
    _same_layout(tm, em)
    assert list(em.state_dict()) == ["bias", "weight_orig", "weight_mask"]
    assert "weight" not in em._parameters and isinstance(em.weight, engine.Tensor)
    assert not isinstance(em.weight, engine.nn.Parameter)
    close(tm.weight, em.weight, atol=0, rtol=0)  # weight_orig * mask (0 or 1): exact
    assert float((em.weight_mask == 0).sum()) == round(0.3 * 35)
    assert eprune.is_pruned(em) and not eprune.is_pruned(engine.nn.Linear(2, 2))
    hooks = list(em._forward_pre_hooks.values())
    assert len(hooks) == 1 and isinstance(hooks[0], eprune.L1Unstructured) and hooks[0]._tensor_name == "weight"


def test_int_amount_and_conv_and_bias():
    tm, em = both(lambda nn: nn.Conv2d(3, 4, 3))
    tprune.l1_unstructured(tm, "weight", amount=17)
    eprune.l1_unstructured(em, "weight", amount=17)
    tprune.l1_unstructured(tm, "bias", amount=2)
    eprune.l1_unstructured(em, "bias", amount=2)
    _mask_eq(tm, em)
    _mask_eq(tm, em, "bias")
    _same_layout(tm, em)
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    close(tm(torch.tensor(x)), em(engine.tensor(x)))


def test_composition_prunes_only_unpruned_entries():
    tm, em = both(lambda nn: nn.Linear(10, 6))
    for mod, P in ((tm, tprune), (em, eprune)):
        P.l1_unstructured(mod, "weight", amount=0.25)
        P.l1_unstructured(mod, "weight", amount=0.5)
    _mask_eq(tm, em)
    assert float((em.weight_mask == 0).sum()) == 15 + round(0.5 * 45)
    hooks = list(em._forward_pre_hooks.values())
    assert len(hooks) == 1 and isinstance(hooks[0], eprune.PruningContainer) and len(hooks[0]) == 2
    assert [type(m).__name__ for m in hooks[0]] == ["L1Unstructured", "L1Unstructured"]
    # a structured pruning on top chooses among the channels still alive
    for mod, P in ((tm, tprune), (em, eprune)):
        P.ln_structured(mod, "weight", amount=2, n=2, dim=0)
        P.ln_structured(mod, "weight", amount=1, n=1, dim=0)
    _mask_eq(tm, em)
    assert len(list(em._forward_pre_hooks.values())[0]) == 4
    _same_layout(tm, em)
    close(tm.weight, em.weight, atol=0, rtol=0)  # orig * mask: exact


@pytest.mark.parametrize("n", [1, 2, 3, math.inf, -math.inf])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_ln_structured_matches_torch(n, dim):
    tm, em = both(lambda nn: nn.Conv2d(4, 6, 3), seed=3)
    tprune.ln_structured(tm, "weight", amount=0.5, n=n, dim=dim)
    eprune.ln_structured(em, "weight", amount=0.5, n=n, dim=dim)
    _mask_eq(tm, em)
    _same_layout(tm, em)


def test_global_unstructured_matches_torch():
    def make(nn):
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 10), nn.Linear(10, 3))

    tm, em = both(make, seed=1)
    for mod, P in ((tm, tprune), (em, eprune)):
        params = [(mod[0], "weight"), (mod[3], "weight"), (mod[4], "weight"), (mod[4], "bias")]
        P.global_unstructured(params, pruning_method=P.L1Unstructured, amount=0.4)
    for i, name in ((0, "weight"), (3, "weight"), (4, "weight"), (4, "bias")):
        _mask_eq(tm[i], em[i], name)
    total = sum(float((m._buffers[k] == 0).sum()) for m in em.modules() for k in m._buffers)
    assert total == round(0.4 * (36 + 640 + 30 + 3))
    _same_layout(tm, em)
    assert isinstance(list(em[3]._forward_pre_hooks.values())[0], eprune.CustomFromMask)
    # a second global round composes with the masks already in force
    for mod, P in ((tm, tprune), (em, eprune)):
        P.global_unstructured([(mod[0], "weight"), (mod[3], "weight")], pruning_method=P.L1Unstructured, amount=50)
    _mask_eq(tm[0], em[0])
    _mask_eq(tm[3], em[3])
    x = np.random.default_rng(2).standard_normal((2, 1, 6, 6)).astype(np.float32)
    close(tm(torch.tensor(x)), em(engine.tensor(x)))


def test_global_importance_scores():
    tm, em = both(lambda nn: nn.Linear(6, 4), seed=4)
    s = np.random.default_rng(5).standard_normal((4, 6)).astype(np.float32)
    tprune.global_unstructured([(tm, "weight")], tprune.L1Unstructured,
                               importance_scores={(tm, "weight"): torch.tensor(s)}, amount=7)
    eprune.global_unstructured([(em, "weight")], eprune.L1Unstructured,
                               importance_scores={(em, "weight"): engine.tensor(s)}, amount=7)
    _mask_eq(tm, em)
    tm2, em2 = both(lambda nn: nn.Linear(6, 4), seed=4)
    tprune.l1_unstructured(tm2, "weight", 0.5, importance_scores=torch.tensor(s))
    eprune.l1_unstructured(em2, "weight", 0.5, importance_scores=engine.tensor(s))
    _mask_eq(tm2, em2)


def test_remove_makes_pruning_permanent():
    tm, em = both(lambda nn: nn.Linear(5, 3))
    for mod, P in ((tm, tprune), (em, eprune)):
        P.l1_unstructured(mod, "weight", amount=0.4)
        P.random_unstructured(mod, "bias", amount=1)
        P.remove(mod, "weight")
    assert isinstance(em.weight, engine.nn.Parameter) and "weight" in em._parameters
    assert "weight_orig" not in em._parameters and "weight_mask" not in em._buffers
    assert not hasattr(em, "weight_orig") and not hasattr(em, "weight_mask")
    assert list(em.state_dict()) == list(tm.state_dict()) == ["bias_orig", "weight", "bias_mask"]
    close(tm.weight, em.weight, atol=0, rtol=0)  # orig * mask: exact
    assert float((em.weight == 0).sum()) == 6
    assert eprune.is_pruned(em)
    eprune.remove(em, "bias")
    assert not eprune.is_pruned(em) and not em._forward_pre_hooks
    assert list(em.state_dict()) == ["weight", "bias"] or list(em.state_dict()) == ["bias", "weight"]
    with pytest.raises(ValueError, match="has to be pruned before pruning can be removed"):
        eprune.remove(em, "weight")
    with pytest.raises(ValueError, match="has to be pruned before pruning can be removed"):
        tprune.remove(tm, "weight")
    # training after remove keeps the zeros only if the optimizer doesn't move them: weight is a leaf again
    assert em.weight.is_leaf and em.weight.requires_grad


def test_gradients_flow_only_to_unpruned_entries():
    tm, em = both(lambda nn: nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 2)), seed=7)
    for mod, P in ((tm, tprune), (em, eprune)):
        P.l1_unstructured(mod[0], "weight", amount=0.5)
        P.ln_structured(mod[2], "weight", amount=3, n=2, dim=1)
    x = np.random.default_rng(3).standard_normal((5, 6)).astype(np.float32)
    to, eo = tm(torch.tensor(x)), em(engine.tensor(x))
    close(to, eo)
    to.sum().backward()
    eo.sum().backward()
    for i in (0, 2):
        g = em[i].weight_orig.grad
        close(tm[i].weight_orig.grad, g)
        assert np.all(g._data[em[i].weight_mask._data == 0] == 0)
        assert em[i].weight_mask.grad is None and not em[i].weight_mask.requires_grad
    # the hook recomputes the pruned weight from weight_orig on every call
    with engine.no_grad():
        em[0].weight_orig.mul_(2)
    with torch.no_grad():
        tm[0].weight_orig.mul_(2)
    close(tm(torch.tensor(x)), em(engine.tensor(x)))


def test_random_methods_counts_and_structure():
    engine.manual_seed(0)
    m = engine.nn.Linear(10, 8)
    eprune.random_unstructured(m, "weight", amount=0.3)
    assert float((m.weight_mask == 0).sum()) == 24
    eprune.random_structured(m, "weight", amount=3, dim=0)
    rows = m.weight_mask._data.sum(1)
    assert int((rows == 0).sum()) == 3
    eprune.random_structured(m, "weight", amount=0.5, dim=1)
    cols_dead = (m.weight_mask._data.sum(0) == 0).sum()
    assert cols_dead >= 5
    assert len(list(m._forward_pre_hooks.values())[0]) == 3


def test_identity_and_custom_from_mask():
    tm, em = both(lambda nn: nn.Linear(4, 3))
    mask = np.array([[1, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 0]], dtype=np.float32)
    for mod, P, T in ((tm, tprune, torch.tensor), (em, eprune, engine.tensor)):
        P.identity(mod, "bias")
        P.custom_from_mask(mod, "weight", mask=T(mask))
    _mask_eq(tm, em)
    _mask_eq(tm, em, "bias")
    _same_layout(tm, em)
    close(tm.weight, em.weight, atol=0, rtol=0)  # orig * mask: exact


def test_method_objects_and_prune():
    t = np.random.default_rng(9).standard_normal((4, 5)).astype(np.float32)
    tt, et = torch.tensor(t), engine.tensor(t)
    close(tprune.L1Unstructured(amount=6).prune(tt), eprune.L1Unstructured(amount=6).prune(et))
    close(tprune.LnStructured(0.5, n=1, dim=0).prune(tt), eprune.LnStructured(0.5, n=1, dim=0).prune(et))
    dm = np.ones((4, 5), dtype=np.float32)
    dm[0] = 0
    close(tprune.L1Unstructured(3).compute_mask(tt, torch.tensor(dm)),
          eprune.L1Unstructured(3).compute_mask(et, engine.tensor(dm)))
    close(tprune.CustomFromMask(torch.tensor(dm)).compute_mask(tt, torch.ones(4, 5)),
          eprune.CustomFromMask(engine.tensor(dm)).compute_mask(et, engine.ones(4, 5)))


def _raises_same(fn_t, fn_e):
    with pytest.raises(Exception) as et:
        fn_t()
    with pytest.raises(Exception) as ee:
        fn_e()
    assert type(et.value) is type(ee.value), (et.value, ee.value)
    assert str(et.value) == str(ee.value).replace("engine.", "torch.")


def test_amount_validation_errors_match_torch():
    for amount in (-1, 1.5, -0.1, "a", None):
        _raises_same(lambda: tprune.L1Unstructured(amount), lambda: eprune.L1Unstructured(amount))
    tm, em = both(lambda nn: nn.Linear(3, 2))
    _raises_same(lambda: tprune.l1_unstructured(tm, "weight", amount=7),
                 lambda: eprune.l1_unstructured(em, "weight", amount=7))
    # a failed pruning leaves the module as it was
    assert "weight" in em._parameters and "weight_orig" not in em._parameters and not em._forward_pre_hooks
    _same_layout(tm, em)
    _raises_same(lambda: tprune.ln_structured(tm, "bias", amount=1, n=2, dim=0),
                 lambda: eprune.ln_structured(em, "bias", amount=1, n=2, dim=0))
    _raises_same(lambda: tprune.ln_structured(tm, "weight", amount=1, n=2, dim=2),
                 lambda: eprune.ln_structured(em, "weight", amount=1, n=2, dim=2))


def test_seed_wrong_global_unstructured_call_raises_like_torch():
    def make(nn):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 6, 5)

        return Net()

    tnet, enet = make(torch.nn), make(engine.nn)
    _raises_same(lambda: tprune.global_unstructured(tnet.conv1, prune_ratio=0.5),
                 lambda: eprune.global_unstructured(enet.conv1, prune_ratio=0.5))
    _raises_same(lambda: tprune.global_unstructured(tnet.conv1, tprune.L1Unstructured, amount=0.5),
                 lambda: eprune.global_unstructured(enet.conv1, eprune.L1Unstructured, amount=0.5))
    _raises_same(lambda: tprune.global_unstructured([(tnet.conv1, "weight")], tprune.L1Unstructured, prune_ratio=0.5),
                 lambda: eprune.global_unstructured([(enet.conv1, "weight")], eprune.L1Unstructured,
                                                    prune_ratio=0.5))
    _raises_same(lambda: tprune.global_unstructured([(tnet.conv1, "weight")], tprune.LnStructured, amount=1, n=1),
                 lambda: eprune.global_unstructured([(enet.conv1, "weight")], eprune.LnStructured, amount=1, n=1))


def test_import_path_and_state_dict_roundtrip():
    import torch as real

    tm, em = both(lambda nn: nn.Linear(4, 4))
    tprune.l1_unstructured(tm, "weight", 0.5)
    eprune.l1_unstructured(em, "weight", 0.5)
    sd = {k: to_engine(v) for k, v in tm.state_dict().items()}
    fresh = engine.nn.Linear(4, 4)
    eprune.identity(fresh, "weight")
    fresh.load_state_dict(sd)
    x = np.ones((1, 4), dtype=np.float32)
    close(tm(real.tensor(x)), fresh(engine.tensor(x)))
    assert engine.nn.utils.prune is eprune

"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict against real PyTorch:
indexing, mutation, numbering, reprs, errors, parameters and forward/backward."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import engine
from _nn_core_util import both, run_both


def _libs():
    return ((torch.nn, torch), (engine.nn, engine))


def _same(fn):
    """Run ``fn(nn, lib)`` for both libraries; the reprs/values/exceptions must agree."""
    out = []
    for nn, lib in _libs():
        try:
            r = fn(nn, lib)
            out.append(("ok", r if isinstance(r, (str, int, float, bool, tuple, list, type(None))) else repr(r)))
        except Exception as e:  # noqa: BLE001
            out.append((type(e).__name__, str(e)))
    assert out[0] == out[1], out
    return out[0]


def seq(nn):
    return nn.Sequential(nn.Linear(2, 3), nn.Identity(), nn.Linear(3, 4), nn.Flatten())


SEQ_OPS = [
    lambda s, nn: s[0],
    lambda s, nn: s[-1],
    lambda s, nn: s[-4],
    lambda s, nn: s[4],
    lambda s, nn: s[-5],
    lambda s, nn: s[1:3],
    lambda s, nn: s[::-1],
    lambda s, nn: s["a"],
    lambda s, nn: len(s),
    lambda s, nn: s.append(nn.Linear(4, 1)),
    lambda s, nn: s.insert(1, nn.Linear(9, 9)),
    lambda s, nn: s.insert(-1, nn.Linear(9, 9)),
    lambda s, nn: s.insert(9, nn.Linear(9, 9)),
    lambda s, nn: s.insert(0, 3),
    lambda s, nn: s.extend([nn.Identity(), nn.Identity()]),
    lambda s, nn: (s.pop(1), s)[1],
    lambda s, nn: (s.pop(-1), s)[1],
    lambda s, nn: s + nn.Sequential(nn.Identity()),
    lambda s, nn: s + 3,
    lambda s, nn: s * 2,
    lambda s, nn: 2 * s,
    lambda s, nn: s * 0,
    lambda s, nn: s * 1.5,
    lambda s, nn: s.__imul__(2),
    lambda s, nn: s.__iadd__(nn.Sequential(nn.Identity())),
    lambda s, nn: [type(m).__name__ for m in s],
    lambda s, nn: [n for n, _ in s.named_parameters()],
]


@pytest.mark.parametrize("i", range(len(SEQ_OPS)))
def test_sequential_ops(i):
    _same(lambda nn, lib: SEQ_OPS[i](seq(nn), nn))


@pytest.mark.parametrize("idx", [0, -1, slice(0, 2), slice(1, None, 2)])
def test_sequential_delete_renumbers(idx):
    def f(nn, lib):
        s = seq(nn)
        del s[idx]
        return (repr(s), list(s._modules))
    _same(f)


def test_sequential_setitem_and_ordereddict():
    def f(nn, lib):
        s = nn.Sequential(OrderedDict([("conv", nn.Identity()), ("fc", nn.Linear(1, 2))]))
        s[0] = nn.Linear(3, 3)
        s[-1] = nn.Identity()
        return (repr(s), [n for n, _ in s.named_modules()])
    _same(f)


def test_sequential_forward_backward():
    tm, em = both(lambda nn: nn.Sequential(nn.Linear(5, 7), nn.Identity(), nn.Linear(7, 2)))
    run_both(tm, em, np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32))


MODLIST_OPS = [
    lambda m, nn: m[1],
    lambda m, nn: m[-1],
    lambda m, nn: m[5],
    lambda m, nn: m[1:],
    lambda m, nn: len(m),
    lambda m, nn: m.append(nn.Identity()),
    lambda m, nn: m.extend([nn.Identity()]),
    lambda m, nn: m.extend(nn.Identity()),
    lambda m, nn: (m.insert(1, nn.Linear(5, 5)), m)[1],
    lambda m, nn: (m.pop(0), m)[1],
    lambda m, nn: (m.__delitem__(slice(0, 2)), list(m._modules))[1],
    lambda m, nn: m + nn.ModuleList([nn.Identity()]),
    lambda m, nn: m.__iadd__([nn.Identity()]),
    lambda m, nn: (m.__setitem__(-1, nn.Identity()), m)[1],
    lambda m, nn: nn.ModuleList(),
    lambda m, nn: nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.Identity()] * 2 + [nn.Linear(2, 2)]),
    lambda m, nn: [n for n, _ in m.named_parameters()],
]


@pytest.mark.parametrize("i", range(len(MODLIST_OPS)))
def test_modulelist_ops(i):
    _same(lambda nn, lib: MODLIST_OPS[i](nn.ModuleList([nn.Linear(1, 2), nn.Linear(1, 2), nn.Identity()]), nn))


MODDICT_OPS = [
    lambda m, nn: m["a"],
    lambda m, nn: m["zz"],
    lambda m, nn: list(m.keys()),
    lambda m, nn: [type(v).__name__ for v in m.values()],
    lambda m, nn: "a" in m,
    lambda m, nn: len(m),
    lambda m, nn: (m.pop("a"), m)[1],
    lambda m, nn: (m.update({"c": nn.Identity()}), m)[1],
    lambda m, nn: (m.update([("d", nn.Identity())]), m)[1],
    lambda m, nn: m.update([("d",)]),
    lambda m, nn: m.update(3),
    lambda m, nn: (m.clear(), m)[1],
    lambda m, nn: (m.__setitem__("x", nn.Linear(1, 1)), list(m))[1],
    lambda m, nn: (m.__delitem__("b"), m)[1],
    lambda m, nn: m.__setitem__("a.b", nn.Identity()),
]


@pytest.mark.parametrize("i", range(len(MODDICT_OPS)))
def test_moduledict_ops(i):
    _same(lambda nn, lib: MODDICT_OPS[i](nn.ModuleDict({"b": nn.Linear(1, 2), "a": nn.Identity()}), nn))


PLIST_OPS = [
    lambda p, nn, lib: p,
    lambda p, nn, lib: p[0].shape,
    lambda p, nn, lib: p[5],
    lambda p, nn, lib: len(p),
    lambda p, nn, lib: p[1:],
    lambda p, nn, lib: p.append(lib.ones(4)),
    lambda p, nn, lib: p.extend(lib.ones(2)),
    lambda p, nn, lib: p.extend([nn.Parameter(lib.ones(1, dtype=lib.float64)), "str"]),
    lambda p, nn, lib: [n for n, _ in p.named_parameters()],
    lambda p, nn, lib: isinstance(p[1], nn.Parameter),
    lambda p, nn, lib: p(1),
]


@pytest.mark.parametrize("i", range(len(PLIST_OPS)))
def test_parameterlist_ops(i):
    _same(lambda nn, lib: PLIST_OPS[i](nn.ParameterList([nn.Parameter(lib.ones(2, 3)), lib.zeros(3)]), nn, lib))


PDICT_OPS = [
    lambda p, nn, lib: p,
    lambda p, nn, lib: list(p.keys()),
    lambda p, nn, lib: p["w"].shape,
    lambda p, nn, lib: p[3],
    lambda p, nn, lib: (p.update({"z": lib.ones(1), "c": lib.ones(2)}), p)[1],
    lambda p, nn, lib: (p.update([("q", lib.ones(1))]), p)[1],
    lambda p, nn, lib: (p.pop("w").shape, list(p))[1],
    lambda p, nn, lib: p.popitem()[0],
    lambda p, nn, lib: p.get("nope", 3),
    lambda p, nn, lib: (p.setdefault("n", None), p)[1],
    lambda p, nn, lib: "w" in p,
    lambda p, nn, lib: list(reversed(p)),
    lambda p, nn, lib: p | nn.ParameterDict({"extra": lib.ones(1)}),
    lambda p, nn, lib: [n for n, _ in p.named_parameters()],
    lambda p, nn, lib: p.update([("a", 1, 2)]),
    lambda p, nn, lib: p(1),
]


@pytest.mark.parametrize("i", range(len(PDICT_OPS)))
def test_parameterdict_ops(i):
    _same(lambda nn, lib: PDICT_OPS[i](nn.ParameterDict({"w": lib.ones(2, 2), "b": nn.Parameter(lib.zeros(3))}),
                                       nn, lib))


def test_containers_in_model_state_dict_and_print():
    def f(nn):
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
                self.heads = nn.ModuleDict({"x": nn.Linear(3, 1), "y": nn.Linear(3, 2)})
                self.ps = nn.ParameterList([nn.Parameter(torch.ones(3) if nn is torch.nn else engine.ones(3))])

            def forward(self, x):
                for layer in self.layers:
                    x = layer(x) * self.ps[0]
                return self.heads["y"](x)

        return M()

    tm, em = both(f)
    assert repr(tm) == repr(em)
    assert list(tm.state_dict()) == list(em.state_dict())
    run_both(tm, em, np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32))

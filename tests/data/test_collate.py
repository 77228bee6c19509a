"""default_collate / default_convert against torch.utils.data on nested structures."""
import collections

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import engine
import engine.utils.data as eud

Point = collections.namedtuple("Point", ["x", "y"])


def to_np(v):
    return v.numpy() if hasattr(v, "numpy") else v


def same(a, b):
    """Structure, types (by name), dtypes and values equal between a torch and an engine result."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, engine.Tensor), type(b)
        assert str(a.dtype) == str(b.dtype) and tuple(a.shape) == tuple(b.shape)
        # exact: collation stacks/copies the same float32 values; the only numbers made are i and
        # float(i) / 2 (halves of small integers, exact in any float type)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        return
    assert type(a).__name__ == type(b).__name__, (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    else:
        assert a == b


def build(lib, kind):
    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(4)]
    T = lib.tensor
    if kind == "tensors":
        return [T(a) for a in arrs]
    if kind == "tuple":
        return [(T(a), i, float(i) / 2, bool(i % 2), f"s{i}") for i, a in enumerate(arrs)]
    if kind == "dict":
        return [{"img": T(a), "label": i, "meta": {"name": f"n{i}", "w": [i, i + 1]}} for i, a in enumerate(arrs)]
    if kind == "namedtuple":
        return [Point(T(a), i) for i, a in enumerate(arrs)]
    if kind == "numpy":
        return [(a, np.float32(i), np.int64(i), np.array(i)) for i, a in enumerate(arrs)]
    if kind == "list":
        return [[T(a), [i, 2 * i]] for i, a in enumerate(arrs)]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["tensors", "tuple", "dict", "namedtuple", "numpy", "list"])
def test_default_collate_matches_torch(kind):
    same(tud.default_collate(build(torch, kind)), eud.default_collate(build(engine, kind)))


def test_number_dtypes():
    assert eud.default_collate([1.5, 2.0]).dtype == engine.float64
    assert eud.default_collate([1, 2]).dtype == engine.int64
    assert eud.default_collate([True, False]).dtype == engine.bool
    assert eud.default_collate(["a", "b"]) == ["a", "b"]


def test_collate_errors_match_torch():
    with pytest.raises(RuntimeError) as t_err:
        tud.default_collate([[1, 2], [1]])
    with pytest.raises(RuntimeError) as e_err:
        eud.default_collate([[1, 2], [1]])
    assert str(e_err.value) == str(t_err.value) == "each element in list of batch should be of equal size"

    class Thing:
        pass
    with pytest.raises(TypeError) as t_err:
        tud.default_collate([Thing(), Thing()])
    with pytest.raises(TypeError) as e_err:
        eud.default_collate([Thing(), Thing()])
    assert str(e_err.value) == str(t_err.value)
    strs = [np.array(["a"]), np.array(["b"])]
    with pytest.raises(TypeError) as t_err:
        tud.default_collate(strs)
    with pytest.raises(TypeError) as e_err:
        eud.default_collate(strs)
    assert str(e_err.value) == str(t_err.value)


def test_stack_size_mismatch_is_runtime_error():
    with pytest.raises(RuntimeError):
        eud.default_collate([engine.zeros(2), engine.zeros(3)])


@pytest.mark.parametrize("data", [
    np.arange(6).reshape(2, 3), (np.ones(2, dtype=np.float32), "x"), {"a": np.int32(3), "b": [np.zeros(1)]},
    Point(np.zeros(2), 1), 3.5, "text"])
def test_default_convert_matches_torch(data):
    same(tud.default_convert(data), eud.default_convert(data))

"""The Tensor API outside the op families: attributes, conversions, autograd fields."""
import numpy as np
import pytest
import torch

import engine
from parity import check_error, check_gradcheck, check_op


def both(a, requires_grad=False):
    t = torch.tensor(a, requires_grad=requires_grad)
    e = engine.tensor(a, requires_grad=requires_grad)
    return t, e


def test_attributes_match():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t, e = both(a)
    assert e.size() == t.size() and e.size(1) == t.size(1) and e.size(-1) == t.size(-1)
    assert e.shape == t.shape and repr(e.shape) == repr(t.shape)
    assert e.dim() == t.dim() == e.ndim == e.ndimension()
    assert e.numel() == t.numel() and e.nelement() == t.nelement() and e.element_size() == t.element_size()
    assert e.stride() == t.stride()
    assert e.transpose(0, 2).stride() == t.transpose(0, 2).stride()
    assert e.is_contiguous() and not e.transpose(0, 2).is_contiguous()
    assert e.tolist() == t.tolist()
    assert e[1, 2, 3].item() == t[1, 2, 3].item() == 23.0
    assert isinstance(engine.tensor([3]).item(), int) and isinstance(engine.tensor([True]).item(), bool)
    with pytest.raises(IndexError):
        t.size(3)
    with pytest.raises(IndexError):
        e.size(3)
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        e.item()
    assert len(e) == 2 and float(engine.tensor(2.5)) == 2.5 and int(engine.tensor(7)) == 7
    assert engine.Size([2, 3]) == (2, 3) and repr(engine.Size([2, 3])) == "torch.Size([2, 3])"
    assert engine.Size([2, 3]).numel() == 6


@pytest.mark.parametrize("name", ["float", "double", "half", "long", "int", "short", "char", "byte", "bool"])
def test_dtype_conversions(name):
    a = np.array([[-1.5, 0.0, 2.7], [3.2, -0.4, 1.0]], dtype=np.float32)
    t, e = both(a)
    tr, er = getattr(t, name)(), getattr(e, name)()
    assert str(tr.dtype) == str(er.dtype)
    np.testing.assert_array_equal(er.numpy(), tr.numpy())  # casts round to nearest (half) or truncate: exact


def test_conversion_gradients():
    check_op(lambda x: x.double() * 2, [(3, 4)], dtypes=("float32",))
    check_op(lambda x: x.float().sum(), [(3, 4)], dtypes=("float64",))
    check_op(lambda x: x.to(x.dtype) * 3, [(2, 2)])
    x = engine.ones(2, requires_grad=True)
    assert x.double().grad_fn.name() == torch.ones(2, requires_grad=True).double().grad_fn.name()
    assert x.long().requires_grad is False


def test_to_signatures():
    t, e = both([[1.0, 2.0]])
    assert e.to(engine.float64).dtype is engine.float64
    assert e.to("cpu", engine.int32).dtype is engine.int32
    assert e.to(dtype=engine.int64, device="cpu").dtype is engine.int64
    assert e.to(engine.zeros(1, dtype=engine.float16)).dtype is engine.float16
    assert e.to(engine.float32) is e and e.to(engine.float32, copy=True) is not e
    assert e.type() == t.type() == "torch.FloatTensor"
    assert e.type(engine.float64).dtype is engine.float64 and e.type("torch.LongTensor").dtype is engine.int64
    assert e.type_as(engine.tensor([1])).dtype is engine.int64


def test_neg_and_expand_as():
    check_op(lambda x: -x, [(3, 4)])
    check_op(lambda x: x.neg(), [(5,)])
    check_op(lambda x, y: x.expand_as(y) * y, [(3, 1), (2, 3, 4)])
    check_gradcheck(lambda x, y: x.expand_as(y) * y, [(3, 1), (2, 3, 4)])
    check_error(lambda x, y: x.expand_as(y), [(3, 2), (3, 4)], RuntimeError, match="must match the existing size")


def test_clone_detach_contiguous():
    check_op(lambda x: x.clone() * 2, [(3, 4)])
    check_op(lambda x: x.t().contiguous() * 2, [(3, 4)])
    a = np.ones((2, 2), dtype=np.float32)
    t, e = both(a, requires_grad=True)
    d = e.detach()
    assert d.requires_grad is False and d.grad_fn is None
    d[0, 0] = 5
    assert e[0, 0].item() == 5  # detach shares memory
    assert e.detach().numpy().base is not None or True
    with pytest.raises(RuntimeError, match="Use tensor.detach"):
        e.numpy()
    c = e.clone()
    assert c.grad_fn.name() == t.clone().grad_fn.name() == "CloneBackward0"


def test_requires_grad_rules():
    e = engine.ones(2)
    assert e.requires_grad_() is e and e.requires_grad and e.is_leaf
    y = e * 2
    assert not y.is_leaf and y.requires_grad
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match="floating point"):
        engine.ones(2, dtype=engine.int64).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        torch.ones(2, dtype=torch.int64).requires_grad_()


def test_retain_grad_and_hooks_match_torch():
    results = []
    for lib in (torch, engine):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * x
        y.retain_grad()
        seen = []
        y.register_hook(lambda g: seen.append(g.tolist()))
        x.register_hook(lambda g: g * 10)
        (y * 2).sum().backward()
        results.append((y.grad.tolist(), seen, x.grad.tolist()))
    assert results[0] == results[1]  # products of small integers: exact
    assert results[1][2] == [40.0, 80.0, 120.0]


def test_numpy_roundtrip_shares_memory():
    a = np.zeros(3, dtype=np.float32)
    e = engine.from_numpy(a)
    e.add_(1)
    assert a.tolist() == [1.0, 1.0, 1.0]
    assert e.numpy() is a or np.shares_memory(e.numpy(), a)


def test_deepcopy_of_leaf_and_nonleaf():
    import copy

    x = engine.tensor([1.0, 2.0], requires_grad=True)
    y = copy.deepcopy(x)
    assert y.requires_grad and y is not x and y.tolist() == x.tolist()
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(x * 2)

"""Parity of sort, argsort, msort, topk, kthvalue, unique and unique_consecutive with PyTorch."""
import numpy as np
import pytest
import torch

import engine
from parity import assert_same, check_error, check_gradcheck, check_op


def M(x):
    return torch if isinstance(x, torch.Tensor) else engine


def both(arr, grad=False):
    a = np.asarray(arr)
    t, e = torch.from_numpy(a.copy()), engine.from_numpy(a.copy())
    if grad:
        t.requires_grad_(True)
        e.requires_grad_(True)
    return t, e


def same(fn, arr, grad=False):
    t, e = both(arr, grad)
    tr, er = fn(t), fn(e)
    assert_same(tr, er, 1e-6, 1e-5)  # sort/topk select elements: the values are exact copies
    return tr, er


DIM_CASES = [((), 0), ((), -1), ((5,), 0), ((5,), -1), ((1,), 0), ((3, 4), 0), ((3, 4), -1), ((2, 1, 3), 1),
             ((2, 3, 4), 2), ((2, 3, 4), -3)]


# -- sort / argsort / msort -------------------------------------------------------------------------
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("shape,dim", DIM_CASES)
def test_sort(shape, dim, descending):
    check_op(lambda x: x.sort(dim, descending), [shape])
    check_op(lambda x: M(x).sort(x, dim=dim, descending=descending, stable=True), [shape], noncontig=True)
    check_op(lambda x: x.sort(dim=dim, descending=descending)[0] * 2, [shape])
    check_op(lambda x: x.argsort(dim, descending), [shape], grad=False)
    check_op(lambda x: M(x).argsort(x, dim=dim, descending=descending), [shape], grad=False, noncontig=True)
    check_gradcheck(lambda x: x.sort(dim, descending)[0], [shape])
    t = engine.from_numpy(np.random.default_rng(1).normal(size=shape)).requires_grad_()
    assert engine.autograd.gradgradcheck(lambda x: x.sort(dim, descending)[0], (t,))


def test_sort_default_and_named_tuple():
    check_op(lambda x: x.sort(), [(3, 4)])
    check_op(lambda x: M(x).sort(x), [(3, 4)])
    t, e = both(np.array([[1.0, 5.0, 2.0], [3.0, 0.0, 7.0]], dtype=np.float32), grad=True)
    tr, er = t.sort(1), e.sort(1)
    assert repr(tr) == repr(er) and str(tr) == str(er)
    v, i = er
    assert v is er.values and i is er.indices and er[1] is i
    assert type(er).__name__ == "sort" and isinstance(er, tuple)
    assert er.values.grad_fn.name() == "SortBackward0" and er.indices.grad_fn is None
    assert e.msort().grad_fn.name() == "SortBackward0"
    assert e.argsort().grad_fn is None and not e.argsort().requires_grad


@pytest.mark.parametrize("dt", ["int64", "int32", "uint8", "bool", "float16"])
def test_sort_dtypes_stable_ties(dt):
    for fn in (lambda x: x.sort(stable=True), lambda x: x.sort(dim=0, descending=True, stable=True),
               lambda x: M(x).sort(x, stable=True, dim=0, descending=False),
               lambda x: x.argsort(dim=1, stable=True), lambda x: M(x).argsort(x, dim=0, descending=True, stable=True),
               lambda x: x.msort()):
        check_op(fn, [(4, 6)], grad=False, input_dtypes=[dt], dtypes=("float64",), low=0, high=3)


def test_sort_nan():
    a = np.array([[1.0, np.nan, 3.0, -1.0], [np.nan, 2.0, np.nan, 0.0]])
    for fn in (lambda x: x.sort(1), lambda x: x.sort(1, descending=True), lambda x: x.sort(0),
               lambda x: x.argsort(1), lambda x: x.argsort(1, descending=True)):
        same(fn, a)


def test_sort_ties_grad():
    a = np.array([[2.0, 1.0, 2.0, 1.0]])
    t, e = both(a, grad=True)
    tr, er = t.sort(dim=1, stable=True), e.sort(dim=1, stable=True)
    assert_same(tr, er, 0, 0)  # selection, and below a scatter of g: exact
    g = np.arange(4.0).reshape(1, 4)
    tr.values.backward(torch.from_numpy(g))
    er.values.backward(engine.from_numpy(g))
    assert_same(t.grad, e.grad, 0, 0)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (1,)])
def test_msort(shape):
    check_op(lambda x: x.msort(), [shape])
    check_op(lambda x: M(x).msort(x), [shape], noncontig=True)
    check_gradcheck(lambda x: x.msort(), [shape])


def test_sort_errors():
    check_error(lambda x: x.sort(2), [(2, 3)], exc=IndexError,
                match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)")
    check_error(lambda x: x.argsort(-3), [(2, 3)], exc=IndexError,
                match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got -3\)")
    check_error(lambda x: M(x).sort(x, True), [(3,)], exc=TypeError)
    check_op(lambda x: x.sort(0), [(0, 3)])
    check_op(lambda x: x.sort(), [(0,)])


# -- topk -------------------------------------------------------------------------------------------
TOPK_CASES = [((5,), 0, 2), ((5,), -1, 5), ((5,), 0, 0), ((3, 4), 0, 2), ((3, 4), -1, 1), ((2, 3, 4), 1, 3),
              ((), 0, 1), ((), 0, 0), ((1,), 0, 1)]


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("shape,dim,k", TOPK_CASES)
def test_topk(shape, dim, k, largest):
    check_op(lambda x: x.topk(k, dim, largest), [shape])
    check_op(lambda x: M(x).topk(x, k, dim=dim, largest=largest, sorted=True), [shape], noncontig=True)
    check_op(lambda x: x.topk(k, dim, largest)[0].sum() if k else x.sum(), [shape])
    check_gradcheck(lambda x: x.topk(k, dim, largest)[0], [shape])


def test_topk_misc():
    check_op(lambda x: x.topk(2), [(3, 4)])
    t, e = both(np.array([[1.0, 5.0, 2.0, 8.0], [3.0, 0.0, 7.0, 4.0]], dtype=np.float32), grad=True)
    tr, er = t.topk(2), e.topk(2)
    assert repr(tr) == repr(er)
    assert type(er).__name__ == "topk" and er.values.grad_fn.name() == "TopkBackward0"
    # unsorted results hold the same elements
    tv, ev = t.topk(3, sorted=False), e.topk(3, sorted=False)
    assert_same(tv.values.sort(-1)[0], ev.values.sort(-1)[0], 0, 0)  # selected elements: exact
    same(lambda x: x.topk(2), np.array([1.0, np.nan, 3.0]))
    same(lambda x: x.topk(2, largest=False), np.array([1.0, np.nan, 3.0]))
    perm = np.random.default_rng(0).permutation(15).reshape(3, 5)
    for dt in ("int64", "uint8", "float16", "int8"):
        same(lambda x: x.topk(2, 1), perm.astype(dt))
        same(lambda x: x.topk(3, 0, largest=False), perm.astype(dt))


def test_topk_errors():
    _, msg = check_error(lambda x: x.topk(4), [(2, 3)])
    assert msg == "selected index k out of range"
    check_error(lambda x: x.topk(-1), [(2, 3)], match="selected index k out of range")
    check_error(lambda x: x.topk(3, 0), [(2, 3)], match="selected index k out of range")
    check_error(lambda x: x.topk(2), [()], match="selected index k out of range")
    check_error(lambda x: x.topk(1, 2), [(2, 3)], exc=IndexError, match="Dimension out of range")
    check_error(lambda x: x.topk(1.5), [(2, 3)], exc=TypeError)


# -- kthvalue ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim,k", [((5,), 0, 1), ((5,), -1, 3), ((5,), 0, 5), ((3, 4), 0, 2),
                                         ((3, 4), -1, 4), ((2, 3, 4), 1, 2), ((), 0, 1), ((1, 1), 1, 1)])
def test_kthvalue(shape, dim, k, keepdim):
    check_op(lambda x: x.kthvalue(k, dim, keepdim), [shape])
    check_op(lambda x: M(x).kthvalue(x, k, dim=dim, keepdim=keepdim), [shape], noncontig=True)
    check_gradcheck(lambda x: x.kthvalue(k, dim, keepdim)[0], [shape])


def test_kthvalue_misc():
    check_op(lambda x: x.kthvalue(2), [(3, 4)])
    check_op(lambda x: x.kthvalue(3, 0), [(4, 5)], grad=False, input_dtypes=["int64"], dtypes=("float64",),
             low=-50, high=50)
    t, e = both(np.array([[1.0, 5.0, 2.0], [3.0, 0.0, 7.0]], dtype=np.float32), grad=True)
    assert repr(t.kthvalue(2)) == repr(e.kthvalue(2))
    assert e.kthvalue(1).values.grad_fn.name() == "KthvalueBackward0"
    _, msg = check_error(lambda x: x.kthvalue(4), [(2, 3)])
    assert msg == "kthvalue(): selected number k out of range for dimension 1"
    _, msg = check_error(lambda x: x.kthvalue(3, -2), [(2, 3)])
    assert msg == "kthvalue(): selected number k out of range for dimension 0"
    check_error(lambda x: x.kthvalue(0), [(2, 3)], match="selected number k out of range")
    check_error(lambda x: x.kthvalue(1, -3), [(2, 3)], exc=IndexError,
                match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got -3\)")


# -- unique / unique_consecutive ----------------------------------------------------------------------
UNIQ = [[3, 1, 2, 1, 3], [[3, 1], [2, 1]], [[1, 2], [1, 2], [0, 5]], [5], [[0, 0, 0]], [[2, 2], [1, 1], [2, 2]]]


@pytest.mark.parametrize("dt", ["int64", "float32", "bool", "uint8"])
@pytest.mark.parametrize("arr", UNIQ)
@pytest.mark.parametrize("inv", [False, True])
@pytest.mark.parametrize("cnt", [False, True])
def test_unique(arr, dt, inv, cnt):
    a = np.array(arr).astype(dt)
    same(lambda x: M(x).unique(x, return_inverse=inv, return_counts=cnt), a)
    same(lambda x: x.unique(sorted=True, return_inverse=inv, return_counts=cnt), a)
    same(lambda x: M(x).unique_consecutive(x, return_inverse=inv, return_counts=cnt), a)
    same(lambda x: x.unique_consecutive(inv, cnt), a)
    for d in range(-a.ndim, a.ndim):
        same(lambda x: M(x).unique(x, return_inverse=inv, return_counts=cnt, dim=d), a)
        same(lambda x: x.unique_consecutive(return_inverse=inv, return_counts=cnt, dim=d), a)


def test_unique_misc():
    same(lambda x: x.unique(), np.array(3))
    same(lambda x: x.unique(return_inverse=True), np.array(3.0))
    same(lambda x: x.unique_consecutive(return_inverse=True), np.array(2.0))
    same(lambda x: x.unique(return_inverse=True, return_counts=True), np.zeros(0, dtype=np.float32))
    same(lambda x: x.unique_consecutive(return_inverse=True, return_counts=True), np.zeros(0, dtype=np.float32))
    same(lambda x: x.unique(dim=0, return_inverse=True), np.zeros((0, 2), dtype=np.float32))
    same(lambda x: x.unique(return_inverse=True, return_counts=True), np.array([1.0, np.nan, 1.0, np.nan]))
    same(lambda x: x.unique(sorted=False), np.array([3, 1, 2, 1, 3]))
    t, e = both(np.array([1.0, 2.0, 1.0]), grad=True)
    assert e.unique().grad_fn.name() == "Unique2Backward0" and e.unique().requires_grad
    assert e.unique(dim=0).grad_fn.name() == "UniqueDimBackward0"
    assert e.unique_consecutive().grad_fn.name() == "UniqueConsecutiveBackward0"
    with pytest.raises(NotImplementedError):
        t.unique().sum().backward()
    with pytest.raises(NotImplementedError, match="the derivative for '_unique2' is not implemented."):
        e.unique().sum().backward()
    check_error(lambda x: x.unique(dim=2), [(2, 3)], exc=IndexError, match="Dimension out of range")
    check_error(lambda x: x.unique_consecutive(dim=-3), [(2, 3)], exc=IndexError, match="Dimension out of range")
    check_error(lambda x: x.unique(dim=0), [()], exc=IndexError)


def test_sort_values_feed_on():
    """Selected values keep flowing through the graph: sort -> slice-free arithmetic -> backward."""
    check_op(lambda x: (x.sort(1)[0] * x.topk(2, 1)[0].sum(1, keepdim=True)).sum(), [(3, 4)])
    check_op(lambda x: x.kthvalue(2, 0)[0] + x.median(0)[0] + x.max(0)[0], [(3, 4)])

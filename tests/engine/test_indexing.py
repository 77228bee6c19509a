"""Parity of indexing with PyTorch: __getitem__/__setitem__, index ops, masked ops, take/put,
nonzero, copy_/fill_/zero_; values, dtypes, grad_fn names, gradients and error messages."""
import warnings

import numpy as np
import pytest
import torch

import engine
from parity import check_error, check_gradcheck, check_op

warnings.filterwarnings("ignore", category=UserWarning)


def lib(x):
    return torch if isinstance(x, torch.Tensor) else engine


def gname(t):
    return type(t.grad_fn).__name__


def T(x, value, dtype=None):
    """An index/mask tensor of ``x``'s library."""
    L = lib(x)
    return L.tensor(value, dtype=dtype) if dtype is not None else L.tensor(value)


MASK = np.array([[True, False, True, True, False], [True, True, True, False, False],
                 [False, True, False, False, False], [False, False, False, True, True]])

# (id, key builder taking the tensor, shape, grad_fn name of the result)
GETITEM = [
    ("int", lambda x: 1, (3, 4, 5), "SelectBackward0"),
    ("neg_int", lambda x: -1, (3, 4, 5), "SelectBackward0"),
    ("ints", lambda x: (0, 2), (3, 4, 5), "SelectBackward0"),
    ("all_ints", lambda x: (0, 2, 4), (3, 4, 5), "SelectBackward0"),
    ("slice", lambda x: slice(1, 3), (3, 4, 5), "SliceBackward0"),
    ("slice_step", lambda x: (slice(None), slice(None, None, 2)), (3, 4, 5), "SliceBackward0"),
    ("slice_neg", lambda x: (slice(-2, None), slice(None, -1)), (3, 4, 5), "SliceBackward0"),
    ("slice_oob", lambda x: slice(1, 100), (3, 4, 5), "SliceBackward0"),
    ("full_slice", lambda x: slice(None), (3, 4), "SliceBackward0"),
    ("ellipsis_int", lambda x: (Ellipsis, 0), (3, 4, 5), "SelectBackward0"),
    ("int_ellipsis", lambda x: (1, Ellipsis), (3, 4, 5), "SelectBackward0"),
    ("ellipsis", lambda x: Ellipsis, (3, 4), "AliasBackward0"),
    ("empty_tuple", lambda x: (), (3, 4), "AliasBackward0"),
    ("none", lambda x: None, (3, 4), "UnsqueezeBackward0"),
    ("none_mid", lambda x: (slice(None), None), (3, 4), "UnsqueezeBackward0"),
    ("none_int", lambda x: (None, 0), (3, 4), "SelectBackward0"),
    ("int_none", lambda x: (0, None), (3, 4), "UnsqueezeBackward0"),
    ("mixed_basic", lambda x: (None, Ellipsis, 1, None), (3, 4, 5), "UnsqueezeBackward0"),
    ("int_tensor0d", lambda x: T(x, 1), (3, 4), "SelectBackward0"),
    ("list", lambda x: [0, 2, 2], (3, 4), "IndexBackward0"),
    ("tensor", lambda x: T(x, [2, 0, -1]), (3, 4), "IndexBackward0"),
    ("tensor_2d", lambda x: T(x, [[0, 1], [2, 2]]), (3, 4), "IndexBackward0"),
    ("tensor_int32", lambda x: T(x, [1, 0], lib(x).int32), (3, 4), "IndexBackward0"),
    ("two_tensors", lambda x: (T(x, [0, 2]), T(x, [1, 3])), (3, 4), "IndexBackward0"),
    ("broadcast", lambda x: (T(x, [[0], [1]]), T(x, [[0, 1, 2]])), (3, 4), "IndexBackward0"),
    ("slice_tensor", lambda x: (slice(None), T(x, [0, 3, 3])), (3, 4, 5), "IndexBackward0"),
    ("separated", lambda x: (T(x, [0, 1]), slice(1, 3), T(x, [0, 4])), (3, 4, 5), "IndexBackward0"),
    ("adjacent", lambda x: (slice(None), T(x, [0, 1]), T(x, [2, 3])), (3, 4, 5), "IndexBackward0"),
    ("int_then_tensor", lambda x: (0, slice(None), T(x, [1, 2])), (3, 4, 5), "IndexBackward0"),
    ("tensor_int", lambda x: (slice(None), T(x, [0, 1]), 0), (3, 4, 5), "IndexBackward0"),
    ("tensor_none", lambda x: (1, T(x, [0, 1]), None), (3, 4, 5), "IndexBackward0"),
    ("none_tensor_ell", lambda x: (None, T(x, [0, 1]), Ellipsis, T(x, [1, 2])), (3, 4, 5), "IndexBackward0"),
    ("ellipsis_tensor", lambda x: (Ellipsis, T(x, [1, 0])), (3, 4, 5), "IndexBackward0"),
    ("mask", lambda x: x > 0, (3, 4), "IndexBackward0"),
    ("mask_rows", lambda x: T(x, [True, False, True]), (3, 4), "IndexBackward0"),
    ("mask_2d_inner", lambda x: (slice(None), T(x, MASK.tolist())), (3, 4, 5), "IndexBackward0"),
    ("mask_list", lambda x: [True, False, True], (3, 4), "IndexBackward0"),
    ("mask_and_tensor", lambda x: (T(x, [True, False, True]), T(x, [0, 3])), (3, 4), "IndexBackward0"),
    ("bool_true", lambda x: True, (3, 4), "IndexBackward0"),
    ("bool_false", lambda x: False, (3, 4), "IndexBackward0"),
    ("int_bool", lambda x: (0, True), (3, 4), "IndexBackward0"),
    ("bool_0d_tensor", lambda x: T(x, True), (3, 4), "IndexBackward0"),
    ("uint8_mask", lambda x: T(x, [1, 0, 1], lib(x).uint8), (3, 4), "IndexBackward0"),
    ("empty_list", lambda x: (slice(None), []), (3, 4), "IndexBackward0"),
    ("slice_step_tensor", lambda x: (slice(None, None, 2), T(x, [1, -1])), (3, 4, 5), "IndexBackward0"),
]


@pytest.mark.parametrize("name,key,shape,node", GETITEM, ids=[g[0] for g in GETITEM])
def test_getitem(name, key, shape, node):
    check_op(lambda x: x[key(x)], [shape])
    check_gradcheck(lambda x: x[key(x)], [shape])
    x = engine.randn(*shape, requires_grad=True) * 1
    assert gname(x[key(x)]) == node
    t = torch.randn(*shape, requires_grad=True) * 1
    assert gname(t[key(t)]) == node


def test_getitem_duplicate_indices_accumulate():
    check_op(lambda x: x[T(x, [0, 0, 1, 0])] * T(x, [[1.0], [2.0], [3.0], [4.0]]), [(3, 4)])
    check_op(lambda x: x[:, T(x, [[3, 3], [3, 0]])], [(2, 4)])


def test_getitem_int_dtypes_and_views():
    for dt in ("int64", "int32", "bool", "uint8"):
        check_op(lambda x: (x[1], x[:, 1:3], x[x.bool() if x.dtype != torch.bool and x.dtype != engine.bool else x],
                            x[[0, 2]]), [(3, 4)], grad=False, dtypes=("float64",), input_dtypes=[dt])
    x = engine.arange(12.).reshape(3, 4)
    for v in (x[1], x[:, 2], x[1:, ::2], x[None], x[...], x[0, 1]):
        assert np.shares_memory(np.asarray(v._data), np.asarray(x._data))
    for v in (x[[0, 1]], x[x > 3]):
        assert not np.shares_memory(np.asarray(v._data), np.asarray(x._data))


GETITEM_ERRORS = [
    (lambda x: x[5], IndexError),
    (lambda x: x[-4], IndexError),
    (lambda x: x[:, 7], IndexError),
    (lambda x: x[0, 7], IndexError),
    (lambda x: x[0, 0, 0], IndexError),
    (lambda x: x[[5]], IndexError),
    (lambda x: x[:, T(x, [0, 7])], IndexError),
    (lambda x: x[T(x, [0, 1]), T(x, [0, 7])], IndexError),
    (lambda x: x[T(x, [0, 1]), T(x, [0, 1, 2])], IndexError),
    (lambda x: x[T(x, [True, False])], IndexError),
    (lambda x: x[T(x, 5)], IndexError),
    (lambda x: x[1.5], IndexError),
    (lambda x: x[T(x, [1.0])], IndexError),
    (lambda x: x.sum()[0], IndexError),
    (lambda x: x.sum()[:], IndexError),
    (lambda x: x[::-1], ValueError),
    (lambda x: x[::0], ValueError),
]


@pytest.mark.parametrize("fn,exc", GETITEM_ERRORS)
def test_getitem_errors(fn, exc):
    tmsg, emsg = check_error(fn, [(3, 4)], exc)
    assert tmsg == emsg


def test_getitem_mask_error_message():
    tmsg, emsg = check_error(lambda x: x[:, T(x, np.ones((4, 6), bool).tolist())], [(3, 4, 5)], IndexError)
    assert tmsg == emsg


# -- __setitem__ ---------------------------------------------------------------------------------
SETITEM = [
    ("int", lambda x: 1, "CopySlices"),
    ("ints", lambda x: (1, 2), "CopySlices"),
    ("slice", lambda x: slice(0, 2), "CopySlices"),
    ("col", lambda x: (slice(None), 1), "CopySlices"),
    ("step", lambda x: (slice(None), slice(None, None, 2)), "CopySlices"),
    ("none", lambda x: (None, 0), "CopySlices"),
    ("ellipsis", lambda x: Ellipsis, None),
    ("full_slice", lambda x: slice(None), None),
    ("tensor", lambda x: T(x, [0, 2]), "IndexPutBackward0"),
    ("list", lambda x: [2, 0], "IndexPutBackward0"),
    ("two_tensors", lambda x: (T(x, [0, 2]), T(x, [1, 3])), "IndexPutBackward0"),
    ("slice_tensor", lambda x: (slice(None), T(x, [1, 3])), "IndexPutBackward0"),
    ("int_tensor", lambda x: (1, T(x, [1, 3])), "CopySlices"),
    ("mask", lambda x: x > 0, "IndexPutBackward0"),
    ("mask_rows", lambda x: T(x, [True, False, True]), "IndexPutBackward0"),
]


@pytest.mark.parametrize("value", ["scalar", "int", "tensor0d", "row", "full"])
@pytest.mark.parametrize("name,key,node", SETITEM, ids=[s[0] for s in SETITEM])
def test_setitem(name, key, node, value):
    def fn(x, v):
        y = x * 1
        k = key(y)
        if value == "scalar":
            val = 0.5
        elif value == "int":
            val = 3
        elif value == "tensor0d":
            val = v.sum()
        else:
            shp = tuple(y[k].shape)
            if not shp:
                val = v.sum()
            elif value == "row" and shp[-1] <= 4:
                val = v[:shp[-1]]
            else:
                val = v.sum() * lib(x).arange(int(np.prod(shp)), dtype=x.dtype).reshape(shp)
        y[k] = val
        return y * 2

    check_op(fn, [(3, 4), (4,)])
    check_gradcheck(fn, [(3, 4), (4,)])
    y = engine.randn(3, 4, requires_grad=True) * 1
    y[key(y)] = 0.5
    t = torch.randn(3, 4, requires_grad=True) * 1
    t[key(t)] = 0.5
    assert gname(y) == gname(t)
    if node is not None:
        assert gname(y) == node


def test_setitem_assignment_example():
    def fn(x):
        y = x * 1
        y[0] = 0
        y[:, 1].mul_(2)
        y[1:, 2:] *= x[:2, :2]
        return y.sum() + (y * y).sum()

    check_op(fn, [(3, 4)])
    check_gradcheck(fn, [(3, 4)])


def test_setitem_no_grad_and_broadcast():
    for lib_ in (torch, engine):
        x = lib_.zeros(3, 4)
        x[0] = lib_.ones(1, 4)  # leading 1-dims of the value are dropped
        x[:, 1] = lib_.arange(3.)
        x[x > 1.5] = -1
        x[[0, 2], [3, 3]] = lib_.tensor([7.0, 8.0])
        x[1, [0, 1]] = 5
        x[..., 2] = lib_.tensor(9.0)
        if lib_ is torch:
            ref = x.numpy().copy()
        else:
            np.testing.assert_array_equal(x.numpy(), ref)
    x = engine.zeros(3, dtype=engine.int64)
    v0 = x._version
    x[1] = 2.7
    assert x.tolist() == [0, 2, 0] and x._version == v0 + 1


def test_setitem_leaf_errors():
    for lib_ in (torch, engine):
        x = lib_.ones(3, 4, requires_grad=True)
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad|leaf Variable"):
            x[0] = 1
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            x[[0, 1]] = 1
        with lib_.no_grad():
            x[0] = 2
        assert float(x.sum()) == 16


SETITEM_ERRORS = [
    (lambda x: x.__setitem__(0, T(x, [1.0] * 5)), RuntimeError),
    (lambda x: x.__setitem__([0], T(x, [1.0] * 5)), RuntimeError),
    (lambda x: x.__setitem__([0], T(x, [[1.0] * 4] * 2)), RuntimeError),
    (lambda x: x.__setitem__(5, 1.0), IndexError),
    (lambda x: x.__setitem__([7], 1.0), IndexError),
]


@pytest.mark.parametrize("fn,exc", SETITEM_ERRORS)
def test_setitem_errors(fn, exc):
    tmsg, emsg = check_error(fn, [(3, 4)], exc)
    assert tmsg == emsg


# -- views of indexing ------------------------------------------------------------------------------
def test_basic_index_views_share_version():
    x = engine.zeros(3, 4)
    v = x[1]
    w = x[:, 1:3]
    x[0, 0] = 1
    assert v._version == w._version == x._version == 1
    v.add_(2)
    assert x._version == 2 and x[1].tolist() == [2.0] * 4


def test_inplace_on_index_view_of_nonleaf():
    def fn(x):
        y = x * 1
        y[0] = 0
        y[:, 1].mul_(2)
        y[1][2:].add_(y[2, :2].detach() if False else x[2, :2])
        return y

    check_op(fn, [(3, 4)])
    for lib_ in (torch, engine):
        y = lib_.ones(3, 4, requires_grad=True) * 1
        y[0] = 0
        assert gname(y) == "CopySlices"


# -- index ops --------------------------------------------------------------------------------------
OPS = [
    ("index_select", lambda x: x.index_select(0, T(x, [2, 0, 2])), [(3, 4)], "IndexSelectBackward0"),
    ("index_select_dim", lambda x: lib(x).index_select(x, -1, T(x, [3, 1])), [(3, 4)], "IndexSelectBackward0"),
    ("index_select_0d", lambda x: x.index_select(1, T(x, 2)), [(3, 4)], "IndexSelectBackward0"),
    ("gather", lambda x: x.gather(1, T(x, [[0, 0], [1, 3], [2, 2]])), [(3, 4)], "GatherBackward0"),
    ("gather0", lambda x: lib(x).gather(x, 0, T(x, [[0, 1, 2, 0]])), [(3, 4)], "GatherBackward0"),
    ("gather_small", lambda x: x.gather(-1, T(x, [[[1], [0]]])), [(2, 3, 4)], "GatherBackward0"),
    ("take_along_dim", lambda x: lib(x).take_along_dim(x, T(x, [[0], [3], [1]]), 1), [(3, 4)], None),
    ("scatter", lambda x, s: x.scatter(1, T(x, [[0, 1], [3, 2], [2, 0]]), s), [(3, 4), (3, 2)],
     "ScatterBackward0"),
    ("scatter_value", lambda x: lib(x).scatter(x, 0, T(x, [[0, 1, 2, 0]]), 1.5), [(3, 4)], "ScatterBackward1"),
    ("scatter_add", lambda x, s: x.scatter_add(0, T(x, [[0, 1, 0, 0], [0, 2, 0, 1]]), s), [(3, 4), (2, 4)],
     "ScatterAddBackward0"),
    ("scatter_add_2", lambda x, s: lib(x).scatter_add(x, 1, T(x, [[0, 0], [1, 1]]), s), [(3, 4), (2, 2)],
     "ScatterAddBackward0"),
    ("index_add", lambda x, s: x.index_add(0, T(x, [0, 2, 0]), s), [(3, 4), (3, 4)], "IndexAddBackward0"),
    ("index_add_alpha", lambda x, s: lib(x).index_add(x, 1, T(x, [3, 1]), s, alpha=2.5), [(3, 4), (3, 2)],
     "IndexAddBackward0"),
    ("index_fill", lambda x: x.index_fill(1, T(x, [0, 2]), -1.0), [(3, 4)], "IndexFillBackward0"),
    ("index_fill_t", lambda x, v: x.index_fill(0, T(x, [1]), v.sum()), [(3, 4), (2,)], "IndexFillBackward1"),
    ("index_copy", lambda x, s: x.index_copy(0, T(x, [2, 0]), s), [(3, 4), (2, 4)], "IndexCopyBackward0"),
    ("masked_fill", lambda x: x.masked_fill(x > 0, 2.0), [(3, 4)], "MaskedFillBackward0"),
    ("masked_fill_bcast", lambda x: lib(x).masked_fill(x, T(x, [True, False, True, False]), 0.0), [(3, 4)],
     "MaskedFillBackward0"),
    ("masked_fill_t", lambda x, v: x.masked_fill(x < 0, v.sum()), [(3, 4), (2,)], "MaskedFillBackward1"),
    ("masked_fill_grow", lambda x: x.masked_fill(T(x, [[True], [False]]), 1.0), [(4,)], "MaskedFillBackward0"),
    ("masked_select", lambda x: x.masked_select(x > 0), [(3, 4)], "MaskedSelectBackward0"),
    ("masked_select_bcast", lambda x: lib(x).masked_select(x, T(x, [[True], [False], [True]])), [(4,)],
     "MaskedSelectBackward0"),
    ("masked_scatter", lambda x, s: x.masked_scatter(x > 0, s), [(3, 4), (4, 4)], "MaskedScatterBackward0"),
    ("masked_scatter_bcast", lambda x, s: lib(x).masked_scatter(x, T(x, [True, False, True, True]), s),
     [(3, 4), (10,)], "MaskedScatterBackward0"),
    ("take", lambda x: x.take(T(x, [[0, 5], [11, -1]])), [(3, 4)], "TakeBackward0"),
    ("take_dup", lambda x: lib(x).take(x, T(x, [1, 1, 1])), [(3, 4)], "TakeBackward0"),
    ("put", lambda x, s: (x * 1).put_(T(x, [0, 5, -1]), s), [(3, 4), (3,)], "PutBackward0"),
    ("put_acc", lambda x, s: (x * 1).put_(T(x, [[0, 0], [1, 0]]), s, accumulate=True), [(3, 4), (2, 2)],
     "PutBackward0"),
    ("index_put", lambda x, v: x.index_put((T(x, [0, 2]), T(x, [1, 1])), v), [(3, 4), (1,)], "IndexPutBackward0"),
    ("index_put_acc", lambda x, v: lib(x).index_put(x, (T(x, [0, 0]),), v, accumulate=True), [(3, 4), (4,)],
     "IndexPutBackward0"),
    ("index_put_mask", lambda x, v: x.index_put((x > 0,), v), [(3, 4), (1,)], "IndexPutBackward0"),
]


@pytest.mark.parametrize("name,fn,shapes,node", OPS, ids=[o[0] for o in OPS])
def test_index_ops(name, fn, shapes, node):
    check_op(fn, shapes)
    if "masked" not in name or "select" in name or "fill" in name:
        check_gradcheck(fn, shapes)
    if node is not None:
        es = [engine.randn(*s, requires_grad=True) * 1 for s in shapes]
        ts = [torch.randn(*s, requires_grad=True) * 1 for s in shapes]
        assert gname(fn(*es)) == node == gname(fn(*ts))


def test_masked_scatter_gradcheck():
    m = np.random.default_rng(1).random((3, 4)) > 0.5
    check_gradcheck(lambda x, s: x.masked_scatter(engine.from_numpy(m), s), [(3, 4), (13,)])


INPLACE = [
    ("scatter_", lambda x, s: x.scatter_(1, T(x, [[0, 1], [3, 2], [2, 0]]), s), [(3, 4), (3, 2)]),
    ("scatter_value_", lambda x, s: x.scatter_(0, T(x, [[2, 1]]), value=7.0) * s.sum(), [(3, 4), (1,)]),
    ("scatter_add_", lambda x, s: x.scatter_add_(0, T(x, [[0, 1, 0, 0]]), s), [(3, 4), (1, 4)]),
    ("index_add_", lambda x, s: x.index_add_(0, T(x, [1, 1]), s, alpha=-1), [(3, 4), (2, 4)]),
    ("index_fill_", lambda x, s: x.index_fill_(1, T(x, [1]), 2.0) * s.sum(), [(3, 4), (1,)]),
    ("index_copy_", lambda x, s: x.index_copy_(1, T(x, [3, 0]), s), [(3, 4), (3, 2)]),
    ("masked_fill_", lambda x, s: x.masked_fill_(x > 0, 0.0) + s.sum(), [(3, 4), (1,)]),
    ("masked_fill_t_", lambda x, s: x.masked_fill_(T(x, [True, False, False, True]), s.sum()), [(3, 4), (2,)]),
    ("masked_scatter_", lambda x, s: x.masked_scatter_(x > 0, s), [(3, 4), (12,)]),
    ("put_", lambda x, s: x.put_(T(x, [3, 4]), s), [(3, 4), (2,)]),
    ("index_put_", lambda x, s: x.index_put_((T(x, [1]), T(x, [2])), s), [(3, 4), (1,)]),
    ("copy_", lambda x, s: x.copy_(s), [(3, 4), (4,)]),
    ("copy_same", lambda x, s: x.copy_(s), [(3, 4), (3, 4)]),
    ("fill_", lambda x, s: x.fill_(2.5) * s.sum(), [(3, 4), (1,)]),
    ("fill_t", lambda x, s: x.fill_(s.sum()), [(3, 4), (2,)]),
    ("zero_", lambda x, s: x.zero_() + s.sum(), [(3, 4), (1,)]),
]


@pytest.mark.parametrize("name,fn,shapes", INPLACE, ids=[i[0] for i in INPLACE])
def test_inplace_index_ops(name, fn, shapes):
    def run(x, s):
        y = x * 1
        r = fn(y, s)
        return r * y

    check_op(run, shapes)
    check_gradcheck(run, shapes)

    def run_view(x, s):
        y = x * 1
        fn(y.t().t()[:], s)
        return y

    check_op(run_view, shapes)
    x = engine.zeros(*shapes[0])
    v = x._version
    fn(x, engine.ones(*shapes[1]))
    assert x._version > v


def test_inplace_names():
    for lib_ in (torch, engine):
        y = lib_.ones(3, 4, requires_grad=True) * 1
        names = [gname(y.masked_fill_(y > 0, 1.0)), gname(y.index_add_(0, T(y, [0]), y[:1].detach().clone())),
                 gname(y.fill_(1.0)), gname(y.zero_()), gname(lib_.zeros(3, 4).copy_(y))]
        if lib_ is torch:
            ref = names
        else:
            assert names == ref


def test_copy_casts_and_broadcasts():
    check_op(lambda x: lib(x).zeros(2, 3, 4, dtype=lib(x).float64).copy_(x), [(3, 4)], dtypes=("float32",))
    check_op(lambda x: lib(x).zeros(3, 4, dtype=lib(x).int64).copy_(x * 3), [(3, 4)], grad=False)
    check_op(lambda x: lib(x).zeros(3, 4).copy_(x > 0), [(3, 4)], grad=False)
    tmsg, emsg = check_error(lambda x, y: x.copy_(y), [(3, 4), (5,)], RuntimeError)
    assert tmsg == emsg
    tmsg, emsg = check_error(lambda x: x.fill_(x[0]), [(3, 4)], RuntimeError)
    assert tmsg == emsg


def test_fill_zero_int_and_version():
    for lib_ in (torch, engine):
        x = lib_.arange(6).reshape(2, 3)
        x[0].fill_(2.9)
        x[1].zero_()
        assert x.tolist() == [[2, 2, 2], [0, 0, 0]]
        assert x._version == 2


INDEX_ERRORS = [
    (lambda x: x.index_select(0, T(x, [5])), IndexError),
    (lambda x: x.index_select(0, T(x, [-1])), IndexError),
    (lambda x: x.index_select(0, T(x, [[0]])), IndexError),
    (lambda x: x.index_select(0, T(x, [0.0])), RuntimeError),
    (lambda x: x.gather(0, T(x, [[5]])), RuntimeError),
    (lambda x: x.gather(0, T(x, [[-1]])), RuntimeError),
    (lambda x: x.gather(0, T(x, [[0] * 5])), RuntimeError),
    (lambda x: x.gather(0, T(x, [0])), RuntimeError),
    (lambda x: x.scatter(0, T(x, [[5]]), 1.0), RuntimeError),
    (lambda x: x.scatter(0, T(x, [[0, 1, 2, 0, 1]]), lib(x).ones(2, 2)), RuntimeError),
    (lambda x: x.take(T(x, [12])), IndexError),
    (lambda x: x.take(T(x, [-13])), IndexError),
    (lambda x: x.put_(T(x, [0]), lib(x).ones(2)), IndexError),
    (lambda x: x.index_add(0, T(x, [0]), lib(x).ones(2, 4)), RuntimeError),
    (lambda x: x.index_add_(0, T(x, [0]), lib(x).ones(1, 4, dtype=lib(x).float64)), RuntimeError),
    (lambda x: x.index_copy(0, T(x, [0]), lib(x).ones(2, 4)), IndexError),
    (lambda x: x.index_fill(0, T(x, [7]), 1.0), IndexError),
    (lambda x: x.masked_fill(lib(x).ones(4), 1.0), RuntimeError),
    (lambda x: x.masked_fill(x > 0, lib(x).ones(2)), RuntimeError),
    (lambda x: x.masked_fill_(lib(x).ones(2, 3, 4, dtype=lib(x).bool), 1.0), RuntimeError),
    (lambda x: x.masked_select(lib(x).ones(3, 4)), RuntimeError),
    (lambda x: x.masked_scatter(x > -10, lib(x).ones(5)), RuntimeError),
    (lambda x: lib(x).zeros(2, 3).index_put_((T(x, [0]),), lib(x).ones(3, dtype=lib(x).float64)), RuntimeError),
]


@pytest.mark.parametrize("fn,exc", INDEX_ERRORS)
def test_index_op_errors(fn, exc):
    tmsg, emsg = check_error(fn, [(3, 4)], exc)
    assert tmsg == emsg


# -- nonzero / argwhere / where(cond) -------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), ()])
def test_nonzero(shape):
    for dt in ("float32", "int64", "bool"):
        check_op(lambda x: x.nonzero(), [shape], grad=False, input_dtypes=[dt], low=-1, high=1)
        check_op(lambda x: lib(x).nonzero(x, as_tuple=True), [shape], grad=False, input_dtypes=[dt], low=-1,
                 high=1)
        check_op(lambda x: lib(x).argwhere(x), [shape], grad=False, input_dtypes=[dt], low=-1, high=1)
        check_op(lambda x: lib(x).where(x), [shape], grad=False, input_dtypes=[dt], low=-1, high=1)


def test_bincount():
    x = [0, 1, 1, 3, 3, 3]
    assert engine.bincount(engine.tensor(x)).tolist() == torch.bincount(torch.tensor(x)).tolist()
    assert engine.bincount(engine.tensor(x), minlength=6).tolist() == torch.bincount(torch.tensor(x), minlength=6).tolist()
    w = [0.5, 1.0, 1.0, 2.0, 2.0, 2.0]
    e = engine.bincount(engine.tensor(x), weights=engine.tensor(w))
    t = torch.bincount(torch.tensor(x), weights=torch.tensor(w))
    assert e.tolist() == t.tolist() and str(e.dtype) == str(t.dtype)  # sums of dyadic weights: exact
    for bad in ([-1, 2], [[1, 2]]):
        with pytest.raises(RuntimeError):
            torch.bincount(torch.tensor(bad))
        with pytest.raises(RuntimeError):
            engine.bincount(engine.tensor(bad))

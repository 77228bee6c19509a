"""Parity of shape and view ops with PyTorch: values, views, grad_fn names, gradients, errors."""
import numpy as np
import pytest
import torch

import engine
from parity import check_error, check_gradcheck, check_op


def lib(x):
    return torch if isinstance(x, torch.Tensor) else engine


def gname(t):
    return type(t.grad_fn).__name__


# -- unary shape ops: forward + grads (contiguous and strided), gradcheck, grad_fn name -------------
UNARY = [
    ("view", lambda x: x.view(4, 3), (3, 4), "ViewBackward0"),
    ("view_infer", lambda x: x.view(-1), (3, 4), "ViewBackward0"),
    ("view_size", lambda x: x.view(torch.Size([2, 6]) if isinstance(x, torch.Tensor) else engine.Size([2, 6])),
     (3, 4), "ViewBackward0"),
    ("reshape", lambda x: x.reshape(2, -1, 3), (3, 4), None),
    ("reshape_t", lambda x: x.t().reshape(12), (3, 4), None),
    ("flatten", lambda x: x.flatten(), (2, 3, 4), None),
    ("flatten_mid", lambda x: x.flatten(1, 2), (2, 3, 4), None),
    ("flatten_neg", lambda x: x.flatten(-2), (2, 3, 4), None),
    ("flatten_0d", lambda x: lib(x).flatten(x.sum()), (3,), "ViewBackward0"),
    ("unflatten", lambda x: x.unflatten(1, (2, 2)), (3, 4), "ViewBackward0"),
    ("unflatten_neg", lambda x: x.unflatten(-1, (-1, 2)), (3, 4), "ViewBackward0"),
    ("ravel", lambda x: x.ravel(), (3, 4), "ViewBackward0"),
    ("ravel_fn", lambda x: lib(x).ravel(x.t()), (3, 4), "ViewBackward0"),
    ("squeeze", lambda x: x.squeeze(), (3, 1, 4, 1), "SqueezeBackward0"),
    ("squeeze_dim", lambda x: x.squeeze(1), (3, 1, 4), "SqueezeBackward1"),
    ("squeeze_dim_noop", lambda x: x.squeeze(0), (3, 1, 4), "SqueezeBackward1"),
    ("squeeze_neg", lambda x: x.squeeze(-1), (3, 4, 1), "SqueezeBackward1"),
    ("squeeze_tuple", lambda x: x.squeeze((1, 3)), (3, 1, 4, 1), "SqueezeBackward2"),
    ("squeeze_fn", lambda x: lib(x).squeeze(x, 0), (1, 4), "SqueezeBackward1"),
    ("unsqueeze", lambda x: x.unsqueeze(0), (3, 4), "UnsqueezeBackward0"),
    ("unsqueeze_end", lambda x: x.unsqueeze(-1), (3, 4), "UnsqueezeBackward0"),
    ("unsqueeze_mid", lambda x: lib(x).unsqueeze(x, 1), (3, 4), "UnsqueezeBackward0"),
    ("expand", lambda x: x.expand(2, 3, 4), (3, 1), "ExpandBackward0"),
    ("expand_neg", lambda x: x.expand(-1, 5), (3, 1), "ExpandBackward0"),
    ("repeat", lambda x: x.repeat(2, 3), (3, 4), "RepeatBackward0"),
    ("repeat_lead", lambda x: x.repeat(2, 1, 2), (3, 4), "RepeatBackward0"),
    ("repeat_tuple", lambda x: x.repeat((1, 2)), (3,), "RepeatBackward0"),
    ("permute", lambda x: x.permute(2, 0, 1), (2, 3, 4), "PermuteBackward0"),
    ("permute_neg", lambda x: x.permute((-1, 0, 1)), (2, 3, 4), "PermuteBackward0"),
    ("permute_fn", lambda x: lib(x).permute(x, (1, 0, 2)), (2, 3, 4), "PermuteBackward0"),
    ("transpose", lambda x: x.transpose(0, 2), (2, 3, 4), "TransposeBackward0"),
    ("transpose_neg", lambda x: lib(x).transpose(x, -1, -2), (2, 3, 4), "TransposeBackward0"),
    ("swapaxes", lambda x: x.swapaxes(0, 1), (2, 3, 4), "TransposeBackward0"),
    ("swapdims", lambda x: lib(x).swapdims(x, 1, 2), (2, 3, 4), "TransposeBackward0"),
    ("t", lambda x: x.t(), (3, 4), "TBackward0"),
    ("t_1d", lambda x: lib(x).t(x), (4,), "TBackward0"),
    ("T", lambda x: x.T, (3, 4), "PermuteBackward0"),
    ("mT", lambda x: x.mT, (2, 3, 4), "TransposeBackward0"),
    ("movedim", lambda x: x.movedim(0, -1), (2, 3, 4), "PermuteBackward0"),
    ("movedim_tuple", lambda x: lib(x).movedim(x, (0, 1), (2, 0)), (2, 3, 4), "PermuteBackward0"),
    ("moveaxis", lambda x: x.moveaxis(2, 0), (2, 3, 4), "PermuteBackward0"),
    ("narrow", lambda x: x.narrow(1, 1, 2), (3, 4), "SliceBackward0"),
    ("narrow_neg", lambda x: lib(x).narrow(x, -1, -3, 2), (3, 4), "SliceBackward0"),
    ("select", lambda x: x.select(1, 2), (3, 4), "SelectBackward0"),
    ("select_neg", lambda x: lib(x).select(x, -1, -1), (3, 4), "SelectBackward0"),
    ("flip", lambda x: x.flip(0), (3, 4), "FlipBackward0"),
    ("flip_many", lambda x: lib(x).flip(x, (0, -1)), (2, 3, 4), "FlipBackward0"),
    ("fliplr", lambda x: x.fliplr(), (3, 4), "FlipBackward0"),
    ("flipud", lambda x: lib(x).flipud(x), (3, 4), "FlipBackward0"),
    ("roll", lambda x: x.roll(1), (3, 4), "RollBackward0"),
    ("roll_dim", lambda x: x.roll(-2, 1), (3, 4), "RollBackward0"),
    ("roll_dims", lambda x: lib(x).roll(x, (1, 2), (0, 1)), (3, 4), "RollBackward0"),
    ("tril", lambda x: x.tril(), (4, 4), "TrilBackward0"),
    ("tril_k", lambda x: x.tril(-1), (3, 5), "TrilBackward0"),
    ("tril_batch", lambda x: lib(x).tril(x, diagonal=1), (2, 3, 4), "TrilBackward0"),
    ("triu", lambda x: x.triu(), (4, 4), "TriuBackward0"),
    ("triu_k", lambda x: lib(x).triu(x, 2), (2, 4, 3), "TriuBackward0"),
    ("contiguous_view", lambda x: x.t().contiguous().view(12), (3, 4), "ViewBackward0"),
]


@pytest.mark.parametrize("name,fn,shape,node", UNARY, ids=[u[0] for u in UNARY])
def test_unary_shape_ops(name, fn, shape, node):
    check_op(fn, [shape], noncontig=(False,) if name.startswith("view") else (False, True))
    check_gradcheck(fn, [shape])
    if node is not None:
        x = engine.randn(*shape, requires_grad=True) * 1
        assert gname(fn(x)) == node


def test_view_on_noncontiguous_when_compatible():
    def fn(x):
        return x.t().view(2, 2, 3).sum(0) if False else x.t()[:, 1:].view(-1, 2)

    check_op(lambda x: x.t().unsqueeze(0).view(4, 3), [(3, 4)])
    check_op(lambda x: x[:, :2].reshape(3, 2, 1), [(3, 4)])
    check_op(lambda x: x.transpose(0, 1).view(4, 3, 1), [(3, 4)])


def test_reshape_node_names():
    for lib_ in (torch, engine):
        x = lib_.ones(3, 4, requires_grad=True) * 1
        assert gname(x.reshape(12)) == "ViewBackward0"
        assert gname(x.t().reshape(12)) == "UnsafeViewBackward0"
        assert gname(x.t().flatten()) == "UnsafeViewBackward0"
        assert x.flatten(1, 1) is x


# -- multi-output ops ----------------------------------------------------------------------------
MULTI = [
    ("split", lambda x: x.split(2), (5, 3), "SplitBackward0"),
    ("split_dim", lambda x: lib(x).split(x, 2, dim=1), (3, 5), "SplitBackward0"),
    ("split_sizes", lambda x: x.split([1, 3, 1]), (5, 3), "SplitWithSizesBackward0"),
    ("split_sizes_dim", lambda x: lib(x).split(x, (2, 3), -1), (3, 5), "SplitWithSizesBackward0"),
    ("chunk", lambda x: x.chunk(3), (7, 2), "SplitBackward0"),
    ("chunk_dim", lambda x: lib(x).chunk(x, 2, 1), (3, 5), "SplitBackward0"),
    ("unbind", lambda x: x.unbind(), (3, 4), "UnbindBackward0"),
    ("unbind_dim", lambda x: lib(x).unbind(x, -1), (3, 4), "UnbindBackward0"),
]


@pytest.mark.parametrize("name,fn,shape,node", MULTI, ids=[m[0] for m in MULTI])
def test_multi_output(name, fn, shape, node):
    check_op(fn, [shape])
    check_gradcheck(lambda x: fn(x)[0] * 2 + fn(x)[-1].sum(), [shape])
    outs = fn(engine.randn(*shape, requires_grad=True) * 1)
    assert all(gname(o) == node for o in outs)
    assert [o.grad_fn is outs[0].grad_fn for o in outs] == [True] * len(outs)


def test_partial_output_grad():
    # only some outputs used: the others get zero gradients
    check_op(lambda x: x.split(2)[1] * 3, [(5, 3)])
    check_op(lambda x: x.unbind(1)[2].exp(), [(3, 4)])
    check_op(lambda x: x.chunk(2, 1)[0], [(3, 5)])


def test_iter():
    check_op(lambda x: tuple(r * 2 for r in x), [(3, 4)])
    check_op(lambda x: [r for r in x][1], [(3, 4)])
    for lib_ in (torch, engine):
        x = lib_.ones(3, 2, requires_grad=True) * 1
        rows = list(x)
        assert len(rows) == 3 and gname(rows[0]) == "UnbindBackward0"
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(engine.tensor(1.0))
    assert len(engine.ones(5, 2)) == 5


# -- cat / stack ---------------------------------------------------------------------------------
CAT = [
    ("cat0", lambda x, y: lib(x).cat([x, y]), [(2, 3), (4, 3)]),
    ("cat1", lambda x, y: lib(x).cat((x, y), 1), [(2, 3), (2, 5)]),
    ("cat_neg", lambda x, y: lib(x).cat([x, y, x], dim=-1), [(2, 3), (2, 1)]),
    ("concat", lambda x, y: lib(x).concat([x, y], 0), [(1, 3), (2, 3)]),
    ("concatenate", lambda x, y: lib(x).concatenate([x, y], 2), [(2, 3, 1), (2, 3, 2)]),
    ("stack", lambda x, y: lib(x).stack([x, y]), [(2, 3), (2, 3)]),
    ("stack_neg", lambda x, y: lib(x).stack((x, y, x), -1), [(2, 3), (2, 3)]),
    ("hstack", lambda x, y: lib(x).hstack([x, y]), [(2, 3), (2, 1)]),
    ("hstack_1d", lambda x, y: lib(x).hstack([x, y]), [(3,), (2,)]),
    ("vstack", lambda x, y: lib(x).vstack([x, y]), [(2, 3), (1, 3)]),
    ("vstack_1d", lambda x, y: lib(x).vstack([x, y]), [(3,), (3,)]),
    ("dstack", lambda x, y: lib(x).dstack([x, y]), [(2, 3), (2, 3)]),
]


@pytest.mark.parametrize("name,fn,shapes", CAT, ids=[c[0] for c in CAT])
def test_cat_stack(name, fn, shapes):
    check_op(fn, shapes)
    check_gradcheck(fn, shapes)


def test_cat_names_and_promotion():
    for lib_ in (torch, engine):
        x = lib_.ones(2, requires_grad=True) * 1
        assert gname(lib_.cat([x, x])) == "CatBackward0"
        assert gname(lib_.stack([x, x])) == "StackBackward0"
        r = lib_.cat([lib_.ones(2, dtype=lib_.int64), lib_.ones(2, dtype=lib_.float32)])
        assert str(r.dtype) == "torch.float32"
    check_op(lambda x, y: lib(x).cat([x, y]), [(2, 3), (0,)])  # legacy: empty 1-D tensors are skipped


def test_cat_int_one_grad():
    check_op(lambda x, y: lib(x).cat([x, y.detach()]) * 2, [(2, 3), (1, 3)])


CAT_ERRORS = [
    (lambda x, y: lib(x).cat([x, y], 1), [(3, 4), (4, 4)], RuntimeError,
     r"Sizes of tensors must match except in dimension 1. Expected size 3 but got size 4 for tensor number 1 in "
     r"the list."),
    (lambda x, y: lib(x).cat([x, y]), [(3, 4), (4,)], RuntimeError,
     "Tensors must have same number of dimensions: got 2 and 1"),
    (lambda x, y: lib(x).cat([x, y], 2), [(3, 4), (3, 4)], IndexError,
     r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    (lambda x, y: lib(x).cat([x.sum(), y]), [(3,), (3,)], RuntimeError,
     r"zero-dimensional tensor \(at position 0\) cannot be concatenated"),
    (lambda x, y: lib(x).stack([x, y]), [(3,), (4,)], RuntimeError,
     r"stack expects each tensor to be equal size, but got \[3\] at entry 0 and \[4\] at entry 1"),
]


@pytest.mark.parametrize("fn,shapes,exc,match", CAT_ERRORS)
def test_cat_errors(fn, shapes, exc, match):
    tmsg, emsg = check_error(fn, shapes, exc, match=match)
    assert tmsg == emsg


def test_cat_empty_list():
    for lib_ in (torch, engine):
        with pytest.raises(ValueError, match="expected a non-empty list of Tensors"):
            lib_.cat([])


# -- errors with PyTorch's wording -----------------------------------------------------------------
ERRORS = [
    (lambda x: x.view(5), (3, 4), RuntimeError),
    (lambda x: x.view(-1, -1), (3, 4), RuntimeError),
    (lambda x: x.t().view(12), (3, 4), RuntimeError),
    (lambda x: x.reshape(5, -1), (3, 4), RuntimeError),
    (lambda x: x.unflatten(1, (3, 2)), (3, 4), RuntimeError),
    (lambda x: x.flatten(1, 0), (3, 4), RuntimeError),
    (lambda x: x.squeeze(2), (3, 4), IndexError),
    (lambda x: x.unsqueeze(3), (3, 4), IndexError),
    (lambda x: x.unsqueeze(-4), (3, 4), IndexError),
    (lambda x: x.expand(3, 5), (3, 4), RuntimeError),
    (lambda x: x.expand(4), (3, 4), RuntimeError),
    (lambda x: x.repeat(2), (3, 4), RuntimeError),
    (lambda x: x.permute(1, 0, 2), (3, 4), RuntimeError),
    (lambda x: x.permute(0, 0), (3, 4), RuntimeError),
    (lambda x: x.permute(0, 2), (3, 4), IndexError),
    (lambda x: x.transpose(0, 2), (3, 4), IndexError),
    (lambda x: x.t(), (2, 3, 4), RuntimeError),
    (lambda x: x.mT, (4,), RuntimeError),
    (lambda x: x.movedim((0, 1), (1, 1)), (3, 4), RuntimeError),
    (lambda x: x.movedim((0, 1), (1,)), (3, 4), RuntimeError),
    (lambda x: x.split([1, 2]), (4, 3), RuntimeError),
    (lambda x: x.split(0), (4, 3), RuntimeError),
    (lambda x: x.chunk(0), (4, 3), RuntimeError),
    (lambda x: x.narrow(0, 5, 1), (3, 4), IndexError),
    (lambda x: x.narrow(0, 2, 3), (3, 4), RuntimeError),
    (lambda x: x.select(0, 5), (3, 4), IndexError),
    (lambda x: x.select(1, -5), (3, 4), IndexError),
    (lambda x: x.select(2, 0), (3, 4), IndexError),
    (lambda x: x.flip(0, 0), (3, 4), RuntimeError),
    (lambda x: x.flip(2), (3, 4), IndexError),
    (lambda x: x[0].fliplr(), (3, 4), RuntimeError),
    (lambda x: x.sum().flipud(), (3, 4), RuntimeError),
    (lambda x: x.roll(1, 5), (3, 4), IndexError),
    (lambda x: x.roll((1, 2), (0,)), (3, 4), RuntimeError),
    (lambda x: x[0].tril(), (3, 4), RuntimeError),
    (lambda x: x[0].triu(), (3, 4), RuntimeError),
    (lambda x: x.unbind(2), (3, 4), IndexError),
]


@pytest.mark.parametrize("fn,shape,exc", ERRORS)
def test_errors(fn, shape, exc):
    tmsg, emsg = check_error(fn, [shape], exc)
    assert tmsg == emsg


# -- views: shared memory, version counters, in-place through views ------------------------------
VIEW_FNS = [
    lambda x: x.view(12), lambda x: x.reshape(4, 3), lambda x: x.t(), lambda x: x.T, lambda x: x.transpose(0, 1),
    lambda x: x.permute(1, 0), lambda x: x.unsqueeze(0), lambda x: x[None].squeeze(0), lambda x: x.narrow(1, 1, 2),
    lambda x: x.select(0, 1), lambda x: x.split(2, 1)[1], lambda x: x.chunk(3)[0], lambda x: x.unbind(1)[2],
    lambda x: x.flatten(), lambda x: x.unflatten(1, (2, 2)), lambda x: x.movedim(0, 1), lambda x: x.expand(2, 3, 4),
    lambda x: x.swapaxes(0, 1), lambda x: x.mT, lambda x: x.ravel(),
]


@pytest.mark.parametrize("fn", VIEW_FNS)
def test_views_share_memory_and_version(fn):
    x = engine.zeros(3, 4)
    v = fn(x)
    assert np.shares_memory(np.asarray(v._data), np.asarray(x._data))
    v0 = x._version
    x.add_(1)
    assert v._version == x._version == v0 + 1
    assert float(v.sum()) == v.numel()
    t = torch.zeros(3, 4)
    assert fn(t)._is_view()


@pytest.mark.parametrize("fn", [f for i, f in enumerate(VIEW_FNS) if i not in (10, 11, 12, 16)])
def test_inplace_on_view_of_nonleaf(fn):
    def run(x):
        y = x * 1
        v = fn(y)
        v.mul_(2)
        v.add_(1)
        return y * y

    check_op(run, [(3, 4)])


def test_inplace_on_view_propagates():
    def run(x):
        y = x * 1
        y.t()[0].mul_(3)
        y.narrow(1, 2, 2).transpose(0, 1).add_(x[:, :2].t())
        return y

    check_op(run, [(3, 4)])


def test_view_of_leaf_inplace_error():
    for lib_ in (torch, engine):
        x = lib_.ones(3, 4, requires_grad=True)
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
            x.t().mul_(2)


def test_noncontiguous_view_strides():
    for fn in (lambda x: x.t()[1:].reshape(-1), lambda x: x[:, ::2].view(3, 2, 1), lambda x: x.t().view(4, 3)):
        for lib_ in (torch, engine):
            x = lib_.arange(12.).reshape(3, 4)
            try:
                r = fn(x)
            except RuntimeError:
                r = None
            if lib_ is torch:
                tr = r
            else:
                assert (tr is None) == (r is None)
                if r is not None:
                    assert r.tolist() == tr.tolist()
                    assert r.stride() == tr.stride()


def test_double_backward_through_views():
    def fn(x):
        return (x.t().unsqueeze(0).permute(2, 0, 1).flip(0) ** 2).narrow(0, 1, 2)

    check_gradcheck(fn, [(3, 4)])
    x = engine.randn(3, 4, dtype=engine.float64, requires_grad=True)
    assert engine.autograd.gradgradcheck(fn, (x,)) if hasattr(engine.autograd, "gradgradcheck") else True


def test_stale_view_history_is_regenerated():
    """A view created before its base was modified in place (through another view or directly)
    must see the new history, as PyTorch regenerates a view's grad_fn."""
    def repeated(x):
        y = x * 1
        h = y.view(3, 4)
        h[0] *= 2
        h[0] *= 3
        return y

    def through_other_view(x):
        y = x * 1
        v = y.t()[1:].unsqueeze(0)
        v[0, 0] = 5.0
        v.squeeze(0)[:, 1].mul_(3)
        return y

    def base_then_view(x):
        y = x * 1
        h = y[1:]
        y.mul_(2)
        return h * h

    def view_used_after(x):
        y = x * 1
        cols = y.select(1, 0), y[:, 1], y.t()[2]
        y[:, 0] += 1
        y.t()[2].mul_(x[:, 3])
        return cols[0] * cols[2] + cols[1]

    for fn in (repeated, through_other_view, base_then_view, view_used_after):
        check_op(fn, [(3, 4)])
        check_gradcheck(fn, [(3, 4)])


MULTI_ERRORS = [
    lambda x: (lambda y, c: (y.mul_(2), c[1] * 2))(*(lambda y: (y, y.split(2)))(x * 1)),
    lambda x: (x * 1).chunk(2)[0].mul_(2),
    lambda x: (x * 1).unbind()[0].mul_(2),
    lambda x: (lambda y, c: (y.__setitem__(0, 1.0), c[1].sum()))(*(lambda y: (y, y.split([1, 3])))(x * 1)),
]


@pytest.mark.parametrize("fn", MULTI_ERRORS)
def test_multi_output_views_inplace_errors(fn):
    for lib_ in (torch, engine):
        x = lib_.ones(4, 3, requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            fn(x)
        if lib_ is torch:
            ref = str(info.value)
        else:
            assert str(info.value) == ref
    for lib_ in (torch, engine):  # fine without autograd
        with lib_.no_grad():
            c = lib_.ones(4, 3).unbind()
            c[0].mul_(2)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing):
    check_op(lambda x, y: torch_or_engine(x).meshgrid(x, y, indexing=indexing), [(3,), (4,)])
    check_op(lambda x, y, z: torch_or_engine(x).meshgrid(x, y, z, indexing=indexing), [(2,), (3,), (4,)])


def torch_or_engine(x):
    return torch if isinstance(x, torch.Tensor) else engine

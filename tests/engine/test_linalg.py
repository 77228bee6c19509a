"""Parity of matrix products, einsum and tensordot with PyTorch: values, dtypes, gradients,
grad_fn names, error types and messages."""
import numpy as np
import pytest
import torch

import engine
from parity import check_error, check_gradcheck, check_op


def lib(x):
    return torch if isinstance(x, torch.Tensor) else engine


def pair_errors(fn, shapes, dtypes=("float32",)):
    tmsg, emsg = check_error(fn, shapes, RuntimeError, dtypes=dtypes)
    assert tmsg == emsg


# every combination of 1-D/2-D/3-D/4-D operands, with batch broadcasting
MATMUL_SHAPES = [
    [(3,), (3,)], [(3,), (3, 2)], [(3,), (4, 3, 2)], [(3,), (5, 4, 3, 2)], [(3,), (1, 3, 2)],
    [(2, 3), (3,)], [(2, 3), (3, 2)], [(2, 3), (4, 3, 2)], [(2, 3), (5, 4, 3, 2)], [(2, 3), (1, 3, 2)],
    [(4, 2, 3), (3,)], [(4, 2, 3), (3, 5)], [(4, 2, 3), (4, 3, 2)], [(4, 2, 3), (5, 4, 3, 2)],
    [(4, 2, 3), (1, 3, 2)], [(4, 2, 3), (5, 1, 3, 2)], [(1, 2, 3), (4, 3, 2)],
    [(5, 4, 2, 3), (3,)], [(5, 4, 2, 3), (3, 2)], [(5, 4, 2, 3), (4, 3, 2)], [(5, 4, 2, 3), (5, 4, 3, 2)],
    [(5, 1, 2, 3), (1, 4, 3, 2)], [(0, 3), (3, 2)], [(2, 0), (0, 4)],
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
def test_matmul(shapes):
    check_op(lambda x, y: x @ y, shapes)
    check_op(lambda x, y: lib(x).matmul(x, y), shapes, noncontig=False)
    if all(np.prod(s) > 0 for s in shapes):  # gradcheck needs elements to perturb
        check_gradcheck(lambda x, y: x @ y, shapes)


GRAD_FN = {
    ((3,), (3,)): "DotBackward0", ((3,), (3, 2)): "SqueezeBackward4", ((2, 3), (3,)): "MvBackward0",
    ((2, 3), (3, 2)): "MmBackward0", ((2, 3), (4, 3, 2)): "CloneBackward0",
    ((4, 2, 3), (3,)): "UnsafeViewBackward0", ((4, 2, 3), (3, 5)): "UnsafeViewBackward0",
    ((4, 2, 3), (4, 3, 2)): "UnsafeViewBackward0", ((3,), (4, 3, 2)): "UnsafeViewBackward0",
}


@pytest.mark.parametrize("shapes", list(GRAD_FN))
def test_matmul_grad_fn(shapes):
    a = engine.randn(*shapes[0], requires_grad=True)
    b = engine.randn(*shapes[1], requires_grad=True)
    assert type((a @ b).grad_fn).__name__ == GRAD_FN[shapes]
    ta = torch.randn(*shapes[0], requires_grad=True)
    tb = torch.randn(*shapes[1], requires_grad=True)
    assert type((ta @ tb).grad_fn).__name__ == GRAD_FN[shapes]


@pytest.mark.parametrize("dt", ["int64", "int32", "uint8", "float16"])
def test_matmul_dtypes(dt):
    for shapes in ([(2, 3), (3, 4)], [(3,), (3,)], [(2, 3), (3,)], [(2, 2, 3), (2, 3, 4)], [(2, 2, 3), (3,)]):
        # integers <= 3, K <= 3: exact.  float16: inputs >= 0 (no cancellation); even rounding each of the 3
        # products and 2 sums to 11 bits gives 5 * 2**-11 = 2.4e-3 relative per side < rtol 1e-2
        check_op(lambda x, y: x @ y, shapes, grad=False, dtypes=("float64",), input_dtypes=[dt, dt], low=0, high=3,
                 atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("case", [
    (lambda x, y: x @ y, [(2, 3), (4, 5)]),
    (lambda x, y: x @ y, [(3,), (4,)]),
    (lambda x, y: x @ y, [(2, 3), (4,)]),
    (lambda x, y: x @ y, [(4,), (3, 5)]),
    (lambda x, y: x @ y, [(2, 2, 3), (2, 4, 5)]),
    (lambda x, y: x @ y, [(2, 2, 3), (4, 5)]),
    (lambda x, y: x @ y, [(2, 2, 3), (4,)]),
    (lambda x, y: x @ y, [(3, 2, 3), (2, 3, 5)]),
    (lambda x, y: x @ y, [(5, 3, 2, 3), (2, 3, 5)]),
    (lambda x, y: x @ y, [(2, 3), (4, 4, 2)]),
    (lambda x, y: x @ y, [(3,), (4, 4, 2)]),
    (lambda x, y: x @ y, [(), (3,)]),
    (lambda x, y: x @ y, [(3,), ()]),
    (lambda x, y: lib(x).mm(x, y), [(2, 3), (4, 5)]),
    (lambda x, y: lib(x).mm(x, y), [(3,), (3, 5)]),
    (lambda x, y: lib(x).mm(x, y), [(2, 3), (3,)]),
    (lambda x, y: lib(x).bmm(x, y), [(2, 2, 3), (3, 3, 5)]),
    (lambda x, y: lib(x).bmm(x, y), [(2, 2, 3), (2, 4, 5)]),
    (lambda x, y: lib(x).bmm(x, y), [(2, 3), (2, 4, 5)]),
    (lambda x, y: lib(x).bmm(x, y), [(2, 2, 3), (3, 5)]),
    (lambda x, y: lib(x).mv(x, y), [(2, 3), (4,)]),
    (lambda x, y: lib(x).mv(x, y), [(2, 3), (3, 1)]),
    (lambda x, y: lib(x).mv(x, y), [(3,), (3,)]),
    (lambda x, y: lib(x).dot(x, y), [(3,), (4,)]),
    (lambda x, y: lib(x).dot(x, y), [(3, 1), (3,)]),
    (lambda x, y: lib(x).vdot(x, y), [(3,), (4,)]),
    (lambda x, y: lib(x).outer(x, y), [(3, 1), (4,)]),
    (lambda x, y: lib(x).outer(x, y), [(3,), (4, 1)]),
    (lambda x, y: lib(x).inner(x, y), [(2, 3), (4, 4)]),
    (lambda x, y, z: lib(x).addmm(x, y, z), [(3, 5), (2, 3), (3, 5)]),
    (lambda x, y, z: lib(x).addmm(x, y, z), [(2, 5), (2, 3), (4, 5)]),
    (lambda x, y, z: lib(x).addmm(x, y, z), [(2, 5), (3,), (3, 5)]),
    (lambda x, y, z: lib(x).addmv(x, y, z), [(3,), (2, 3), (3,)]),
    (lambda x, y, z: lib(x).addmv(x, y, z), [(2, 1), (2, 3), (3,)]),
    (lambda x, y, z: lib(x).baddbmm(x, y, z), [(3, 2, 5), (2, 2, 3), (2, 3, 5)]),
    (lambda x, y, z: lib(x).baddbmm(x, y, z), [(2, 2, 5), (2, 2, 3), (2, 4, 5)]),
    (lambda x, y: lib(x).einsum("ij,jk->ik", x, y), [(2, 3), (4, 5)]),
    (lambda x, y: lib(x).einsum("ij,jk->il", x, y), [(2, 3), (3, 5)]),
    (lambda x, y: lib(x).einsum("ij,jk->iik", x, y), [(2, 3), (3, 5)]),
    (lambda x, y: lib(x).einsum("ijk,jk->ik", x, y), [(2, 3), (3, 5)]),
    (lambda x, y: lib(x).einsum("ij,jk->ik", x), [(2, 3), (3, 5)]),
    (lambda x, y: lib(x).einsum("ij,jk->ik", x, y, y), [(2, 3), (3, 5)]),
    (lambda x, y: lib(x).tensordot(x, y, dims=3), [(2, 3, 4), (3, 4, 5)]),
    (lambda x, y: lib(x).tensordot(x, y, dims=-1), [(2, 3, 4), (3, 4, 5)]),
    (lambda x, y: lib(x).tensordot(x, y, dims=([1, 2], [0])), [(2, 3, 4), (3, 4, 5)]),
    (lambda x, y: lib(x).tensordot(x, y, dims=([1, 2], [0, 1])), [(2, 3, 4), (4, 4, 5)]),
])
def test_errors(case):
    fn, shapes = case
    pair_errors(fn, shapes)


@pytest.mark.parametrize("case", [
    (lambda x, y: x @ y, [(2, 3), (3, 4)]),
    (lambda x, y: x @ y, [(3,), (3,)]),
    (lambda x, y: x @ y, [(2, 3), (3,)]),
    (lambda x, y: x @ y, [(3,), (3, 4)]),
    (lambda x, y: x @ y, [(2, 2, 3), (2, 3, 4)]),
    (lambda x, y: x @ y, [(2, 2, 3), (3, 4)]),
    (lambda x, y: x @ y, [(2, 2, 3), (3,)]),
    (lambda x, y: x @ y, [(2, 3), (2, 3, 4)]),
    (lambda x, y: lib(x).bmm(x, y), [(2, 2, 3), (2, 3, 4)]),
    (lambda x, y: lib(x).mv(x, y), [(2, 3), (3,)]),
    (lambda x, y: lib(x).dot(x, y), [(3,), (3,)]),
    (lambda x, y: lib(x).inner(x, y), [(2, 3), (4, 3)]),
    (lambda x, y: lib(x).einsum("ij,jk", x, y), [(2, 3), (3, 4)]),
    (lambda x, y: lib(x).tensordot(x, y), [(2, 3, 4), (3, 4, 5)]),
])
@pytest.mark.parametrize("dts", [("float32", "float64"), ("float64", "float32"), ("float32", "int32")])
def test_dtype_mismatch(case, dts):
    fn, shapes = case
    pair_errors(fn, shapes, dtypes=dts)


@pytest.mark.parametrize("case", [
    (lambda x, y, z: lib(x).addmm(x, y, z), [(2, 5), (2, 3), (3, 5)]),
    (lambda x, y, z: lib(x).addmv(x, y, z), [(2,), (2, 3), (3,)]),
    (lambda x, y, z: lib(x).baddbmm(x, y, z), [(2, 2, 5), (2, 2, 3), (2, 3, 5)]),
])
@pytest.mark.parametrize("dts", [("float32", "float64", "float32"), ("float64", "float32", "float32"),
                                 ("float32", "float32", "float64"), ("float32", "float64", "float64")])
def test_dtype_mismatch_add(case, dts):
    fn, shapes = case
    pair_errors(fn, shapes, dtypes=dts)


@pytest.mark.parametrize("fn", [lambda x, y: x @ y, lambda x, y: lib(x).mm(x, y)])
def test_bool_not_implemented(fn):
    tm, em = check_error(fn, [(2, 3), (3, 4)], NotImplementedError, dtypes=("bool",))
    assert tm == em
    tm, em = check_error(lambda x, y: x @ y, [(3,), (3,)], NotImplementedError, dtypes=("bool",))
    assert tm == em
    tm, em = check_error(lambda x, y: x @ y, [(2, 2, 3), (2, 3, 4)], NotImplementedError, dtypes=("bool",))
    assert tm == em


def test_matmul_type_errors():
    a = engine.ones(2, 2)
    with pytest.raises(TypeError):
        a @ 2
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        engine.matmul(a, [1.0, 2.0])
    with pytest.raises(TypeError, match="must be Tensor, not NoneType"):
        engine.mm(a, None)


@pytest.mark.parametrize("shapes", [[(2, 3), (3, 4)], [(1, 5), (5, 1)], [(4, 4), (4, 4)]])
def test_mm(shapes):
    check_op(lambda x, y: lib(x).mm(x, y), shapes)
    check_op(lambda x, y: x.mm(y), shapes)
    check_gradcheck(lambda x, y: x.mm(y), shapes)
    e = engine.randn(*shapes[0], requires_grad=True).mm(engine.randn(*shapes[1]))
    assert type(e.grad_fn).__name__ == "MmBackward0"


@pytest.mark.parametrize("shapes", [[(2, 2, 3), (2, 3, 4)], [(1, 5, 2), (1, 2, 1)]])
def test_bmm(shapes):
    check_op(lambda x, y: lib(x).bmm(x, y), shapes)
    check_op(lambda x, y: x.bmm(y), shapes)
    check_gradcheck(lambda x, y: x.bmm(y), shapes)
    e = engine.randn(*shapes[0], requires_grad=True).bmm(engine.randn(*shapes[1]))
    assert type(e.grad_fn).__name__ == "BmmBackward0"


@pytest.mark.parametrize("shapes", [[(2, 3), (3,)], [(1, 4), (4,)], [(5, 1), (1,)]])
def test_mv(shapes):
    check_op(lambda x, y: lib(x).mv(x, y), shapes)
    check_gradcheck(lambda x, y: x.mv(y), shapes)


@pytest.mark.parametrize("op", ["dot", "vdot", "outer", "ger", "inner"])
@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(1,), (1,)], [(5,), (5,)]])
def test_vector_products(op, shapes):
    check_op(lambda x, y: getattr(lib(x), op)(x, y), shapes)
    check_op(lambda x, y: getattr(x, op)(y), shapes, noncontig=False)
    check_gradcheck(lambda x, y: getattr(engine, op)(x, y), shapes)


def test_vector_grad_fns():
    a = engine.randn(3, requires_grad=True)
    b = engine.randn(3)
    assert type(engine.dot(a, b).grad_fn).__name__ == "DotBackward0"
    assert type(engine.vdot(a, b).grad_fn).__name__ == "VdotBackward0"
    assert type(engine.outer(a, b).grad_fn).__name__ == "MulBackward0"
    assert type(engine.inner(a, b).grad_fn).__name__ == "ViewBackward0"


def test_outer_promotes():
    check_op(lambda x, y: lib(x).outer(x, y), [(3,), (4,)], grad=False, dtypes=("float64",),
             input_dtypes=["int64", "float32"])


@pytest.mark.parametrize("shapes", [[(2, 3), (4, 3)], [(3,), (2, 5, 3)], [(2, 3), ()], [(), (4,)],
                                    [(2, 1, 3), (3,)]])
def test_inner(shapes):
    check_op(lambda x, y: lib(x).inner(x, y), shapes)
    check_gradcheck(lambda x, y: engine.inner(x, y), shapes)


ADDMM_CASES = [([(2, 5), (2, 3), (3, 5)], {}), ([(5,), (2, 3), (3, 5)], {"beta": 0.5, "alpha": 2.0}),
               ([(2, 1), (2, 3), (3, 5)], {"beta": 0.0}), ([(), (2, 3), (3, 5)], {"alpha": -1.0}),
               ([(1,), (4, 1), (1, 2)], {})]


@pytest.mark.parametrize("shapes,kw", ADDMM_CASES)
def test_addmm(shapes, kw):
    check_op(lambda x, y, z: lib(x).addmm(x, y, z, **kw), shapes)
    check_op(lambda x, y, z: x.addmm(y, z, **kw), shapes, noncontig=False)
    check_gradcheck(lambda x, y, z: engine.addmm(x, y, z, **kw), shapes)


def test_addmm_beta_zero_ignores_nan():
    t = torch.addmm(torch.full((2, 2), float("nan")), torch.ones(2, 2), torch.ones(2, 2), beta=0)
    e = engine.addmm(engine.full((2, 2), float("nan")), engine.ones(2, 2), engine.ones(2, 2), beta=0)
    np.testing.assert_array_equal(e.numpy(), t.numpy())  # 1*1 + 1*1 = 2: exact in any order


def test_addmm_int_scalars():
    args = [np.ones((2, 2), dtype=np.int64)] * 3
    t = torch.addmm(*[torch.from_numpy(a) for a in args], beta=0.5, alpha=1.5)
    e = engine.addmm(*[engine.from_numpy(a) for a in args], beta=0.5, alpha=1.5)
    assert e.dtype is engine.int64
    np.testing.assert_array_equal(e.numpy(), t.numpy())


@pytest.mark.parametrize("shapes,kw", [([(2,), (2, 3), (3,)], {}), ([(1,), (2, 3), (3,)], {"beta": 2.0}),
                                       ([(), (4, 3), (3,)], {"alpha": 0.5, "beta": 0.0})])
def test_addmv(shapes, kw):
    check_op(lambda x, y, z: lib(x).addmv(x, y, z, **kw), shapes)
    check_gradcheck(lambda x, y, z: engine.addmv(x, y, z, **kw), shapes)


@pytest.mark.parametrize("shapes,kw", [([(2, 2, 5), (2, 2, 3), (2, 3, 5)], {}),
                                       ([(5,), (2, 2, 3), (2, 3, 5)], {"beta": 0.5, "alpha": 2.0}),
                                       ([(2, 1), (3, 2, 3), (3, 3, 1)], {})])
def test_baddbmm(shapes, kw):
    check_op(lambda x, y, z: lib(x).baddbmm(x, y, z, **kw), shapes)
    check_gradcheck(lambda x, y, z: engine.baddbmm(x, y, z, **kw), shapes)


def test_add_grad_fns():
    m = engine.randn(2, 3, requires_grad=True)
    assert type(engine.addmm(engine.zeros(2, 4), m, engine.ones(3, 4)).grad_fn).__name__ == "AddmmBackward0"
    assert type(engine.addmv(engine.zeros(2), m, engine.ones(3)).grad_fn).__name__ == "AddmvBackward0"
    b = engine.randn(2, 2, 3, requires_grad=True)
    assert type(engine.baddbmm(engine.zeros(2, 2, 4), b, engine.ones(2, 3, 4)).grad_fn).__name__ == \
        "BaddbmmBackward0"


def test_addmm_inplace():
    check_op(lambda x, y, z: (x * 1).addmm_(y, z, beta=0.5), [(2, 5), (2, 3), (3, 5)])
    check_op(lambda x, y, z: (x * 1).addmv_(y, z), [(2,), (2, 3), (3,)])
    check_op(lambda x, y, z: (x * 1).baddbmm_(y, z, alpha=2), [(2, 2, 5), (2, 2, 3), (2, 3, 5)])


EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("i,i->", [(3,), (3,)]), ("i,i", [(3,), (3,)]), ("i,j->ij", [(3,), (4,)]), ("i,i->i", [(3,), (3,)]),
    ("ii", [(3, 3)]), ("ii->i", [(3, 3)]), ("ij->ji", [(2, 3)]), ("ij->j", [(2, 3)]), ("ij->", [(2, 3)]),
    ("ji", [(2, 3)]), ("iij->ji", [(3, 3, 2)]), ("...ij,...jk", [(4, 2, 3), (3, 5)]),
    ("...ij,...jk->...ik", [(5, 1, 2, 3), (4, 3, 2)]), ("i...,i...->...", [(3, 2, 4), (3, 1, 4)]),
    ("...i,...i->...", [(2, 3), (3,)]), ("bij,bjk->bik", [(2, 2, 3), (1, 3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]), ("Ab,bc->Ac", [(2, 3), (3, 4)]),
    ("i j , j k -> i k", [(2, 3), (3, 4)]), ("ab,ab->ba", [(2, 3), (2, 3)]), ("ijk->kij", [(2, 3, 4)]),
    ("i,ij->j", [(3,), (3, 5)]), ("...", [(2, 3)]), ("i...->...", [(2, 3, 4)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM)
def test_einsum(eq, shapes):
    check_op(lambda *xs: lib(xs[0]).einsum(eq, *xs), shapes)
    check_gradcheck(lambda *xs: engine.einsum(eq, *xs), shapes)


def test_einsum_forms():
    check_op(lambda x, y: lib(x).einsum("ij,jk->ik", [x, y]), [(2, 3), (3, 4)])
    check_op(lambda x, y: lib(x).einsum(x, [0, 1], y, [1, 2], [0, 2]), [(2, 3), (3, 4)])
    check_op(lambda x, y: lib(x).einsum(x, [0, 1], y, [1, 2]), [(2, 3), (3, 4)])
    check_op(lambda x, y: lib(x).einsum("bij,bjk->bik", x, y), [(2, 2, 3), (2, 3, 4)], grad=False,
             dtypes=("float64",), input_dtypes=["int32", "int32"], low=0, high=3)


def test_einsum_grad_fns():
    x = engine.randn(3, 3, requires_grad=True)
    assert type(engine.einsum("ij->j", x).grad_fn).__name__ == "SumBackward1"
    assert type(engine.einsum("ii->i", x).grad_fn).__name__ == "PermuteBackward0"
    assert type(engine.einsum("ij->ji", x).grad_fn).__name__ == "PermuteBackward0"
    assert type(engine.einsum("ij,jk->ik", x, x).grad_fn).__name__ == "ViewBackward0"
    assert type(engine.einsum("i,i->i", x[0] if False else engine.randn(3, requires_grad=True),
                              engine.randn(3)).grad_fn).__name__ == "MulBackward0"


def test_einsum_invalid_subscript():
    pair_errors(lambda x: lib(x).einsum("i1", x), [(3, 3)])


TENSORDOT = [([(2, 3, 4), (3, 4, 5)], 2), ([(2, 3, 4), (3, 4, 5)], ([1, 2], [0, 1])),
             ([(2, 3, 4), (4, 3, 5)], ([1, 2], [1, 0])), ([(2, 3), (4, 5)], 0), ([(2, 3), (3, 2)], 1),
             ([(3, 4), (3, 4)], ([-1, 0], [1, 0])), ([(2, 3), (3, 2)], [[1], [0]])]


@pytest.mark.parametrize("shapes,dims", TENSORDOT)
def test_tensordot(shapes, dims):
    check_op(lambda x, y: lib(x).tensordot(x, y, dims=dims), shapes)
    check_gradcheck(lambda x, y: engine.tensordot(x, y, dims=dims), shapes)


def test_tensordot_dims_forms():
    check_op(lambda x, y: lib(x).tensordot(x, y, dims=lib(x).tensor(2)), [(2, 3, 4), (3, 4, 5)])
    for dims in [([1],), (1, 0)]:
        with pytest.raises(Exception) as ti:
            torch.tensordot(torch.ones(2, 3, 4), torch.ones(3, 4, 5), dims=dims)
        with pytest.raises(type(ti.value)):
            engine.tensordot(engine.ones(2, 3, 4), engine.ones(3, 4, 5), dims=dims)


SECOND_ORDER = [
    (lambda x, y: x @ y, [(2, 3), (3, 4)]), (lambda x, y: x @ y, [(3,), (3,)]),
    (lambda x, y: x @ y, [(2, 3), (3,)]), (lambda x, y: x @ y, [(3,), (3, 2)]),
    (lambda x, y: x @ y, [(2, 2, 3), (3, 2)]), (lambda x, y: x @ y, [(2, 2, 3), (1, 3, 2)]),
    (lambda x, y: x @ y, [(2, 3), (2, 3, 2)]),
    (lambda x, y: lib(x).bmm(x, y), [(2, 2, 3), (2, 3, 2)]),
    (lambda x, y: lib(x).einsum("ij,jk->ik", x, y), [(2, 3), (3, 4)]),
    (lambda x, y: lib(x).einsum("ii,ij->j", x, y), [(3, 3), (3, 2)]),
    (lambda x, y: lib(x).tensordot(x, y, dims=1), [(2, 3), (3, 2)]),
]


@pytest.mark.parametrize("fn,shapes", SECOND_ORDER)
def test_double_backward(fn, shapes):
    """create_graph: gradients of gradients equal PyTorch's."""
    rng = np.random.default_rng(1)
    arrs = [rng.standard_normal(s) for s in shapes]
    res = []
    for L in (torch, engine):
        xs = [L.tensor(a, requires_grad=True) for a in arrs]
        out = fn(*xs)
        gs = (torch if L is torch else engine).autograd.grad((out * out).sum(), xs, create_graph=True)
        total = sum((g * g).sum() for g in gs)
        g2 = (torch if L is torch else engine).autograd.grad(total, xs)
        res.append([np.asarray(g.detach().numpy()) for g in list(gs) + list(g2)])
    # float64, 4 chained products of K <= 4 terms, |values| <= 60: <= 4*2*4*2**-53*600 = 2e-12 << 1e-9
    # (float32 reruns put the float64 error near 1.5e-14)
    for a, b in zip(*res):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9)


def test_matmul_out():
    out = engine.empty(2, 4)
    r = engine.matmul(engine.ones(2, 3), engine.ones(3, 4), out=out)
    assert r is out
    np.testing.assert_array_equal(out.numpy(), np.full((2, 4), 3.0, dtype=np.float32))  # sums of 1s: exact


def test_large_matmul_values():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((128, 256)).astype(np.float32)
    b = rng.standard_normal((256, 64)).astype(np.float32)
    t = torch.from_numpy(a) @ torch.from_numpy(b)
    e = engine.from_numpy(a) @ engine.from_numpy(b)
    # Each side sums the K = 256 products in some order (blocking, FMA, thread split: any kernel), so
    # |fl(AB) - AB| <= gamma_K |A||B|, gamma_K = K*u/(1 - K*u), u = 2**-24 (Higham 3.5): the two differ by at
    # most 2*gamma_K*(|A||B|) = 3.1e-5*(|A||B|), 4e-3..7e-3 here (measured: 4e-5).  A uniform atol would have
    # to cover the worst entry; this bound is per entry.
    K, u = a.shape[1], 2.0 ** -24
    bound = 2 * K * u / (1 - K * u) * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))
    diff = np.abs(e.numpy().astype(np.float64) - t.numpy().astype(np.float64))
    assert np.all(diff <= bound), f"max |engine - torch| / bound = {(diff / bound).max():.3g}"


def test_matmul_no_copy_for_contiguous():
    a = engine.ones(64, 64)
    b = engine.ones(64, 64)
    r = a @ b
    assert r.is_contiguous() and r._data.base is None

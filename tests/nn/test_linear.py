"""Identity, Linear, Bilinear, LazyLinear, Flatten, Unflatten and F.linear / F.bilinear against
real PyTorch: values, input and parameter gradients, grad_fn graphs, errors, printing,
parameter shapes and default initialisation bounds."""
import math

import numpy as np
import pytest
import torch

import engine
from _nn_core_util import both, close, grad_fn_chain, run_both
from parity import check_gradcheck


def _arr(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 4), (2, 1, 3, 4), (0, 4)])
def test_linear_parity_and_graph(shape, bias):
    tm, em = both(lambda nn: nn.Linear(4, 5, bias=bias))
    to, eo = run_both(tm, em, _arr(shape))
    assert grad_fn_chain(to.grad_fn, 4) == grad_fn_chain(eo.grad_fn, 4)


@pytest.mark.parametrize("dtype", [np.float64])
def test_linear_float64(dtype):
    tm, em = both(lambda nn: nn.Linear(3, 2).double())
    run_both(tm, em, _arr((5, 3), dtype=dtype))


def test_linear_noncontiguous_input():
    tm, em = both(lambda nn: nn.Linear(4, 2))
    a = _arr((4, 3, 2))
    tx = torch.tensor(a, requires_grad=True)
    ex = engine.tensor(a, requires_grad=True)
    to = tm(tx.permute(2, 1, 0))
    eo = em(ex.permute(2, 1, 0))
    close(to, eo)
    to.sum().backward()
    eo.sum().backward()
    close(tx.grad, ex.grad)
    close(tm.weight.grad, em.weight.grad)
    assert type(eo.grad_fn).__name__ == type(to.grad_fn).__name__ == "AddBackward0"


@pytest.mark.parametrize("args", [
    ((64, 128), (10, 784), (10,)),
    ((5, 2, 3), (4, 5), (4,)),
    ((3,), (4, 5), None),
    ((), (4, 5), None),
    ((2, 5), (4, 5), (3,)),
])
def test_linear_errors(args):
    xs, ws, bs = args

    def run(lib):
        x = lib.zeros(xs)
        w = lib.zeros(ws)
        b = lib.zeros(bs) if bs else None
        return (torch.nn.functional if lib is torch else engine.nn.functional).linear(x, w, b)

    with pytest.raises(RuntimeError) as te:
        run(torch)
    with pytest.raises(RuntimeError) as ee:
        run(engine)
    assert str(ee.value) == str(te.value)


def test_linear_dtype_mismatch_errors():
    for xd, bd in ((torch.float64, torch.float32), (torch.float32, torch.float64)):
        ed = {torch.float64: engine.float64, torch.float32: engine.float32}
        with pytest.raises(RuntimeError) as te:
            torch.nn.functional.linear(torch.zeros(2, 3, dtype=xd), torch.zeros(4, 3), torch.zeros(4, dtype=bd))
        with pytest.raises(RuntimeError) as ee:
            engine.nn.functional.linear(engine.zeros(2, 3, dtype=ed[xd]), engine.zeros(4, 3),
                                        engine.zeros(4, dtype=ed[bd]))
        assert str(ee.value) == str(te.value)


def test_linear_module_message_on_wrong_input():
    with pytest.raises(RuntimeError) as te:
        torch.nn.Linear(784, 10)(torch.zeros(64, 128))
    with pytest.raises(RuntimeError) as ee:
        engine.nn.Linear(784, 10)(engine.zeros(64, 128))
    assert str(ee.value) == str(te.value) == "mat1 and mat2 shapes cannot be multiplied (64x128 and 784x10)"


def test_linear_gradcheck_double_backward():
    check_gradcheck(lambda x, w, b: engine.nn.functional.linear(x, w, b), [(3, 4), (2, 4), (2,)])
    check_gradcheck(lambda x, w: engine.nn.functional.linear(x, w), [(2, 3, 4), (2, 4)])


@pytest.mark.parametrize("factory", [
    lambda nn: nn.Linear(3, 4),
    lambda nn: nn.Linear(3, 4, bias=False),
    lambda nn: nn.Bilinear(2, 3, 4),
    lambda nn: nn.Bilinear(2, 3, 4, bias=False),
    lambda nn: nn.Identity(54, unused="x"),
    lambda nn: nn.Flatten(),
    lambda nn: nn.Flatten(0, 2),
    lambda nn: nn.Unflatten(1, (2, 5)),
    lambda nn: nn.Unflatten(-1, [2, 2]),
])
def test_repr_params_and_state_dict(factory):
    tm, em = both(factory)
    assert repr(tm) == repr(em)
    assert [(n, tuple(p.shape)) for n, p in tm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in em.named_parameters()]
    assert list(tm.state_dict()) == list(em.state_dict())


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lead", [(5,), (2, 3), ()])
def test_bilinear_parity(lead, bias):
    tm, em = both(lambda nn: nn.Bilinear(3, 4, 2, bias=bias))
    # x1^T W x2: K <= 12 terms per result (forward 3*4, grads 4*2 or a batch of <= 6), each a product of
    # N(0, 1) inputs and |W| <= 1/sqrt(3): 2*K*u = 1.4e-6 relative, random walk u*4*K/sqrt(3) = 1.7e-6 rms
    to, eo = run_both(tm, em, _arr(lead + (3,)), _arr(lead + (4,), seed=1), atol=1e-4)
    assert type(to.grad_fn).__name__ == type(eo.grad_fn).__name__


def test_bilinear_gradcheck():
    check_gradcheck(lambda a, b, w, c: engine.nn.functional.bilinear(a, b, w, c), [(2, 3), (2, 4), (5, 3, 4), (5,)])


@pytest.mark.parametrize("shapes", [
    ((2, 3), (2, 2, 4), (5, 3, 4), (5,)),
    ((2, 3), (3, 4), (5, 3, 4), (5,)),
    ((2, 2), (2, 4), (5, 3, 4), (5,)),
    ((2, 3), (2, 5), (5, 3, 4), (5,)),
    ((2, 3), (2, 4), (5, 3, 4), (4,)),
])
def test_bilinear_errors(shapes):
    def run(lib):
        F = torch.nn.functional if lib is torch else engine.nn.functional
        return F.bilinear(*[lib.zeros(s) for s in shapes])

    with pytest.raises(RuntimeError) as te:
        run(torch)
    with pytest.raises(RuntimeError) as ee:
        run(engine)
    assert str(ee.value) == str(te.value)


@pytest.mark.parametrize("factory,shape", [
    (lambda nn: nn.Flatten(), (2, 3, 4)),
    (lambda nn: nn.Flatten(0, -1), (2, 3, 4)),
    (lambda nn: nn.Flatten(1, 2), (2, 3, 4, 5)),
    (lambda nn: nn.Unflatten(1, (3, 2)), (4, 6)),
    (lambda nn: nn.Unflatten(-1, (2, -1)), (4, 6)),
    (lambda nn: nn.Identity(), (3,)),
])
def test_shape_layers(factory, shape):
    tm, em = both(factory)
    to, eo = run_both(tm, em, _arr(shape))
    assert tuple(to.shape) == tuple(eo.shape)


def test_unflatten_errors():
    for bad in ((2, 2.0), 5):
        with pytest.raises(TypeError) as te:
            torch.nn.Unflatten(1, bad)
        with pytest.raises(TypeError) as ee:
            engine.nn.Unflatten(1, bad)
        assert str(ee.value) == str(te.value)


def test_lazy_linear():
    m = engine.nn.LazyLinear(3)
    y = m(engine.randn(2, 5))
    assert tuple(y.shape) == (2, 3) and type(m) is engine.nn.Linear
    assert tuple(m.weight.shape) == (3, 5) and m.in_features == 5
    assert repr(m) == repr(torch.nn.Linear(5, 3))


@pytest.mark.parametrize("fan_in,fan_out", [(784, 256), (10, 3), (1, 1)])
def test_linear_default_init_bounds(fan_in, fan_out):
    engine.manual_seed(0)
    m = engine.nn.Linear(fan_in, fan_out)
    # kaiming_uniform_(a=sqrt(5)) gives bound 1/sqrt(fan_in); the bias uses the same bound
    bound = 1 / math.sqrt(fan_in)
    w = np.asarray(m.weight._data)
    b = np.asarray(m.bias._data)
    # fixed-seed draws from numpy's generator mapped by correctly rounded float64 ops and one cast: the same
    # values on any machine, so these comparisons come out the same everywhere (the largest |w| of 2e5 draws
    # sits ~5e-6*bound below the bound; a cast moves it by <= 6e-8 relative)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    if w.size > 1000:
        # sampling sd over 2e5 draws: of the std 5.8e-4*bound (34 sd), of the mean 1.3e-3*bound (15 sd)
        assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
        assert abs(w.mean()) < 0.02 * bound
    assert m.weight.requires_grad and str(m.weight.dtype) == "torch.float32"


def test_bilinear_default_init_bounds():
    engine.manual_seed(0)
    m = engine.nn.Bilinear(20, 30, 40)
    bound = 1 / math.sqrt(20)
    w = np.asarray(m.weight._data)
    # as above: numpy's draws, the same on any machine; 24000 samples: sampling sd of the std 1.7e-3*bound
    assert np.abs(w).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound


def test_factory_kwargs():
    m = engine.nn.Linear(2, 3, dtype=engine.float64)
    assert str(m.weight.dtype) == str(m.bias.dtype) == "torch.float64"
    m = engine.nn.Linear(2, 3, device="cpu")
    assert m.weight.device.type == "cpu"

"""dtypes, promotion and devices against PyTorch."""
import itertools

import numpy as np
import pytest
import torch

import engine

NAMES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


@pytest.mark.parametrize("a,b", list(itertools.product(NAMES, NAMES)))
def test_promote_types_table(a, b):
    assert str(engine.promote_types(getattr(engine, a), getattr(engine, b))) == \
        str(torch.promote_types(getattr(torch, a), getattr(torch, b)))


SCALARS = [2, 2.5, True]


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("other", ["dim", "zero"] + SCALARS, ids=str)
@pytest.mark.parametrize("b", ["float64", "int64", "int8", "bool", "float16"])
def test_result_type(a, b, other):
    ta = torch.zeros(3, dtype=getattr(torch, a))
    ea = engine.zeros(3, dtype=getattr(engine, a))
    if other == "dim":
        tb, eb = torch.zeros(3, dtype=getattr(torch, b)), engine.zeros(3, dtype=getattr(engine, b))
    elif other == "zero":
        tb, eb = torch.zeros((), dtype=getattr(torch, b)), engine.zeros((), dtype=getattr(engine, b))
    else:
        tb = eb = other
    assert str(engine.result_type(ea, eb)) == str(torch.result_type(ta, tb))


def test_dtype_objects():
    for n in NAMES:
        e, t = getattr(engine, n), getattr(torch, n)
        assert repr(e) == repr(t)
        assert e.is_floating_point == t.is_floating_point
        assert e.itemsize == t.itemsize
        assert e.is_signed == t.is_signed
    assert engine.float is engine.float32 and engine.double is engine.float64 and engine.long is engine.int64
    assert engine.half is engine.float16 and engine.int is engine.int32 and engine.short is engine.int16
    assert engine.finfo(engine.float32).eps == torch.finfo(torch.float32).eps
    assert engine.iinfo(engine.int8).max == torch.iinfo(torch.int8).max


def test_default_dtype_switch():
    assert engine.get_default_dtype() is engine.float32
    try:
        engine.set_default_dtype(engine.float64)
        assert engine.tensor([1.5]).dtype is engine.float64
        assert engine.zeros(2).dtype is engine.float64
        assert (engine.tensor([1, 2]) / 2).dtype is engine.float64
        assert engine.tensor([1, 2]).dtype is engine.int64
        engine.set_default_tensor_type(torch.FloatTensor.__name__)
        assert engine.get_default_dtype() is engine.float32
        engine.set_default_tensor_type("torch.DoubleTensor")
        assert engine.ones(1).dtype is engine.float64
    finally:
        engine.set_default_dtype(engine.float32)
    with pytest.raises(TypeError):
        engine.set_default_dtype(engine.int64)


@pytest.mark.parametrize("spec", ["cpu", "cuda", "cuda:0", "cuda:1", "meta"])
def test_device_parsing(spec):
    t, e = torch.device(spec), engine.device(spec)
    assert repr(e) == repr(t) and str(e) == str(t)
    assert e.type == t.type and e.index == t.index
    assert e == engine.device(spec) and hash(e) == hash(engine.device(spec))


def test_device_errors():
    for bad in ["gpu", "cuda:x"]:
        with pytest.raises(RuntimeError):
            torch.device(bad)
        with pytest.raises(RuntimeError):
            engine.device(bad)
    assert engine.device("cuda", 1) == engine.device("cuda:1")


def test_tensor_device_attributes():
    x = engine.ones(2)
    assert x.device == engine.device("cpu") and x.is_cuda is False and x.get_device() == -1
    assert x.to("cpu") is x and x.cpu() is x


@pytest.mark.skipif(engine.cuda.is_available(), reason="checks the behaviour of a machine without a GPU")
def test_cuda_unavailable_errors_like_a_cpu_build_of_pytorch():
    assert engine.cuda.is_available() is False and engine.cuda.device_count() == 0
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        torch.ones(2, device="cuda")
    with pytest.raises((AssertionError, RuntimeError)):
        engine.ones(2, device="cuda")
    with pytest.raises((AssertionError, RuntimeError)):
        engine.ones(2).cuda()


cuda = pytest.mark.skipif(not engine.cuda.is_available(), reason="no CUDA GPU with cupy on this machine")


@cuda
def test_cuda_roundtrip_and_ops():
    a = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    x = engine.tensor(a, device="cuda", requires_grad=True)
    assert x.device == engine.device("cuda:0") and x.is_cuda
    y = (x * 2 + 1).tanh().sum()
    y.backward()
    t = torch.tensor(a, requires_grad=True)
    (t * 2 + 1).tanh().sum().backward()
    # grad = 2*(1 - t*t), t = tanh(2x + 1) in float32 on GPU vs CPU: the t's are <= 8 ulp = 4.8e-7 apart (tanh
    # <= 4 ulp each, |t| < 1), which moves the grad by <= 2*2|t|*4.8e-7 = 1.9e-6, + 3 roundings (3.6e-7)
    np.testing.assert_allclose(x.grad.cpu().numpy(), t.grad.numpy(), rtol=1e-5, atol=3e-6)
    assert x.grad.device == x.device


@cuda
def test_mixed_device_error():
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        engine.ones(3, device="cuda") + engine.ones(3)
    z = engine.ones(3, device="cuda") + engine.tensor(2.0)  # a 0-dim CPU tensor is allowed
    assert z.device.type == "cuda"

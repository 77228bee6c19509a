"""Parity helpers: run the same lambda on real PyTorch and on the engine, compare everything.

    check_op(lambda x, y: x * y, [(3, 4), (4,)])

builds random inputs once, feeds copies to both libraries, and compares forward values,
shape and dtype, then backpropagates the same random output gradient and compares the
gradient of every input.  ``noncontig=True`` makes every input a strided view; ``dtypes``
picks the float types.  ``check_gradcheck`` runs the engine's gradcheck in float64, and
``check_error`` asserts that both libraries raise the same exception type.
"""
import numpy as np
import pytest
import torch

import engine

DTYPES = {torch.float32: engine.float32, torch.float64: engine.float64, torch.float16: engine.float16,
          torch.int64: engine.int64, torch.int32: engine.int32, torch.int16: engine.int16,
          torch.int8: engine.int8, torch.uint8: engine.uint8, torch.bool: engine.bool}
NP = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "int64": np.int64, "int32": np.int32,
      "int16": np.int16, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_}


def make_array(shape, dtype="float32", low=-2.0, high=2.0, noncontig=False, rng=None, positive=False):
    rng = rng or np.random.default_rng(0)
    if noncontig and len(shape) > 0:
        big = tuple(shape[:-1]) + (shape[-1] * 2,)
        arr = _rand(big, dtype, low, high, rng, positive)[..., ::2]
        assert not arr.flags.c_contiguous or arr.size <= 1
        return arr
    return _rand(tuple(shape), dtype, low, high, rng, positive)


def _rand(shape, dtype, low, high, rng, positive):
    return np.asarray(_rand_values(shape, dtype, low, high, rng, positive))


def _rand_values(shape, dtype, low, high, rng, positive):
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype in ("int64", "int32", "int16", "int8", "uint8"):
        lo = 0 if dtype == "uint8" or positive else int(low)
        return rng.integers(lo, max(int(high), lo + 1) + 1, size=shape).astype(NP[dtype])
    if positive:
        low, high = 0.1 + abs(low) * 0, max(high, 1.0)
    return rng.uniform(low, high, size=shape).astype(NP[dtype])


def pair(arr, requires_grad):
    """(torch tensor, engine tensor) over copies of the same values and strides."""
    t = torch.from_numpy(arr.copy()) if arr.flags.c_contiguous else torch.from_numpy(arr)
    e = engine.from_numpy(arr.copy()) if arr.flags.c_contiguous else engine.from_numpy(arr.copy()[...])
    if not arr.flags.c_contiguous:
        # keep the engine input strided too: rebuild the same view over a copy of the base
        base = arr.base.copy()
        e = engine.from_numpy(base[..., ::2])
        t = torch.from_numpy(base.copy())[..., ::2]
    if requires_grad and arr.dtype.kind == "f":
        t.requires_grad_(True)
        e.requires_grad_(True)
    return t, e


def to_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    if isinstance(x, engine.Tensor):
        return np.asarray(x.detach()._data)
    return np.asarray(x)


def assert_same(tv, ev, atol, rtol, what="forward"):
    """Compare one torch result with one engine result: type, shape, dtype, values."""
    if isinstance(tv, (tuple, list)):
        assert isinstance(ev, (tuple, list)), f"{what}: torch gave a sequence, engine gave {type(ev)}"
        assert len(tv) == len(ev), f"{what}: lengths differ {len(tv)} vs {len(ev)}"
        for i, (a, b) in enumerate(zip(tv, ev)):
            assert_same(a, b, atol, rtol, f"{what}[{i}]")
        return
    if isinstance(tv, torch.Tensor):
        assert isinstance(ev, engine.Tensor), f"{what}: engine returned {type(ev)}"
        assert tuple(tv.shape) == tuple(ev.shape), f"{what}: shape {tuple(ev.shape)} != torch {tuple(tv.shape)}"
        assert str(tv.dtype) == str(ev.dtype), f"{what}: dtype {ev.dtype} != torch {tv.dtype}"
        a, b = to_numpy(tv), to_numpy(ev)
        if a.dtype == np.float16:  # results are rounded to half precision: allow one ulp
            atol, rtol = max(atol, 1e-3), max(rtol, 2e-3)
        elif a.dtype == np.float32:  # a float32 result of float64 inputs is only float32-exact
            atol, rtol = max(atol, 1e-6), max(rtol, 1e-5)
        if a.dtype.kind in "biu":
            np.testing.assert_array_equal(b, a, err_msg=what)
        else:
            np.testing.assert_allclose(b.astype(np.float64), a.astype(np.float64), atol=atol, rtol=rtol,
                                       equal_nan=True, err_msg=what)
        return
    if isinstance(tv, (int, float, bool)):
        assert type(ev) is type(tv) or isinstance(ev, (int, float)), f"{what}: {type(ev)} vs {type(tv)}"
        np.testing.assert_allclose(ev, tv, atol=atol, rtol=rtol, err_msg=what)
        return
    assert ev == tv, f"{what}: {ev!r} != {tv!r}"


# Default tolerances, (atol, rtol) per dtype, and the rounding argument behind them.
#
# The engine (numpy, OpenBLAS) and PyTorch (ATen, MKL, oneDNN) compute the same real function with
# different kernels, and each library picks its kernels by processor and thread count: a sum or a dot
# product is split, reordered or fused (FMA) differently on every machine.  With u the unit roundoff
# (2**-53 float64, 2**-24 float32) and a result that accumulates K terms of magnitude <= T, two
# orderings differ by at most 2*K*u*S, S = sum|terms| <= K*T (Higham, "Accuracy and Stability of
# Numerical Algorithms", 3.1 and 4.2), plus a few ulp per libm call (glibc, Sleef and numpy's SIMD
# loops are each within 4 ulp).  Parity inputs are drawn in [-2, 2] (T <= 4 for a product) and the
# parity tests reduce over short axes (K <= 64 terms per result: a reduced dimension, a matmul's inner
# size, a conv's C_in*kH*kW window):
#   float64: worst case 2*64*2**-53*256 = 3.6e-12 absolute, even when the result cancels to 0
#            -> atol 1e-10, rtol 1e-9 hold with a 28x margin.
#   float32: without cancellation 2*K*u = 7.6e-6 relative <= rtol 1e-4.  Where terms cancel the
#            worst case (2e-3) is not a useful bound; rounding errors of random data add like a
#            random walk: partial sums of K products of U(-2, 2) values grow like sqrt(k)*4/3, so the
#            two sides differ by u*(4/3)*K/sqrt(3) = 2.9e-6 rms for K = 64 -> atol 1e-5 (3.4 rms)
#            and rtol 1e-4.
#   float16: results are rounded to 11 bits, so one ulp (2**-10 = 1e-3 relative) apart at least,
#            a few ulp after a reduction  -> atol 1e-2, rtol 1e-2.
# Gradients run the backward of the forward (a few more such operations on values of the same size),
# hence 10x.  A test that reduces over more terms, or whose op amplifies rounding (a near-singular
# solve, a long recurrence, an optimiser trajectory), passes its own atol/rtol with its own argument.
# tools/test_portable.sh runs every suite under four kernel families and two thread counts.


def _tol(dtype):
    return {"float16": (1e-2, 1e-2), "float32": (1e-5, 1e-4), "float64": (1e-10, 1e-9)}.get(dtype, (0, 0))


def check_op(fn, shapes, dtypes=("float32", "float64"), grad=True, low=-2.0, high=2.0, noncontig=(False, True),
             atol=None, rtol=None, positive=False, engine_fn=None, seed=0, input_dtypes=None):
    """Compare ``fn`` on torch and engine for every dtype and contiguity in the lists."""
    engine_fn = engine_fn or fn
    if isinstance(noncontig, bool):
        noncontig = (noncontig,)
    for dtype in dtypes:
        for nc in noncontig:
            rng = np.random.default_rng(seed)
            dts = input_dtypes or [dtype] * len(shapes)
            arrs = [make_array(s, d, low, high, nc and len(s) > 0, rng, positive) for s, d in zip(shapes, dts)]
            pairs = [pair(a, grad) for a in arrs]
            ts = [p[0] for p in pairs]
            es = [p[1] for p in pairs]
            a_tol, r_tol = _tol(dtype)
            a_tol = atol if atol is not None else a_tol
            r_tol = rtol if rtol is not None else r_tol
            tout = fn(*ts)
            eout = engine_fn(*es)
            label = f"{dtype} noncontig={nc}"
            assert_same(tout, eout, a_tol, r_tol, f"forward {label}")
            if not grad:
                continue
            touts = tout if isinstance(tout, (tuple, list)) else [tout]
            eouts = eout if isinstance(eout, (tuple, list)) else [eout]
            tsel = [(t, e) for t, e in zip(touts, eouts) if isinstance(t, torch.Tensor) and t.requires_grad]
            if not tsel:
                continue
            gs = [rng.standard_normal(tuple(t.shape)).astype(NP[str(t.dtype).split(".")[1]]) for t, _ in tsel]
            torch.autograd.backward([t for t, _ in tsel], [torch.from_numpy(g.copy()) for g in gs])
            engine.autograd.backward([e for _, e in tsel], [engine.from_numpy(g.copy()) for g in gs])
            for i, (t, e) in enumerate(zip(ts, es)):
                if t.requires_grad:
                    if t.grad is None:
                        assert e.grad is None or not np.any(to_numpy(e.grad)), f"grad {i}: torch None"
                        continue
                    assert e.grad is not None, f"grad of input {i} missing ({label})"
                    assert_same(t.grad, e.grad, a_tol * 10, r_tol * 10, f"grad {i} {label}")


def check_gradcheck(fn, shapes, low=-2.0, high=2.0, positive=False, seed=0, input_dtypes=None, **kw):
    """The engine's gradcheck in float64 on random inputs."""
    rng = np.random.default_rng(seed)
    dts = input_dtypes or ["float64"] * len(shapes)
    es = []
    for s, d in zip(shapes, dts):
        a = make_array(s, d, low, high, False, rng, positive)
        t = engine.from_numpy(a)
        if d == "float64":
            t.requires_grad_(True)
        es.append(t)
    assert engine.autograd.gradcheck(fn, tuple(es), **kw)


def check_error(fn, shapes, exc=RuntimeError, match=None, dtypes=("float32",), engine_fn=None):
    """Both libraries raise ``exc`` (and the engine's message matches ``match`` if given)."""
    engine_fn = engine_fn or fn
    rng = np.random.default_rng(0)
    arrs = [make_array(s, dtypes[0] if len(dtypes) == 1 else d, rng=rng) for s, d in
            zip(shapes, dtypes if len(dtypes) > 1 else dtypes * len(shapes))]
    ts = [torch.from_numpy(a.copy()) for a in arrs]
    es = [engine.from_numpy(a.copy()) for a in arrs]
    with pytest.raises(exc) as tinfo:
        fn(*ts)
    with pytest.raises(exc, match=match) as einfo:
        engine_fn(*es)
    return str(tinfo.value), str(einfo.value)

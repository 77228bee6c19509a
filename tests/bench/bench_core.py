"""Engine core vs PyTorch: small-op overhead, a tanh chain, a large matmul."""
import numpy as np
import torch

import engine


def _pair(shape, seed, requires_grad=True):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return (engine.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad))


def mul16(lib_index):
    def make():
        a = _pair((16, 16), 0)[lib_index]
        b = _pair((16, 16), 1)[lib_index]
        g = _pair((16, 16), 2, False)[lib_index]

        def step():
            c = a * b
            c.backward(g)

        return step

    return make


def tanh_chain(lib_index):
    def make():
        x = _pair((16, 16), 0)[lib_index]

        def step():
            y = x
            for _ in range(20):
                y = y.tanh()
            y.sum().backward()

        return step

    return make


def matmul1024(lib_index):
    def make():
        a = _pair((1024, 1024), 0, False)[lib_index]
        b = _pair((1024, 1024), 1, False)[lib_index]

        def step():
            return a @ b

        return step

    return make


CASES = [
    ("16x16 multiply + backward", mul16(0), mul16(1), 4.0),
    ("20-op tanh chain, forward + backward", tanh_chain(0), tanh_chain(1), 3.0),
    ("1024x1024 float32 matmul", matmul1024(0), matmul1024(1), 1.1),
]


def indexing(lib_index):
    def make():
        x = _pair((512, 64), 0)[lib_index]
        lib = engine if lib_index == 0 else torch
        idx = lib.tensor(np.random.default_rng(0).integers(0, 512, 256))
        state = [0]

        def step():
            i = state[0] = (state[0] + 1) % 512
            (x[idx].sum() + x[i].sum() + x[:, 3:9].sum()).backward()

        return step

    return make


def repr_large(lib_index):
    def make():
        x = _pair((1000, 1000), 0, False)[lib_index]
        return lambda: repr(x)

    return make


CASES += [
    ("index (advanced, int, slice) + backward", indexing(0), indexing(1), None),
    ("repr of a 1000x1000 tensor", repr_large(0), repr_large(1), None),
]

"""Transformer encoder layer, engine vs PyTorch: a training step (forward, MSE loss, backward,
SGD momentum step) with the same starting weights, and an inference forward for reference."""
import numpy as np
import torch

import engine

D_MODEL, NHEAD, FF, SEQ, BATCH = 64, 4, 256, 20, 16


def _layer(lib, dropout, batch_first):
    return lib.nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=dropout, batch_first=batch_first)


def _same_weights(src, dst):
    dst.load_state_dict({k: engine.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


def _data(batch_first):
    rng = np.random.default_rng(0)
    shape = (BATCH, SEQ, D_MODEL) if batch_first else (SEQ, BATCH, D_MODEL)
    return rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)


def _step_factory(lib, model, x, y):
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = lib.nn.MSELoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step


def training_step(dropout=0.1, batch_first=False):
    x, y = _data(batch_first)
    torch.manual_seed(0)
    tm = _layer(torch, dropout, batch_first)
    em = _layer(engine, dropout, batch_first)
    _same_weights(tm, em)

    def make_engine():
        em.train()
        return _step_factory(engine, em, engine.tensor(x), engine.tensor(y))

    def make_torch():
        tm.train()
        return _step_factory(torch, tm, torch.tensor(x), torch.tensor(y))

    return make_engine, make_torch


def inference(batch_first=True):
    x, _ = _data(batch_first)
    torch.manual_seed(0)
    tm = _layer(torch, 0.1, batch_first).eval()
    em = _layer(engine, 0.1, batch_first).eval()
    _same_weights(tm, em)

    def make_engine():
        xe = engine.tensor(x)

        def step():
            with engine.no_grad():
                em(xe)

        return step

    def make_torch():
        xt = torch.tensor(x)

        def step():
            with torch.no_grad():
                tm(xt)

        return step

    return make_engine, make_torch


def cases():
    shape = f"d{D_MODEL} h{NHEAD} ff{FF}, seq {SEQ}, batch {BATCH}"
    return [
        (f"EncoderLayer step {shape}, dropout 0.1", *training_step(0.1), 3.0),
        (f"EncoderLayer step {shape}, dropout 0, batch_first", *training_step(0.0, True), 3.0),
        (f"EncoderLayer inference {shape}", *inference(), None),
    ]


if __name__ == "__main__":
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from harness import compare

    torch.set_num_threads(os.cpu_count() or 1)
    compare(cases(), "Transformer encoder layer")

"""Recurrent layers, engine vs PyTorch: one training-style step (forward, sum of the output and
final state, backward) of LSTM / GRU / RNN on the same weights and inputs."""
import numpy as np
import torch

import engine


def _step_case(build, seq, batch, features, lstm=False):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((seq, batch, features)).astype(np.float32)
    torch.manual_seed(0)
    tm = build(torch)
    em = build(engine)
    em.load_state_dict({k: engine.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})

    def make(lib, model):
        def factory():
            inp = lib.tensor(x, requires_grad=True)

            def step():
                model.zero_grad()
                inp.grad = None
                out, h = model(inp)
                loss = out.sum() + (h[0].sum() + h[1].sum() if lstm else h.sum())
                loss.backward()

            return step

        return factory

    return make(engine, em), make(torch, tm)


def cases():
    lstm = _step_case(lambda lib: lib.nn.LSTM(32, 64), 20, 16, 32, lstm=True)
    gru = _step_case(lambda lib: lib.nn.GRU(32, 64), 20, 16, 32)
    lstm2 = _step_case(lambda lib: lib.nn.LSTM(32, 64, num_layers=2, bidirectional=True), 20, 16, 32, lstm=True)
    rnn = _step_case(lambda lib: lib.nn.RNN(32, 64), 20, 16, 32)
    return [
        ("LSTM seq 20, batch 16, 32->64, forward+backward", *lstm, 3.0),
        ("GRU seq 20, batch 16, 32->64, forward+backward", *gru, 3.0),
        ("LSTM 2-layer bidir seq 20, batch 16, 32->64, f+b", *lstm2, 3.0),
        ("RNN tanh seq 20, batch 16, 32->64, forward+backward", *rnn, 3.0),
    ]


if __name__ == "__main__":
    from harness import compare

    compare(cases(), "recurrent layers")

"""Training steps, engine vs PyTorch: MLPs, LeNet-5, and an epoch over the offline digits."""
import numpy as np
import torch

import engine


def _mlp(lib, sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(lib.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(lib.nn.ReLU())
    return lib.nn.Sequential(*layers)


class _LeNet:
    @staticmethod
    def build(lib):
        nn = lib.nn
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def _same_weights(src, dst):
    """Copy the torch model's parameters into the engine model (same starting point)."""
    dst.load_state_dict({k: engine.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


def _step_factory(lib, model, x, y):
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = lib.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step


def training_step(build, x_shape, n_classes=10):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    y = rng.integers(0, n_classes, x_shape[0])
    tm = build(torch)
    em = build(engine)
    _same_weights(tm, em)

    def make_engine():
        return _step_factory(engine, em, engine.tensor(x), engine.tensor(y))

    def make_torch():
        return _step_factory(torch, tm, torch.tensor(x), torch.tensor(y))

    return make_engine, make_torch


def digits_epoch():
    """One epoch of LeNet-5 over the 8,000 training digits (batch 64, shuffled, normalised)."""
    from engine.vision.datasets import Digits

    ds = Digits(train=True)
    images = (np.asarray(ds.data._data, dtype=np.float32) / 255.0 - 0.1307) / 0.3081
    images = images[:, None]
    labels = np.asarray(ds.targets._data)

    def make(lib):
        def factory():
            model = _LeNet.build(lib)
            data = lib.utils.data.TensorDataset(lib.tensor(images), lib.tensor(labels))
            loader = lib.utils.data.DataLoader(data, batch_size=64, shuffle=True)
            opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

            def epoch():
                for xb, yb in loader:
                    opt.zero_grad()
                    lib.nn.functional.cross_entropy(model(xb), yb).backward()
                    opt.step()

            return epoch

        return factory

    return make(engine), make(torch)


def cases():
    mlp_small = training_step(lambda lib: _mlp(lib, [784, 128, 10]), (64, 784))
    mlp_big = training_step(lambda lib: _mlp(lib, [784, 1024, 1024, 10]), (256, 784))
    lenet = training_step(_LeNet.build, (64, 1, 28, 28))
    return [
        ("MLP 784-128-10 step, batch 64", *mlp_small, 1.5),
        ("MLP 784-1024-1024-10 step, batch 256", *mlp_big, 1.1),
        ("LeNet-5 step, 28x28, batch 64", *lenet, 3.0),
    ]


def epoch_case():
    e, t = digits_epoch()
    return [("LeNet-5 epoch over 8,000 offline digits", e, t, None)]

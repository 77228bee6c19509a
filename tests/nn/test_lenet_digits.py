"""A LeNet-5 trained on the engine learns real handwritten digits: >= 97.5% held-out accuracy.

The same recipe on PyTorch 2.13 reaches 98.1-98.3% (seeds 0-2, 8 epochs) on these 8,000/2,000
offline digits; the engine reaches 98.15-98.2% with the same seeds (see the project notes), and
98.15-98.4% with seed 0 under the kernel families of tools/test_portable.sh.

Why 97.5 and not 98: 8 epochs of SGD with momentum amplify rounding differences (another BLAS kernel,
another thread count) until the trajectory is as different as another seed's, so the held-out accuracy
varies like the seed spread above (~0.3 points, 6 digits of 2,000).  The bound sits 0.65 points
(13 digits, > 2x that spread) below the lowest value seen; a model that has not learned the digits
as a CNN does still fails it (test_quantization's 2-epoch MLP reaches 91.6% here; chance is 10%).
"""
import numpy as np

import engine
import engine.nn as nn
import engine.nn.functional as F
from engine.vision.datasets import Digits


def _tensors(train):
    ds = Digits(train=train)
    x = (np.asarray(ds.data._data, dtype=np.float32) / 255.0 - 0.1307) / 0.3081
    return engine.tensor(x[:, None]), engine.tensor(np.asarray(ds.targets._data))


def test_lenet5_learns_the_offline_digits():
    engine.manual_seed(0)
    xtr, ytr = _tensors(True)
    xte, yte = _tensors(False)
    assert xtr.shape == (8000, 1, 28, 28) and xte.shape == (2000, 1, 28, 28)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    loader = engine.utils.data.DataLoader(engine.utils.data.TensorDataset(xtr, ytr), batch_size=64, shuffle=True)
    epochs = 8
    opt = engine.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    sched = engine.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=epochs, steps_per_epoch=len(loader))
    first = None
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            first = loss.item() if first is None else first
    model.eval()
    with engine.no_grad():
        accuracy = (model(xte).argmax(1) == yte).float().mean().item() * 100
    assert first > 2.0  # it started from chance: ln(10) = 2.30 +- ~0.05 for the untrained net, rounding ~1e-6
    assert accuracy >= 97.5, accuracy

"""Dynamic int8 quantization of a digits MLP: train in float, quantize the Linear layers, compare.

Trains a 784-128-10 MLP on the offline digits (8,000 training / 2,000 held-out images), then
``torch.quantization.quantize_dynamic`` swaps its ``nn.Linear`` layers for int8 ones, and prints the
held-out accuracy and the weight bytes of both models.

    python -m engine.run examples/quantize_digits.py [EPOCHS]

On real PyTorch, pass a directory with torchvision's MNIST layout as a second argument
(`python -m engine.vision.datasets.digits ./data` exports the digits there).
"""
import io
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.manual_seed(0)


def load(train):
    try:
        from torchvision.datasets import Digits  # Gradlab's offline digits
        ds = Digits(train=train)
    except ImportError:  # real torchvision: the exported MNIST-layout copy
        from torchvision.datasets import MNIST
        ds = MNIST(sys.argv[2] if len(sys.argv) > 2 else "./data", train=train)
    x = ds.data.float().reshape(-1, 784) / 255.0
    return (x - 0.1307) / 0.3081, ds.targets


xtr, ytr = load(True)
xte, yte = load(False)

model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
t0 = time.time()
for epoch in range(epochs):
    perm = torch.randperm(xtr.shape[0])
    for i in range(0, xtr.shape[0], 64):
        idx = perm[i:i + 64]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}")
print(f"trained in {time.time() - t0:.1f}s")
model.eval()

qmodel = torch.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
print(qmodel)


def accuracy(m):
    with torch.no_grad():
        return (m(xte).argmax(1) == yte).float().mean().item() * 100


def weight_bytes(m):
    """Bytes of the tensors in the state_dict (quantized weights are 1 byte per value)."""
    total = 0
    for v in m.state_dict().values():
        for t in (v if isinstance(v, tuple) else (v,)):
            if isinstance(t, torch.Tensor):
                total += t.numel() * t.element_size()
    return total


def saved_bytes(m):
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    return len(buf.getvalue())


acc_f, acc_q = accuracy(model), accuracy(qmodel)
size_f, size_q = weight_bytes(model), weight_bytes(qmodel)
print(f"float32 model: accuracy {acc_f:.2f}%  weights {size_f} bytes  (saved state_dict {saved_bytes(model)} bytes)")
print(f"int8 dynamic:  accuracy {acc_q:.2f}%  weights {size_q} bytes  (saved state_dict {saved_bytes(qmodel)} bytes)")
print(f"size ratio {size_f / size_q:.2f}x, accuracy change {acc_q - acc_f:+.2f} points")

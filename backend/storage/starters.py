'''Starter notebooks, as Python data.  ``catalog()`` lists them; ``get(name)`` gives
``{"name", "title", "description", "cells": [{"kind", "source"}, ...]}``.

Built from the seed articles (tensor basics; the ``w*x+b`` autograd example, whose gradients are
42, 14 and 28 -- the article mislabels them -- and the multi-path example with dz/da = 64).
Every code cell runs on the engine in order (tests/backend/test_storage.py runs them all);
epoch counts are small so a whole notebook runs in seconds.'''
import copy


def md(text):
    return {"kind": "markdown", "source": text.strip("\n")}


def code(text):
    return {"kind": "code", "source": text.strip("\n")}


TENSOR_BASICS = [
    md("""
# Tensor basics

A tensor is an n-dimensional array that can also remember how it was computed (for autograd).
`import torch` in a cell gives you Gradlab's engine, which speaks PyTorch: the code below runs
unchanged on PyTorch too. Run the cells top to bottom with **Shift+Enter**.
"""),
    code("""
import torch

x = torch.zeros(5, 3, dtype=torch.long)   # all zeros, integer dtype
print(x)
x = torch.rand(5, 3)                       # uniform random numbers in [0, 1)
print(x.shape, x.dtype)
x = torch.tensor([5.5, 3])                 # from Python data
print(x)
"""),
    md("""
## Arithmetic

Operators work element by element, and shapes *broadcast*: a `(5, 3)` tensor plus a `(3,)`
tensor adds the row to each of the 5 rows.
"""),
    code("""
a = torch.tensor(2)
b = torch.tensor(1)
print(a + b, b - a, a * b, a / b)

y = torch.rand(5, 3)
z = torch.ones(5, 3)
print(torch.add(y, z).shape)       # the same as y + z
y.add_(z)                          # a trailing underscore changes y in place
print((y >= 1).all())
print(z + torch.tensor([10.0, 20.0, 30.0]))   # broadcasting
"""),
    md("""
## Shapes, indexing and matrix products
"""),
    code("""
m = torch.arange(12.0).reshape(3, 4)
print(m)
print(m[1], m[:, 2], m[1:, ::2])
print(m.view(4, 3).shape, m.t().shape)
v = torch.ones(4)
print(m @ v)                     # matrix-vector product: row sums
print(m.sum(dim=0), m.mean())
"""),
    md("""
## NumPy and devices

`tensor.numpy()` and `torch.from_numpy(array)` convert both ways. Tensors live on a device:
`cpu`, or `cuda` when the server has a GPU.
"""),
    code("""
import numpy as np

t = torch.ones(5)
print(t.numpy())
print(torch.from_numpy(np.arange(3.0)))

device = "cuda" if torch.cuda.is_available() else "cpu"
w = torch.randn(3, 3, device=device)
print(w.device)
"""),
    md("""
## Tracking gradients

A tensor created with `requires_grad=True` records every operation on it, so `backward()` can
compute gradients; `torch.no_grad()` switches recording off (for evaluation).
"""),
    code("""
x = torch.ones(2, 2, requires_grad=True)
y = x + 2
z = y * y * 3
out = z.mean()
print(out.grad_fn)
out.backward()
print(x.grad)        # d(out)/dx = 6 * (x + 2) / 4 = 4.5 everywhere

with torch.no_grad():
    print((x ** 2).requires_grad)
"""),
]

AUTOGRAD_BY_HAND = [
    md("""
# Autograd by hand

We build a tiny graph, compute its gradients with the chain rule on paper, and check that
`backward()` agrees. Open the **graph view** after running a cell to see the nodes
(`MulBackward0`, `AddBackward0`, `PowBackward0`) and step through backward one node at a time.

$$y = w x + b, \\qquad z = y^2$$

with $x = 3$, $w = 2$, $b = 1$: $y = 7$ and $z = 49$.
"""),
    code("""
import torch

x = torch.tensor(3.0, requires_grad=True)
w = torch.tensor(2.0, requires_grad=True)
b = torch.tensor(1.0, requires_grad=True)

y = w * x + b     # forward
z = y ** 2
z.backward()      # backward: fills .grad of every leaf

print("z =", z.item())
print("dz/dw =", w.grad)
print("dz/db =", b.grad)
print("dz/dx =", x.grad)
"""),
    md("""
## The same by hand

The chain rule: $\\frac{\\partial z}{\\partial y} = 2y = 14$, and

* $\\frac{\\partial z}{\\partial w} = 2y \\cdot x = 14 \\cdot 3 = 42$
* $\\frac{\\partial z}{\\partial b} = 2y \\cdot 1 = 14$
* $\\frac{\\partial z}{\\partial x} = 2y \\cdot w = 14 \\cdot 2 = 28$

(Some tutorials print `tensor(6.)` for `w.grad` here: that is a mistake, run the cell and see.)
"""),
    code("""
dz_dy = 2 * (2.0 * 3.0 + 1.0)
by_hand = {"w": dz_dy * 3.0, "b": dz_dy * 1.0, "x": dz_dy * 2.0}
print(by_hand)
assert (w.grad.item(), b.grad.item(), x.grad.item()) == (42.0, 14.0, 28.0)
print("autograd agrees with the chain rule")
"""),
    md("""
## Two paths to the same input

When a value reaches the output along several paths, its gradient is the **sum** over the paths.

$$x = 2a + 3b, \\quad y = 5a^2 + 3b^3, \\quad z = 2x + 3y$$

Through $x$: $2 \\cdot 2 = 4$. Through $y$: $3 \\cdot 10a$. So $\\frac{\\partial z}{\\partial a} = 4 + 30a$,
which is $64$ at $a = 2$; and $\\frac{\\partial z}{\\partial b} = 2 \\cdot 3 + 3 \\cdot 9b^2 = 33$ at $b = 1$.
"""),
    code("""
a = torch.tensor(2.0, requires_grad=True)
b = torch.tensor(1.0, requires_grad=True)
x = 2 * a + 3 * b
y = 5 * a * a + 3 * b * b * b
z = 2 * x + 3 * y
z.backward()
print("dz/da at a=2:", a.grad)    # 4 + 30 * 2 = 64
print("dz/db at b=1:", b.grad)    # 6 + 27 * 1 = 33
assert a.grad.item() == 64.0 and b.grad.item() == 33.0
"""),
    md("""
## A chain: $y = x^2$, $z = 2y + 3$

$\\frac{dz}{dx} = \\frac{dz}{dy} \\cdot \\frac{dy}{dx} = 2 \\cdot 2x = 4x$, which is $14$ at $x = 3.5$
(the value of $z$ itself is $27.5$).
"""),
    code("""
x = torch.tensor(3.5, requires_grad=True)
y = x * x
z = 2 * y + 3
z.backward()
print("z =", z.item(), " dz/dx =", x.grad.item())
"""),
    md("""
## Gradients accumulate

`backward()` *adds* into `.grad`. Call it twice and the gradient doubles, which is why training
loops call `optimizer.zero_grad()` every step. Here $y = (x-1)(x-2)(x-3)$, whose derivative
$3x^2 - 12x + 11$ is $5.75$ at $x = 3.5$.
"""),
    code("""
x = torch.tensor(3.5, requires_grad=True)
for i in range(2):
    y = (x - 1) * (x - 2) * (x - 3)
    y.backward()
    print(f"after backward #{i + 1}: x.grad = {x.grad.item()}")
x.grad.zero_()
print("after zero_():", x.grad.item())
"""),
]

_DIGITS_NOTE = md("""
**About the data.** `torchvision.datasets.Digits` is Gradlab's own dataset: 10,000 real
handwritten 28x28 digits (the MNIST kind) that ship with the server, so nothing is downloaded.
It exists only in Gradlab; in PyTorch you would write `datasets.MNIST(root, download=True)`
instead, and the rest of the code is the same. We train on a small subset so a run takes seconds.
""")

MLP_DIGITS = [
    md("""
# An MLP on digits

A multi-layer perceptron: each 28x28 image is flattened to 784 numbers and passed through
fully connected layers with ReLU in between, ending in 10 scores, one per digit.
"""),
    _DIGITS_NOTE,
    code("""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

torch.manual_seed(0)
tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
train_set = Subset(datasets.Digits(train=True, transform=tf), range(3000))
test_set = Subset(datasets.Digits(train=False, transform=tf), range(1000))
train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
test_loader = DataLoader(test_set, batch_size=500)
images, labels = next(iter(train_loader))
print(images.shape, labels[:10])
"""),
    code("""
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)          # raw scores; cross_entropy applies log-softmax

model = Net()
print(model)
print(sum(p.numel() for p in model.parameters()), "parameters")
"""),
    md("""
## Train

One pass over the data (an *epoch*) is a few dozen steps of: forward, loss, `zero_grad`,
`backward`, `step`. Raise `epochs` to train longer.
"""),
    code("""
from torch.utils.tensorboard import SummaryWriter

writer = SummaryWriter()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
epochs = 2
step = 0
for epoch in range(epochs):
    total = 0.0
    for x, y in train_loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        writer.add_scalar("loss/train", loss.item(), step)
        total += loss.item()
        step += 1
    print(f"epoch {epoch + 1}: mean loss {total / len(train_loader):.3f}")
"""),
    code("""
def accuracy(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += y.numel()
    model.train()
    return correct / total

print(f"held-out accuracy: {100 * accuracy(model, test_loader):.1f}%")
"""),
    md("""
## Look inside one step

A single forward and backward on four images: open the graph view to see `AddmmBackward0`
(a linear layer), `ReluBackward0` and the loss, grouped by module (`fc1`, `fc2`, `fc3`).
"""),
    code("""
x, y = images[:4], labels[:4]
loss = F.cross_entropy(model(x), y)
model.zero_grad()
loss.backward()
print("loss", loss.item(), " |grad fc1.weight| =", model.fc1.weight.grad.norm().item())
"""),
]

CNN_DIGITS = [
    md("""
# A CNN on digits

A convolutional network looks at small patches of the image with shared weights, so it needs far
fewer parameters than an MLP to recognise strokes wherever they are.
"""),
    _DIGITS_NOTE,
    code("""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

torch.manual_seed(0)
tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
train_set = Subset(datasets.Digits(train=True, transform=tf), range(2000))
test_set = Subset(datasets.Digits(train=False, transform=tf), range(500))
train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
test_loader = DataLoader(test_set, batch_size=250)
"""),
    code("""
class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)    # 8 x 28 x 28
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)   # 16 x 14 x 14
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)    # 8 x 14 x 14
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)    # 16 x 7 x 7
        return self.fc(torch.flatten(x, 1))

model = SmallCNN()
print(model)
print(sum(p.numel() for p in model.parameters()), "parameters")
"""),
    code("""
from torch.utils.tensorboard import SummaryWriter

writer = SummaryWriter()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
epochs = 2
step = 0
for epoch in range(epochs):
    for x, y in train_loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        writer.add_scalar("loss/train", loss.item(), step)
        step += 1
    print(f"epoch {epoch + 1}: last loss {loss.item():.3f}")
"""),
    code("""
model.eval()
correct = total = 0
with torch.no_grad():
    for x, y in test_loader:
        correct += (model(x).argmax(1) == y).sum().item()
        total += y.numel()
print(f"held-out accuracy: {100 * correct / total:.1f}%")
"""),
    md("""
## What the first layer learned

Each of the 8 first-layer filters is a 3x3 pattern; print them to see edge and stroke detectors.
"""),
    code("""
print(model.conv1.weight.detach().squeeze(1).round(decimals=2))
"""),
]

OPTIMIZERS = [
    md("""
# Optimizers compared

The same small network, from the same starting weights, trained on the same data by three
optimizers: plain **SGD**, SGD with **momentum**, and **Adam**. `SummaryWriter.add_scalars` puts
the three loss curves on one chart in the metrics panel.
"""),
    code("""
import copy
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
x = torch.linspace(-3, 3, 256).unsqueeze(1)
y = torch.sin(x) + 0.1 * torch.randn_like(x)          # a noisy sine to fit

base = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
models = {name: copy.deepcopy(base) for name in ("SGD", "momentum", "Adam")}
optimizers = {
    "SGD": torch.optim.SGD(models["SGD"].parameters(), lr=0.05),
    "momentum": torch.optim.SGD(models["momentum"].parameters(), lr=0.05, momentum=0.9),
    "Adam": torch.optim.Adam(models["Adam"].parameters(), lr=0.01),
}
"""),
    code("""
from torch.utils.tensorboard import SummaryWriter

writer = SummaryWriter()
steps = 200
for step in range(steps):
    losses = {}
    for name, model in models.items():
        loss = F.mse_loss(model(x), y)
        optimizers[name].zero_grad()
        loss.backward()
        optimizers[name].step()
        losses[name] = loss.item()
    writer.add_scalars("loss", losses, step)
    if step % 50 == 0 or step == steps - 1:
        print(f"step {step:3d}  " + "  ".join(f"{n} {v:.4f}" for n, v in losses.items()))
writer.close()
"""),
    md("""
Momentum keeps a running velocity, so it speeds along directions where the gradient is
consistent; Adam also rescales each parameter's step by its recent gradient size. Try other
learning rates and run again.
"""),
]

DECISION_BOUNDARY = [
    md("""
# Decision boundary in 2-D

Two interleaving half moons cannot be split by a straight line. A small MLP learns a curved
boundary; we colour the plane by its prediction. (`torchvision.datasets.make_moons` is a Gradlab
helper, like scikit-learn's function of the same name.)
"""),
    code("""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.datasets import make_moons

torch.manual_seed(0)
X, y = make_moons(n_samples=300, noise=0.15, seed=0)
print(X.shape, y.shape, "points per class:", [(y == k).sum().item() for k in (0, 1)])

model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
"""),
    code("""
for step in range(300):
    loss = F.cross_entropy(model(X), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 100 == 0:
        print(f"step {step}: loss {loss.item():.3f}")
acc = (model(X).argmax(1) == y).float().mean().item()
print(f"training accuracy {100 * acc:.1f}%")
"""),
    code("""
# predictions on a grid covering the data
n = 60
xs = torch.linspace(-1.5, 2.5, n)
ys = torch.linspace(-1.0, 1.5, n)
gx = xs.unsqueeze(0).expand(n, n)          # x varies along columns
gy = ys.unsqueeze(1).expand(n, n)          # y varies along rows
grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
with torch.no_grad():
    prob = F.softmax(model(grid), dim=1)[:, 1].reshape(n, n)

try:
    import plotly.graph_objects as go
    fig = go.Figure([
        go.Heatmap(x=xs.tolist(), y=ys.tolist(), z=prob.tolist(), colorscale="RdBu", opacity=0.6),
        go.Scatter(x=X[:, 0].tolist(), y=X[:, 1].tolist(), mode="markers",
                   marker=dict(color=y.tolist(), colorscale="RdBu", line=dict(width=1))),
    ])
    fig.show()
except ImportError:
    # no plotly here: draw the boundary as text, '#' where the model says class 1
    for row in range(n - 1, -1, -3):
        print("".join("#" if prob[row, col] > 0.5 else "." for col in range(0, n, 1)))
"""),
]

_STARTERS = [
    ("tensor-basics", "Tensor basics", "Create tensors, do arithmetic, reshape, index, and track gradients.",
     TENSOR_BASICS),
    ("autograd-by-hand", "Autograd by hand",
     "Check backward() against the chain rule: w*x+b (42, 14, 28) and a two-path graph (64).", AUTOGRAD_BY_HAND),
    ("mlp-digits", "An MLP on digits", "A fully connected network on real handwritten digits.", MLP_DIGITS),
    ("cnn-digits", "A CNN on digits", "A small convolutional network on the same digits.", CNN_DIGITS),
    ("optimizers-compared", "Optimizers compared", "SGD, momentum and Adam on one problem, one chart.",
     OPTIMIZERS),
    ("decision-boundary", "Decision boundary in 2-D", "An MLP separates two moons; see the boundary.",
     DECISION_BOUNDARY),
]

STARTERS = {name: {"name": name, "title": title, "description": desc, "cells": cells}
            for name, title, desc, cells in _STARTERS}


def catalog():
    """``[{"name", "title", "description", "cells": count}, ...]`` in display order."""
    return [{"name": s["name"], "title": s["title"], "description": s["description"], "cells": len(s["cells"])}
            for s in STARTERS.values()]


def get(name):
    """A deep copy of the starter ``name`` (so callers can change it), or None."""
    s = STARTERS.get(name)
    return copy.deepcopy(s) if s is not None else None

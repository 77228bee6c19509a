"""Fit a line by gradient descent, then look at the autograd graph of one step.

Runs unchanged on PyTorch (`python examples/quickstart.py`) and on Gradlab's engine
(`python -m engine.run examples/quickstart.py`, which is what `make run` does).
"""
import torch

torch.manual_seed(0)
x = torch.linspace(-1, 1, 64).unsqueeze(1)
y = 3 * x + 0.5 + 0.1 * torch.randn(64, 1)

w = torch.zeros(1, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.5
for step in range(60):
    pred = x @ w + b
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
    w.grad.zero_()
    b.grad.zero_()
    if step % 10 == 0 or step == 59:
        print(f"step {step:2d}  loss {loss.item():.5f}")

print("w =", w)
print("b =", b)

# The seeds' multi-path example: two paths from a to z add up to dz/da = 4 + 30a = 64 at a = 2.
a = torch.tensor(2.0, requires_grad=True)
c = torch.tensor(1.0, requires_grad=True)
z = 2 * (2 * a + 3 * c) + 3 * (5 * a * a + 3 * c * c * c)
z.backward()
print("dz/da =", a.grad)

observe = getattr(torch.autograd, "observe", None)
if observe is not None:  # Gradlab only: the recording the playground draws
    with observe.Observer() as obs:
        obs.name(w, "w")
        obs.name(b, "b")
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
    print(f"\nautograd graph of one step: {len(obs.nodes)} nodes")
    for r in obs.nodes:
        label = r.name or r.op
        print(f"  #{r.id:<2d} {label:22s} <- {list(r.inputs)}  out {list(r.out_shapes[0])}  line {r.line}")
    print("backward steps:", " -> ".join(s.op for s in obs.steps))

"""LeNet-5 on real handwritten digits, offline.

Uses torchvision's MNIST layout: export the offline digits first with
`python -m engine.vision.datasets.digits ./data` (8,000 training and 2,000 held-out digits).
Runs unchanged on PyTorch and on Gradlab (`python -m engine.run examples/lenet_digits.py`).

    python examples/lenet_digits.py [DATA_ROOT] [EPOCHS]
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

root = sys.argv[1] if len(sys.argv) > 1 else "./data"
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 8
torch.manual_seed(0)

tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
train_set = datasets.MNIST(root, train=True, transform=tf)
test_set = datasets.MNIST(root, train=False, transform=tf)
train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
test_loader = DataLoader(test_set, batch_size=500)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def accuracy(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += y.numel()
    model.train()
    return 100.0 * correct / total


model = LeNet5()
optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=epochs, steps_per_epoch=len(train_loader))
start = time.time()
for epoch in range(epochs):
    running = 0.0
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        running += loss.item()
    print(f"epoch {epoch + 1:2d}  loss {running / len(train_loader):.4f}  held-out accuracy "
          f"{accuracy(model, test_loader):.2f}%")
print(f"final held-out accuracy {accuracy(model, test_loader):.2f}%  ({time.time() - start:.1f} s)")

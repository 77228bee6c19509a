"""Peak resident memory of MLP 784-1024-1024-10 training (batch 256, 20 SGD steps) with one
library only: ``python memory_probe.py engine|torch``.  Prints MiB after import and at peak."""
import importlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def high_water_mib():
    """VmHWM of this process (ru_maxrss would include the parent's size from before exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return -1


lib = importlib.import_module(sys.argv[1])
after_import = high_water_mib()
nn = lib.nn
model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
rng = np.random.default_rng(0)
x = lib.tensor(rng.standard_normal((256, 784)).astype(np.float32))
y = lib.tensor(rng.integers(0, 10, 256))
opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
for _ in range(20):
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
peak = high_water_mib()
print(f"{peak} MiB peak ({after_import} MiB after import, +{peak - after_import} MiB for model, data and training)")

# Seed article 000, Q&A 6.4: dynamic quantization of a small model.
# First as PyTorch documents it, then the article's own call with its {0: 1, 1: 1, 2: 1} spec.
import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))

quantized = torch.quantization.quantize_dynamic(net, {nn.Linear}, dtype=torch.qint8)
print(quantized)
x = torch.rand(4, 784)
print((quantized(x) - net(x)).abs().max().item() < 0.05)
print(type(net[0]).__name__)  # the float model is left as it was

quantized_model = torch.quantization.quantize_dynamic(net, {0: 1, 1: 1, 2: 1})
print(quantized_model)

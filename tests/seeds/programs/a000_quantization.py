# Seed article 000, Q&A 6.4: dynamic quantization of a small model.
# First as PyTorch documents it, then the article's own call with its {0: 1, 1: 1, 2: 1} spec.
import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))

quantized = torch.quantization.quantize_dynamic(net, {nn.Linear}, dtype=torch.qint8)
print(quantized)
x = torch.rand(4, 784)
# Quantization error, not rounding: int8 weights (step max|w|/127 = 2.8e-4) and uint8 activations (step
# ~1/255) put the outputs ~3e-3 off (measured 2.6e-3..4.5e-3 over 5 seeds, either side); float32 rounding
# (~1e-7) can only move a value across one quantization step (<= 4e-4 at the output each). 0.05 is >= 10x.
print((quantized(x) - net(x)).abs().max().item() < 0.05)
print(type(net[0]).__name__)  # the float model is left as it was

quantized_model = torch.quantization.quantize_dynamic(net, {0: 1, 1: 1, 2: 1})
print(quantized_model)

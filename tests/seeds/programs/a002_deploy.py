# Seed article 002, section 13: TorchScript by tracing, and ONNX export, of the article's 784-input net.
import os

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        return self.fc2(x)


torch.manual_seed(0)
net = Net()
net.eval()

# 使用 TorchScript 导出模型
traced_model = torch.jit.trace(net, torch.rand(1, 784))
traced_model.save("model_scripted.pt")

x = torch.rand(8, 784)
loaded = torch.jit.load("model_scripted.pt")
# The traced and the loaded model replay the eager calls on the same input in this process: the same kernel
# for the same shapes, alignment (64 bytes in PyTorch; OpenBLAS packs) and thread count, so equal bits on
# either side on any machine, and both print True (allclose's atol 1e-8 could not absorb a reordering).
print(torch.equal(traced_model(x[:1]), net(x[:1])), torch.allclose(loaded(x[:1]), net(x[:1])))

torch.onnx.export(net, torch.randn(1, 784), "model.onnx")

# Another runtime reads the file and computes what the model computes.
import onnx
import onnxruntime

onnx.checker.check_model(onnx.load("model.onnx"))
session = onnxruntime.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
feed = {session.get_inputs()[0].name: x[:1].numpy()}
(y,) = session.run(None, feed)
# float32 (u = 2**-24), two kernels: fc1 sums 784 products x*w of rms 0.58 * 0.021 = 0.012, two orders
# differ by u*0.012*784/sqrt(3) = 3.2e-7 rms; through fc2 (64 active inputs, w rms 0.051) plus its own
# 128-term sum ~1.5e-7 rms at the output; MLAS needs no libm here. 1e-5 is ~65 rms: True anywhere.
print(os.path.exists("model.onnx"), y.shape, bool(abs(y - net(x[:1]).detach().numpy()).max() < 1e-5))

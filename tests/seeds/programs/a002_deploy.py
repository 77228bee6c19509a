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
print(torch.equal(traced_model(x[:1]), net(x[:1])), torch.allclose(loaded(x[:1]), net(x[:1])))

torch.onnx.export(net, torch.randn(1, 784), "model.onnx")

# Another runtime reads the file and computes what the model computes.
import onnx
import onnxruntime

onnx.checker.check_model(onnx.load("model.onnx"))
session = onnxruntime.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
feed = {session.get_inputs()[0].name: x[:1].numpy()}
(y,) = session.run(None, feed)
print(os.path.exists("model.onnx"), y.shape, bool(abs(y - net(x[:1]).detach().numpy()).max() < 1e-5))

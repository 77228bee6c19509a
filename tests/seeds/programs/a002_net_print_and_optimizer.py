# Seed article 002, sections 5.1-5.3: define and print an MLP, apply ReLU, build loss and optimizer.
import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        # 定义三层全连接层
        self.fc1 = nn.Linear(784, 128)  # 输入层(28x28像素展开为784)
        self.fc2 = nn.Linear(128, 64)   # 隐藏层
        self.fc3 = nn.Linear(64, 10)    # 输出层

    def forward(self, x):
        # 定义前向传播
        x = F.relu(self.fc1(x))  # 使用 ReLU 激活函数
        x = F.relu(self.fc2(x))
        x = self.fc3(x)  # 输出层无激活函数
        return x

net = Net()
print(net)

x = torch.randn(1, 784)
output = F.relu(net.fc1(x))  # ReLU 激活函数

criterion = nn.CrossEntropyLoss()  # 使用交叉熵损失

# 定义优化器:使用 SGD 优化器
optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
print(output.shape, bool((output >= 0).all()))
print(optimizer)

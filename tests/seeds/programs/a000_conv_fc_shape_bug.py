# Seed article 000, section 4.1: a model whose forward has a shape bug (view(-1, 128) fed to Linear(784, 128)).
import torch
import torch.nn as nn
import torch.optim as optim

# 定义模型
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc1 = nn.Linear(784, 128)
        self.conv1 = nn.Conv2d(1, 32, 3, 1)

    def forward(self, x):
        x = self.conv1(x)
        x = nn.functional.relu(x)
        x = nn.functional.max_pool2d(x, 2)
        x = self.fc1(x.view(-1, 128))
        return nn.functional.relu(x)

# 创建模型实例
net = Net()

# 定义损失函数
criterion = nn.MSELoss()

# 定义优化器
optimizer = optim.SGD(net.parameters(), lr=0.01)

# 训练模型
for epoch in range(100):
    optimizer.zero_grad()
    output = net(torch.randn(64, 1, 32, 32))
    loss = criterion(output, torch.randn(64, 1))
    loss.backward()
    optimizer.step()

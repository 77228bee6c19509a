# Seed article 002, sections 5.1, 5.3, 7.1, 6.1, 8.1, 9 and 10 assembled in the order a reader runs them.
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import datasets, transforms

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
criterion = nn.CrossEntropyLoss()  # 使用交叉熵损失
optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

# 定义数据的预处理
transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])

# 加载 MNIST 数据集
trainset = datasets.MNIST(root='./data', train=True, download=True, transform=transform)
trainloader = torch.utils.data.DataLoader(trainset, batch_size=32, shuffle=True)

# The article's loop feeds 1x28x28 images straight into Linear(784, 128): PyTorch raises a shape error.
for epoch in range(10):  # 训练10个周期
    running_loss = 0.0
    for inputs, labels in trainloader:
        optimizer.zero_grad()  # 清除前一次的梯度
        outputs = net(inputs)  # 前向传播
        loss = criterion(outputs, labels)  # 计算损失
        loss.backward()  # 反向传播
        optimizer.step()  # 更新权重

        running_loss += loss.item()
    print(f'Epoch {epoch+1}, Loss: {running_loss/len(trainloader)}')

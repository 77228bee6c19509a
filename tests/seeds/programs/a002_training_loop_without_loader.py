# Seed article 002, section 6.1, in the article's order: the loop uses `trainloader`, defined only in section 7.
import torch
import torch.nn as nn
net = nn.Linear(784, 10)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

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

# Seed article 001, sections 4.1 and 4.2: a three-layer regression net trained with SGD.
import torch
import torch.nn as nn
import torch.optim as optim

class SimpleNet(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(SimpleNet, self).__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.layer2 = nn.Linear(hidden_size, hidden_size)
        self.layer3 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        x = torch.relu(self.layer1(x))
        x = torch.relu(self.layer2(x))
        x = self.layer3(x)
        return x

# 初始化模型,输入尺寸为10,隐藏层尺寸为5,输出尺寸为1
model = SimpleNet(10, 5, 1)

# 初始化损失函数和优化器
criterion = nn.MSELoss()
optimizer = optim.SGD(model.parameters(), lr=0.01)

# 准备数据集
inputs = torch.randn(100, 10)
targets = torch.randn(100, 1)

# 训练模型
num_epochs = 100
for epoch in range(num_epochs):
    # 梯度清零
    optimizer.zero_grad()
    
    # 前向传播
    outputs = model(inputs)
    
    # 计算损失
    loss = criterion(outputs, targets)
    
    # 后向传播
    loss.backward()
    
    # 参数更新
    optimizer.step()
    
    # 打印损失
    if (epoch+1) % 10 == 0:
        print(f'Epoch [{epoch+1}/{num_epochs}], Loss: {loss.item():.4f}')

# 测试模型
with torch.no_grad():
    predictions = model(inputs)
    loss = criterion(predictions, targets)
    print(f'Test Loss: {loss.item():.4f}')

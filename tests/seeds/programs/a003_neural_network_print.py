# Seed article 003, section 3.4 and 3.5: a Flatten + Sequential model, its printout and parameters, optimizers.
import torch

import torch.nn as nn

import torch.nn.functional as F

class NeuralNetwork(nn.Module):

    def __init__(self):

        super().__init__()

        self.flatten = nn.Flatten()  # 2D图像展平为1D向量

        self.linear_relu_stack = nn.Sequential(

            nn.Linear(28*28, 512),  # 输入层:784个特征

            nn.ReLU(),

            nn.Linear(512, 512),

            nn.ReLU(),

            nn.Linear(512, 10)      # 输出层:10个类别

        )

   

    def forward(self, x):

        x = self.flatten(x)

        logits = self.linear_relu_stack(x)

        return logits

# 创建模型实例

model = NeuralNetwork()

print(model)

# 打印模型参数

for name, param in model.named_parameters():

    print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2, :2]}")

# 定义优化器

learning_rate = 0.01

momentum = 0.9

optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)

# 或使用Adam优化器

optimizer = torch.optim.Adam(model.parameters(), lr=0.001)

# 训练循环中的使用

for epoch in range(num_epochs):

    optimizer.zero_grad()  # 清零梯度

    outputs = model(inputs)

    loss = criterion(outputs, labels)  # 计算损失

    loss.backward()  # 反向传播

    optimizer.step()  # 更新参数

# Seed article 002, sections 8.1, 9 and 10 on a model and loaders the reader has built by then.
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
testloader = DataLoader(TensorDataset(torch.rand(100, 1, 28, 28), torch.randint(0, 10, (100,))), batch_size=32)

correct = 0
total = 0
with torch.no_grad():  # 关闭梯度计算
    for inputs, labels in testloader:
        outputs = net(inputs)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()

print(f'Accuracy: {100 * correct / total} %')

# 保存模型参数
torch.save(net.state_dict(), 'model.pth')

# 加载模型参数
net.load_state_dict(torch.load('model.pth'))

# 检查 GPU 是否可用
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

# 将模型和数据移到 GPU 上
net.to(device)
inputs, labels = inputs.to(device), labels.to(device)
print(total, device, inputs.shape, labels.dtype)

# Seed article 000, Q&A 6.3: pruning a convolution of the section 4.1 model.
# The article's call passes a module and an unknown keyword; PyTorch refuses it, and so must we.
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune


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


torch.manual_seed(0)
net = Net()

# What the article means, written as PyTorch accepts it: half of conv1's weights, by magnitude.
prune.l1_unstructured(net.conv1, name="weight", amount=0.5)
print(sorted(k for k, _ in net.conv1.named_parameters()), sorted(k for k, _ in net.conv1.named_buffers()))
print(int((net.conv1.weight == 0).sum()), net.conv1.weight.numel())
prune.remove(net.conv1, "weight")
print(sorted(net.conv1.state_dict().keys()), prune.is_pruned(net))

prune.global_unstructured(net.conv1, prune_ratio=0.5)

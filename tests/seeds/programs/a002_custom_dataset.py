# Seed article 002, section 7.2: a custom Dataset; `data` and `labels` are never defined in the article.
import torch
from torch.utils.data import Dataset

class CustomDataset(Dataset):
    def __init__(self, data, labels):
        self.data = data
        self.labels = labels

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        return self.data[idx], self.labels[idx]

dataset = CustomDataset(data, labels)
loader = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=True)

"""Compose, ToTensor and Normalize on uint8 numpy images."""
import torch


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class ToTensor:
    def __call__(self, img):
        t = torch.from_numpy(img.copy())
        if t.ndim == 2:
            t = t.unsqueeze(0)
        else:
            t = t.permute(2, 0, 1)
        return t.float().div(255)


class Normalize:
    def __init__(self, mean, std):
        self.mean, self.std = mean, std

    def __call__(self, t):
        mean = torch.tensor(self.mean).view(-1, 1, 1)
        std = torch.tensor(self.std).view(-1, 1, 1)
        return (t - mean) / std

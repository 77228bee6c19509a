"""A minimal stand-in for torchvision, used only when the seed programs run on real PyTorch.

torchvision cannot be installed beside the PyTorch build the tests use, so this reads the
same IDX files the engine reads and applies the same transforms, with real torch tensors.
"""
from . import datasets, transforms  # noqa: F401

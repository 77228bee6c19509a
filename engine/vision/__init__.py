"""``torchvision`` on the engine: ``datasets`` (MNIST, FashionMNIST, the offline ``Digits``, toy 2-D
sets) and ``transforms``."""
from . import datasets, transforms  # noqa: F401

__version__ = "0.28.0"

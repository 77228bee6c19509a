"""``torchvision.datasets``: MNIST and FashionMNIST (real IDX files), the offline ``Digits``, and
synthetic 2-D sets."""
from .digits import Digits  # noqa: F401
from .mnist import MNIST, FashionMNIST  # noqa: F401
from .toy import Toy2D, make_blobs, make_circles, make_moons, make_spirals, make_xor  # noqa: F401
from .vision import StandardTransform, VisionDataset  # noqa: F401

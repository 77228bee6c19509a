"""``torch.ao``: the home PyTorch gives quantization today."""
from . import quantization  # noqa: F401

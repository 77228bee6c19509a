"""``torch.ao.quantization`` is ``torch.quantization``."""
from ...quantization import *  # noqa: F401,F403

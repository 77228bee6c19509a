"""Every differentiable op.  Each module lists ``METHODS`` (attached to ``Tensor``) and
``FUNCTIONS`` (exported as ``engine.<name>``); this package wires them up once."""
import importlib

from ..tensor import Tensor

MODULES = ("arithmetic", "pointwise", "compare", "reduce", "softmax", "sorting", "shape", "indexing", "linalg",
           "creation", "random", "conversion")

FUNCTIONS = {}
for _name in MODULES:
    _mod = importlib.import_module(f"{__name__}.{_name}")
    for _k, _v in getattr(_mod, "METHODS", {}).items():
        setattr(Tensor, _k, _v)
    FUNCTIONS.update(getattr(_mod, "FUNCTIONS", {}))
del _name, _mod, _k, _v

"""Every differentiable op.  Each module lists ``METHODS`` (attached to ``Tensor``) and
``FUNCTIONS`` (exported as ``engine.<name>``); this package wires them up once."""
import importlib

from ..tensor import Tensor

MODULES = ("arithmetic", "pointwise", "reduce", "shape", "creation", "conversion")
for _m in ("indexing", "linalg", "random", "sorting", "softmax", "compare"):
    try:
        importlib.import_module(f"{__name__}.{_m}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{_m}":
            raise
    else:
        MODULES += (_m,)

FUNCTIONS = {}
for _name in MODULES:
    _mod = importlib.import_module(f"{__name__}.{_name}")
    for _k, _v in getattr(_mod, "METHODS", {}).items():
        setattr(Tensor, _k, _v)
    FUNCTIONS.update(getattr(_mod, "FUNCTIONS", {}))
del _m, _name, _mod, _k, _v

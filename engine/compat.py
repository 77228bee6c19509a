"""``import torch`` / ``import torchvision`` resolved to the engine inside one process.

``install()`` puts an import hook first on ``sys.meta_path``: ``torch`` and ``torch.<sub>``
become ``engine`` and ``engine.<sub>``, ``torchvision`` and ``torchvision.<sub>`` become
``engine.vision`` and ``engine.vision.<sub>``.  The engine modules are the modules: no copies,
so ``torch.Tensor is engine.Tensor``.
"""
import importlib
import importlib.abc
import importlib.util
import sys

_PREFIXES = (("torchvision", "engine.vision"), ("torch", "engine"))


def _target(fullname):
    for alias, real in _PREFIXES:
        if fullname == alias:
            return real
        if fullname.startswith(alias + "."):
            return real + fullname[len(alias):]
    return None


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        real = _target(fullname)
        if real is None:
            return None
        try:
            real_spec = importlib.util.find_spec(real)
        except ModuleNotFoundError:
            real_spec = None
        if real_spec is None:
            return None  # ModuleNotFoundError names the torch module the user asked for
        return importlib.util.spec_from_loader(fullname, self, origin=real)

    def create_module(self, spec):
        module = importlib.import_module(spec.origin)
        spec.loader_state = module.__spec__  # the import system overwrites __spec__; put it back after
        return module

    def exec_module(self, module):
        own = module.__spec__.loader_state
        if own is not None:
            module.__spec__ = own


_finder = _AliasFinder()


def install():
    """Make ``import torch`` (and torchvision) resolve to the engine in this process."""
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    for name in [m for m in sys.modules if m == "torch" or m.startswith(("torch.", "torchvision"))]:
        if not getattr(sys.modules[name], "__name__", "").startswith("engine"):
            del sys.modules[name]


def uninstall():
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [m for m in sys.modules if m == "torch" or m.startswith(("torch.", "torchvision"))]:
        del sys.modules[name]

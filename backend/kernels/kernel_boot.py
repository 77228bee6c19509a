"""Starts the kernel: ``python kernel_boot.py ARGS`` runs ``kernel_main.py`` as ``__main__`` just
as ``python kernel_main.py ARGS`` would (same argv, same sys.path, ``__builtins__`` the module), but
from its cached bytecode: a script named on the command line is compiled again at every start,
~15 ms for kernel_main.  The manager writes that cache (``manager._precompile_kernel``); without
it kernel_main is compiled here instead."""
import builtins
import importlib.util
import os
import sys

_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernel_main.py")
_spec = importlib.util.spec_from_file_location("__main__", _path)
_module = importlib.util.module_from_spec(_spec)
_module.__builtins__ = builtins
_module.__spec__ = None  # as for a script
sys.modules["__main__"] = _module
sys.argv[0] = _path
_spec.loader.exec_module(_module)

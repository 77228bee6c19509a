"""Run an unmodified PyTorch script on the engine: ``python -m engine.run script.py [args...]``."""
import os
import runpy
import sys

from . import compat

USAGE = "usage: python -m engine.run script.py [args...]"


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        return 2 if not argv else 0
    script = argv[0]
    if not os.path.isfile(script):
        print(f"engine.run: can't open file '{script}': No such file or directory", file=sys.stderr)
        return 2
    compat.install()
    sys.argv = argv
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())

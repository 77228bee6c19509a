"""Starter notebooks, shipped as ``.ipynb`` files in ``backend/storage/starters/``.

``catalog()`` lists them; ``get(name)`` gives ``{"name", "title", "description", "cells":
[{"kind", "source"}, ...]}``.  Built from the seed articles (tensor basics; the ``w*x+b`` autograd
example, whose gradients are 42, 14 and 28 -- the article mislabels them -- and the multi-path
example with dz/da = 64).  Every code cell runs on the engine in order (tests/backend/
test_storage.py runs them all); epoch counts are small so a whole notebook runs in seconds.
"""
import copy
import json
from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent / "starters"


def _load():
    found = []
    for path in DIRECTORY.glob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        meta = nb["metadata"]["gradlab"]
        cells = [{"kind": "code" if c["cell_type"] == "code" else "markdown",
                  "source": "".join(c["source"]) if isinstance(c["source"], list) else c["source"]}
                 for c in nb["cells"]]
        found.append((meta["order"], {"name": meta["name"], "title": meta["title"],
                                      "description": meta["description"], "cells": cells}))
    return {s["name"]: s for _, s in sorted(found, key=lambda item: item[0])}


STARTERS = _load()


def catalog():
    """``[{"name", "title", "description", "cells": count}, ...]`` in display order."""
    return [{"name": s["name"], "title": s["title"], "description": s["description"], "cells": len(s["cells"])}
            for s in STARTERS.values()]


def get(name):
    """A deep copy of the starter ``name`` (so callers can change it), or None."""
    s = STARTERS.get(name)
    return copy.deepcopy(s) if s is not None else None

"""Conversion between stored notebooks and Jupyter's ``.ipynb`` (nbformat v4).

Stored cell outputs are nbformat-shaped dicts, normalized by ``normalize_output``:

* ``{"output_type": "stream", "name": "stdout"|"stderr", "text": str}``
* ``{"output_type": "execute_result", "data": {mime: value}, "metadata": {}, "execution_count": int|None}``
* ``{"output_type": "display_data", "data": {mime: value}, "metadata": {}}``
* ``{"output_type": "error", "ename": str, "evalue": str, "traceback": [str]}``

Any other dict (a playground-only output such as a graph or metrics summary) is stored as given
and exported as ``display_data`` carrying it under ``GRADLAB_MIME``, so export + import gives it
back unchanged and Jupyter shows its ``text/plain`` line.
"""
import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

GRADLAB_MIME = "application/vnd.gradlab.output+json"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (Gradlab)", "language": "python"}
NB_MINOR = 5


class IpynbError(ValueError):
    """The file is not a notebook we can read; the message says why."""


def _text(v):
    if isinstance(v, list):
        return "".join(str(x) for x in v)
    return "" if v is None else str(v)


def _bundle(data):
    if not isinstance(data, dict):
        return {}
    out = {}
    for mime, v in data.items():
        if mime.endswith("json") and not isinstance(v, (str, list)):
            out[str(mime)] = v
        else:
            out[str(mime)] = _text(v)
    return out


def normalize_output(o):
    if not isinstance(o, dict):
        raise ValueError(f"an output must be an object, not {type(o).__name__}")
    t = o.get("output_type")
    if t == "stream":
        name = o.get("name", "stdout")
        return {"output_type": "stream", "name": name if name in ("stdout", "stderr") else "stdout",
                "text": _text(o.get("text"))}
    if t == "execute_result":
        ec = o.get("execution_count")
        return {"output_type": "execute_result", "data": _bundle(o.get("data")),
                "metadata": dict(o.get("metadata") or {}), "execution_count": int(ec) if ec is not None else None}
    if t == "display_data":
        return {"output_type": "display_data", "data": _bundle(o.get("data")),
                "metadata": dict(o.get("metadata") or {})}
    if t == "error":
        tb = o.get("traceback") or []
        if isinstance(tb, str):
            tb = tb.splitlines()
        return {"output_type": "error", "ename": str(o.get("ename", "")), "evalue": str(o.get("evalue", "")),
                "traceback": [str(x) for x in tb]}
    json.dumps(o)  # anything else must at least be JSON
    return dict(o)


def normalize_outputs(outputs):
    if not isinstance(outputs, list):
        raise ValueError("outputs must be a list")
    return [normalize_output(o) for o in outputs]


def merge_streams(outputs):
    merged = []
    for o in outputs:
        if (merged and o.get("output_type") == "stream" and merged[-1].get("output_type") == "stream"
                and merged[-1].get("name") == o.get("name")):
            merged[-1] = dict(merged[-1], text=merged[-1]["text"] + o["text"])
        else:
            merged.append(o)
    return merged


def _to_nb_output(o):
    t = o.get("output_type")
    if t == "stream":
        return new_output("stream", name=o["name"], text=o["text"])
    if t == "execute_result":
        return new_output("execute_result", data=o["data"], metadata=o.get("metadata") or {},
                          execution_count=o.get("execution_count"))
    if t == "display_data":
        return new_output("display_data", data=o["data"], metadata=o.get("metadata") or {})
    if t == "error":
        return new_output("error", ename=o["ename"], evalue=o["evalue"], traceback=o["traceback"])
    label = o.get("output_type") or o.get("type") or "output"
    return new_output("display_data", data={GRADLAB_MIME: o, "text/plain": f"<Gradlab {label}>"}, metadata={})


def to_ipynb(notebook):
    """A notebook dict (``Repo.get_notebook``) as ``.ipynb`` JSON text; ``nbformat.validate`` passes."""
    nb = new_notebook()
    nb.nbformat_minor = NB_MINOR
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["gradlab"] = {"title": notebook["title"], "device": notebook.get("device", "auto")}
    for c in notebook["cells"]:
        if c["kind"] == "markdown":
            cell = new_markdown_cell(c["source"])
        else:
            cell = new_code_cell(c["source"], execution_count=c.get("execution_count"),
                                 outputs=[_to_nb_output(o) for o in c.get("outputs") or []])
        cell["id"] = c["id"]
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nbformat.writes(nb, version=4)


def _from_nb_output(o):
    t = o.get("output_type")
    if t == "display_data" and GRADLAB_MIME in (o.get("data") or {}):
        inner = o["data"][GRADLAB_MIME]
        if isinstance(inner, dict):
            return normalize_output(inner)
    if t == "execute_result":
        ec = o.get("execution_count")
        return normalize_output({"output_type": t, "data": o.get("data"), "metadata": o.get("metadata"),
                                 "execution_count": ec})
    return normalize_output(dict(o))


def _error(exc):
    msg = getattr(exc, "message", None) or str(exc)
    return msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__


def from_ipynb(data, filename=None):
    """``(title, cells)`` from ``.ipynb`` bytes or text; raises ``IpynbError`` with the reason."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise IpynbError("not a notebook: the file is not UTF-8 text") from None
    if not data.strip():
        raise IpynbError("not a notebook: the file is empty")
    try:
        raw = json.loads(data)
    except json.JSONDecodeError as exc:
        raise IpynbError(f"not a notebook: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise IpynbError("not a notebook: the JSON is nested too deeply") from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise IpynbError("not a notebook: no 'cells' list (is this an .ipynb file?)")
    major = raw.get("nbformat")
    if not isinstance(major, int) or major < 3:
        raise IpynbError(f"not a notebook: 'nbformat' must be 3 or 4, not {major!r}")
    try:
        nb = nbformat.reads(data, as_version=4)
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise IpynbError(f"invalid notebook: {_error(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for bad files
        raise IpynbError(f"invalid notebook: {_error(exc)}") from None
    title = ((nb.metadata.get("gradlab") or {}).get("title") or nb.metadata.get("title")
             or _title_from_filename(filename))
    cells = []
    for c in nb.cells:
        source = _text(c.get("source"))
        if c.cell_type == "code":
            try:
                outputs = [_from_nb_output(o) for o in c.get("outputs", [])]
            except (ValueError, TypeError) as exc:
                raise IpynbError(f"invalid notebook: bad output ({exc})") from None
            cells.append({"kind": "code", "source": source, "outputs": outputs,
                          "execution_count": c.get("execution_count"),
                          "status": "error" if any(o.get("output_type") == "error" for o in outputs)
                          else ("done" if c.get("execution_count") is not None else "idle")})
        else:  # markdown, and raw cells as markdown
            cells.append({"kind": "markdown", "source": source})
    return title, cells


def _title_from_filename(filename):
    if not filename:
        return None
    name = str(filename).rsplit("/", 1)[-1]
    if name.lower().endswith(".ipynb"):
        name = name[:-6]
    return name.strip() or None

"""Saving and loading traced graphs.

A saved trace is an ordinary Gradlab checkpoint (``engine.save``: a zip with a JSON manifest and
raw tensor storages, see docs/checkpoint-format.md) whose root object is a dict tagged
``"format": "gradlab-traced"``.  The graph inside is plain data: op *names* and argument trees in
which every item is a tagged list (``["v", i]`` a value, ``["c", i]`` a constant, ``["p", x]`` a
literal…).  Loading goes through ``engine.load`` (which never unpickles) and then resolves each op
name through the allow-list registry (``engine.jit._registry``); an unknown name or tag is refused
before anything runs.  docs/deploy.md describes the layout.
"""
import os
import zipfile
from collections import OrderedDict

from .. import dtypes as _dt
from ..device import device as _device
from ..serialization import load as _load, save as _save
from ..tensor import Size, Tensor
from . import _registry
from ._graph import Const, Dim, Graph, Node, Val, Value

FORMAT = "gradlab-traced"
VERSION = 1


class UnsafeTraceError(RuntimeError):
    """The archive names an op or an argument type outside the allow-list; nothing from it ran."""


def _bad(what):
    return RuntimeError(f"engine.jit.load: the traced archive is invalid: {what}")


# -- encode -----------------------------------------------------------------------------------------
def _enc(a, where):
    t = type(a)
    if t is Val:
        return ["v", a.i]
    if t is Const:
        return ["c", a.i]
    if t is Dim:
        return ["d", a.i, a.d]
    if a is None or t in (bool, int, float, str, complex) or isinstance(a, (_dt.dtype, _device)):
        return ["p", a]
    if t is Size:
        return ["z", [_enc(v, where) for v in a]]
    if t is tuple:
        return ["t", [_enc(v, where) for v in a]]
    if t is list:
        return ["l", [_enc(v, where) for v in a]]
    if t is dict:
        for k in a:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"cannot save the traced graph: {where} has a dict key of type {type(k).__name__}")
        return ["m", [[k, _enc(v, where)] for k, v in a.items()]]
    if t is slice:
        return ["s", _enc(a.start, where), _enc(a.stop, where), _enc(a.step, where)]
    if a is Ellipsis:
        return ["e"]
    if isinstance(a, bool):
        return ["p", bool(a)]
    if isinstance(a, int):
        return ["p", int(a)]
    if isinstance(a, float):
        return ["p", float(a)]
    if isinstance(a, str):
        return ["p", str(a)]
    import numpy as np

    if isinstance(a, np.generic):
        return ["p", a.item()]
    raise TypeError(f"cannot save the traced graph: {where} has an argument of type "
                    f"{t.__module__}.{t.__qualname__}, which a saved trace cannot hold")


def graph_to_data(g):
    return {
        "values": [[v.name, v.kind, [int(s) for s in v.shape], v.dtype.name] for v in g.values],
        "inputs": [_enc(tpl, "the inputs") for tpl in g.inputs],
        "kw_inputs": [[k, _enc(tpl, "the inputs")] for k, tpl in g.kw_inputs.items()],
        "attrs": list(g.attrs),
        "nodes": [[n.op, _enc(tuple(n.args), n.op), _enc(dict(n.kwargs), n.op), list(n.outputs)] for n in g.nodes],
        "output": _enc(g.output, "the output"),
    }


def save_archive(obj, f):
    """Write a TracedModule / TracedFunction to ``f`` (a path or a writable binary file)."""
    from . import TracedModule

    g = obj._graph
    root = {"format": FORMAT, "version": VERSION, "graph": graph_to_data(g), "constants": list(g.constants)}
    if isinstance(obj, TracedModule):
        mods = obj.named_modules(remove_duplicate=False)
        root["kind"] = "module"
        root["modules"] = [[name, m._original_name, bool(m.training)] for name, m in mods]
        root["parameters"] = OrderedDict(obj.named_parameters(remove_duplicate=False))
        bufs = OrderedDict()
        nonpersistent = []
        for mname, m in obj.named_modules(remove_duplicate=False):
            for bname, b in m._buffers.items():
                if b is None:
                    continue
                full = f"{mname}.{bname}" if mname else bname
                bufs[full] = b
                if bname in m._non_persistent_buffers_set:
                    nonpersistent.append(full)
        root["buffers"] = bufs
        root["non_persistent"] = nonpersistent
    else:
        root["kind"] = "function"
        root["name"] = obj.__name__
    _save(root, f)


# -- decode -----------------------------------------------------------------------------------------
_SCALARS = (type(None), bool, int, float, str, complex)
_DTYPES = {d.name: d for d in vars(_dt).values() if isinstance(d, _dt.dtype)}


class _Decoder:
    def __init__(self, n_values, n_consts):
        self.nv = n_values
        self.nc = n_consts

    def index(self, i, n, what):
        if type(i) is not int or not 0 <= i < n:
            raise _bad(f"{what} index {i!r} out of range")
        return i

    def dec(self, node):
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise _bad(f"malformed argument {node!r}")
        tag, rest = node[0], node[1:]
        if tag == "v" and len(rest) == 1:
            return Val(self.index(rest[0], self.nv, "value"))
        if tag == "c" and len(rest) == 1:
            return Const(self.index(rest[0], self.nc, "constant"))
        if tag == "d" and len(rest) == 2:
            d = rest[1]
            if type(d) is not int or d < 0:
                raise _bad(f"bad dim {d!r}")
            return Dim(self.index(rest[0], self.nv, "value"), d)
        if tag == "p" and len(rest) == 1:
            v = rest[0]
            if type(v) in _SCALARS or isinstance(v, (_dt.dtype, _device)):
                return v
            raise _bad(f"a literal of type {type(v).__name__}")
        if tag in ("t", "l", "z") and len(rest) == 1 and isinstance(rest[0], list):
            items = [self.dec(v) for v in rest[0]]
            return tuple(items) if tag == "t" else (items if tag == "l" else Size(items))
        if tag == "m" and len(rest) == 1 and isinstance(rest[0], list):
            out = {}
            for kv in rest[0]:
                if not (isinstance(kv, list) and len(kv) == 2 and type(kv[0]) in (str, int)):
                    raise _bad("malformed dict argument")
                out[kv[0]] = self.dec(kv[1])
            return out
        if tag == "s" and len(rest) == 3:
            return slice(*(self.dec(v) for v in rest))
        if tag == "e" and not rest:
            return Ellipsis
        raise UnsafeTraceError(f"engine.jit.load refused the archive: unknown argument tag {tag!r}")


def data_to_graph(data, constants):
    if not isinstance(data, dict):
        raise _bad("no graph")
    g = Graph()
    vals = data.get("values")
    if not isinstance(vals, list):
        raise _bad("no value table")
    for v in vals:
        if not (isinstance(v, list) and len(v) == 4 and isinstance(v[0], str) and v[1] in ("input", "attr", "node")
                and isinstance(v[2], list) and all(type(s) is int and s >= 0 for s in v[2])
                and v[3] in _DTYPES):
            raise _bad(f"malformed value record {v!r}")
        g.values.append(Value(v[0], v[1], v[2], _DTYPES[v[3]]))
    if not all(isinstance(c, Tensor) for c in constants):
        raise _bad("a constant is not a tensor")
    g.constants = list(constants)
    d = _Decoder(len(g.values), len(g.constants))
    ins = data.get("inputs")
    kws = data.get("kw_inputs", [])
    if not isinstance(ins, list) or not isinstance(kws, list):
        raise _bad("no input list")
    g.inputs = tuple(d.dec(x) for x in ins)
    for kv in kws:
        if not (isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], str)):
            raise _bad("malformed keyword input")
        g.kw_inputs[kv[0]] = d.dec(kv[1])
    attrs = data.get("attrs")
    if not isinstance(attrs, list):
        raise _bad("no attribute list")
    g.attrs = [d.index(i, len(g.values), "attribute") for i in attrs]
    nodes = data.get("nodes")
    if not isinstance(nodes, list):
        raise _bad("no node list")
    for n in nodes:
        if not (isinstance(n, list) and len(n) == 4 and isinstance(n[3], list)):
            raise _bad(f"malformed node {n!r}")
        op = n[0]
        fn = _registry.lookup(op)
        if fn is None:
            raise UnsafeTraceError(
                f"engine.jit.load refused the archive: op {op!r} is not an allow-listed engine op (a saved trace "
                "may only call engine.<fn>, Tensor methods and engine.nn.functional ops recorded by "
                "engine.jit.trace); nothing from the file was run")
        args = d.dec(n[1])
        kwargs = d.dec(n[2])
        if type(args) is not tuple or type(kwargs) is not dict or not all(isinstance(k, str) for k in kwargs):
            raise _bad(f"malformed arguments of {op}")
        outs = [d.index(i, len(g.values), "output") for i in n[3]]
        g.nodes.append(Node(op, fn, args, kwargs, outs))
    g.output = d.dec(data.get("output"))
    return g


def _torchscript_archive(f):
    """True when ``f`` is a TorchScript zip written by PyTorch (code/ and constants.pkl entries)."""
    if not isinstance(f, (str, bytes, os.PathLike)):
        return False
    try:
        with zipfile.ZipFile(f) as zf:
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in names)


def load_archive(f, map_location=None):
    from . import TracedFunction, TracedModule, _build_mirror_from_records

    if _torchscript_archive(f):
        raise RuntimeError(f"engine.jit.load: {os.fsdecode(f)!r} is a TorchScript archive written by PyTorch; "
                           "Gradlab cannot run TorchScript code. Load its weights into an engine model instead "
                           "(save model.state_dict() in PyTorch and use engine.load).")
    root = _load(f, map_location=map_location)
    if not isinstance(root, dict) or root.get("format") != FORMAT:
        raise RuntimeError("engine.jit.load: the file is a Gradlab checkpoint but not a traced module "
                           "(it was not written by engine.jit.save / traced.save); use engine.load for it")
    version = root.get("version")
    if type(version) is not int or version > VERSION:
        raise RuntimeError(f"engine.jit.load: unsupported traced-archive version {version!r} (this Gradlab reads "
                           f"version {VERSION})")
    constants = root.get("constants", [])
    if not isinstance(constants, list):
        raise _bad("constants")
    g = data_to_graph(root.get("graph"), constants)
    kind = root.get("kind")
    if kind == "function":
        name = root.get("name")
        return TracedFunction(g, name if isinstance(name, str) else "traced_fn")
    if kind != "module":
        raise _bad(f"unknown kind {kind!r}")
    mods, params, bufs = root.get("modules"), root.get("parameters"), root.get("buffers")
    nonp = root.get("non_persistent", [])
    if not (isinstance(mods, list) and isinstance(params, dict) and isinstance(bufs, dict) and isinstance(nonp, list)):
        raise _bad("module records")
    from ..nn.parameter import Parameter

    for k, v in params.items():
        if not isinstance(k, str) or not (v is None or isinstance(v, Parameter)):
            raise _bad(f"parameter {k!r}")
    for k, v in bufs.items():
        if not isinstance(k, str) or not isinstance(v, Tensor):
            raise _bad(f"buffer {k!r}")
    mirror = _build_mirror_from_records(mods, params, bufs, set(n for n in nonp if isinstance(n, str)))
    return TracedModule._wrap(mirror, g)

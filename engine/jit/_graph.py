"""The recorded op graph: values, nodes, replay, and its text forms (``graph`` / ``code``).

A graph is a straight-line program.  Values are numbered; each is a graph input (a tensor the
caller passes), an attribute (a parameter or buffer of the traced module, by its state_dict name)
or an output of a node.  A node is one call ``fn(*args, **kwargs)`` of an allow-listed op whose
arguments are plain Python data in which tensors are replaced by references:

* ``Val(i)``    — value ``i``;
* ``Const(i)``  — the graph's constant tensor ``i`` (a tensor that did not depend on the inputs);
* ``Dim(i, d)`` — ``values[i].shape[d]``, an int read from a traced tensor's shape (``x.size(0)``),
  so that e.g. ``x.view(x.size(0), -1)`` follows the batch size of new inputs.
"""
import re

from ..tensor import Size, Tensor


class Val:
    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i

    def __repr__(self):
        return f"Val({self.i})"


class Const:
    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i

    def __repr__(self):
        return f"Const({self.i})"


class Dim:
    __slots__ = ("i", "d")

    def __init__(self, i, d):
        self.i = i
        self.d = d

    def __repr__(self):
        return f"Dim({self.i}, {self.d})"


class Value:
    """One value of the graph: ``kind`` is ``input``, ``attr`` or ``node``; ``name`` is the input's
    parameter name, the attribute's state_dict name, or a number; shape/dtype as traced."""

    __slots__ = ("name", "kind", "shape", "dtype")

    def __init__(self, name, kind, shape, dtype):
        self.name = name
        self.kind = kind
        self.shape = tuple(shape)
        self.dtype = dtype


class Node:
    __slots__ = ("op", "fn", "args", "kwargs", "outputs")

    def __init__(self, op, fn, args, kwargs, outputs):
        self.op = op
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs

    def bound(self):
        """The call's arguments by parameter name (defaults filled in), for translators."""
        sig = _signature(self.fn)
        b = sig.bind(*self.args, **self.kwargs)
        b.apply_defaults()
        return b.arguments


_SIGS = {}


def _signature(fn):
    import inspect

    s = _SIGS.get(fn)
    if s is None:
        s = _SIGS[fn] = inspect.signature(fn)
    return s


def flatten_tensors(obj, out):
    """Tensors in ``obj`` (nested tuples/lists/dict values), in a fixed order."""
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for v in obj:
            flatten_tensors(v, out)
    elif isinstance(obj, dict):
        for v in obj.values():
            flatten_tensors(v, out)
    return out


def resolve(a, env, consts):
    """Replace references in an argument structure by the values they name."""
    t = type(a)
    if t is Val:
        return env[a.i]
    if t is Const:
        return consts[a.i]
    if t is Dim:
        return env[a.i].shape[a.d]
    if t is tuple or t is list:
        return t(resolve(v, env, consts) for v in a)
    if t is Size:
        return Size(resolve(v, env, consts) for v in a)
    if t is dict:
        return {k: resolve(v, env, consts) for k, v in a.items()}
    if t is slice:
        return slice(resolve(a.start, env, consts), resolve(a.stop, env, consts), resolve(a.step, env, consts))
    return a


def bind_inputs(template, given, env, where="input"):
    """Match the caller's arguments against the traced input structure, filling ``env``."""
    t = type(template)
    if t is Val:
        if not isinstance(given, Tensor):
            raise TypeError(f"traced {where}: expected a Tensor, got {type(given).__name__}")
        env[template.i] = given
    elif t is tuple or t is list:
        if not isinstance(given, (tuple, list)) or len(given) != len(template):
            raise TypeError(f"traced {where}: expected a {t.__name__} of {len(template)} items like the example "
                            f"inputs, got {type(given).__name__}")
        for i, (a, b) in enumerate(zip(template, given)):
            bind_inputs(a, b, env, f"{where}[{i}]")
    elif t is dict:
        if not isinstance(given, dict) or set(given) != set(template):
            raise TypeError(f"traced {where}: expected a dict with keys {sorted(template)}")
        for k, a in template.items():
            bind_inputs(a, given[k], env, f"{where}[{k!r}]")
    # other example arguments (numbers, strings, None) were baked into the trace


class Graph:
    def __init__(self):
        self.values = []          # Value
        self.nodes = []           # Node
        self.constants = []       # Tensor
        self.inputs = ()          # template of the positional inputs
        self.kw_inputs = {}       # name -> template
        self.attrs = []           # value indices of attributes
        self.output = None        # template of the output

    def add_value(self, name, kind, t):
        self.values.append(Value(name, kind, t.shape, t.dtype))
        return len(self.values) - 1

    # -- replay ---------------------------------------------------------------------------------
    def run(self, args, kwargs, attr_of, dispatch=None):
        env = [None] * len(self.values)
        if len(args) != len(self.inputs):
            raise TypeError(f"the traced graph takes {len(self.inputs)} positional input(s), got {len(args)}")
        for i, (tpl, a) in enumerate(zip(self.inputs, args)):
            bind_inputs(tpl, a, env, f"input {i}")
        extra = set(kwargs) - set(self.kw_inputs)
        if extra:
            raise TypeError(f"the traced graph got unexpected keyword input(s) {sorted(extra)}")
        for k, tpl in self.kw_inputs.items():
            if k not in kwargs:
                raise TypeError(f"the traced graph needs the keyword input {k!r}")
            bind_inputs(tpl, kwargs[k], env, f"input {k!r}")
        for vi in self.attrs:
            env[vi] = attr_of(self.values[vi].name)
        consts = self.constants
        for node in self.nodes:
            a = resolve(node.args, env, consts)
            k = resolve(node.kwargs, env, consts)
            out = node.fn(*a, **k) if dispatch is None else dispatch(node.op, node.fn, a, k)
            if node.outputs:
                if hasattr(out, "__next__"):
                    out = list(out)
                ts = flatten_tensors(out, [])
                if len(ts) != len(node.outputs):
                    raise RuntimeError(f"replaying {node.op}: it returned {len(ts)} tensor(s), the trace recorded "
                                       f"{len(node.outputs)}")
                for vi, t in zip(node.outputs, ts):
                    env[vi] = t
        return resolve(self.output, env, consts)

    # -- text -----------------------------------------------------------------------------------
    def _fmt(self, a, code=False):
        t = type(a)
        if t is Val:
            return self._vname(a.i, code)
        if t is Const:
            c = self.constants[a.i]
            return f"CONSTANTS.c{a.i}" if code else f"CONSTANTS.c{a.i}[{_type_str(c.dtype, c.shape)}]"
        if t is Dim:
            return f"{self._vname(a.i, code)}.size({a.d})"
        if t is tuple:
            inner = ", ".join(self._fmt(v, code) for v in a)
            return f"({inner},)" if len(a) == 1 else f"({inner})"
        if t is list:
            return "[" + ", ".join(self._fmt(v, code) for v in a) + "]"
        if t is Size:
            return "[" + ", ".join(self._fmt(v, code) for v in a) + "]"
        if t is dict:
            return "{" + ", ".join(f"{k!r}: {self._fmt(v, code)}" for k, v in a.items()) + "}"
        if t is slice:
            parts = [self._fmt(v, code) if v is not None else "" for v in (a.start, a.stop, a.step)]
            return ":".join(parts[:2] if a.step is None else parts)
        if a is Ellipsis:
            return "..."
        if hasattr(a, "name") and type(a).__name__ == "dtype":
            return f"torch.{a.name}"
        return repr(a)

    def _vname(self, i, code):
        v = self.values[i]
        if v.kind == "attr":
            if not code:
                return f"%{v.name}"
            expr = "self"
            for part in v.name.split("."):
                expr = f"{expr}.{part}" if part.isidentifier() else f'getattr({expr}, "{part}")'
            return expr
        if v.kind == "input":
            return v.name if code else f"%{v.name}"
        return f"_{v.name}" if code else f"%{v.name}"

    def _call(self, node, code):
        parts = [self._fmt(a, code) for a in node.args]
        parts += [f"{k}={self._fmt(v, code)}" for k, v in node.kwargs.items()]
        return f"{node.op}({', '.join(parts)})"

    def text(self):
        ins = [i for i, v in enumerate(self.values) if v.kind in ("input", "attr")]
        head = [f"%{self.values[i].name} : {_type_str(self.values[i].dtype, self.values[i].shape)}" for i in ins]
        lines = ["graph(" + (",\n      ".join(head)) + "):"]
        for node in self.nodes:
            outs = [f"%{self.values[o].name} : {_type_str(self.values[o].dtype, self.values[o].shape)}"
                    for o in node.outputs]
            lhs = ", ".join(outs) + " = " if outs else ""
            lines.append(f"  {lhs}{self._call(node, False)}")
        lines.append(f"  return ({self._fmt(self.output)})")
        return "\n".join(lines) + "\n"

    def code(self, self_arg=True):
        names = [self._fmt(tpl, True) for tpl in self.inputs] + [f"{k}" for k in self.kw_inputs]
        params = (["self"] if self_arg else []) + names
        lines = [f"def forward({', '.join(params)}):"]
        for node in self.nodes:
            outs = [f"_{self.values[o].name}" for o in node.outputs]
            lhs = ", ".join(outs) + " = " if outs else ""
            if len(outs) == 1:
                lhs = outs[0] + " = "
            elif outs:
                lhs = ", ".join(outs) + ", = "  # the tensors of the result, flattened
            lines.append(f"    {lhs}{self._call(node, True)}")
        lines.append(f"    return {self._fmt(self.output, True)}")
        return "\n".join(lines) + "\n"


_DTYPE_WORDS = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
                "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _type_str(dtype, shape):
    name = getattr(dtype, "name", str(dtype))
    return f"{_DTYPE_WORDS.get(name, name)}({', '.join(str(int(s)) for s in shape)})"


_IDENT = re.compile(r"[^0-9a-zA-Z_]")


def identifier(name, fallback):
    s = _IDENT.sub("_", str(name)) or fallback
    return "_" + s if s[0].isdigit() else s

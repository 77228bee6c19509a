"""``torch.onnx``: export of a traced graph through the ``onnx`` package.

``export(model, args, f)`` traces ``model`` (``engine.jit.trace``; eval-mode by default, as
torch does), translates every recorded op into ONNX nodes (``engine/onnx/_export.py``) with the
parameters and buffers as initializers named by their state_dict names, checks the model with
``onnx.checker`` and writes it to ``f``.  See docs/deploy.md for the op coverage.
"""
import contextlib
import enum
import inspect
import os

import numpy as np

from ..tensor import Tensor
from ._errors import OnnxExporterError, UnsupportedOperatorError

__all__ = ["export", "TrainingMode", "OperatorExportTypes", "OnnxExporterError", "UnsupportedOperatorError",
           "is_in_onnx_export", "supported_ops"]

DEFAULT_OPSET = 17
MIN_OPSET = 13
MAX_OPSET = 21


class TrainingMode(enum.IntEnum):
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class OperatorExportTypes(enum.IntEnum):
    ONNX = 0
    ONNX_ATEN = 1
    ONNX_ATEN_FALLBACK = 2
    ONNX_FALLTHROUGH = 3


_exporting = False


def is_in_onnx_export():
    return _exporting


def supported_ops():
    """Names of the recorded ops that have an ONNX translation."""
    from ..jit import _registry
    from ._export import TRANSLATORS

    names = _registry.registry().by_name
    return sorted(n for n in TRANSLATORS if n in names)


@contextlib.contextmanager
def _mode(model, training):
    from ..nn.modules.module import Module

    if not isinstance(model, Module) or training == TrainingMode.PRESERVE:
        yield
        return
    flags = [(m, m.training) for m in model.modules()]
    model.train(training == TrainingMode.TRAINING)
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


def _split_args(args, kwargs):
    if isinstance(args, Tensor):
        args = (args,)
    elif isinstance(args, list):
        args = tuple(args)
    elif not isinstance(args, tuple):
        args = (args,)
    kwargs = dict(kwargs or {})
    if args and isinstance(args[-1], dict):  # torch: a trailing dict holds keyword inputs
        kwargs.update(args[-1])
        args = args[:-1]
    return args, kwargs


def _probe(a):
    """A copy of the example input that is a non-leaf requiring grad (floating tensors only), so a
    value computed from it outside the recorded ops is caught as a constant that needs grad."""
    if isinstance(a, Tensor):
        leaf = Tensor._make(np.array(a._data, copy=True))
        if leaf._data.dtype.kind != "f":
            return leaf
        leaf.requires_grad_(True)
        return leaf * 1.0
    if type(a) in (tuple, list):
        return type(a)(_probe(v) for v in a)
    if type(a) is dict:
        return {k: _probe(v) for k, v in a.items()}
    return a


def _dyn_map(dynamic_axes, name):
    """{dim index: symbolic name} for one input/output name."""
    spec = (dynamic_axes or {}).get(name)
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {int(k): str(v) for k, v in spec.items()}
    return {int(k): f"{name}_dynamic_axes_{i + 1}" for i, k in enumerate(spec)}


def export(model, args=(), f=None, export_params=True, verbose=False, training=TrainingMode.EVAL,
           input_names=None, output_names=None, operator_export_type=None, opset_version=None,
           do_constant_folding=True, dynamic_axes=None, keep_initializers_as_inputs=None, custom_opsets=None,
           export_modules_as_functions=False, autograd_inlining=True, *, kwargs=None, dynamo=False,
           external_data=True, dynamic_shapes=None, report=False, optimize=False, verify=False, profile=False,
           dump_exported_program=False, artifacts_dir=".", fallback=False, **unused):
    """Export ``model`` (a Module or function) run on ``args`` to ONNX, written to ``f`` (a path or
    a binary file object; ``None`` only returns the model).  Returns the ``onnx.ModelProto``.

    Defaults follow ``torch.onnx.export``: the model is traced in eval mode, inputs are named after
    the ``forward`` parameters, ``opset_version`` is 17.  ``dynamic_axes`` maps an input/output name
    to a list of dims or a ``{dim: symbolic name}`` dict.  ``export_params=False`` makes the
    parameters graph inputs.  ``dynamo``, ``do_constant_folding``, ``operator_export_type``,
    ``custom_opsets`` and the other torch-2 options are accepted; the exporter is always this one."""
    global _exporting
    import onnx

    from .. import __version__
    from ..autograd.grad_mode import enable_grad
    from ..jit import TracedFunction, TracedModule, trace
    from ._export import Ctx, _np_dtype, build_model, translate, value_info

    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"engine.onnx.export supports opset_version {MIN_OPSET} to {MAX_OPSET}, got {opset}")
    if dynamic_shapes is not None and dynamic_axes is None:
        raise OnnxExporterError("engine.onnx.export: dynamic_shapes is not supported; use dynamic_axes")
    args, kwargs = _split_args(args, kwargs)
    if isinstance(model, (TracedModule, TracedFunction)):
        traced = model
    else:
        _exporting = True
        try:
            with _mode(model, training), enable_grad():
                pargs, pkw = _probe(args), _probe(kwargs)
                try:
                    traced = trace(model, pargs if pargs else None, check_trace=False, strict=False,
                                   example_kwarg_inputs=pkw or None)
                except RuntimeError as e:
                    if "Cannot insert a Tensor that requires grad as a constant" in str(e):
                        raise OnnxExporterError(
                            "engine.onnx.export: the model computed a tensor from its inputs or parameters with a "
                            "call the tracer cannot see (not an engine.<fn> / Tensor method / "
                            "engine.nn.functional call, e.g. raw numpy on tensor data), so it cannot be "
                            f"exported.\n{e}") from None
                    raise
        finally:
            _exporting = False
    g = traced._graph
    attr_of = traced._attr if isinstance(traced, TracedModule) else (lambda n: None)
    ctx = Ctx(g, opset, attr_of, export_params)

    # graph inputs: the traced input values, in order
    in_vals = []
    for v_i, v in enumerate(g.values):
        if v.kind == "input":
            in_vals.append(v_i)
    names = list(input_names or [])
    in_vis, in_names = [], []
    for k, vi in enumerate(in_vals):
        v = g.values[vi]
        name = names[k] if k < len(names) else v.name
        ctx.names[vi] = name
        in_names.append(name)
        in_vis.append(value_info(name, _np_dtype(v.dtype), v.shape, _dyn_map(dynamic_axes, name)))
    translate(ctx, g.nodes)

    # graph outputs
    from ..jit._graph import Const, Val

    outs = []

    def walk(o):
        if type(o) in (Val, Const):
            outs.append(o)
        elif isinstance(o, (tuple, list)):
            for x in o:
                walk(x)
        elif isinstance(o, dict):
            for x in o.values():
                walk(x)

    walk(g.output)
    onames = list(output_names or [])
    out_vis = []
    renames = {}
    taken = set(in_names) | set(ctx.inits)
    for k, o in enumerate(outs):
        default = "output" if len(outs) == 1 else f"output_{k}"
        name = onames[k] if k < len(onames) else default
        src = ctx.name(o)
        produced = any(src in n.output for n in ctx.nodes)
        if produced and src not in taken and src not in renames:
            renames[src] = name
        else:
            ctx.nodes.append(onnx.helper.make_node("Identity", [src], [name], name=f"/output_{k}/Identity"))
        taken.add(name)
        shape, dt = ctx.meta(o)
        out_vis.append((name, dt, shape))
    if renames:
        for n in ctx.nodes:
            for i, s in enumerate(n.input):
                if s in renames:
                    n.input[i] = renames[s]
            for i, s in enumerate(n.output):
                if s in renames:
                    n.output[i] = renames[s]
    dynamic = bool(dynamic_axes)
    vis = [value_info(n, dt, shape, _dyn_map(dynamic_axes, n)) if not dynamic
           else onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dt)), None)
           for n, dt, shape in out_vis]
    gname = type(model).__name__ if not inspect.isfunction(model) else model.__name__
    m = build_model(ctx, in_names, in_vis, vis, opset, __version__, bool(keep_initializers_as_inputs),
                    f"main_graph" if gname is None else gname)
    if dynamic:
        _infer_output_shapes(m, out_vis, dynamic_axes)
    onnx.checker.check_model(m)
    if verbose:
        print(onnx.helper.printable_graph(m.graph))
    if f is not None:
        if isinstance(f, (str, bytes, os.PathLike)):
            with open(f, "wb") as fh:
                fh.write(m.SerializeToString())
        elif hasattr(f, "write"):
            f.write(m.SerializeToString())
        else:
            raise TypeError(f"engine.onnx.export: f must be a path or a binary file object, got {type(f).__name__}")
    return m


def _infer_output_shapes(m, out_vis, dynamic_axes):
    """With dynamic axes the output shapes come from ONNX shape inference (symbolic dims kept);
    dims named in dynamic_axes for an output get those names."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(m)
        got = {o.name: o for o in inferred.graph.output}
    except Exception:  # noqa: BLE001 - inference is best effort; outputs stay shape-less
        got = {}
    for o, (name, dt, shape) in zip(m.graph.output, out_vis):
        dyn = _dyn_map(dynamic_axes, name)
        src = got.get(name)
        dims = []
        if src is not None and src.type.tensor_type.HasField("shape"):
            for i, d in enumerate(src.type.tensor_type.shape.dim):
                if i in dyn:
                    dims.append(dyn[i])
                elif d.HasField("dim_value"):
                    dims.append(d.dim_value)
                elif d.HasField("dim_param"):
                    dims.append(d.dim_param)
                else:
                    dims.append(None)
        elif dyn:
            dims = [dyn.get(i) for i in range(len(shape))]
        else:
            continue
        o.CopyFrom(onnx.helper.make_tensor_value_info(name, o.type.tensor_type.elem_type, dims))

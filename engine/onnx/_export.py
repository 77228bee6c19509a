"""Translation of a traced graph (``engine.jit``) into an ONNX ``ModelProto``.

Each recorded node is looked up by its op name in ``TRANSLATORS``; a translator reads the call's
arguments (bound to the op's signature) and emits ONNX nodes with ``onnx.helper``.  Parameters and
buffers become initializers named by their state_dict names; constant tensors of the trace become
initializers ``const_<i>``.  An op without a translator raises :class:`UnsupportedOperatorError`
naming it.
"""
import math

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ..jit._graph import Const, Dim, Val
from ._errors import OnnxExporterError, UnsupportedOperatorError

_ONNX_TYPES = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE, "float16": TensorProto.FLOAT16,
               "bfloat16": TensorProto.BFLOAT16, "int64": TensorProto.INT64, "int32": TensorProto.INT32,
               "int16": TensorProto.INT16, "int8": TensorProto.INT8, "uint8": TensorProto.UINT8,
               "bool": TensorProto.BOOL}
_INT64_MAX = np.iinfo(np.int64).max




def onnx_type(np_dtype):
    name = np.dtype(np_dtype).name
    if name not in _ONNX_TYPES:
        raise OnnxExporterError(f"engine.onnx.export: dtype {name} has no ONNX equivalent")
    return _ONNX_TYPES[name]


def _np_dtype(dt):
    """numpy dtype of an engine dtype."""
    return np.dtype(dt.name if dt.name != "bfloat16" else "float32")


class Ctx:
    def __init__(self, graph, opset, attr_of, export_params):
        self.g = graph
        self.opset = opset
        self.attr_of = attr_of
        self.export_params = export_params
        self.nodes = []
        self.inits = {}          # name -> TensorProto (ordered)
        self.param_inputs = {}   # name -> (np dtype, shape) when export_params=False
        self.names = {}          # value index -> ONNX name
        self.const_names = {}    # constant index -> initializer name
        self.counter = 0
        self.cur = "graph"

    # -- naming / emitting ------------------------------------------------------------------------
    def fresh(self, hint):
        self.counter += 1
        return f"/{self.cur}/{hint}_output_{self.counter}"

    def add(self, op, inputs, n_out=1, **attrs):
        outs = [self.fresh(op) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, list(inputs), outs, name=f"/{self.cur}/{op}_{len(self.nodes)}",
                                           **attrs))
        return outs[0] if n_out == 1 else outs

    def init(self, array, hint):
        self.counter += 1
        name = f"{hint}_{self.counter}"
        self.inits[name] = numpy_helper.from_array(np.asarray(array), name)
        return name

    def ints(self, values):
        return self.init(np.asarray(values, dtype=np.int64).reshape(-1), "onnx::ints")

    def scalar(self, v, dtype):
        return self.init(np.asarray(v, dtype=dtype), "onnx::scalar")

    # -- values ------------------------------------------------------------------------------------
    def meta(self, a):
        """(shape, numpy dtype) of a tensor argument."""
        if type(a) is Val:
            v = self.g.values[a.i]
            return tuple(v.shape), _np_dtype(v.dtype)
        if type(a) is Const:
            c = self.g.constants[a.i]
            return tuple(c.shape), np.dtype(c._data.dtype)
        if type(a) is Dim:
            return (), np.dtype(np.int64)
        raise OnnxExporterError(f"expected a tensor argument, got {a!r}")

    def shape(self, a):
        return self.meta(a)[0]

    def rank(self, a):
        return len(self.meta(a)[0])

    def is_tensor(self, a):
        return type(a) in (Val, Const)

    def name(self, a, dtype=None):
        """ONNX name of a tensor argument (cast to ``dtype`` if given and different); Python
        numbers become constants of ``dtype`` (default: float32 for floats, int64 for ints)."""
        t = type(a)
        if t is Val:
            n = self._value_name(a.i)
        elif t is Const:
            n = self.const_names.get(a.i)
            if n is None:
                c = self.g.constants[a.i]
                n = self.const_names[a.i] = self.init(np.asarray(c._data), "const")
        elif t is Dim:
            n = self.dim(a, scalar=True)
        elif isinstance(a, (bool, int, float, np.generic)):
            if dtype is None:
                dtype = np.bool_ if isinstance(a, bool) else (np.int64 if isinstance(a, int) else np.float32)
            return self.scalar(a, dtype)
        else:
            raise OnnxExporterError(f"expected a tensor or a number, got {a!r}")
        if dtype is not None and self.meta(a)[1] != np.dtype(dtype):
            n = self.add("Cast", [n], to=onnx_type(dtype))
        return n

    def _value_name(self, i):
        n = self.names.get(i)
        if n is not None:
            return n
        v = self.g.values[i]
        if v.kind == "attr":
            t = self.attr_of(v.name)
            arr = np.asarray(t._data)
            if self.export_params:
                self.inits[v.name] = numpy_helper.from_array(arr, v.name)
            else:
                self.param_inputs[v.name] = (arr.dtype, arr.shape)
            self.names[i] = v.name
            return v.name
        raise OnnxExporterError(f"value %{v.name} is used before it is computed")

    def set(self, node, k, onnx_name):
        self.names[node.outputs[k]] = onnx_name

    def out_dtype(self, node, k=0):
        return _np_dtype(self.g.values[node.outputs[k]].dtype)

    def out_shape(self, node, k=0):
        return tuple(self.g.values[node.outputs[k]].shape)

    def dim(self, a, scalar=False):
        """int64 tensor holding ``values[a.i].shape[a.d]``: 1-D ``[n]`` or a scalar."""
        s = self.add("Shape", [self._value_name(a.i)])
        if scalar:
            return self.add("Gather", [s, self.scalar(a.d, np.int64)], axis=0)
        return self.add("Gather", [s, self.ints([a.d])], axis=0)

    def shape_tensor(self, items, like=None):
        """A 1-D int64 shape from ints and ``Dim`` s; a ``Dim`` of ``like`` at its own position becomes
        0 (Reshape's copy-this-dimension) when ``like`` is given."""
        if all(type(v) is not Dim for v in items):
            return self.ints([int(v) for v in items])
        parts = []
        for k, v in enumerate(items):
            if type(v) is Dim:
                if like is not None and type(like) is Val and v.i == like.i and v.d == k:
                    parts.append(self.ints([0]))
                else:
                    parts.append(self.dim(v))
            else:
                parts.append(self.ints([int(v)]))
        return self.add("Concat", parts, axis=0)

    # -- helpers used by several translators ---------------------------------------------------------
    def reshape(self, x, shape):
        return self.add("Reshape", [x, self.ints(shape) if not isinstance(shape, str) else shape])

    def transpose(self, x, perm):
        return self.add("Transpose", [x], perm=list(perm))

    def unsqueeze(self, x, axes):
        return self.add("Unsqueeze", [x, self.ints(axes)])

    def squeeze(self, x, axes):
        return self.add("Squeeze", [x, self.ints(axes)])

    def slice(self, x, starts, ends, axes, steps=None):
        ins = [x, self.ints(starts), self.ints(ends), self.ints(axes)]
        if steps is not None:
            ins.append(self.ints(steps))
        return self.add("Slice", ins)

    def reduce(self, op, x, axes, keepdims):
        """ReduceMean/ReduceSum/ReduceMax… with axes as attribute or input, by opset."""
        input_axes = self.opset >= 18 or op == "ReduceSum"
        if axes is None:
            return self.add(op, [x], keepdims=int(keepdims))
        if input_axes:
            return self.add(op, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.add(op, [x], axes=list(axes), keepdims=int(keepdims))


def _wrap(d, n):
    d = int(d)
    return d + n if d < 0 else d


def _tuple(v, n):
    if isinstance(v, (tuple, list)):
        v = [int(x) for x in v]
        return v * n if len(v) == 1 and n > 1 else v
    return [int(v)] * n


def unsupported(op, why):
    return UnsupportedOperatorError(f"engine.onnx.export: cannot export op {op}: {why}")


TRANSLATORS = {}


def translator(*names):
    def deco(fn):
        for n in names:
            TRANSLATORS[n] = fn
        return fn

    return deco


# -- linear algebra -----------------------------------------------------------------------------------
@translator("F.linear")
def _linear(ctx, node, a):
    x, w, b = a["input"], a["weight"], a["bias"]
    if ctx.rank(w) != 2:
        raise unsupported(node.op, "a weight that is not 2-D")
    dt = ctx.out_dtype(node)
    if ctx.rank(x) == 2:
        ins = [ctx.name(x, dt), ctx.name(w, dt)] + ([ctx.name(b, dt)] if b is not None else [])
        y = ctx.add("Gemm", ins, alpha=1.0, beta=1.0, transB=1)
    else:
        y = ctx.add("MatMul", [ctx.name(x, dt), ctx.transpose(ctx.name(w, dt), [1, 0])])
        if b is not None:
            y = ctx.add("Add", [y, ctx.name(b, dt)])
    ctx.set(node, 0, y)


@translator("torch.matmul", "torch.mm", "torch.bmm", "Tensor.__matmul__")
def _matmul(ctx, node, a):
    vals = list(a.values())
    dt = ctx.out_dtype(node)
    ctx.set(node, 0, ctx.add("MatMul", [ctx.name(vals[0], dt), ctx.name(vals[1], dt)]))


@translator("Tensor.__rmatmul__")
def _rmatmul(ctx, node, a):
    vals = list(a.values())
    dt = ctx.out_dtype(node)
    ctx.set(node, 0, ctx.add("MatMul", [ctx.name(vals[1], dt), ctx.name(vals[0], dt)]))


# -- elementwise arithmetic ------------------------------------------------------------------------
_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "true_divide": "Div", "pow": "Pow"}


def _binary(ctx, node, op, lhs, rhs, alpha=1):
    dt = ctx.out_dtype(node)
    x = ctx.name(lhs, dt)
    if alpha != 1:
        if ctx.is_tensor(rhs) or type(rhs) is Dim:
            y = ctx.add("Mul", [ctx.name(rhs, dt), ctx.scalar(alpha, dt)])
        else:
            y = ctx.name(rhs * alpha, dt)
    else:
        y = ctx.name(rhs, dt)
    return ctx.add(op, [x, y])


def _arith(op_name, reverse=False):
    def tr(ctx, node, a):
        vals = list(a.values())
        lhs, rhs = vals[0], vals[1]
        if reverse:
            lhs, rhs = rhs, lhs
        alpha = a.get("alpha", 1)
        kw = a.get("kw") or {}
        alpha = kw.get("alpha", alpha)
        rounding = a.get("rounding_mode") or kw.get("rounding_mode")
        if op_name == "rsub":
            lhs, rhs = rhs, lhs
            y = ctx.add("Sub", [ctx.name(lhs, ctx.out_dtype(node)),
                                _binary(ctx, node, "Mul", vals[0], alpha) if alpha != 1
                                else ctx.name(vals[0], ctx.out_dtype(node))])
            ctx.set(node, 0, y)
            return
        y = _binary(ctx, node, _BINARY[op_name], lhs, rhs, alpha)
        if rounding == "floor":
            y = ctx.add("Floor", [y])
        elif rounding is not None:
            raise unsupported(node.op, f"rounding_mode={rounding!r}")
        ctx.set(node, 0, y)

    return tr


for _n, _o in (("add", "add"), ("sub", "sub"), ("subtract", "sub"), ("mul", "mul"), ("multiply", "mul"),
               ("div", "div"), ("divide", "div"), ("true_divide", "div"), ("pow", "pow")):
    TRANSLATORS[f"torch.{_n}"] = _arith(_o)
    TRANSLATORS[f"Tensor.{_n}_"] = _arith(_o)
TRANSLATORS["torch.rsub"] = _arith("rsub")
for _n, _o in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("truediv", "div"), ("div", "div"), ("pow", "pow")):
    TRANSLATORS[f"Tensor.__i{_n}__"] = _arith(_o)
    TRANSLATORS[f"Tensor.__r{_n}__"] = _arith(_o, reverse=True)


@translator("torch.neg", "torch.negative")
def _neg(ctx, node, a):
    ctx.set(node, 0, ctx.add("Neg", [ctx.name(a["input"])]))


@translator("Tensor.__pos__", "Tensor.contiguous", "torch.clone", "Tensor.detach", "torch.detach")
def _identity(ctx, node, a):
    x = next(iter(a.values()))
    ctx.set(node, 0, ctx.add("Identity", [ctx.name(x)]))


@translator("Tensor.to", "Tensor.float", "Tensor.double", "Tensor.half", "Tensor.long", "Tensor.int",
            "Tensor.bool", "Tensor.type", "Tensor.type_as")
def _cast(ctx, node, a):
    x = next(iter(a.values()))
    dt = ctx.out_dtype(node)
    if ctx.meta(x)[1] == dt:
        ctx.set(node, 0, ctx.add("Identity", [ctx.name(x)]))
    else:
        ctx.set(node, 0, ctx.add("Cast", [ctx.name(x)], to=onnx_type(dt)))


# -- activations ----------------------------------------------------------------------------------------
_UNARY = {"relu": "Relu", "relu_": "Relu", "sigmoid": "Sigmoid", "sigmoid_": "Sigmoid", "tanh": "Tanh",
          "tanh_": "Tanh", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "abs": "Abs", "erf": "Erf",
          "floor": "Floor", "ceil": "Ceil", "reciprocal": "Reciprocal", "sin": "Sin", "cos": "Cos",
          "softsign": "Softsign", "sign": "Sign"}


def _unary(onnx_op):
    def tr(ctx, node, a):
        x = next(iter(a.values()))
        ctx.set(node, 0, ctx.add(onnx_op, [ctx.name(x, ctx.out_dtype(node))]))

    return tr


for _n, _o in _UNARY.items():
    for _p in ("torch.", "F.", "Tensor."):
        TRANSLATORS[_p + _n] = _unary(_o)


@translator("torch.rsqrt")
def _rsqrt(ctx, node, a):
    ctx.set(node, 0, ctx.add("Reciprocal", [ctx.add("Sqrt", [ctx.name(a["input"])])]))


@translator("F.leaky_relu", "F.leaky_relu_")
def _leaky_relu(ctx, node, a):
    ctx.set(node, 0, ctx.add("LeakyRelu", [ctx.name(a["input"])], alpha=float(a["negative_slope"])))


@translator("F.elu", "F.elu_")
def _elu(ctx, node, a):
    ctx.set(node, 0, ctx.add("Elu", [ctx.name(a["input"])], alpha=float(a["alpha"])))


@translator("F.selu", "F.selu_")
def _selu(ctx, node, a):
    ctx.set(node, 0, ctx.add("Selu", [ctx.name(a["input"])]))


@translator("F.silu", "torch.silu")
def _silu(ctx, node, a):
    x = ctx.name(a["input"])
    ctx.set(node, 0, ctx.add("Mul", [x, ctx.add("Sigmoid", [x])]))


@translator("F.hardtanh", "F.hardtanh_", "F.relu6")
def _hardtanh(ctx, node, a):
    lo, hi = (0.0, 6.0) if node.op == "F.relu6" else (float(a["min_val"]), float(a["max_val"]))
    dt = ctx.out_dtype(node)
    ctx.set(node, 0, ctx.add("Clip", [ctx.name(a["input"]), ctx.scalar(lo, dt), ctx.scalar(hi, dt)]))


@translator("F.hardsigmoid")
def _hardsigmoid(ctx, node, a):
    ctx.set(node, 0, ctx.add("HardSigmoid", [ctx.name(a["input"])], alpha=1.0 / 6, beta=0.5))


@translator("F.hardswish")
def _hardswish(ctx, node, a):
    ctx.set(node, 0, ctx.add("HardSwish", [ctx.name(a["input"])]))


@translator("F.softplus")
def _softplus(ctx, node, a):
    x = ctx.name(a["input"])
    beta = float(a["beta"])
    dt = ctx.out_dtype(node)
    if beta == 1:
        ctx.set(node, 0, ctx.add("Softplus", [x]))
    else:
        y = ctx.add("Softplus", [ctx.add("Mul", [x, ctx.scalar(beta, dt)])])
        ctx.set(node, 0, ctx.add("Div", [y, ctx.scalar(beta, dt)]))


@translator("F.gelu")
def _gelu(ctx, node, a):
    x = ctx.name(a["input"])
    approx = a["approximate"]
    dt = ctx.out_dtype(node)
    if ctx.opset >= 20:
        ctx.set(node, 0, ctx.add("Gelu", [x], approximate=approx))
        return
    if approx == "tanh":
        x3 = ctx.add("Mul", [ctx.add("Mul", [x, x]), x])
        inner = ctx.add("Add", [x, ctx.add("Mul", [x3, ctx.scalar(0.044715, dt)])])
        t = ctx.add("Tanh", [ctx.add("Mul", [inner, ctx.scalar(math.sqrt(2 / math.pi), dt)])])
    else:
        t = ctx.add("Erf", [ctx.add("Div", [x, ctx.scalar(math.sqrt(2.0), dt)])])
    y = ctx.add("Mul", [ctx.add("Mul", [x, ctx.add("Add", [t, ctx.scalar(1.0, dt)])]), ctx.scalar(0.5, dt)])
    ctx.set(node, 0, y)


def _softmax_like(onnx_op):
    def tr(ctx, node, a):
        x = a.get("input", a.get("self"))
        dim = a.get("dim")
        n = ctx.rank(x)
        if dim is None:
            dim = 0 if n in (0, 1, 3) else 1
        xn = ctx.name(x, ctx.out_dtype(node))
        ctx.set(node, 0, ctx.add(onnx_op, [xn], axis=_wrap(dim, max(n, 1))))

    return tr


for _p in ("torch.", "F.", "Tensor."):
    TRANSLATORS[_p + "softmax"] = _softmax_like("Softmax")
    TRANSLATORS[_p + "log_softmax"] = _softmax_like("LogSoftmax")


@translator("F.dropout", "F.dropout1d", "F.dropout2d", "F.dropout3d", "F.alpha_dropout", "F.feature_alpha_dropout",
            "torch.dropout")
def _dropout(ctx, node, a):
    training = a.get("training", a.get("train", False))
    if training and a.get("p", 0) > 0:
        raise unsupported(node.op, "dropout in training mode (export the model in eval mode)")
    ctx.set(node, 0, ctx.add("Identity", [ctx.name(a["input"])]))


# -- convolution, normalization, pooling ------------------------------------------------------------
@translator("F.conv1d", "F.conv2d", "F.conv3d")
def _conv(ctx, node, a):
    x, w, b = a["input"], a["weight"], a["bias"]
    wshape = ctx.shape(w)
    k = len(wshape) - 2
    kernel = list(wshape[2:])
    strides = _tuple(a["stride"], k)
    dil = _tuple(a["dilation"], k)
    pad = a["padding"]
    if isinstance(pad, str):
        if pad == "valid":
            pads = [0] * (2 * k)
        elif pad == "same":
            total = [d * (s - 1) for d, s in zip(dil, kernel)]
            pads = [t // 2 for t in total] + [t - t // 2 for t in total]
        else:
            raise unsupported(node.op, f"padding={pad!r}")
    else:
        p = _tuple(pad, k)
        pads = p + p
    dt = ctx.out_dtype(node)
    ins = [ctx.name(x, dt), ctx.name(w, dt)] + ([ctx.name(b, dt)] if b is not None else [])
    y = ctx.add("Conv", ins, kernel_shape=kernel, strides=strides, pads=pads, dilations=dil, group=int(a["groups"]))
    ctx.set(node, 0, y)


@translator("F.batch_norm")
def _batch_norm(ctx, node, a):
    x = a["input"]
    if a["training"] or a["running_mean"] is None or a["running_var"] is None:
        raise unsupported(node.op, "batch_norm in training mode / without running statistics (export in eval "
                                   "mode with track_running_stats=True)")
    C = ctx.shape(x)[1]
    dt = ctx.out_dtype(node)
    w = ctx.name(a["weight"], dt) if a["weight"] is not None else ctx.init(np.ones(C, dt), "onnx::ones")
    b = ctx.name(a["bias"], dt) if a["bias"] is not None else ctx.init(np.zeros(C, dt), "onnx::zeros")
    y = ctx.add("BatchNormalization", [ctx.name(x, dt), w, b, ctx.name(a["running_mean"], dt),
                                       ctx.name(a["running_var"], dt)], epsilon=float(a["eps"]),
                momentum=1.0 - float(a["momentum"] if a["momentum"] is not None else 0.1))
    ctx.set(node, 0, y)


@translator("F.layer_norm")
def _layer_norm(ctx, node, a):
    x = a["input"]
    ns = a["normalized_shape"]
    ns = [int(ns)] if isinstance(ns, int) else [int(v) for v in ns]
    dt = ctx.out_dtype(node)
    xn = ctx.name(x, dt)
    axis = -len(ns)
    eps = float(a["eps"])
    if ctx.opset >= 17:
        w = ctx.name(a["weight"], dt) if a["weight"] is not None else ctx.init(np.ones(ns, dt), "onnx::ones")
        ins = [xn, w] + ([ctx.name(a["bias"], dt)] if a["bias"] is not None else [])
        ctx.set(node, 0, ctx.add("LayerNormalization", ins, axis=axis, epsilon=eps))
        return
    axes = list(range(ctx.rank(x) - len(ns), ctx.rank(x)))
    mean = ctx.reduce("ReduceMean", xn, axes, True)
    d = ctx.add("Sub", [xn, mean])
    var = ctx.reduce("ReduceMean", ctx.add("Mul", [d, d]), axes, True)
    y = ctx.add("Div", [d, ctx.add("Sqrt", [ctx.add("Add", [var, ctx.scalar(eps, dt)])])])
    if a["weight"] is not None:
        y = ctx.add("Mul", [y, ctx.name(a["weight"], dt)])
    if a["bias"] is not None:
        y = ctx.add("Add", [y, ctx.name(a["bias"], dt)])
    ctx.set(node, 0, y)


def _pool_common(ctx, node, a, k):
    kernel = _tuple(a["kernel_size"], k)
    stride = a.get("stride")
    strides = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) else _tuple(stride, k)
    p = _tuple(a["padding"], k)
    return kernel, strides, p + p


@translator("F.max_pool1d", "F.max_pool2d", "F.max_pool3d")
def _max_pool(ctx, node, a):
    if a.get("return_indices"):
        raise unsupported(node.op, "return_indices=True")
    k = int(node.op[-2])
    kernel, strides, pads = _pool_common(ctx, node, a, k)
    y = ctx.add("MaxPool", [ctx.name(a["input"])], kernel_shape=kernel, strides=strides, pads=pads,
                dilations=_tuple(a["dilation"], k), ceil_mode=int(bool(a["ceil_mode"])))
    ctx.set(node, 0, y)


@translator("F.avg_pool1d", "F.avg_pool2d", "F.avg_pool3d")
def _avg_pool(ctx, node, a):
    if a.get("divisor_override") is not None:
        raise unsupported(node.op, "divisor_override")
    k = int(node.op[-2])
    kernel, strides, pads = _pool_common(ctx, node, a, k)
    y = ctx.add("AveragePool", [ctx.name(a["input"])], kernel_shape=kernel, strides=strides, pads=pads,
                ceil_mode=int(bool(a["ceil_mode"])), count_include_pad=int(bool(a["count_include_pad"])))
    ctx.set(node, 0, y)


def _adaptive(global_op, local_op):
    def tr(ctx, node, a):
        x = a["input"]
        shp = ctx.shape(x)
        k = int(node.op.split("pool")[1][0])
        out = a["output_size"]
        out = list(out) if isinstance(out, (tuple, list)) else [out] * k
        spatial = list(shp[-k:])
        out = [s if o is None else int(o) for o, s in zip(out, spatial)]
        xn = ctx.name(x)
        if all(o == 1 for o in out):
            ctx.set(node, 0, ctx.add(global_op, [xn]))
        elif all(s % o == 0 for s, o in zip(spatial, out)):
            kern = [s // o for s, o in zip(spatial, out)]
            ctx.set(node, 0, ctx.add(local_op, [xn], kernel_shape=kern, strides=kern))
        else:
            raise unsupported(node.op, f"output_size {tuple(out)} does not divide the input size {tuple(spatial)}")

    return tr


for _k in (1, 2, 3):
    TRANSLATORS[f"F.adaptive_avg_pool{_k}d"] = _adaptive("GlobalAveragePool", "AveragePool")
    TRANSLATORS[f"F.adaptive_max_pool{_k}d"] = _adaptive("GlobalMaxPool", "MaxPool")


@translator("F.embedding")
def _embedding(ctx, node, a):
    if a["max_norm"] is not None:
        raise unsupported(node.op, "max_norm (it renormalises the weight in place)")
    ctx.set(node, 0, ctx.add("Gather", [ctx.name(a["weight"]), ctx.name(a["input"])], axis=0))


@translator("F.pad")
def _pad(ctx, node, a):
    x = a["input"]
    pad = [int(p) for p in a["pad"]]
    n = ctx.rank(x)
    begins, ends = [0] * n, [0] * n
    for i in range(len(pad) // 2):
        begins[n - 1 - i] = pad[2 * i]
        ends[n - 1 - i] = pad[2 * i + 1]
    mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}.get(a["mode"])
    if mode is None or min(pad) < 0:
        raise unsupported(node.op, f"mode={a['mode']!r}" if mode is None else "negative padding")
    ins = [ctx.name(x), ctx.ints(begins + ends)]
    if mode == "constant":
        ins.append(ctx.scalar(a["value"] or 0, ctx.out_dtype(node)))
    ctx.set(node, 0, ctx.add("Pad", ins, mode=mode))


# -- shape ops ---------------------------------------------------------------------------------------
def _shape_arg(v):
    if len(v) == 1 and isinstance(v[0], (tuple, list)):
        return list(v[0])
    return list(v)


@translator("Tensor.view", "torch.reshape", "Tensor.reshape")
def _reshape(ctx, node, a):
    x = a["input"]
    shape = a["shape"]
    shape = _shape_arg(shape) if isinstance(shape, (tuple, list)) else [shape]
    if any(not isinstance(s, (int, Dim)) for s in shape):
        raise unsupported(node.op, f"shape {shape!r}")
    ctx.set(node, 0, ctx.add("Reshape", [ctx.name(x), ctx.shape_tensor(shape, like=x)]))


@translator("torch.flatten")
def _flatten(ctx, node, a):
    x = a["input"]
    n = ctx.rank(x)
    xn = ctx.name(x)
    if n == 0:
        ctx.set(node, 0, ctx.reshape(xn, [1]))
        return
    s, e = _wrap(a["start_dim"], n), _wrap(a["end_dim"], n)
    if s == e:
        ctx.set(node, 0, ctx.add("Identity", [xn]))
    elif e == n - 1 and s == 1:
        ctx.set(node, 0, ctx.add("Flatten", [xn], axis=1))
    else:
        shp = ctx.shape(x)
        ctx.set(node, 0, ctx.reshape(xn, [0] * s + [-1] + [int(v) for v in shp[e + 1:]]))


@translator("torch.transpose", "torch.swapaxes", "torch.swapdims")
def _transpose(ctx, node, a):
    vals = list(a.values())
    x = vals[0]
    n = ctx.rank(x)
    d0, d1 = _wrap(vals[1], n), _wrap(vals[2], n)
    perm = list(range(n))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    ctx.set(node, 0, ctx.transpose(ctx.name(x), perm))


@translator("torch.t", "Tensor.T")
def _t(ctx, node, a):
    x = next(iter(a.values()))
    n = ctx.rank(x)
    ctx.set(node, 0, ctx.transpose(ctx.name(x), list(reversed(range(n)))))


@translator("torch.permute")
def _permute(ctx, node, a):
    x = a["input"]
    dims = a["dims"]
    dims = _shape_arg(dims) if isinstance(dims, (tuple, list)) else [dims]
    n = ctx.rank(x)
    ctx.set(node, 0, ctx.transpose(ctx.name(x), [_wrap(d, n) for d in dims]))


@translator("torch.cat", "torch.concat", "torch.concatenate")
def _cat(ctx, node, a):
    ts = [t for t in a["tensors"] if ctx.shape(t) != (0,)]
    dim = a.get("dim", 0)
    if a.get("axis") is not None:
        dim = a["axis"]
    n = len(ctx.out_shape(node))
    dt = ctx.out_dtype(node)
    ctx.set(node, 0, ctx.add("Concat", [ctx.name(t, dt) for t in ts], axis=_wrap(dim, n)))


@translator("torch.stack")
def _stack(ctx, node, a):
    n = len(ctx.out_shape(node))
    d = _wrap(a["dim"], n)
    dt = ctx.out_dtype(node)
    parts = [ctx.unsqueeze(ctx.name(t, dt), [d]) for t in a["tensors"]]
    ctx.set(node, 0, ctx.add("Concat", parts, axis=d))


@translator("torch.unsqueeze")
def _unsqueeze(ctx, node, a):
    x = a["input"]
    ctx.set(node, 0, ctx.unsqueeze(ctx.name(x), [_wrap(a["dim"], ctx.rank(x) + 1)]))


@translator("torch.squeeze")
def _squeeze(ctx, node, a):
    x = a["input"]
    shp = ctx.shape(x)
    n = len(shp)
    dim = a["dim"]
    if dim is None:
        axes = [i for i, s in enumerate(shp) if s == 1]
    else:
        dims = dim if isinstance(dim, (tuple, list)) else [dim]
        axes = sorted({_wrap(d, n) for d in dims if shp[_wrap(d, n)] == 1}) if n else []
    xn = ctx.name(x)
    ctx.set(node, 0, ctx.squeeze(xn, axes) if axes else ctx.add("Identity", [xn]))


@translator("Tensor.expand")
def _expand(ctx, node, a):
    x = a["input"] if "input" in a else a["self"]
    ctx.set(node, 0, ctx.add("Expand", [ctx.name(x), ctx.ints(list(ctx.out_shape(node)))]))


@translator("Tensor.__getitem__")
def _getitem(ctx, node, a):
    x = a["self"]
    key = a["key"]
    xn = ctx.name(x)
    shp = ctx.shape(x)
    if ctx.is_tensor(key):
        kdt = ctx.meta(key)[1]
        if kdt.kind not in "iu":
            raise unsupported(node.op, "boolean-mask indexing")
        ctx.set(node, 0, ctx.add("Gather", [xn, ctx.name(key)], axis=0))
        return
    key = key if isinstance(key, tuple) else (key,)
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    expanded = []
    for k in key:
        if k is Ellipsis:
            expanded.extend([slice(None)] * (len(shp) - n_real))
        else:
            expanded.append(k)
    starts, ends, axes, steps, squeeze_axes, new_axes = [], [], [], [], [], []
    in_axis = out_pos = 0
    for k in expanded:
        if k is None:
            new_axes.append(out_pos)
            out_pos += 1
        elif isinstance(k, bool) or not isinstance(k, (int, slice)):
            raise unsupported(node.op, f"index {k!r}")
        elif isinstance(k, int):
            i = k + shp[in_axis] if k < 0 else k
            starts.append(i)
            ends.append(i + 1)
            axes.append(in_axis)
            steps.append(1)
            squeeze_axes.append(in_axis)
            in_axis += 1
        else:
            if any(type(v) is Dim for v in (k.start, k.stop, k.step)):
                raise unsupported(node.op, "a slice bound read from a tensor's shape")
            st = 1 if k.step is None else int(k.step)
            b = 0 if k.start is None else int(k.start)
            e = _INT64_MAX if k.stop is None else int(k.stop)
            if (b, e, st) != (0, _INT64_MAX, 1):
                starts.append(b)
                ends.append(e)
                axes.append(in_axis)
                steps.append(st)
            in_axis += 1
            out_pos += 1
    y = xn
    if axes:
        y = ctx.slice(y, starts, ends, axes, steps)
    if squeeze_axes:
        y = ctx.squeeze(y, squeeze_axes)
    if new_axes:
        y = ctx.unsqueeze(y, new_axes)
    if y == xn:
        y = ctx.add("Identity", [xn])
    ctx.set(node, 0, y)


# -- reductions, creation, masking --------------------------------------------------------------
def _reduction(onnx_op):
    def tr(ctx, node, a):
        x = a.get("input")
        dim = a.get("dim")
        keep = bool(a.get("keepdim", False))
        n = ctx.rank(x)
        dt = ctx.out_dtype(node)
        xn = ctx.name(x, dt)
        if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
            ctx.set(node, 0, ctx.reduce(onnx_op, xn, None, keep))
            return
        dims = dim if isinstance(dim, (tuple, list)) else [dim]
        ctx.set(node, 0, ctx.reduce(onnx_op, xn, sorted(_wrap(d, n) for d in dims), keep))

    return tr


TRANSLATORS["torch.mean"] = _reduction("ReduceMean")
TRANSLATORS["torch.sum"] = _reduction("ReduceSum")


def _creation(fill):
    def tr(ctx, node, a):
        size = a.get("size", ())
        size = _shape_arg(size) if isinstance(size, (tuple, list)) else [size]
        dt = ctx.out_dtype(node)
        value = helper.make_tensor("value", onnx_type(dt), [1], [fill if fill is not None else a["fill_value"]])
        ctx.set(node, 0, ctx.add("ConstantOfShape", [ctx.shape_tensor(size)], value=value))

    return tr


TRANSLATORS["torch.zeros"] = _creation(0)
TRANSLATORS["torch.ones"] = _creation(1)
TRANSLATORS["torch.full"] = _creation(None)


@translator("torch.zeros_like", "torch.ones_like")
def _like(ctx, node, a):
    dt = ctx.out_dtype(node)
    value = helper.make_tensor("value", onnx_type(dt), [1], [0 if node.op.endswith("zeros_like") else 1])
    shape = ctx.add("Shape", [ctx.name(a["input"])])
    ctx.set(node, 0, ctx.add("ConstantOfShape", [shape], value=value))


@translator("torch.masked_fill", "Tensor.masked_fill_")
def _masked_fill(ctx, node, a):
    vals = list(a.values())
    x, mask, value = vals[0], vals[1], vals[2]
    dt = ctx.out_dtype(node)
    ctx.set(node, 0, ctx.add("Where", [ctx.name(mask, np.bool_), ctx.name(value, dt), ctx.name(x, dt)]))


# -- recurrent networks -----------------------------------------------------------------------------
_GATE_ORDER = {"LSTM": [0, 3, 1, 2],   # PyTorch i,f,g,o -> ONNX i,o,f,c
               "GRU": [1, 0, 2],       # PyTorch r,z,n   -> ONNX z,r,h
               "RNN_TANH": [0], "RNN_RELU": [0]}


@translator("F.rnn_forward")
def _rnn(ctx, node, a):
    mode = a["mode"]
    if mode not in _GATE_ORDER:
        raise unsupported(node.op, f"mode {mode!r}")
    if a["proj_size"]:
        raise unsupported(node.op, "LSTM with proj_size > 0 (ONNX LSTM has no projection)")
    if a["training"] and a["dropout"] and a["num_layers"] > 1:
        raise unsupported(node.op, "inter-layer dropout in training mode (export in eval mode)")
    x, hx, weights = a["input"], a["hx"], list(a["weights"])
    lstm = mode == "LSTM"
    h0, c0 = (hx[0], hx[1]) if lstm else (hx, None)
    L = int(a["num_layers"])
    D = 2 if a["bidirectional"] else 1
    per = 4 if a["has_biases"] else 2
    H = ctx.shape(weights[1])[1]
    blocks = _GATE_ORDER[mode]
    idx = ctx.ints(np.concatenate([np.arange(b * H, (b + 1) * H) for b in blocks]))
    dt = ctx.out_dtype(node)
    layer_in = ctx.name(x, dt)
    h0n = ctx.name(h0, dt) if h0 is not None else ""
    c0n = ctx.name(c0, dt) if c0 is not None else ""
    hs, cs = [], []
    onnx_op = "LSTM" if lstm else ("GRU" if mode == "GRU" else "RNN")
    for layer in range(L):
        Ws, Rs, Bs = [], [], []
        for d in range(D):
            ws = weights[(layer * D + d) * per:(layer * D + d + 1) * per]
            Ws.append(ctx.unsqueeze(ctx.add("Gather", [ctx.name(ws[0], dt), idx], axis=0), [0]))
            Rs.append(ctx.unsqueeze(ctx.add("Gather", [ctx.name(ws[1], dt), idx], axis=0), [0]))
            if per == 4:
                bi = ctx.add("Gather", [ctx.name(ws[2], dt), idx], axis=0)
                bh = ctx.add("Gather", [ctx.name(ws[3], dt), idx], axis=0)
                Bs.append(ctx.unsqueeze(ctx.add("Concat", [bi, bh], axis=0), [0]))
        W = Ws[0] if D == 1 else ctx.add("Concat", Ws, axis=0)
        R = Rs[0] if D == 1 else ctx.add("Concat", Rs, axis=0)
        B = (Bs[0] if D == 1 else ctx.add("Concat", Bs, axis=0)) if Bs else ""
        ins = [layer_in, W, R, B, ""]
        ins.append(ctx.slice(h0n, [layer * D], [(layer + 1) * D], [0]) if h0n else "")
        if lstm:
            ins.append(ctx.slice(c0n, [layer * D], [(layer + 1) * D], [0]) if c0n else "")
        while ins and ins[-1] == "":
            ins.pop()
        attrs = dict(hidden_size=int(H), direction="bidirectional" if D == 2 else "forward")
        if mode == "GRU":
            attrs["linear_before_reset"] = 1
        if mode.startswith("RNN"):
            attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"] * D
        outs = ctx.add(onnx_op, ins, n_out=3 if lstm else 2, **attrs)
        Y = outs[0]
        hs.append(outs[1])
        if lstm:
            cs.append(outs[2])
        # Y: (T, D, B, H) -> (T, B, D * H)
        layer_in = ctx.add("Reshape", [ctx.transpose(Y, [0, 2, 1, 3]), ctx.ints([0, 0, -1])])
    ctx.set(node, 0, layer_in)
    ctx.set(node, 1, hs[0] if L == 1 else ctx.add("Concat", hs, axis=0))
    if lstm:
        ctx.set(node, 2, cs[0] if L == 1 else ctx.add("Concat", cs, axis=0))


# -- attention ----------------------------------------------------------------------------------------
@translator("F.multi_head_attention_forward")
def _mha(ctx, node, a):
    for k in ("bias_k", "bias_v", "static_k", "static_v"):
        if a[k] is not None:
            raise unsupported(node.op, f"{k} is not None")
    if a["add_zero_attn"]:
        raise unsupported(node.op, "add_zero_attn=True")
    if a["training"] and a["dropout_p"] > 0:
        raise unsupported(node.op, "attention dropout in training mode (export in eval mode)")
    q, k, v = a["query"], a["key"], a["value"]
    E = int(a["embed_dim_to_check"])
    H = int(a["num_heads"])
    hd = E // H
    dt = ctx.out_dtype(node)
    batched = ctx.rank(q) == 3
    qn, kn, vn = ctx.name(q, dt), ctx.name(k, dt), ctx.name(v, dt)
    kpm = a["key_padding_mask"]
    kpmn = ctx.name(kpm) if kpm is not None else None
    if not batched:
        qn, kn, vn = (ctx.unsqueeze(t, [1]) for t in (qn, kn, vn))
        if kpmn is not None:
            kpmn = ctx.unsqueeze(kpmn, [0])
    if a["use_separate_proj_weight"]:
        ws = [ctx.name(a[n], dt) for n in ("q_proj_weight", "k_proj_weight", "v_proj_weight")]
    else:
        w = ctx.name(a["in_proj_weight"], dt)
        ws = [ctx.slice(w, [i * E], [(i + 1) * E], [0]) for i in range(3)]
    b = a["in_proj_bias"]
    bs = [None] * 3 if b is None else [ctx.slice(ctx.name(b, dt), [i * E], [(i + 1) * E], [0]) for i in range(3)]

    def proj(x, w_, b_):
        y = ctx.add("MatMul", [x, ctx.transpose(w_, [1, 0])])
        return ctx.add("Add", [y, b_]) if b_ is not None else y

    Q, K, V = proj(qn, ws[0], bs[0]), proj(kn, ws[1], bs[1]), proj(vn, ws[2], bs[2])
    heads = ctx.ints([0, 0, H, hd])
    Qh = ctx.transpose(ctx.add("Reshape", [Q, heads]), [1, 2, 0, 3])    # (N, H, L, hd)
    KhT = ctx.transpose(ctx.add("Reshape", [K, heads]), [1, 2, 3, 0])   # (N, H, hd, S)
    Vh = ctx.transpose(ctx.add("Reshape", [V, heads]), [1, 2, 0, 3])    # (N, H, S, hd)
    scores = ctx.add("Mul", [ctx.add("MatMul", [Qh, KhT]), ctx.scalar(1.0 / math.sqrt(hd), dt)])
    mask = a["attn_mask"]
    if mask is not None:
        mshape, mdt = ctx.meta(mask)
        mn = ctx.name(mask)
        if len(mshape) == 3:  # (N * H, L, S) -> (N, H, L, S)
            mn = ctx.add("Reshape", [mn, ctx.ints([-1, H, mshape[1], mshape[2]])])
        if mdt == np.bool_:
            scores = ctx.add("Where", [mn, ctx.scalar(-np.inf, dt), scores])
        else:
            scores = ctx.add("Add", [scores, ctx.name(mask, dt) if len(mshape) != 3 else
                                     (mn if mdt == dt else ctx.add("Cast", [mn], to=onnx_type(dt)))])
    if kpmn is not None:
        m4 = ctx.unsqueeze(kpmn, [1, 2])  # (N, 1, 1, S)
        if ctx.meta(kpm)[1] == np.bool_:
            scores = ctx.add("Where", [m4, ctx.scalar(-np.inf, dt), scores])
        else:
            if ctx.meta(kpm)[1] != dt:
                m4 = ctx.add("Cast", [m4], to=onnx_type(dt))
            scores = ctx.add("Add", [scores, m4])
    attn = ctx.add("Softmax", [scores], axis=-1)
    out = ctx.add("MatMul", [attn, Vh])                                   # (N, H, L, hd)
    out = ctx.add("Reshape", [ctx.transpose(out, [2, 0, 1, 3]), ctx.ints([0, 0, E])])  # (L, N, E)
    out = proj(out, ctx.name(a["out_proj_weight"], dt),
               ctx.name(a["out_proj_bias"], dt) if a["out_proj_bias"] is not None else None)
    if not batched:
        out = ctx.squeeze(out, [1])
    ctx.set(node, 0, out)
    if len(node.outputs) > 1:
        wts = ctx.reduce("ReduceMean", attn, [1], False) if a["average_attn_weights"] else attn
        if not batched:
            wts = ctx.squeeze(wts, [0])
        ctx.set(node, 1, wts)


# -- the model ----------------------------------------------------------------------------------------
def translate(ctx, nodes):
    for node in nodes:
        tr = TRANSLATORS.get(node.op)
        if tr is None:
            raise UnsupportedOperatorError(
                f"engine.onnx.export: the op {node.op} has no ONNX translation (supported ops: see docs/deploy.md)")
        try:
            args = node.bound()
        except TypeError as e:
            raise OnnxExporterError(f"engine.onnx.export: cannot read the arguments of {node.op}: {e}") from None
        ctx.cur = node.op.replace(".", "_")
        tr(ctx, node, args)
        for k in range(len(node.outputs)):
            if node.outputs[k] not in ctx.names:
                raise OnnxExporterError(f"engine.onnx.export: the translation of {node.op} left output {k} unset")


def value_info(name, np_dtype, shape, dyn=None):
    dims = []
    for i, s in enumerate(shape):
        if dyn and i in dyn:
            dims.append(dyn[i])
        else:
            dims.append(int(s) if s is not None else None)
    return helper.make_tensor_value_info(name, onnx_type(np_dtype), dims)


def build_model(ctx, in_names, in_vis, out_vis, opset, producer_version, keep_inits_as_inputs, graph_name):
    inputs = list(in_vis)
    for name, (dt, shape) in ctx.param_inputs.items():
        inputs.append(value_info(name, dt, shape))
    inits = list(ctx.inits.values())
    if keep_inits_as_inputs:
        for t in inits:
            inputs.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    graph = helper.make_graph(ctx.nodes, graph_name, inputs, out_vis, initializer=inits)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="gradlab",
                              producer_version=producer_version)
    model.ir_version = max(helper.find_min_ir_version_for(opsets), 8)
    return model


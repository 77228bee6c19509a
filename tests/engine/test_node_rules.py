"""The texts every graph node shows in the playground (``Node.forward``, ``Node.formula``,
``Node.rule()``): every node class has them, in one of the documented forms, and a node made by
a real op has an assignment for each input that can receive a gradient."""
import importlib
import pkgutil
import re

import numpy as np
import pytest

import engine
import engine.nn.functional as F
from engine.autograd.graph import AccumulateGrad, Node

rng = np.random.default_rng(3)

# Classes that may go without texts because no instance of them (or of a subclass inheriting
# their texts) can be in a graph, with the reason.  None at present: helper bases have texts too,
# since their subclasses and factory products inherit whatever they do not set.
ABSTRACT = {}

# Public classes that take their ``forward`` from a private base on purpose, with the reason.
INHERITED_FROM_HELPER = {
    "_MatmulBackward": "a matmul named after PyTorch's last internal op (UnsafeViewBackward0, ...)",
    "_EinsumBackward": "an einsum named after the op PyTorch would record (ViewBackward0, ...)",
}

# The documented forms of a formula's assignments (see the comment on Node.formula).
LINE_FORMS = (
    re.compile(r"grad_[A-Za-z_][A-Za-z0-9_]* = \S"),  # grad_<input> = expr
    re.compile(r"grad_[A-Za-z_][A-Za-z0-9_]*\[i\] = \S"),  # grad_<list>[i] = expr
    re.compile(r"grads = \S"),  # all input gradients at once
    re.compile(r"leaf\.grad \+= grad$"),  # AccumulateGrad
)


def t(*shape, positive=False, grad=True):
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return engine.tensor(a, dtype=engine.float64, requires_grad=grad)


class Cube(engine.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


def _module_with_hooks():
    lin = engine.nn.Linear(3, 2).double()
    lin.register_full_backward_hook(lambda m, gi, go: None)
    return lin(t(4, 3))


def _double_backward():
    a, b = t(3, 4), t(4, 2)
    (g,) = engine.autograd.grad(engine.mm(a, b).pow(2).sum(), a, create_graph=True)
    return g


def _create_graph_grads():
    """Backward passes that build graphs of their own (private helper nodes show up there)."""
    x, m = t(4), t(3, 4)
    zero = engine.tensor([1.0, 0.0, 1.0, 1.0], dtype=engine.float64)
    pairs = [(engine.cumsum(x, 0), x), (x[1:3], x), (m.max(1)[0], m), ((x * zero).prod(), x),
             (engine.cumprod(x, 0), x)]
    return tuple(engine.autograd.grad(y.pow(2).sum(), w, create_graph=True)[0] for y, w in pairs)


def _in_place_through_view():
    base = t(4, 3) * 1.0
    base[1:3].mul_(t(2, 3))
    return base


# Real ops: each builds an output whose graph is checked node by node; several make node classes
# that exist only once the op has run (factory classes named at run time).
SAMPLES = {
    "arithmetic": lambda: (engine.add(t(3, 4), t(4), alpha=2.0) - t(3, 4)) * t(3, 4) / t(3, 4, positive=True),
    "scalars": lambda: (2.0 - (t(3) * 2.5) / 4.0) ** 3 + 2.0 ** t(3),
    "pow_tensor": lambda: t(4, positive=True) ** t(4),
    "neg_rem": lambda: engine.remainder(-t(4), t(4, positive=True)) + engine.fmod(t(4), 1.5),
    "lerp": lambda: engine.lerp(t(4), t(4), 0.3) + engine.lerp(t(4), t(4), t(4)),
    "trunc_div": lambda: engine.div(t(4), t(4, positive=True), rounding_mode="trunc"),
    "floor_div": lambda: engine.floor_divide(t(4), t(4, positive=True)),
    "unary": lambda: sum(getattr(engine, f)(t(3)) for f in (
        "abs", "exp", "exp2", "expm1", "sin", "cos", "tan", "atan", "sinh", "cosh", "tanh", "sigmoid", "relu",
        "erf", "floor", "ceil", "round", "trunc", "sign", "sgn", "frac", "nan_to_num")),
    "unary_positive": lambda: sum(getattr(engine, f)(t(3, positive=True)) for f in (
        "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal")),
    "unary_unit": lambda: engine.asin(t(3) * 0.1) + engine.acos(t(3) * 0.1) + engine.round(t(3), decimals=1),
    "binary": lambda: (engine.atan2(t(3), t(3)) + engine.maximum(t(3), t(3)) + engine.minimum(t(3), t(3))
                       + engine.fmax(t(3), t(3)) + engine.fmin(t(3), t(3))),
    "where": lambda: engine.where(t(3, grad=False) > 0, t(3), t(3)),
    "clamp": lambda: (engine.clamp(t(5), -0.5, 0.5) + engine.clamp(t(5), t(5), t(5) + 1)
                      + engine.clamp_min(t(5), 0.1) + engine.clamp_max(t(5), 0.1)
                      + engine.clamp_min(t(5), t(5)) + engine.clamp_max(t(5), t(5))),
    "reductions": lambda: (t(3, 4).sum() + t(3, 4).sum(1).sum() + t(3, 4).nansum(1).sum() + t(3, 4).mean()
                           + t(3, 4).mean(0).sum() + t(3, 4).prod() + t(3, 4).prod(1).sum()
                           + t(3, 4).amax(1).sum() + t(3, 4).amin(1).sum() + t(3, 4).max() + t(3, 4).min()
                           + t(3, 4).median() + t(3, 4).var(1).sum() + t(3, 4).std(1).sum()
                           + t(3, 4).norm() + engine.logsumexp(t(3, 4), 1).sum()),
    "selections": lambda: (t(3, 4).max(1)[0].sum() + t(3, 4).min(1)[0].sum() + t(3, 4).median(1)[0].sum()
                           + engine.kthvalue(t(3, 4), 2, 1)[0].sum() + engine.sort(t(3, 4), 1)[0].sum()
                           + engine.topk(t(3, 4), 2, 1)[0].sum()),
    "var_mean": lambda: sum(a.sum() + b.sum() for a, b in (engine.var_mean(t(3, 4), 1), engine.std_mean(t(3, 4), 1))),
    "cumulative": lambda: engine.cumsum(t(3, 4), 1) + engine.cumprod(t(3, 4), 1),
    "softmax": lambda: engine.softmax(t(3, 4), 1) + engine.log_softmax(t(3, 4), 1),
    "unique": lambda: (engine.unique(t(6)), engine.unique(t(3, 2), dim=0), engine.unique_consecutive(t(6))),
    "shapes": lambda: (t(2, 6).view(3, 4).sum() + t(2, 6).reshape(4, 3).t().sum() + t(3, 1).expand(3, 4).sum()
                       + t(2, 3).repeat(2, 1).sum() + t(2, 3, 4).permute(2, 0, 1).sum()
                       + t(2, 3, 4).transpose(0, 2).sum() + t(3, 1).squeeze().sum() + t(3, 1).squeeze(1).sum()
                       + t(3, 1, 1).squeeze((1, 2)).sum() + t(3).unsqueeze(0).sum() + t(2, 3).flip(0).sum()
                       + t(2, 3).roll(1, 0).sum() + t(3, 3).tril().sum() + t(3, 3).triu().sum()),
    "views": lambda: (t(4, 5)[1:3, ::2].sum() + t(3, 4)[1].sum() + t(2, 3)[...].sum() + t(3)[None].sum()
                      + t(3, 4)[engine.tensor([0, 2])].sum() + t(4, 3).narrow(0, 1, 2).sum()),
    "split": lambda: sum(p.sum() for p in (*t(4, 3).split(2), *t(4, 3).split([1, 3]), *t(4, 3).unbind(0),
                                          *t(4, 3).chunk(2))),
    "cat_stack": lambda: engine.cat([t(2, 3), t(1, 3)]).sum() + engine.stack([t(3), t(3)]).sum(),
    "indexing": lambda: (t(3, 4).index_select(1, engine.tensor([0, 2])).sum()
                         + t(3, 4).gather(1, engine.tensor([[0], [1], [2]])).sum()
                         + t(3, 4).scatter(1, engine.tensor([[0], [1], [2]]), t(3, 1)).sum()
                         + t(3, 4).scatter(1, engine.tensor([[0], [1], [2]]), 2.0).sum()
                         + t(3, 4).scatter_add(1, engine.tensor([[0], [1], [2]]), t(3, 1)).sum()
                         + t(3, 4).index_add(1, engine.tensor([0, 2]), t(3, 2), alpha=2.0).sum()
                         + t(3, 4).index_fill(1, engine.tensor([0, 2]), 1.0).sum()
                         + t(3, 4).index_fill(1, engine.tensor([0, 2]), t(1).reshape(())).sum()
                         + t(3, 4).index_copy(1, engine.tensor([0, 2]), t(3, 2)).sum()
                         + t(3, 4).masked_fill(t(3, 4, grad=False) > 0, 1.0).sum()
                         + t(3, 4).masked_fill(t(3, 4, grad=False) > 0, t(1).reshape(())).sum()
                         + t(3, 4).masked_select(t(3, 4, grad=False) > 0).sum()
                         + t(3, 4).masked_scatter(t(3, 4, grad=False) > 0, t(12)).sum()
                         + t(3, 4).take(engine.tensor([0, 5])).sum()
                         + t(3, 4).put(engine.tensor([0, 5]), t(2)).sum()
                         + t(3, 4).index_put((engine.tensor([0, 2]),), t(4)).sum()),
    "scatter_reduce": lambda: t(3, 4).scatter(1, engine.tensor([[0], [1], [2]]), t(3, 1), reduce="add"),
    "in_place": lambda: ((t(3) * 1.0).copy_(t(3)) + (t(3) * 1.0).fill_(2.0) + (t(3) * 1.0).zero_()
                         + (t(3) * 1.0).fill_(t(1).reshape(()))),
    "in_place_view": _in_place_through_view,
    "linalg": lambda: (engine.mm(t(3, 4), t(4, 2)).sum() + engine.bmm(t(2, 3, 4), t(2, 4, 5)).sum()
                       + engine.mv(t(3, 4), t(4)).sum() + engine.dot(t(5), t(5)) + engine.vdot(t(5), t(5))
                       + engine.matmul(t(2, 3, 4), t(4, 2)).sum() + engine.matmul(t(4), t(4, 2)).sum()
                       + engine.matmul(t(2, 3, 4), t(2, 4, 2)).sum() + engine.matmul(t(3, 4), t(2, 4, 2)).sum()
                       + engine.addmm(t(3, 2), t(3, 4), t(4, 2), beta=0.5, alpha=2.0).sum()
                       + engine.baddbmm(t(2, 3, 5), t(2, 3, 4), t(2, 4, 5)).sum()
                       + engine.addmv(t(3), t(3, 4), t(4)).sum()
                       + engine.einsum("ij,jk->ik", t(2, 3), t(3, 4)).sum() + engine.einsum("ii->i", t(3, 3)).sum()
                       + engine.inner(t(2, 3), t(4, 3)).sum() + engine.tensordot(t(2, 3), t(3, 2), 1).sum()),
    "double_backward": _double_backward,
    "create_graph": _create_graph_grads,
    "random": lambda: (engine.normal(t(3), t(3, positive=True)) + engine.normal(t(3), 1.0)
                       + engine.normal(0.0, t(3, positive=True)) + engine.bernoulli(engine.sigmoid(t(3)))
                       + engine.poisson(t(3, positive=True)) + (t(3) * 1.0).uniform_()
                       + (t(3) * 1.0).normal_() + (t(3) * 1.0).exponential_() + (t(3) * 1.0).cauchy_()),
    "conversion": lambda: t(3).to(engine.float32).sum() + t(3).clone().sum() + t(3, 2).t().contiguous().sum(),
    "custom_function": lambda: Cube.apply(t(3)),
    "module_hooks": _module_with_hooks,
    "linear": lambda: F.linear(t(2, 3, 4), t(5, 4)).sum() + F.linear(t(4), t(5, 4)).sum()
                      + F.bilinear(t(2, 3), t(2, 4), t(5, 3, 4), t(5)).sum(),
    "conv": lambda: (F.conv2d(t(1, 2, 5, 5), t(3, 2, 3, 3), t(3)).sum()
                     + F.conv_transpose2d(t(1, 2, 4, 4), t(2, 3, 3, 3)).sum()
                     + F.unfold(t(1, 2, 4, 4), 2).sum() + F.fold(t(1, 8, 9), (4, 4), 2).sum()),
    "conv_double": lambda: engine.autograd.grad(F.conv2d(t(1, 2, 5, 5), (w := t(3, 2, 3, 3))).pow(2).sum(), w,
                                                create_graph=True)[0],
    "pooling": lambda: (F.max_pool2d(t(1, 2, 4, 4), 2).sum() + F.max_pool3d(t(1, 1, 4, 4, 4), 2).sum()
                        + F.adaptive_max_pool2d(t(1, 2, 4, 4), 2).sum()
                        + F.adaptive_max_pool3d(t(1, 1, 4, 4, 4), 2).sum() + F.avg_pool2d(t(1, 2, 4, 4), 2).sum()
                        + F.avg_pool3d(t(1, 1, 4, 4, 4), 2).sum() + F.adaptive_avg_pool2d(t(1, 2, 5, 5), 3).sum()),
    "pool_double": lambda: engine.autograd.grad(F.max_pool2d((x := t(1, 1, 4, 4)), 2).pow(2).sum(), x,
                                                create_graph=True)[0]
                           + engine.autograd.grad(F.avg_pool2d((z := t(1, 1, 4, 4)), 2).pow(2).sum(), z,
                                                  create_graph=True)[0],
    "vision": lambda: (F.pad(t(1, 1, 3, 3), (1, 1)).sum() + F.pad(t(1, 1, 3, 3), (1, 1, 1, 1), mode="reflect").sum()
                       + F.pad(t(1, 3, 3), (1, 1), mode="replicate").sum()
                       + F.interpolate(t(1, 1, 3, 3), scale_factor=2).sum()
                       + F.interpolate(t(1, 1, 3, 3), scale_factor=2, mode="bilinear").sum()),
    "activations": lambda: sum(f(t(6)).sum() for f in (
        F.leaky_relu, F.elu, F.selu, F.celu, F.gelu, lambda x: F.gelu(x, approximate="tanh"), F.silu, F.mish,
        F.softplus, F.logsigmoid, F.hardtanh, F.hardsigmoid, F.hardswish, lambda x: F.threshold(x, 0.1, 0.0),
        F.hardshrink, F.softshrink, F.rrelu, F.glu)),
    "activations_in_place": lambda: sum(f(t(6) * 1.0).sum() for f in (
        F.leaky_relu_, F.elu_, F.celu_, lambda x: F.threshold_(x, 0.1, 0.0))),
    "prelu": lambda: F.prelu(t(2, 3), t(3)),
    "norms": lambda: (F.batch_norm(t(4, 3), None, None, t(3), t(3), training=True).sum()
                      + F.layer_norm(t(2, 3), (3,), t(3), t(3)).sum() + F.group_norm(t(2, 4), 2, t(4), t(4)).sum()),
    "embedding": lambda: F.embedding(engine.tensor([0, 2, 2]), t(4, 3)),
    "losses": lambda: (F.mse_loss(t(3, 4), t(3, 4)) + F.huber_loss(t(3, 4), t(3, 4))
                       + F.smooth_l1_loss(t(3, 4), t(3, 4), beta=0.5)
                       + F.nll_loss(F.log_softmax(t(4, 3), 1), engine.tensor([0, 2, 1, 2]))
                       + F.cross_entropy(t(4, 3), engine.tensor([0, 2, 1, 2]))
                       + F.nll_loss(F.log_softmax(t(2, 3, 2, 2), 1), engine.tensor(rng.integers(0, 3, (2, 2, 2))))
                       + F.binary_cross_entropy(engine.sigmoid(t(4)), engine.sigmoid(t(4)))
                       + F.binary_cross_entropy_with_logits(t(4), engine.sigmoid(t(4)), pos_weight=t(4, grad=False))
                       + F.soft_margin_loss(t(4), engine.tensor([1.0, -1.0, 1.0, -1.0], dtype=engine.float64))
                       + F.kl_div(t(4), engine.softmax(t(4), 0), reduction="sum", log_target=False)
                       + F.cross_entropy(t(4, 3), engine.softmax(t(4, 3, grad=False), 1), label_smoothing=0.1)
                       + F.cross_entropy(t(4, 3), engine.tensor([0, 2, 1, 2]), label_smoothing=0.1)
                       + F.margin_ranking_loss(t(5), t(5), engine.tensor([1.0, -1.0, 1.0, 1.0, -1.0]), margin=0.1)),
    "rnn": lambda: sum(m(t(5, 2, 3))[0].sum() for m in (
        engine.nn.LSTM(3, 4).double(), engine.nn.GRU(3, 4).double(), engine.nn.RNN(3, 4).double(),
        engine.nn.RNN(3, 4, nonlinearity="relu").double())),
    "attention": lambda: F.scaled_dot_product_attention(t(1, 2, 3, 4), t(1, 2, 3, 4), t(1, 2, 3, 4),
                                                        attn_mask=t(3, 3)),
}


def _import_all():
    for m in pkgutil.walk_packages(engine.__path__, "engine."):
        importlib.import_module(m.name)


def _subclasses(cls):
    for s in cls.__subclasses__():
        yield s
        yield from _subclasses(s)


def _graph_nodes(out):
    """Every node of the graphs behind ``out`` (a tensor, or a tuple of them)."""
    outs = out if isinstance(out, (tuple, list)) else (out,)
    todo = [o.grad_fn for o in outs if isinstance(o, engine.Tensor) and o.grad_fn is not None]
    seen = {}
    while todo:
        n = todo.pop()
        if id(n) in seen:
            continue
        seen[id(n)] = n
        todo.extend(f for f, _ in n.next_functions if f is not None)
    return list(seen.values())


_RUN = {}


def _run_samples():
    """Run every sample once (this also makes the classes factories name at run time)."""
    if not _RUN:
        for name, make in SAMPLES.items():
            _RUN[name] = _graph_nodes(make())
    return _RUN


def _all_classes():
    """Every node class of the engine: those its modules define, those factories make while the
    samples run, and the node classes of custom Functions (made in engine.autograd.function);
    classes a test defines for itself are left out."""
    _import_all()
    _run_samples()
    return [c for c in dict.fromkeys(_subclasses(Node)) if c.__module__.split(".")[0] == "engine"]


def _label(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _defining(cls, attr):
    return next(c for c in cls.__mro__ if attr in c.__dict__)


def test_every_node_class_has_texts():
    classes = _all_classes()
    assert len(classes) > 200
    missing = []
    for cls in classes:
        if cls.__name__ in ABSTRACT:
            continue
        if not (isinstance(cls.forward, str) and cls.forward.strip() and isinstance(cls.formula, str)
                and cls.formula.strip()):
            missing.append(_label(cls))
    assert not missing, missing


def test_abstract_entries_are_real_and_textless():
    names = {c.__name__: c for c in _all_classes()}
    for name, reason in ABSTRACT.items():
        assert reason and name in names, name
        assert names[name].forward is None or names[name].formula is None, name


def test_texts_are_short_ascii_lines_in_documented_forms():
    bad = []
    for cls in _all_classes():
        if cls.__name__ in ABSTRACT:
            continue
        rule = cls.rule()
        fwd, lines = rule["forward"], rule["lines"]
        if not fwd.isascii() or "\n" in fwd or len(fwd) > 100:
            bad.append((_label(cls), "forward", fwd))
        if not lines:
            bad.append((_label(cls), "no lines", cls.formula))
        targets = []
        for line in lines:
            if not line.isascii() or "\n" in line or len(line) > 120 or line != line.strip():
                bad.append((_label(cls), "line", line))
            if not any(f.match(line) for f in LINE_FORMS):
                bad.append((_label(cls), "form", line))
            targets.append(line.split(" = ", 1)[0].split(" += ", 1)[0])
        if len(set(targets)) != len(targets):
            bad.append((_label(cls), "an input assigned twice", targets))
    assert not bad, bad


def test_rule_splits_the_formula():
    assert engine.ops.arithmetic.MulBackward0.rule() == {
        "forward": "result = self * other", "lines": ["grad_self = grad * other", "grad_other = grad * self"]}
    assert AccumulateGrad.rule() == {"forward": "leaf tensor (requires_grad=True)", "lines": ["leaf.grad += grad"]}

    class Bare(Node):
        pass

    class LogSoftmaxBackward7(Node):
        formula = "grad_self = grad"

    assert Bare.rule() == {"forward": "result = bare(...)", "lines": []}
    assert LogSoftmaxBackward7.rule()["forward"] == "result = log_softmax(...)"
    # a node gives its class's text
    y = t(3) * t(3)
    assert y.grad_fn.rule() == type(y.grad_fn).rule()


def test_factory_classes_have_their_own_texts():
    """A public class that took its ``forward`` from a private helper base would show the
    helper's generic words instead of its op: subclasses and factories name each class's op
    (a shared ``formula`` is fine: the derivative is the same)."""
    bad = []
    for cls in _all_classes():
        if cls.__name__.startswith("_") or cls.__name__ in ABSTRACT:
            continue
        owner = _defining(cls, "forward")
        if owner.__name__.startswith("_") and owner.__name__ not in INHERITED_FROM_HELPER:
            bad.append((_label(cls), owner.__name__))
    assert not bad, bad


def test_custom_function_node_names_the_function():
    y = Cube.apply(t(3))
    assert y.grad_fn.rule() == {"forward": "result = Cube.forward(ctx, ...)",
                                "lines": ["grads = Cube.backward(ctx, grad)"]}


def _checkable(lines):
    return not any(line.startswith("grads = ") or "[i] = " in line for line in lines)


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_a_line_for_each_input_that_can_get_a_gradient(sample):
    nodes = _run_samples()[sample]
    assert nodes, f"{sample} recorded no node"
    bad = []
    for node in nodes:
        rule = node.rule()
        if not _checkable(rule["lines"]):
            continue
        inputs = sum(f is not None for f, _ in node.next_functions)
        if len(rule["lines"]) < inputs:
            bad.append((node.name(), inputs, rule["lines"]))
    assert not bad, bad


def test_samples_cover_most_node_classes():
    seen = {type(n) for nodes in _run_samples().values() for n in nodes}
    public = [c for c in _all_classes() if not c.__name__.startswith("_")]
    covered = [c for c in public if any(issubclass(s, c) for s in seen)]
    assert len(covered) >= 0.8 * len(public), sorted(_label(c) for c in public if c not in covered)

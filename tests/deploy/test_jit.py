"""engine.jit: tracing, replay, gradients, safe save/load, warnings (docs/deploy.md)."""
import io
import warnings

import numpy as np
import pytest

import engine
import engine.nn as nn
import engine.nn.functional as F
from engine import jit
from engine.jit import TracerWarning


def _eq(a, b):
    """Bitwise equality of a replayed and an eager result.  Exact on any machine: the replay calls
    the very engine functions of the eager forward (same arguments, shapes, strides and dtypes) in
    the same process, so numpy's loops and OpenBLAS take the same kernel (chosen by CPU, shape and
    thread count, never by the data or the allocation address: OpenBLAS packs its operands,
    numpy's pairwise sum blocks by index) and round the same operations in the same order.  Any
    tolerance would hide a replay that reorders or drops an op."""
    np.testing.assert_array_equal(np.asarray(a.detach()._data), np.asarray(b.detach()._data))


def mlp():
    engine.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding="same")
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.pool(F.relu(self.bn(self.conv1(x))))
        x = F.avg_pool2d(self.conv2(x), 2)
        return self.fc(torch_flatten(self.avg(x)))


def torch_flatten(x):
    return engine.flatten(x, 1)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 6)
        self.b = nn.Linear(12, 3)

    def forward(self, x, y):
        h = x + self.a(x).tanh()          # residual add (Tensor operator)
        z = engine.cat([h, y * 2.0], dim=1)
        z = z.view(z.size(0), -1)         # size read from the traced tensor
        return self.b(z), h


def cnn_eval():
    engine.manual_seed(1)
    m = CNN()
    m(engine.randn(4, 3, 8, 8))  # non-trivial running statistics
    return m.eval()


def test_mlp_trace_matches_and_keeps_parameters():
    net = mlp()
    traced = jit.trace(net, engine.rand(1, 784))
    assert isinstance(traced, nn.Module) and isinstance(traced, jit.TracedModule)
    for _ in range(2):
        x = engine.rand(1, 784)
        _eq(traced(x), net(x))
    assert list(traced.state_dict()) == list(net.state_dict())
    assert [n for n, _ in traced.named_parameters()] == [n for n, _ in net.named_parameters()]
    assert all(p is q for p, q in zip(traced.parameters(), net.parameters()))
    text = repr(traced)
    assert "original_name=Sequential" in text and "(0): Linear(original_name=Linear)" in text
    g = traced.graph
    assert "F.linear(%input, %0.weight, %0.bias)" in g and "F.relu" in g
    assert "def forward(self, input):" in traced.code


def test_cnn_trace_matches():
    m = cnn_eval()
    traced = jit.trace(m, engine.randn(2, 3, 8, 8))
    x = engine.randn(2, 3, 8, 8)
    _eq(traced(x), m(x))
    assert list(traced.state_dict()) == list(m.state_dict())  # running stats + num_batches_tracked
    ops = [line.split("= ")[1].split("(")[0] for line in traced.graph.splitlines() if " = " in line]
    assert ops == ["F.conv2d", "F.batch_norm", "F.relu", "F.max_pool2d", "F.conv2d", "F.avg_pool2d",
                   "F.adaptive_avg_pool2d", "torch.flatten", "F.linear"]


def test_residual_cat_and_dynamic_size():
    engine.manual_seed(2)
    m = Residual()
    traced = jit.trace(m, (engine.randn(2, 6), engine.randn(2, 6)))
    x, y = engine.randn(2, 6), engine.randn(2, 6)
    for a, b in zip(traced(x, y), m(x, y)):
        _eq(a, b)
    # x.size(0) was recorded as a reference to the input's shape: another batch size replays
    x, y = engine.randn(5, 6), engine.randn(5, 6)
    for a, b in zip(traced(x, y), m(x, y)):
        _eq(a, b)
    assert "Tensor.view(%5, %5.size(0), -1)" in traced.graph


def test_traced_function():
    def f(x, y):
        return engine.relu(x) * y + 1, (x - y).sum(1)

    tf = jit.trace(f, (engine.randn(3, 4), engine.randn(3, 4)))
    assert isinstance(tf, jit.TracedFunction)
    x, y = engine.randn(3, 4), engine.randn(3, 4)
    for a, b in zip(tf(x, y), f(x, y)):
        _eq(a, b)
    assert "torch.relu" in tf.graph and "def forward(x, y):" in tf.code
    single = jit.trace(lambda t: t.exp() / 2, engine.randn(3))  # a lone tensor is one input
    x = engine.randn(3)
    _eq(single(x), x.exp() / 2)


def test_gradients_match_original():
    m = cnn_eval()
    traced = jit.trace(m, engine.randn(2, 3, 8, 8))
    x0 = engine.randn(2, 3, 8, 8)

    def grads(model):
        model.zero_grad()
        x = x0.clone().requires_grad_()
        (model(x) ** 2).sum().backward()
        return [x.grad] + [p.grad.clone() for p in m.parameters()]

    for a, b in zip(grads(m), grads(traced)):  # same backward ops in the same order: equal bits (see _eq)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=0)


def test_save_load_round_trip(tmp_path):
    for model, shape in ((mlp(), (3, 784)), (cnn_eval(), (2, 3, 8, 8))):
        traced = jit.trace(model, engine.randn(*shape))
        path = tmp_path / "m.pt"
        traced.save(str(path))
        loaded = jit.load(str(path))
        x = engine.randn(*shape)
        _eq(loaded(x), model(x))
        assert list(loaded.state_dict()) == list(model.state_dict())
        assert loaded.graph == traced.graph
        for k, v in model.state_dict().items():
            _eq(loaded.state_dict()[k], v)
    # file objects, engine.jit.save, and a traced function
    buf = io.BytesIO()
    jit.save(traced, buf)
    buf.seek(0)
    again = jit.load(buf, map_location="cpu")
    x = engine.randn(2, 3, 8, 8)
    _eq(again(x), model(x))
    tf = jit.trace(lambda a: F.softmax(a * 3, dim=-1), engine.randn(2, 5))
    tf.save(str(tmp_path / "f.pt"))
    x = engine.randn(2, 5)
    _eq(jit.load(str(tmp_path / "f.pt"))(x), F.softmax(x * 3, dim=-1))
    with pytest.raises(TypeError, match="traced module"):
        jit.save(model, str(tmp_path / "x.pt"))


def test_loaded_model_trains_like_the_original(tmp_path):
    net = mlp()
    traced = jit.trace(net, engine.rand(2, 784))
    traced.save(str(tmp_path / "m.pt"))
    loaded = jit.load(str(tmp_path / "m.pt"))
    x = engine.rand(2, 784)
    loaded(x).sum().backward()
    net.zero_grad()
    net(x).sum().backward()
    for (n1, p1), (n2, p2) in zip(loaded.named_parameters(), net.named_parameters()):
        assert n1 == n2
        np.testing.assert_array_equal(p1.grad.numpy(), p2.grad.numpy())  # same ops, same order (see _eq)


def _tampered(tmp_path, edit):
    traced = jit.trace(mlp(), engine.rand(1, 784))
    path = tmp_path / "good.pt"
    traced.save(str(path))
    root = engine.load(str(path))
    edit(root)
    bad = tmp_path / "bad.pt"
    engine.save(root, str(bad))
    return str(bad)


def test_crafted_archive_with_foreign_op_is_refused(tmp_path):
    calls = []

    def edit(root):
        root["graph"]["nodes"][1][0] = "os.system"
        root["graph"]["nodes"][1][1] = ["t", [["p", "echo pwned"]]]

    bad = _tampered(tmp_path, edit)
    import os

    orig = os.system
    os.system = lambda *a: calls.append(a)
    try:
        with pytest.raises(jit.UnsafeTraceError, match="'os.system' is not an allow-listed"):
            jit.load(bad)
    finally:
        os.system = orig
    assert not calls

    def edit_tag(root):
        root["graph"]["nodes"][0][1] = ["t", [["import", "os"]]]

    with pytest.raises(jit.UnsafeTraceError, match="unknown argument tag 'import'"):
        jit.load(_tampered(tmp_path, edit_tag))

    def edit_private(root):
        root["graph"]["nodes"][0][0] = "Tensor.__reduce_ex__"

    with pytest.raises(jit.UnsafeTraceError):
        jit.load(_tampered(tmp_path, edit_private))
    # a plain checkpoint is not a traced module
    engine.save({"w": engine.ones(2)}, str(tmp_path / "ckpt.pt"))
    with pytest.raises(RuntimeError, match="not a traced module"):
        jit.load(str(tmp_path / "ckpt.pt"))


def test_script_is_not_supported():
    with pytest.raises(RuntimeError, match="scripting .* not supported.*torch.jit.trace"):
        jit.script(mlp())


def test_tracer_warning_on_python_values():
    class Branchy(nn.Module):
        def forward(self, x):
            if x.sum().item() > 0:
                return x * 2
            return x

    with pytest.warns(TracerWarning, match="Python number"):
        jit.trace(Branchy(), engine.ones(3))

    class BoolBranch(nn.Module):
        def forward(self, x):
            return x + 1 if bool((x > 0).all()) else x

    with pytest.warns(TracerWarning, match="Python boolean"):
        jit.trace(BoolBranch(), engine.ones(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", TracerWarning)
        jit.trace(mlp(), engine.rand(1, 784))  # no conversions: no warning
    assert issubclass(TracerWarning, Warning) and engine.jit.TracerWarning is TracerWarning


def test_patches_are_removed_even_on_error():
    originals = (engine.Tensor.__dict__["add"], engine.Tensor.__dict__["shape"], engine.add, F.linear,
                 engine.Tensor.__dict__["item"])

    class Boom(nn.Module):
        def forward(self, x):
            assert jit.is_tracing()
            x = x + 1
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        jit.trace(Boom(), engine.ones(2))
    assert (engine.Tensor.__dict__["add"], engine.Tensor.__dict__["shape"], engine.add, F.linear,
            engine.Tensor.__dict__["item"]) == originals
    assert not jit.is_tracing()


def test_strict_outputs_and_nondeterminism():
    class ListOut(nn.Module):
        def forward(self, x):
            return [x + 1, x * 2]

    with pytest.raises(RuntimeError, match="Encountering a list at the output"):
        jit.trace(ListOut(), engine.ones(2))
    t = jit.trace(ListOut(), engine.ones(2), strict=False)
    out = t(engine.full((2,), 3.0))
    assert isinstance(out, list) and out[1].tolist() == [6.0, 6.0]  # 3.0 * 2: exact

    drop = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    with pytest.warns(TracerWarning, match="nondeterministic"):
        jit.trace(drop, engine.ones(2, 4))
    jit.trace(drop.eval(), engine.ones(2, 4))


def test_traced_module_inside_another_trace():
    inner = jit.trace(mlp(), engine.rand(1, 784))
    outer = nn.Sequential(inner, nn.Linear(10, 2))
    t = jit.trace(outer, engine.rand(1, 784))
    x = engine.rand(1, 784)
    _eq(t(x), outer(x))
    assert t.graph.count("F.linear") == 3


def test_recurrent_and_attention_are_single_nodes():
    engine.manual_seed(3)
    lstm = nn.LSTM(4, 8, num_layers=2, batch_first=True)
    t = jit.trace(lstm, engine.randn(2, 5, 4))
    assert t.graph.count("F.rnn_forward(") == 1
    x = engine.randn(3, 5, 4)  # another batch size: the zero initial state follows x.size(0)
    for a, b in zip(jit._graph.flatten_tensors(t(x), []), jit._graph.flatten_tensors(lstm(x), [])):
        _eq(a, b)
    mha = nn.MultiheadAttention(8, 2).eval()
    q = engine.randn(5, 2, 8)
    t = jit.trace(mha, (q, q, q))
    assert t.graph.count("F.multi_head_attention_forward(") == 1
    q = engine.randn(5, 2, 8)
    _eq(t(q, q, q)[0], mha(q, q, q)[0])


def test_seed_snippet(tmp_path, monkeypatch):
    torch = engine
    monkeypatch.chdir(tmp_path)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(784, 128)
            self.fc2 = torch.nn.Linear(128, 10)

        def forward(self, x):
            x = x.view(-1, 784)
            return torch.nn.functional.log_softmax(self.fc2(torch.relu(self.fc1(x))), dim=1)

    net = Net()
    traced_model = torch.jit.trace(net, torch.rand(1, 784))
    traced_model.save("model_scripted.pt")
    loaded = torch.jit.load("model_scripted.pt")
    x = torch.rand(4, 784)
    _eq(loaded(x), net(x))
    assert list(loaded.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


def test_public_names():
    assert engine.jit.trace is jit.trace and engine.onnx.export is not None
    for name in ("trace", "trace_module", "script", "save", "load", "is_tracing", "ignore", "unused",
                 "TracerWarning", "TracedModule"):
        assert hasattr(engine.jit, name)
    assert jit.ignore(len) is len and jit.unused(len) is len
    assert "F.rnn_forward" in jit.allowed_ops() and "os.system" not in jit.allowed_ops()


def test_bool_padding_mask_is_an_input_not_a_constant():
    """The bool -> float mask conversion is traced, so a new mask changes the replayed result."""
    engine.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True)
    enc = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False).eval()
    x = engine.randn(3, 5, 8)
    mask_a = engine.tensor([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]])
    mask_b = engine.tensor([[False] * 2 + [True] * 3, [False] * 5, [False] + [True] * 4])

    class Padded(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = enc

        def forward(self, s, m):
            return self.enc(s, src_key_padding_mask=m)

    traced = jit.trace(Padded(), (x, mask_a))
    for m in (mask_a, mask_b):
        # The replay runs the eager calls, the bool -> float mask conversion included, so the bits are
        # equal (see _eq; measured 0); atol 1e-6 (4 float32 ulp of outputs <= 2.4) is only slack.
        # A constant-folded mask_a would be off by O(1) for mask_b, as the last assertion shows.
        np.testing.assert_allclose(traced(x, m).detach().numpy(),
                                   enc(x, src_key_padding_mask=m).detach().numpy(), atol=1e-6)
    assert not np.allclose(traced(x, mask_a).detach().numpy(), traced(x, mask_b).detach().numpy())

"""The tensor and autograd examples of the seed articles run unchanged on the engine and print
what PyTorch prints (numbers masked where the example draws random values)."""
import contextlib
import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import engine

ROOT = Path(__file__).resolve().parents[2]

# name -> (code, deterministic?, expected exception type or None)
SNIPPETS = {
    "tensor-basics": ("""
        x = torch.empty(5, 3)
        print(x.shape, x.dtype)
        x = torch.rand(5, 3)
        print(x.shape, bool(((x >= 0) & (x < 1)).all()))
        x = torch.zeros(5, 3, dtype=torch.long)
        print(x)
        x = torch.tensor([5.5, 3])
        print(x)
    """, True, None),
    "tensor-add-shape-bug": ("""
        x = torch.tensor([5.5, 3])
        y = torch.rand(5, 3)
        print(x + y)
    """, True, RuntimeError),
    "tensor-add": ("""
        x = torch.zeros(5, 3, dtype=torch.long)
        y = torch.rand(5, 3)
        print(x + y)
        print(torch.add(x, y))
        y.add_(x)
        print(y)
    """, False, None),
    "numpy-interop": ("""
        a = torch.ones(5)
        b = a.numpy()
        print(b)
        import numpy as np
        a = np.ones(5)
        b = torch.from_numpy(a)
        print(b)
    """, True, None),
    "autograd-mean": ("""
        x = torch.ones(2, 2, requires_grad=True)
        y = x + 2
        z = y * y * 3
        out = z.mean()
        out.backward()
        print(x.grad)
        with torch.no_grad():
            print((x ** 2).requires_grad)
    """, True, None),
    "creation": ("""
        x = torch.tensor([1, 2, 3, 4])
        print(x)
        zeros_tensor = torch.zeros(3, 3)
        print(zeros_tensor)
        ones_tensor = torch.ones(2, 4)
        print(ones_tensor)
        identity_tensor = torch.eye(4)
        print(identity_tensor)
        full_tensor = torch.full((2, 3), 5)
        print(full_tensor)
        x = torch.tensor([1, 2, 3])
        y = torch.tensor([4, 5, 6])
        z = x + y
        print(z)
        a = torch.randn(2, 3)
        b = torch.randn(3, 4)
        c = torch.matmul(a, b)
        print(c.shape)
        print((a @ b).shape)
    """, True, None),
    "wxb": ("""
        x = torch.tensor(3.0, requires_grad=True)
        w = torch.tensor(2.0, requires_grad=True)
        b = torch.tensor(1.0, requires_grad=True)
        y = w * x + b
        z = y ** 2
        z.backward()
        print(w.grad)
        print(b.grad)
        print(x.grad)
    """, True, None),
    "scalar-math": ("""
        a = torch.tensor(2)
        b = torch.tensor(1)
        print(a+b)
        print(b-a)
        print(a*b)
        print(a/b)
        torch.zeros([2, 4], dtype=torch.int32)
        x = torch.tensor([[1]])
        print(x.item())
        x = torch.tensor(2.5)
        print(x.item())
        x = torch.tensor([[1., -1.], [1., 1.]], requires_grad=True)
        out = x.pow(2).sum()
        out.backward()
        print(x.grad)
    """, True, None),
    "cuda-without-gpu": ("""
        cuda0 = torch.device('cuda:0')
        print(cuda0)
        torch.ones([2, 4], dtype=torch.float64, device=cuda0)
    """, True, (AssertionError, RuntimeError)),
    "cubic": ("""
        x = torch.tensor(3.5, requires_grad=True)
        y = (x-1)*(x-2)*(x-3)
        y.backward()
        print(x.grad)
    """, True, None),
    "chain": ("""
        x = torch.tensor(3.5, requires_grad=True)
        y = x*x
        z = 2*y + 3
        print("x: ", x)
        print("y = x*x: ", y)
        print("z= 2*y + 3: ", z)
        z.backward()
        print("Working out gradients dz/dx")
        print("Gradient at x = 3.5: ", x.grad)
    """, True, None),
    "multi-path": ("""
        a = torch.tensor(2.0, requires_grad=True)
        b = torch.tensor(1.0, requires_grad=True)
        x = 2*a + 3*b
        y = 5*a*a + 3*b*b*b
        z = 2*x + 3*y
        z.backward()
        print("Working out gradient dz/da")
        print("Gradient at a=2.0:", a.grad)
        print(b.grad)
    """, True, None),
}


def run_snippet(lib, code):
    buf = io.StringIO()
    err = None
    with contextlib.redirect_stdout(buf):
        try:
            exec(textwrap.dedent(code), {"torch": lib, "__name__": "__main__"})
        except Exception as e:  # noqa: BLE001 - the exception is the result under test
            err = e
    return buf.getvalue(), err


def mask(text):
    return re.sub(r"\s+", " ", re.sub(r"-?\d+\.\d*(e[+-]\d+)?", "N", text))


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_seed_snippet(name):
    code, deterministic, expected_exc = SNIPPETS[name]
    t_out, t_err = run_snippet(torch, code)
    e_out, e_err = run_snippet(engine, code)
    if expected_exc is None:
        assert t_err is None, f"the oracle itself failed: {t_err!r}"
        assert e_err is None, f"engine raised {e_err!r}"
    else:
        assert isinstance(t_err, expected_exc)
        assert isinstance(e_err, expected_exc), f"engine raised {e_err!r}, torch raised {t_err!r}"
    if deterministic:  # small dyadic values (3.5, 2.0...): every printed product and sum is exact
        assert e_out == t_out
    else:
        assert mask(e_out) == mask(t_out)


def test_seed_values():
    out, err = run_snippet(engine, SNIPPETS["wxb"][0])
    assert err is None
    assert out.split() == ["tensor(42.)", "tensor(14.)", "tensor(28.)"]
    out, err = run_snippet(engine, SNIPPETS["multi-path"][0])
    assert "Gradient at a=2.0: tensor(64.)" in out
    out, _ = run_snippet(engine, SNIPPETS["cubic"][0])
    assert out.strip() == "tensor(5.7500)"


def test_engine_run_executes_an_unmodified_script(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        import sys
        import torch
        from torch.autograd import grad
        x = torch.tensor(3.5, requires_grad=True)
        y = (x - 1) * (x - 2) * (x - 3)
        (g,) = grad(y, x)
        print(torch.__name__, g.item(), sys.argv[1:])
    """))
    res = subprocess.run([sys.executable, "-m", "engine.run", str(script), "a", "b"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "engine 5.75 ['a', 'b']"


def test_engine_run_reports_missing_script():
    res = subprocess.run([sys.executable, "-m", "engine.run", "no_such_file.py"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "No such file" in res.stderr

"""Every seed program runs unchanged through ``python -m engine.run`` and behaves as it does on
PyTorch: the same exception type where the article's code is wrong, the same printout (exactly
where nothing random is printed, with numbers masked where the article prints random values).

MNIST comes from the offline digits, written in MNIST's own IDX layout under ./data.  On the
PyTorch side, torchvision (not installable beside this PyTorch build) is replaced by a small
IDX reader in ``oracle_shim``.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.vision.datasets.digits import export_mnist_idx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PROGRAMS = HERE / "programs"

# program -> (exception type both must raise or None, how to compare stdout: "exact" | "masked")
# Rounding: the two sides draw different random numbers, so no program's output may depend on the
# last bits of a float.  "exact" programs print shapes, counts, reprs of literal hyper-parameters and
# booleans of comparisons that hold on any machine (argued at each one in the program: a002_deploy's
# two checks, a000_quantization's error bound; a000_pruning counts the exact zeros of a 0/1 mask
# times the weights; a002_net_print_and_optimizer's relu output >= 0 is exact).  "masked" programs
# print values (losses as .4f, parameters, an accuracy): mask() hides every number, sign and
# exponent included, so a last-digit flip at a rounding boundary cannot show.
EXPECT = {
    "a000_conv_fc_shape_bug": ("RuntimeError", "exact"),
    "a000_pruning": ("TypeError", "exact"),  # global_unstructured(net.conv1, prune_ratio=0.5)
    "a000_quantization": (None, "exact"),  # the {0: 1, 1: 1, 2: 1} spec matches no module: a plain copy
    "a002_sequence_models": (None, "exact"),
    "a002_deploy": (None, "exact"),
    "a000_mnist_mlp": (None, "exact"),
    "a001_simple_net": (None, "masked"),
    "a002_net_print_and_optimizer": (None, "exact"),
    "a002_training_loop_without_loader": ("NameError", "exact"),
    "a002_mnist_pipeline": ("RuntimeError", "exact"),
    "a002_custom_dataset": ("NameError", "exact"),
    "a002_eval_save_gpu": (None, "masked"),
    "a003_neural_network_print": ("IndexError", "masked"),  # param[:2, :2] on a 1-D bias
    "a004_lenet_print": ("RuntimeError", "exact"),
}


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    export_mnist_idx(str(root))
    return root


def run(program, cwd, engine_side):
    env = dict(os.environ)
    if engine_side:
        cmd = [sys.executable, "-m", "engine.run", str(PROGRAMS / f"{program}.py")]
        env["PYTHONPATH"] = str(ROOT)
    else:
        cmd = [sys.executable, str(PROGRAMS / f"{program}.py")]
        env["PYTHONPATH"] = str(HERE / "oracle_shim")
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    exc = None
    if res.returncode != 0:
        last = [line for line in res.stderr.strip().splitlines() if line and not line.startswith(" ")]
        exc = re.match(r"^([\w.]+)", last[-1]).group(1).split(".")[-1] if last else "?"
    return res, exc


def _own_output(text):
    """What the program itself prints: PyTorch's ONNX exporter also logs its own progress lines
    (``[torch.onnx] ...``) to stdout from its torch.export pipeline, which the engine does not have."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("[torch.onnx]"))


def mask(text):
    """Random numbers masked; alignment (which depends on the values) ignored.  Every decimal
    number, with its sign and exponent, becomes N: '-0.0000' and '0.0000' (a rounding boundary)
    or '1.2e-05' and '0.0000' (print styles) compare equal."""
    return re.sub(r"\s+", "", re.sub(r"-?\d+\.\d*(e[+-]?\d+)?", "N", text))


@pytest.mark.parametrize("program", sorted(EXPECT))
def test_seed_program(program, mnist_dir, tmp_path):
    expected_exc, compare = EXPECT[program]
    outs = {}
    for side in ("engine", "torch"):
        cwd = tmp_path / side
        cwd.mkdir()
        shutil.copytree(mnist_dir / "MNIST", cwd / "data" / "MNIST")
        outs[side] = run(program, cwd, side == "engine")
    (e_res, e_exc), (t_res, t_exc) = outs["engine"], outs["torch"]
    assert t_exc == expected_exc, f"oracle: {t_res.stderr[-2000:]}"
    assert e_exc == expected_exc, f"engine: {e_res.stderr[-2000:]}"
    if compare == "exact":
        assert _own_output(e_res.stdout) == _own_output(t_res.stdout)
    else:
        assert mask(e_res.stdout) == mask(t_res.stdout)
    if expected_exc:
        e_msg = e_res.stderr.strip().splitlines()[-1]
        t_msg = t_res.stderr.strip().splitlines()[-1]
        print(f"engine: {e_msg}\ntorch:  {t_msg}")

"""`make bench`: every benchmark, engine and PyTorch side by side, with ratios."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

import torch  # noqa: E402

from harness import compare  # noqa: E402


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    import bench_core
    import bench_nn

    print(f"threads: {torch.get_num_threads()}  (PyTorch {torch.__version__}, CPU)")
    compare(bench_core.CASES, "engine core")
    compare(bench_nn.cases(), "training steps (SGD momentum, cross-entropy)")
    compare(bench_nn.epoch_case(), "a whole epoch", budget=0.1)
    peak_memory()


def peak_memory():
    """Peak resident memory of one training configuration per library, each in a fresh process."""
    import subprocess

    code = (
        "import resource, sys; sys.path[:0] = [{here!r}, {root!r}]\n"
        "import bench_nn, {lib} as lib\n"
        "e, t = bench_nn.training_step(lambda l: bench_nn._mlp(l, [784, 1024, 1024, 10]), (256, 784))\n"
        "step = (e if {lib!r} == 'engine' else t)()\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024\n"
        "[step() for _ in range(20)]\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024\n"
        "print(f'{{peak}} MiB peak, +{{peak - base}} MiB over the process with both libraries and the models loaded')\n"
    )
    root = os.path.dirname(os.path.dirname(HERE))
    print("\n== peak resident memory, MLP 784-1024-1024-10 training (20 steps, fresh process)")
    for lib in ("engine", "torch"):
        out = subprocess.run([sys.executable, "-c", code.format(here=HERE, root=root, lib=lib)],
                             capture_output=True, text=True)
        print(f"{lib:8s} {out.stdout.strip() or out.stderr.strip()[-200:]}")


if __name__ == "__main__":
    main()

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
    import bench_rnn
    import bench_transformer

    print(f"threads: {torch.get_num_threads()}  (PyTorch {torch.__version__}, CPU)")
    compare(bench_core.CASES, "engine core")
    compare(bench_nn.cases(), "training steps (SGD momentum, cross-entropy)")
    compare(bench_nn.epoch_case(), "a whole epoch", budget=0.1)
    compare(bench_rnn.cases(), "recurrent layers (forward + backward)")
    compare(bench_transformer.cases(), "Transformer encoder layer training step")
    peak_memory()
    import bench_server

    bench_server.main(sys.argv[1:])
    import bench_load

    bench_load.main(sys.argv[1:])
    import bench_frontend

    bench_frontend.main(sys.argv[1:])


def peak_memory():
    """Peak resident memory of the same training run, each library alone in a fresh process."""
    import subprocess

    print("\n== peak resident memory, MLP 784-1024-1024-10 training (batch 256, 20 steps, fresh process)")
    for lib in ("engine", "torch"):
        out = subprocess.run([sys.executable, os.path.join(HERE, "memory_probe.py"), lib],
                             capture_output=True, text=True)
        print(f"{lib:8s} {out.stdout.strip() or out.stderr.strip()[-300:]}")

if __name__ == "__main__":
    main()

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

    print(f"threads: {torch.get_num_threads()}  (PyTorch {torch.__version__}, CPU)")
    compare(bench_core.CASES, "engine core")


if __name__ == "__main__":
    main()

"""Side-by-side timing: the same workload on the engine and on PyTorch, in one process.

Each case gives a factory per library returning a zero-argument step function.  Steps are
timed in batches for a fixed wall budget; the reported time is the median batch, and the
ratio is engine / PyTorch.  Targets are printed beside the ratio; they are never asserted.
"""
import gc
import importlib.util
import statistics
import time


def time_step(step, budget=0.6, min_batches=5):
    for _ in range(3):  # warm-up
        step()
    t0 = time.perf_counter()
    step()
    one = max(time.perf_counter() - t0, 1e-7)
    per_batch = max(1, int(budget / min_batches / one))
    times = []
    deadline = time.perf_counter() + budget
    gc_was = gc.isenabled()
    gc.disable()
    try:
        while len(times) < min_batches or time.perf_counter() < deadline:
            t0 = time.perf_counter()
            for _ in range(per_batch):
                step()
            times.append((time.perf_counter() - t0) / per_batch)
            if len(times) >= 200:
                break
    finally:
        if gc_was:
            gc.enable()
    return statistics.median(times)


def fmt_time(s):
    if s < 1e-3:
        return f"{s * 1e6:8.1f} µs"
    if s < 1:
        return f"{s * 1e3:8.2f} ms"
    return f"{s:8.2f} s "


def report(rows, title):
    print(f"\n== {title}")
    print(f"{'case':44s} {'engine':>11s} {'pytorch':>11s} {'ratio':>7s}  target")
    for name, te, tt, target in rows:
        ratio = te / tt
        mark = "" if target is None else ("  ok" if ratio <= target else "  MISSED")
        tgt = "" if target is None else f"<= {target:g}x"
        print(f"{name:44s} {fmt_time(te)} {fmt_time(tt)} {ratio:6.2f}x  {tgt}{mark}")


def compare(cases, title, budget=0.6):
    """``cases``: list of (name, engine_factory, torch_factory, target_ratio or None)."""
    rows = []
    for name, make_engine, make_torch, target in cases:
        te = time_step(make_engine(), budget)
        tt = time_step(make_torch(), budget)
        rows.append((name, te, tt, target))
    report(rows, title)
    return rows


def load_module(name, path):
    """Import the Python file at ``path`` as module ``name`` (the test suites' server fixtures)."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pct(xs, q):
    """The ``q`` quantile of ``xs``, interpolated (nan when empty)."""
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)

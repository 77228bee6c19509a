"""`make bench`: many users at once on one real server (not a test; prints, asserts nothing).

``--users N`` simulated users (default 40) arrive together.  Each one, in a thread of its own:
gets its own identity cookie from the REST API, creates a notebook of ``--cells`` small training
cells (a linear regression fitted by SGD through ``import torch``, which is the engine in a
kernel), connects a socket.io client over websocket, waits at a barrier with the others, sends
``join`` and then runs its cells one after the other.

Printed:

* kernel start p50 / p95 / max: ``join`` sent -> the kernel is ready (the join's ack says
  ``idle``, or the first ``kernel_status idle`` arrives);
* cell latency p50 / p95 / max: ``execute`` sent -> ``cell_status done``;
* errors: failed joins, cells that ended in error, ``error`` events, time-outs, exceptions;
* lost events: cells that never reported ``done``, plus cells whose expected printed line never
  arrived;
* the kernel pool as ``/healthz`` reports it, before and after.

The server is ``python -m backend`` on a fresh data directory, with the kernel pool floor set to
``--pool-size`` (default: the number of users, what a classroom server of that size is set to;
``--pool-size 1`` is the laptop default).  It starts the users once the pool is full (at most
``--settle`` seconds).  ``--waves K`` sends K groups of users one after the other to the same
server (each wave waits for the previous one to finish), which shows the pool growing with demand.

The simulated users share the server's CPU here, where on a real server they are other machines:
their work competes with the server's and the kernels', and the figures include the users' time
to handle what they receive.  ``--client-nice N`` runs the users' threads (and the socket.io
threads they start) at niceness N: they then take less CPU from the server, but see its messages
later when the CPU is busy.

Run alone with ``.venv/bin/python tests/bench/bench_load.py --users 40``.
"""
import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from harness import fmt_time, load_module, pct  # noqa: E402

CELL = """import torch
torch.manual_seed({seed})
x = torch.randn(64, 3)
y = x @ torch.tensor([[1.5], [-2.0], [0.5]]) + 0.3
model = torch.nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(40):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
print("{tag}", "fitted", loss.item() < 0.05)
"""


def expected_line(tag):
    return f"{tag} fitted True"


class User:
    """One simulated user: its session, notebook, socket and what it measured."""

    def __init__(self, conftest, srv, name, cells, timeout):
        self.conftest, self.srv, self.name = conftest, srv, name
        self.n_cells, self.timeout = cells, timeout
        self.cond = threading.Condition()
        self.nb = None
        self.ready_at = None
        self.done = {}      # cell id -> (status, time)
        self.stdout = {}    # cell id -> text
        self.errors = []    # what went wrong, as text
        self.start_s = None
        self.cell_s = []
        self.lost = 0
        self.sio = None

    # -- socket events (socket.io client threads) --------------------------------------------
    def _on_kernel(self, p):
        if p.get("status") == "idle" and p.get("notebook_id") == self.nb:
            with self.cond:
                if self.ready_at is None:
                    self.ready_at = time.perf_counter()
                self.cond.notify_all()

    def _on_status(self, p):
        if p.get("status") in ("done", "error"):
            with self.cond:
                self.done.setdefault(p.get("cell_id"), (p["status"], time.perf_counter()))
                self.cond.notify_all()

    def _on_stream(self, p):
        if p.get("name") == "stdout":
            with self.cond:
                self.stdout[p.get("cell_id")] = self.stdout.get(p.get("cell_id"), "") + (p.get("text") or "")
                self.cond.notify_all()

    def _on_error(self, p):
        with self.cond:
            self.errors.append(f"error event: {p}"[:300])

    def _on_cell_error(self, p):
        with self.cond:
            self.errors.append(f"cell error {p.get('ename')}: {p.get('evalue')}"[:300])

    # -- the user's steps ------------------------------------------------------------------------
    def prepare(self):
        """Identity, notebook, socket: everything before the join."""
        import socketio

        s = self.conftest.make_client_session(self.srv)
        cells = [{"source": CELL.format(seed=i, tag=f"{self.name}-c{i}")} for i in range(self.n_cells)]
        r = s.post(self.srv.url + "/api/notebooks", json={"title": self.name, "cells": cells}, timeout=60)
        r.raise_for_status()
        body = r.json()
        self.nb = body["id"]
        self.cells = [(c["id"], c["source"], expected_line(f"{self.name}-c{i}")) for i, c in enumerate(body["cells"])]
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("kernel_status", self._on_kernel)
        self.sio.on("cell_status", self._on_status)
        self.sio.on("stream", self._on_stream)
        self.sio.on("error", self._on_error)
        self.sio.on("cell_error", self._on_cell_error)
        cookie = "; ".join(f"{k}={v}" for k, v in s.cookies.items())
        self.sio.connect(self.srv.url, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=60)

    def join(self):
        t0 = time.perf_counter()
        ack = self.sio.call("join", {"notebook_id": self.nb}, timeout=self.timeout)
        t_ack = time.perf_counter()
        if not ack or not ack.get("ok"):
            self.errors.append(f"join failed: {ack}"[:300])
            return False
        with self.cond:
            if ack.get("kernel_status") == "idle" and self.ready_at is None:
                self.ready_at = t_ack
            if not self.cond.wait_for(lambda: self.ready_at is not None, self.timeout):
                self.errors.append("the kernel did not become ready")
                return False
            self.start_s = self.ready_at - t0
        return True

    def run_cells(self):
        for cell_id, code, _ in self.cells:
            t0 = time.perf_counter()
            self.sio.emit("execute", {"notebook_id": self.nb, "cell_id": cell_id, "code": code})
            with self.cond:
                if not self.cond.wait_for(lambda: cell_id in self.done, self.timeout):
                    self.errors.append(f"cell {cell_id} did not finish within {self.timeout} s")
                    continue
                status, t = self.done[cell_id]
            self.cell_s.append(t - t0)
            if status != "done":
                self.errors.append(f"cell {cell_id} ended in {status}")

    def count_lost(self, grace):
        """Cells with no ``done``, or whose expected line never came (waiting ``grace`` s for it)."""
        def missing():
            return [c for c, _, want in self.cells
                    if self.done.get(c, (None,))[0] != "done" or want not in self.stdout.get(c, "")]
        with self.cond:
            self.cond.wait_for(lambda: not missing(), grace)
            self.lost = len(missing())

    def close(self):
        if self.sio is not None:
            try:
                self.sio.disconnect()
            except Exception:  # noqa: BLE001
                pass


def _health(srv):
    import requests

    try:
        return requests.get(srv.url + "/healthz", timeout=10).json()
    except Exception as exc:  # noqa: BLE001
        return {"error": str(exc)}


def _pool(health):
    p = health.get("kernel_pool")
    return p if isinstance(p, dict) else None


def _pool_text(p):
    if p is None:
        return "not reported"
    return ", ".join(f"{k} {v}" for k, v in p.items())


def wait_pool_full(srv, settle):
    """Until /healthz says the pool holds its target (or ``settle`` seconds): seconds waited."""
    t0 = time.perf_counter()
    deadline = t0 + settle
    while time.perf_counter() < deadline:
        p = _pool(_health(srv))
        if p is None:  # a server that does not report its pool: give it the whole settle time
            time.sleep(0.5)
            continue
        if p.get("ready", 0) >= p.get("target", 0):
            return time.perf_counter() - t0
        time.sleep(0.2)
    return time.perf_counter() - t0


def run_wave(conftest, srv, users, cells, timeout, grace, label, client_nice=0):
    people = [User(conftest, srv, f"{label}u{i}", cells, timeout) for i in range(users)]
    barrier = threading.Barrier(users + 1)
    prepare_errors = []

    def user_main(u):
        if client_nice:  # this thread, and the socket.io threads it starts (niceness is per thread)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), client_nice)
        try:
            u.prepare()
        except Exception as exc:  # noqa: BLE001 - counted, reported
            prepare_errors.append(f"{u.name} setup: {type(exc).__name__}: {exc}"[:300])
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
            return
        try:
            barrier.wait()
            if u.join():
                u.run_cells()
            u.count_lost(grace)
        except Exception as exc:  # noqa: BLE001
            u.errors.append(f"{type(exc).__name__}: {exc}"[:300] + "\n" + traceback.format_exc(limit=3)[-500:])
            u.lost = max(u.lost, len(u.cells) - sum(1 for c, _, _ in u.cells if c in u.done))

    threads = [threading.Thread(target=user_main, args=(u,), daemon=True) for u in people]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(timeout * (cells + 2) + grace + 60)
    wall = time.perf_counter() - t0
    for u in people:
        u.close()
    starts = [u.start_s for u in people if u.start_s is not None]
    lat = [x for u in people for x in u.cell_s]
    errors = prepare_errors + [e for u in people for e in u.errors]
    lost = sum(u.lost for u in people) + sum(cells for u in people if u.nb is None)
    return {"users": users, "starts": starts, "cells": lat, "errors": errors, "lost": lost, "wall": wall,
            "no_start": users - len(starts)}


def report(r, title):
    s, c = r["starts"], r["cells"]
    print(f"\n-- {title}: {r['users']} users at once, wall {r['wall']:.1f} s")
    print(f"{'kernel start (join -> ready), p50':44s} {fmt_time(pct(s, 0.5))}")
    print(f"{'kernel start (join -> ready), p95':44s} {fmt_time(pct(s, 0.95))}   target <= 2 s "
          f"{'ok' if s and pct(s, 0.95) <= 2 and not r['no_start'] else 'MISSED'}")
    print(f"{'kernel start (join -> ready), max':44s} {fmt_time(max(s) if s else float('nan'))}   (n={len(s)})")
    print(f"{'cell latency (execute -> done), p50':44s} {fmt_time(pct(c, 0.5))}")
    print(f"{'cell latency (execute -> done), p95':44s} {fmt_time(pct(c, 0.95))}")
    print(f"{'cell latency (execute -> done), max':44s} {fmt_time(max(c) if c else float('nan'))}   (n={len(c)})")
    print(f"{'errors':44s} {len(r['errors']):8d}")
    print(f"{'lost events (cells without done or output)':44s} {r['lost']:8d}")
    for e in r["errors"][:5]:
        print("   ", e.replace("\n", "\n    "))


def bench_load(users=40, cells=3, pool_size=None, pool_max=None, waves=1, settle=120.0, timeout=120.0,
               grace=10.0, extra_env=None, client_nice=0):
    conftest = load_module("_backend_conftest", os.path.join(ROOT, "tests", "backend", "conftest.py"))
    pool_size = users if pool_size is None else pool_size
    env = {"GRADLAB_KERNEL_POOL_SIZE": str(pool_size)}
    if pool_max is not None:
        env["GRADLAB_KERNEL_POOL_MAX"] = str(pool_max)
    env.update(extra_env or {})
    data = tempfile.mkdtemp(prefix="gradlab-bench-load-")
    print(f"\n== {users} users at once, {cells} training cells each (real server, socket.io over websocket; "
          f"{os.cpu_count()} CPUs)")
    print("   server: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    srv = conftest.ServerProcess(data, env).start()
    try:
        waited = wait_pool_full(srv, settle)
        print(f"   pool after {waited:.1f} s: {_pool_text(_pool(_health(srv)))}")
        results = []
        for w in range(waves):
            r = run_wave(conftest, srv, users, cells, timeout, grace, f"w{w}", client_nice)
            report(r, f"wave {w + 1} of {waves}" if waves > 1 else "all users")
            print(f"   pool right after: {_pool_text(_pool(_health(srv)))}")
            results.append(r)
            if w + 1 < waves:
                waited = wait_pool_full(srv, settle)
                print(f"   pool after {waited:.1f} s more: {_pool_text(_pool(_health(srv)))}")
        return results
    finally:
        srv.stop()
        shutil.rmtree(data, ignore_errors=True)


def main(argv=()):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--cells", type=int, default=3)
    ap.add_argument("--pool-size", type=int, default=None,
                    help="GRADLAB_KERNEL_POOL_SIZE of the server (default: --users)")
    ap.add_argument("--pool-max", type=int, default=None, help="GRADLAB_KERNEL_POOL_MAX of the server")
    ap.add_argument("--waves", type=int, default=1)
    ap.add_argument("--settle", type=float, default=120.0, help="longest wait for the pool to fill, seconds")
    ap.add_argument("--timeout", type=float, default=120.0, help="longest wait for one step of a user, seconds")
    ap.add_argument("--client-nice", type=int, default=0,
                    help="niceness of the simulated users' threads (the server keeps its own)")
    a, _ = ap.parse_known_args(list(argv))  # `make bench` passes its own flags through
    try:
        bench_load(a.users, a.cells, a.pool_size, a.pool_max, a.waves, a.settle, a.timeout,
                   client_nice=a.client_nice)
    except BaseException as exc:  # noqa: BLE001 - a bench reports, it does not fail the run
        if isinstance(exc, KeyboardInterrupt):
            raise
        print(f"load figures unavailable: {type(exc).__name__}: {exc}"[:2000])


if __name__ == "__main__":
    main(sys.argv[1:])

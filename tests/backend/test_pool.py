"""The pre-started kernel pool, on the real server (``python -m backend``) with real kernels in
bubblewrap: it grows with demand up to its maximum and shrinks back, a kernel taken from it serves
one notebook only, it has the limits of any kernel, and it is shut down with the server.

The pool is observed from outside: ``/healthz`` (``kernel_pool``: ready, starting, target, min,
max) and the kernel processes below the server (``/proc``)."""
import os
import threading
import time

import pytest
import requests
import socketio

from backend.kernels import cgroups
from kernel_events import bwrap_usable

pytestmark = pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap cannot run on this machine")

START = 120  # a cold kernel start on a busy machine, or the pool filling
RUN = 60

# what a cell sees of other notebooks' kernels: files in its /tmp and names in its namespace
MARK = """import os
seen = sorted(n for n in os.listdir('/tmp') if n.startswith('mark-'))
seen += sorted(k for k in globals() if k.startswith('mark_'))
open('/tmp/mark-{tag}', 'w').close()
globals()['mark_{tag}'] = 1
print('seen', seen)
"""


def pool_env(size, most, window=600):
    return {"GRADLAB_KERNEL_POOL_SIZE": str(size), "GRADLAB_KERNEL_POOL_MAX": str(most),
            "GRADLAB_KERNEL_POOL_IDLE_S": str(window)}


def pool(srv):
    """The pool as /healthz reports it (None until the kernel manager has started)."""
    return requests.get(srv.url + "/healthz", timeout=10).json().get("kernel_pool")


def wait_pool(srv, pred, what, timeout=START):
    deadline = time.monotonic() + timeout
    p = None
    while time.monotonic() < deadline:
        p = pool(srv)
        if p is not None and pred(p):
            return p
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for the pool: {what}; last seen {p}")


def _children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except (OSError, ValueError):
        pass
    return out


def _argv(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def is_kernel(pid):
    """A kernel's Python process (not the bwrap processes around it, whose argv holds the same)."""
    argv = _argv(pid)
    return bool(argv) and os.path.basename(argv[0]) != "bwrap" and \
        any(os.path.basename(a) in ("kernel_boot.py", "kernel_main.py") for a in argv)


def kernel_pids(srv):
    """The host pids of the kernels (Python processes) below the server process."""
    out, todo = [], [srv.proc.pid]
    while todo:
        p = todo.pop()
        kids = _children(p)
        todo += kids
        out += [k for k in kids if is_kernel(k)]
    return sorted(out)


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()  # fields from 3 (state) on


def nice_of(pid):
    return int(stat_fields(pid)[16])   # field 19


def start_time_of(pid):
    return stat_fields(pid)[19]        # field 22, clock ticks since boot (the same inside the sandbox)


def limits_of(pid):
    out = {}
    with open(f"/proc/{pid}/limits") as f:
        for line in f.readlines()[1:]:
            name, soft = line[:26].strip(), line[26:47].strip()
            out[name] = soft
    return out


def status_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def cpu_weight_of(pid):
    """The CPU weight file's value of the kernel's cgroup (v2 cpu.weight, v1 cpu.shares), or None."""
    groups_of = getattr(cgroups, "groups_of", None)
    d = (groups_of(pid) if groups_of else {}).get("cpu")
    for name in ("cpu.weight", "cpu.shares"):
        if d and os.path.exists(os.path.join(d, name)):
            with open(os.path.join(d, name)) as f:
                return int(f.read())
    return None


def kernel_group_dirs(pid):
    """The directories of a kernel's own cgroups ({} where kernels get none)."""
    groups_of = getattr(cgroups, "groups_of", None)
    return {d for d in (groups_of(pid) if groups_of else {}).values() if "gradlab-kernel-" in os.path.basename(d)}


class User:
    """One browser: its own identity cookie, a socket.io client, its notebooks."""

    def __init__(self, srv, session):
        self.srv, self.session = srv, session
        self.cond = threading.Condition()
        self.events = []
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._any)
        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        self.sio.connect(srv.url, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=20)

    def _any(self, event, *args):
        with self.cond:
            self.events.append((event, args[0] if args else None))
            self.cond.notify_all()

    def close(self):
        self.sio.disconnect()

    def wait(self, pred, what, since=0, timeout=RUN):
        with self.cond:
            if not self.cond.wait_for(lambda: any(pred(e, p) for e, p in self.events[since:]), timeout):
                raise AssertionError(f"timed out waiting for {what}; saw {self.events[since:][-20:]}")
            return next((e, p) for e, p in self.events[since:] if pred(e, p))

    def mark(self):
        with self.cond:
            return len(self.events)

    def new_notebook(self):
        r = self.session.post(self.srv.url + "/api/notebooks", json={"title": "pool", "cells": [{"source": ""}]},
                              timeout=10)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def join(self, nb):
        """Send ``join`` (the ack comes at once: a kernel starts in the background)."""
        ack = self.sio.call("join", {"notebook_id": nb}, timeout=START)
        assert ack.get("ok"), ack

    def wait_idle(self, nb, since=0):
        self.wait(lambda e, p: e == "kernel_status" and p.get("notebook_id") == nb and p.get("status") == "idle",
                  f"kernel of {nb} idle", since, START)

    def run(self, nb, cell_id, code):
        """(final status, stdout) of a cell."""
        m = self.mark()
        self.sio.emit("execute", {"notebook_id": nb, "cell_id": cell_id, "code": code})
        _, end = self.wait(lambda e, p: e == "cell_status" and p.get("cell_id") == cell_id
                           and p.get("status") in ("done", "error"), f"end of {cell_id}", m)
        with self.cond:
            out = "".join(p.get("text", "") for e, p in self.events[m:]
                          if e == "stream" and p.get("cell_id") == cell_id and p.get("name") == "stdout")
        return end["status"], out


@pytest.fixture
def users(client_session):
    made = []

    def make(srv):
        u = User(srv, client_session(srv))
        made.append(u)
        return u

    yield make
    for u in made:
        try:
            u.close()
        except Exception:  # noqa: BLE001 - the server may be gone already
            pass


def test_pool_grows_when_drained_and_stops_at_its_max(start_server, users, tmp_path):
    srv = start_server(tmp_path / "data", pool_env(1, 3))
    p = wait_pool(srv, lambda p: p["ready"] == 1, "the first kernel ready")
    assert p == {"ready": 1, "starting": 0, "target": 1, "min": 1, "max": 3}
    assert len(kernel_pids(srv)) == 1
    u = users(srv)
    nbs = [u.new_notebook() for _ in range(5)]
    for nb in nbs[:2]:  # two notebooks: the pool is drained, and grows to what was asked of it
        u.join(nb)
    p = wait_pool(srv, lambda p: p["ready"] == 2 and p["starting"] == 0, "two ready")
    assert p["target"] == 2
    for nb in nbs[2:]:  # five asked in all: the pool grows to its max, 3, not 5
        u.join(nb)
    for nb in nbs:
        u.wait_idle(nb)
    p = wait_pool(srv, lambda p: p["ready"] == 3 and p["starting"] == 0, "three ready")
    assert p["target"] == 3
    time.sleep(3)  # a few rounds of the pool's upkeep (one a second): it stays at its max
    p = pool(srv)
    assert (p["ready"], p["starting"], p["target"]) == (3, 0, 3)
    assert len(kernel_pids(srv)) == 5 + 3


def test_pool_shrinks_back_to_its_size_when_demand_goes(start_server, users, tmp_path):
    srv = start_server(tmp_path / "data", pool_env(1, 4, window=8))
    wait_pool(srv, lambda p: p["ready"] == 1, "the first kernel ready")
    u = users(srv)
    nbs = [u.new_notebook() for _ in range(3)]
    for nb in nbs:
        u.join(nb)
    assert pool(srv)["target"] == 3  # three taken within the window
    for nb in nbs:
        u.wait_idle(nb)
    # after the window: back to one ready kernel, the others stopped (the notebooks keep theirs)
    p = wait_pool(srv, lambda p: p["target"] == 1 and p["ready"] + p["starting"] == 1, "back to one")
    assert p["min"] == 1
    deadline = time.monotonic() + RUN
    while len(kernel_pids(srv)) != 3 + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(kernel_pids(srv)) == 3 + 1
    for i, nb in enumerate(nbs):  # the notebooks' kernels were not touched
        assert u.run(nb, f"c{i}", "print(6 * 7)") == ("done", "42\n")


def test_a_pool_kernel_serves_one_notebook_only(start_server, users, tmp_path):
    srv = start_server(tmp_path / "data", pool_env(3, 3))
    wait_pool(srv, lambda p: p["ready"] == 3, "three ready")
    people = [users(srv) for _ in range(2)]
    opened = [(u, u.new_notebook()) for u in people for _ in range(3)]
    marks = [u.mark() for u in people]
    for u, nb in opened:  # six notebooks of two users at once: three from the pool, three more
        u.join(nb)
    for u, nb in opened:
        u.wait_idle(nb, marks[people.index(u)])
    for i, (u, nb) in enumerate(opened):
        assert u.run(nb, "mark", MARK.format(tag=i)) == ("done", "seen []\n")
    for i, (u, nb) in enumerate(opened):  # each still sees its own mark only
        assert u.run(nb, "again", "print(sorted(n for n in os.listdir('/tmp') if n.startswith('mark-')), "
                                  "sorted(k for k in globals() if k.startswith('mark_')))") == \
            ("done", f"['mark-{i}'] ['mark_{i}']\n")
    wait_pool(srv, lambda p: p["ready"] == 3 and p["starting"] == 0, "the pool refilled")
    assert len(kernel_pids(srv)) == 6 + 3
    # a restart takes another (pool) kernel, as clean
    u, nb = opened[0]
    m = u.mark()
    assert u.sio.call("restart", {"notebook_id": nb}, timeout=START)["ok"]
    u.wait_idle(nb, m)
    assert u.run(nb, "after-restart", MARK.format(tag="r")) == ("done", "seen []\n")


def test_pool_kernels_have_the_limits_of_any_kernel(start_server, users, tmp_path):
    srv = start_server(tmp_path / "data", dict(pool_env(1, 1), GRADLAB_KERNEL_MEMORY_MB="900",
                                               GRADLAB_KERNEL_OPEN_FILES="100", GRADLAB_KERNEL_FILE_SIZE_MB="7"))
    wait_pool(srv, lambda p: p["ready"] == 1, "one ready")
    [pid] = kernel_pids(srv)
    root = os.geteuid() == 0
    weight = cpu_weight_of(pid)

    def check_limits():
        lim, st = limits_of(pid), status_of(pid)
        assert lim["Max address space"] == str(900 * 2**20)
        assert lim["Max open files"] == "100" and lim["Max file size"] == str(7 * 2**20)
        assert st["Seccomp"].strip() == "2" and st["NoNewPrivs"].strip() == "1"
        assert int(st["Uid"].split()[0]) != 0

    check_limits()
    if root:  # the pool fills at a low priority...
        assert nice_of(pid) == 10
    u = users(srv)
    nb = u.new_notebook()
    u.join(nb)
    u.wait_idle(nb)
    assert u.run(nb, "who", "import os\nprint(os.getpriority(os.PRIO_PROCESS, 0), "
                            "open('/proc/self/stat').read().rsplit(')', 1)[1].split()[19])") == \
        ("done", f"0 {start_time_of(pid)}\n")  # ... and the notebook's kernel runs at the normal one
    check_limits()
    assert nice_of(pid) == 0
    if weight is not None:
        assert weight < cpu_weight_of(pid)  # its cgroup's CPU weight is raised too
    groups_of = getattr(cgroups, "groups_of", None)
    if groups_of is not None and groups_of(pid).get("memory"):
        d = groups_of(pid)["memory"]
        name = "memory.max" if os.path.exists(os.path.join(d, "memory.max")) else "memory.limit_in_bytes"
        with open(os.path.join(d, name)) as f:
            assert int(f.read()) == (900 + 512) * 2**20  # the kernel and its /tmp, as any kernel


def test_pool_kernels_are_shut_down_with_the_server(start_server, users, tmp_path):
    srv = start_server(tmp_path / "data", pool_env(3, 3))
    wait_pool(srv, lambda p: p["ready"] == 3, "three ready")
    u = users(srv)
    nb = u.new_notebook()
    u.join(nb)
    u.wait_idle(nb)
    wait_pool(srv, lambda p: p["ready"] == 3 and p["starting"] == 0, "the pool refilled")
    pids = kernel_pids(srv)
    assert len(pids) == 1 + 3
    groups = set().union(*(kernel_group_dirs(p) for p in pids))
    u.close()
    srv.stop()  # SIGTERM: the server shuts its kernels down, pool included
    deadline = time.monotonic() + RUN
    while any(is_kernel(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in pids if is_kernel(p)] == []
    assert [d for d in groups if os.path.exists(d)] == []  # removed on the way out, not left to a sweep


def test_kernels_started_on_demand_wait_their_turn():
    """Without a pool kernel, ``ensure`` returns at once and the kernels are forked a few at a time,
    first come first served; each notebook still gets its own, and one shut down before its turn
    says so."""
    from backend.kernels.manager import KernelManager
    from kernel_events import Events, KernelCfg

    ev = Events()
    mgr = KernelManager(KernelCfg(kernel_pool_size=0), ev)
    try:
        n = mgr.start_parallel + 3
        for i in range(n):
            assert mgr.ensure(f"nb{i}") is True
        with mgr.lock:
            forked = sum(1 for i in range(n) if mgr.kernels[f"nb{i}"].proc is not None)
            waiting = [k.notebook_id for k in mgr._waiting]
        assert forked <= mgr.start_parallel
        assert 1 <= len(waiting) <= 3
        assert waiting == [f"nb{i}" for i in range(n - len(waiting), n)]  # the last comers wait
        last = f"nb{n - 1}"
        mgr.shutdown(last)  # before its turn
        _, _, dead = ev.wait(lambda nb, name, d: nb == last and name == "kernel_status" and d["status"] == "dead")
        assert dead["reason"] == "shut down"
        n -= 1
        for i in range(n):
            nb = f"nb{i}"
            ev.wait(lambda b, name, d: b == nb and name == "kernel_status" and d["status"] == "idle", START)
            assert ev.value(mgr, nb, f"import os\nopen('/tmp/mine', 'x').write('{i}')\n{i} * 2") == str(i * 2)
        assert mgr._starting == 0 and not mgr._waiting
    finally:
        mgr.shutdown_all()

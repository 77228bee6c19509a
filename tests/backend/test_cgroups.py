"""Kernel cgroups (backend/kernels/cgroups.py) on the real server with real bwrap: the process limit
holds for a cell's whole process tree, each kernel has its CPU weight, and a kernel that spins on
every core does not starve another.  Plus the cgroup v2 layout (delegation, the no-internal-processes
rule) on whatever v2 hierarchy this host has, and the fallback when the server is not root."""
import ast
import fcntl
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from backend.kernels import cgroups
from clients import make_client_session
from kernel_events import bwrap_usable
from test_realtime import START, Live, new_notebook, result_text

REPO = Path(__file__).resolve().parents[2]
MAX_PROCS = 32  # GRADLAB_KERNEL_MAX_PROCS of the server below: pids.max is this + 4 (bwrap, its init)

needs_cgroups = pytest.mark.skipif(bool(cgroups.available()),
                                   reason=f"kernel cgroups unavailable here: {cgroups.available()}")
needs_bwrap = pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap cannot run on this machine")


@pytest.fixture(scope="module")
def server_env():
    return {"GRADLAB_KERNEL_MAX_PROCS": str(MAX_PROCS)}


# -- the server's kernels, seen from the host ----------------------------------------------------
def _procs():
    """{pid: (ppid, comm)} of every process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        out[int(name)] = (int(stat[stat.rindex(")") + 2:].split()[1]), comm)
    return out


def _descendants(root, procs):
    kids, todo = [], [root]
    while todo:
        p = todo.pop()
        for c, (pp, _) in procs.items():
            if pp == p:
                kids.append(c)
                todo.append(c)
    return kids


def kernel_bwraps(server):
    """Host pids of the outer bwrap of each of the server's kernels."""
    procs = _procs()
    return {p for p in _descendants(server.proc.pid, procs)
            if procs[p][1] == "bwrap" and procs.get(procs[p][0], (0, ""))[1] != "bwrap"}


def new_kernel(server, c, nb, known):
    """Wait for the bwrap of notebook ``nb``'s new kernel (not in ``known``); its pid."""
    end = time.monotonic() + START
    while time.monotonic() < end:
        procs = _procs()
        new = {b for b in kernel_bwraps(server) - set(known) if len(_descendants(b, procs)) >= 2}
        if new:
            assert len(new) == 1, new
            return new.pop()
        time.sleep(0.1)
    raise AssertionError(f"no kernel process appeared for {nb}:\n{server.log()[-3000:]}")


def read(path):
    return Path(path).read_text().strip()


def cpu_ticks(pid):
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(f[11]) + int(f[12])  # utime + stime


def pids_in(group):
    return [int(x) for x in read(os.path.join(group, "cgroup.procs")).split()]


def events_max(group):
    """How many forks the group's pids.max refused so far."""
    for line in read(os.path.join(group, "pids.events")).splitlines():
        if line.startswith("max "):
            return int(line.split()[1])
    return 0


@pytest.fixture(scope="module")
def kernel(server, tmp_path_factory):
    """A notebook with a running kernel: (live connection, notebook, its bwrap pid, its groups)."""
    if cgroups.available():
        pytest.skip(f"kernel cgroups unavailable here: {cgroups.available()}")
    owner = make_client_session(server)
    nb = new_notebook(server, owner, cells=("",) * 12)
    c = Live(server, owner, "websocket")
    known = kernel_bwraps(server)
    try:
        c.join(nb["id"])
        assert result_text(c.run(nb["id"], nb["cells"][0]["id"], "6 * 7", timeout=START)) == "42"
    except AssertionError as e:
        raise AssertionError(f"{e}\nserver log:\n{server.log()[-4000:]}") from None
    bw = new_kernel(server, c, nb["id"], known)
    groups = cgroups.groups_of(bw)
    try:
        yield c, nb, bw, groups
    finally:
        c.close()
        owner.close()


def run(c, nb, i, code, timeout=120):
    evs = c.run(nb["id"], nb["cells"][i]["id"], code, timeout=timeout)
    errs = [p for e, p in evs if e == "cell_error"]
    assert not errs, errs
    return result_text(evs)


# -- the process limit ----------------------------------------------------------------------------
# Every process forks FAN children up to DEPTH generations (5 + 25 + 125 = 155 in all, far more than
# the limit), each stops forking at the first refusal, and all of them stay alive until a common
# deadline, so the limit is met by the tree as a whole.  Each success writes its generation to a
# pipe, each refusal "E" (BlockingIOError, EAGAIN) or "X" (any other error); the kernel reads them
# all and waits for its children.
FORK_TREE = textwrap.dedent("""
    import os, time
    FAN, DEPTH = 5, 3
    deadline = time.time() + 3
    r, w = os.pipe()

    def grow(gen):
        kids = []
        for _ in range(FAN):
            try:
                pid = os.fork()
            except BlockingIOError:
                os.write(w, b"E")
                break
            except OSError:
                os.write(w, b"X")
                break
            if pid == 0:
                try:
                    if gen == 1:
                        os.close(r)
                    os.write(w, str(gen).encode())
                    if gen < DEPTH:
                        grow(gen + 1)
                    time.sleep(max(0.0, deadline - time.time()))
                finally:
                    os._exit(0)
            kids.append(pid)
        return kids

    kids = grow(1)
    os.close(w)
    got = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        got += chunk
    os.close(r)
    for k in kids:
        os.waitpid(k, 0)
    s = got.decode()
    {"created": sum(s.count(g) for g in "123"), "by_gen": [s.count(g) for g in "123"],
     "eagain": s.count("E"), "other": s.count("X")}
""")


@needs_bwrap
@needs_cgroups
def test_pids_max_holds_across_generations(kernel):
    c, nb, bw, groups = kernel
    pg = groups["pids"]
    assert os.path.basename(pg).startswith(cgroups.PREFIX), pg
    assert read(os.path.join(pg, "pids.max")) == str(MAX_PROCS + 4)
    before = int(read(os.path.join(pg, "pids.current")))
    res = ast.literal_eval(run(c, nb, 1, FORK_TREE))
    # refused with EAGAIN (BlockingIOError) and nothing else; grandchildren were started too, so the
    # count is of the tree, not of one process's children; and never more than the limit at once
    assert res["eagain"] >= 1 and res["other"] == 0, res
    assert res["by_gen"][1] >= 1, res
    assert res["created"] <= MAX_PROCS, res
    if os.path.exists(os.path.join(pg, "pids.peak")):
        assert int(read(os.path.join(pg, "pids.peak"))) <= MAX_PROCS + 4
    # the kernel lives on, and its children are gone
    assert run(c, nb, 2, "21 * 2") == "42"
    assert int(read(os.path.join(pg, "pids.current"))) <= before


@needs_bwrap
@needs_cgroups
def test_pids_max_alone_stops_the_tree(kernel):
    """The kernel's RLIMIT_NPROC (its own uid) is met about when pids.max is: here the group's
    limit is lowered below it, so what refuses the forks can only be the cgroup."""
    c, nb, bw, groups = kernel
    pg = groups["pids"]
    now = int(read(os.path.join(pg, "pids.current")))  # bwrap, its init, the kernel and its threads
    assert now + 10 < MAX_PROCS, now
    before = events_max(pg)
    old = read(os.path.join(pg, "pids.max"))
    Path(pg, "pids.max").write_text(str(now + 10))
    try:
        res = ast.literal_eval(run(c, nb, 3, FORK_TREE))
    finally:
        Path(pg, "pids.max").write_text(old)
    assert res["eagain"] >= 1 and res["other"] == 0, res
    assert res["created"] <= 10 and res["by_gen"][1] >= 1, res
    assert events_max(pg) > before   # the cgroup refused them
    assert run(c, nb, 4, "21 * 2") == "42"


# -- CPU weight -------------------------------------------------------------------------------------
def _cpu_file(group):
    """The group's cpu.weight (v2) or cpu.shares (v1); None without the cpu controller."""
    for name in ("cpu.weight", "cpu.shares"):
        if os.path.exists(os.path.join(group, name)):
            return os.path.join(group, name)
    return None


def _has_cpu(group):
    return os.path.basename(group).startswith(cgroups.PREFIX) and _cpu_file(group) is not None


def _want(weight, path):
    return str(weight if path.endswith("cpu.weight") else cgroups.v1_shares(weight))


@needs_bwrap
@needs_cgroups
def test_kernel_cgroup_limits_and_cpu_weight(kernel):
    c, nb, bw, groups = kernel
    cg = groups["cpu"]
    if not _has_cpu(cg):
        pytest.skip(f"no cpu controller for kernel cgroups here (the kernel is in {cg})")
    f = _cpu_file(cg)
    assert read(f) == _want(cgroups.KERNEL_CPU_WEIGHT, f)
    pf = _cpu_file(os.path.dirname(cg))
    assert read(pf) == _want(cgroups.KERNELS_CPU_WEIGHT, pf)
    assert os.path.basename(os.path.dirname(cg)) == cgroups.PARENT
    # every process of the kernel (bwrap, its init, the Python kernel) is in its groups, and nothing else
    members = [bw] + _descendants(bw, _procs())
    assert len(members) >= 3, members
    for ctrl, d in groups.items():
        assert cgroups.groups_of(bw)[ctrl] == d
        assert sorted(pids_in(d)) == sorted(members), (ctrl, d)
    assert read(os.path.join(groups["pids"], "pids.max")) == str(MAX_PROCS + 4)
    from backend.config import Config
    cfg = Config()  # the server's memory settings are the defaults
    mem = [os.path.join(groups["memory"], f) for f in ("memory.max", "memory.limit_in_bytes")]
    assert int(read(next(f for f in mem if os.path.exists(f)))) == (cfg.kernel_memory_mb + cfg.kernel_tmp_mb) << 20


@needs_cgroups
def test_cpu_weight_is_set_and_changed():
    """A kernel may start at a low weight (a pool kernel nobody uses yet) and be raised later:
    the file holds the weight (v1: the shares for it) each time."""
    k = cgroups.KernelCgroup.create(0, 10, cpu_weight=10)
    assert k is not None
    try:
        if k.cpu is None:
            pytest.skip("no cpu controller for kernel cgroups here")
        assert read(k.cpu) == _want(10, k.cpu)
        assert k.set_cpu_weight(cgroups.KERNEL_CPU_WEIGHT)
        assert read(k.cpu) == _want(cgroups.KERNEL_CPU_WEIGHT, k.cpu)
    finally:
        k.remove()
    assert not any(os.path.exists(d) for d in k.dirs)


SPIN = "import time\nt = time.time() + {s}\nwhile time.time() < t:\n    pass\n'spun'"
SPIN_MANY = textwrap.dedent("""
    import os, time
    t = time.time() + {s}
    kids = []
    for _ in range({n}):
        pid = os.fork()
        if pid == 0:
            while time.time() < t:
                pass
            os._exit(0)
        kids.append(pid)
    for k in kids:
        os.waitpid(k, 0)
    'spun'
""")


def _pin(pids, cpus):
    for p in pids:
        try:
            os.sched_setaffinity(p, cpus)
        except ProcessLookupError:
            pass


@needs_bwrap
@needs_cgroups
def test_busy_kernel_does_not_starve_another(server, kernel):
    """Kernels A and B, both held to one CPU (processes forked later inherit that): A runs N
    spinning processes, B one.  Were every process weighed alike, B's would get 1/(N+1) of the CPU,
    as much as any one of A's; with one weight per kernel B gets half, N times as much as any one of
    A's.  CPU times over the same 2 s, read from /proc on the host; whatever else the host runs
    takes from both kernels alike."""
    ca, nba, bwa, ga = kernel
    if not _has_cpu(ga["cpu"]):
        pytest.skip("no cpu controller for kernel cgroups here")
    owner = make_client_session(server)
    nbb = new_notebook(server, owner, cells=("",) * 3)
    cb = Live(server, owner, "websocket")
    n = 8
    cpu = {min(os.sched_getaffinity(0))}
    every = set(range(os.cpu_count()))
    pinned = []
    try:
        known = kernel_bwraps(server)
        cb.join(nbb["id"])
        assert result_text(cb.run(nbb["id"], nbb["cells"][0]["id"], "1", timeout=START)) == "1"
        bwb = new_kernel(server, cb, nbb["id"], known)
        gb = cgroups.groups_of(bwb)
        pinned = pids_in(ga["cpu"]) + pids_in(gb["cpu"])
        _pin(pinned, cpu)
        ma, mb = ca.mark(), cb.mark()
        cell_a, cell_b = nba["cells"][5]["id"], nbb["cells"][1]["id"]
        assert ca.call("execute", {"notebook_id": nba["id"], "cell_id": cell_a,
                                   "code": SPIN_MANY.format(s=8, n=n)})["ok"]
        end = time.monotonic() + 30
        while len(pids_in(ga["cpu"])) < len(pinned) // 2 + n and time.monotonic() < end:
            time.sleep(0.05)
        assert cb.call("execute", {"notebook_id": nbb["id"], "cell_id": cell_b, "code": SPIN.format(s=5)})["ok"]
        time.sleep(1.0)
        a0 = {p: cpu_ticks(p) for p in pids_in(ga["cpu"])}
        b0 = {p: cpu_ticks(p) for p in pids_in(gb["cpu"])}
        time.sleep(2.0)
        a = sum(cpu_ticks(p) - t for p, t in a0.items())
        b = sum(cpu_ticks(p) - t for p, t in b0.items())
        spinners = len(a0) - 3  # less bwrap, its init and the kernel (waiting for them)
        for c, m, cell in ((ca, ma, cell_a), (cb, mb, cell_b)):
            c.wait(lambda e, p: e == "cell_status" and p.get("cell_id") == cell and p["status"] in ("done", "error"),
                   m, 60, "end of the spinning cell")
        assert spinners == n, a0
        # about n (8) with a weight per kernel, about 1 with a weight per process
        assert b > 0 and b >= 3 * a / n, (b, a, n)
    finally:
        _pin(pinned, every)
        cb.close()
        owner.close()


# -- cgroup v2: delegation and the no-internal-processes rule -------------------------------------
V2_CHILD = textwrap.dedent("""
    import json, os, subprocess, sys
    sys.path.insert(0, {repo!r})
    from backend.kernels import cgroups
    if {stand_in!r}:  # no memory and pids on this v2 hierarchy: what it has stands in for them
        cgroups.REQUIRED = tuple({ctrls!r})
        cgroups._limit = lambda *a: None         # (their limit files differ: not written then)
    uid = {uid!r}
    if uid is not None:                          # a delegated subtree, unprivileged from here on
        os.setgroups([]); os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)
    out = {{"available": cgroups.available()}}
    k = cgroups.KernelCgroup.create(64 << 20, 10)
    out["created"] = k is not None
    out["available_after"] = cgroups.available()
    out["self"] = open("/proc/self/cgroup").read()
    if k is not None:
        p = subprocess.Popen(["sleep", "30"], preexec_fn=k.join)
        out["dirs"] = k.dirs
        out["child"] = open(f"/proc/{{p.pid}}/cgroup").read()
        parent = os.path.dirname(k.dirs[0])
        out["subtree"] = [open(os.path.join(g, "cgroup.subtree_control")).read().split()
                          for g in (os.path.dirname(parent), parent)]
        out["files"] = {{os.path.relpath(os.path.join(g, f), parent): open(os.path.join(g, f)).read().strip()
                        for g in (parent, k.dirs[0]) for f in ("cpu.weight", "memory.max", "memory.swap.max", "pids.max")
                        if os.path.exists(os.path.join(g, f))}}
        p.kill(); p.wait()
        k.remove()
        out["removed"] = not any(os.path.exists(d) for d in k.dirs)
    print(json.dumps(out))
""")


@pytest.fixture
def v2_subtree(request):
    """A fresh group S at the top of this host's cgroup v2 hierarchy, with a controller available
    to it (memory and pids on a v2 host; whatever a hybrid host's unified mount has); removed after."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a cgroup v2 group to delegate")
    lock = open("/tmp/gradlab-test-cgroup-v2.lock", "a")
    fcntl.flock(lock, fcntl.LOCK_EX)  # one at a time: each may turn a controller on and off at the top
    request.addfinalizer(lock.close)
    v2, _ = cgroups._mounts()
    if v2 is None:
        pytest.skip("no cgroup v2 hierarchy on this host")
    top = v2[0]
    have = read(os.path.join(top, "cgroup.controllers")).split()
    if all(c in have for c in cgroups.REQUIRED):
        ctrls = list(cgroups.REQUIRED) + [c for c in ("cpu",) if c in have]
    else:
        ctrls = [c for c in ("hugetlb", "io", "pids", "memory", "cpu") if c in have][:1]
    if not ctrls:
        pytest.skip(f"no controller available on the cgroup v2 hierarchy {top}")
    enabled = read(os.path.join(top, "cgroup.subtree_control")).split()
    added = [c for c in ctrls if c not in enabled]
    if added:
        Path(top, "cgroup.subtree_control").write_text(" ".join("+" + c for c in added))
    s = Path(top, f"gradlab-test-{os.getpid()}-{time.monotonic_ns()}")
    s.mkdir()
    extra = []
    yield s, ctrls, extra
    for p in extra:
        p.kill()
        p.wait()
    for d in sorted((p for p in s.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)) + [s]:
        for pid in pids_in(d):  # (nothing should be left)
            Path(top, "cgroup.procs").write_text(str(pid))
        d.rmdir()
    if added:
        try:
            Path(top, "cgroup.subtree_control").write_text(" ".join("-" + c for c in added))
        except OSError:
            pass  # another group enables it now


def _run_in(s, ctrls, uid=None):
    """Run V2_CHILD in group S (put there before it starts); its JSON report."""
    def enter():
        Path(s, "cgroup.procs").write_text(str(os.getpid()))
    stand_in = not all(c in ctrls for c in cgroups.REQUIRED)
    code = V2_CHILD.format(repo=str(REPO), ctrls=ctrls, uid=uid, stand_in=stand_in)
    r = subprocess.run([sys.executable, "-c", code], preexec_fn=enter, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _delegate(s, uid):
    """What systemd's Delegate=yes does: the group and its control files belong to the user."""
    for p in (s, s / "cgroup.procs", s / "cgroup.subtree_control", s / "cgroup.threads"):
        os.chown(p, uid, uid)


def _rel(s, path):
    return "/" + os.path.relpath(path, s)


def test_v2_delegated_subtree_unprivileged(v2_subtree):
    s, ctrls, _ = v2_subtree
    _delegate(s, 65534)
    out = _run_in(s, ctrls, uid=65534)
    assert out["available"] == "" and out["created"], out
    # the server (the only process in S) was moved to a leaf so that S could enable the controllers
    # for its children; kernels are in S/gradlab/gradlab-kernel-<pid>-<n>, which has them too
    assert out["self"].strip().endswith(f"{s.name}/{cgroups.SERVER_LEAF}"), out["self"]
    assert set(ctrls) <= set(out["subtree"][0]) and set(ctrls) <= set(out["subtree"][1]), out
    [d] = out["dirs"]
    assert _rel(s, d).startswith(f"/{cgroups.PARENT}/{cgroups.PREFIX}")
    assert out["child"].strip().endswith(_rel(s, d)), out["child"]
    assert out["removed"] and not (s / cgroups.PARENT).exists()  # the last kernel's parent goes too
    assert pids_in(s) == []
    if all(c in ctrls for c in cgroups.REQUIRED):  # a real v2 host: the limits were written too
        f, name = out["files"], os.path.basename(d)
        assert f[f"{name}/pids.max"] == "10" and f[f"{name}/memory.max"] == str(64 << 20), f
        if "cpu" in ctrls:
            assert f[f"{name}/cpu.weight"] == str(cgroups.KERNEL_CPU_WEIGHT), f
            assert f["cpu.weight"] == str(cgroups.KERNELS_CPU_WEIGHT), f


def test_v2_root_in_a_group_with_processes(v2_subtree):
    s, ctrls, _ = v2_subtree
    out = _run_in(s, ctrls)  # as root, S not the root group: the same move is needed
    assert out["created"] and out["self"].strip().endswith(cgroups.SERVER_LEAF), out
    assert set(ctrls) <= set(out["subtree"][0]) and set(ctrls) <= set(out["subtree"][1]), out


def test_v2_not_delegated_keeps_rlimits(v2_subtree):
    s, ctrls, _ = v2_subtree
    out = _run_in(s, ctrls, uid=65534)  # S belongs to root: not delegated
    assert "not delegated" in out["available"] and not out["created"], out
    assert not (s / cgroups.PARENT).exists()


def test_v2_group_shared_with_other_processes_is_left_alone(v2_subtree):
    s, ctrls, extra = v2_subtree
    other = subprocess.Popen(["sleep", "60"], preexec_fn=lambda: Path(s, "cgroup.procs").write_text(str(os.getpid())))
    extra.append(other)
    time.sleep(0.1)
    out = _run_in(s, ctrls)
    assert not out["created"] and "other processes" in out["available_after"], out
    assert other.pid in pids_in(s)  # not moved


# -- unprivileged without delegation ---------------------------------------------------------------
def test_unprivileged_without_delegation_keeps_rlimits():
    if os.geteuid() != 0:
        reason = cgroups.available()
        assert reason, "this host delegates a cgroup v2 subtree to the test's user"
        assert "root" in reason or "delegat" in reason or "controllers" in reason
        return
    code = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        from backend.kernels import cgroups
        os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
        print(cgroups.available()); print(cgroups.KernelCgroup.create(1 << 30, 10))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    reason, created = r.stdout.strip().splitlines()
    assert reason and created == "None", r.stdout
    assert "root" in reason or "delegat" in reason, reason

"""Kernel manager with real kernel processes in real bubblewrap (no mocks)."""
import shutil
import time

import pytest

from backend.kernels import cgroups, sandbox
from backend.kernels.manager import KernelManager
from kernel_events import Events, KernelCfg as Cfg, bwrap_usable

pytestmark = pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap cannot run on this machine")


@pytest.fixture
def km():
    ev = Events()
    mgr = KernelManager(Cfg(), ev)
    mgr.ev = ev
    yield mgr
    mgr.shutdown_all()


def stdout(ev, cid):
    return "".join(d["text"] for d in ev.of(cid, "stream") if d["name"] == "stdout")


def test_persistent_state_result_and_stdout(km):
    ev = km.ev
    cid, st = ev.run(km, "nb", "x = 41\nprint('hello', x)")
    assert st["status"] == "done" and "duration_ms" in st
    assert stdout(ev, cid) == "hello 41\n"
    cid, st = ev.run(km, "nb", "import torch\nt = torch.tensor([1., 2.])\nx + 1")
    assert ev.of(cid, "result")[0]["data"]["text/plain"] == "42"
    cid, _ = ev.run(km, "nb", "t * 2")
    assert ev.of(cid, "result")[0]["data"]["text/plain"] == "tensor([2., 4.])"  # 1*2, 2*2: exact, printed exactly
    assert ev.wait(lambda n, name, d: name == "device")[2]["device"] == "cpu"
    statuses = [d["status"] for d in ev.of("cell1", "cell_status")]
    assert statuses == ["queued", "running", "done"]
    assert km.status("nb")["status"] == "idle"


def test_trimmed_traceback_with_line(km):
    ev = km.ev
    cid, st = ev.run(km, "nb", "a = 1\nb = 2\nc = a / 0\nd = 4")
    assert st["status"] == "error"
    err = ev.of(cid, "error")[0]
    assert err["ename"] == "ZeroDivisionError" and err["line"] == 3
    assert err["traceback"][1] == "  Cell [1], line 3, in <module>"
    assert not any("kernel_main" in ln or "engine" in ln for ln in err["traceback"])
    cid, st = ev.run(km, "nb", "import torch\ntorch.ones(2, 3) @ torch.ones(2, 3)")
    err = ev.of(cid, "error")[0]
    assert err["ename"] == "RuntimeError" and err["line"] == 2
    assert all("engine" not in ln for ln in err["traceback"][:-1])
    cid, st = ev.run(km, "nb", "x = (")
    assert ev.of(cid, "error")[0]["ename"] == "SyntaxError"


def test_seed_graph_and_backward_trace(km):
    ev = km.ev
    code = ("import torch\n"
            "x = torch.tensor(3.0, requires_grad=True)\n"
            "w = torch.tensor(2.0, requires_grad=True)\n"
            "b = torch.tensor(1.0, requires_grad=True)\n"
            "y = w * x + b\n"
            "z = y ** 2\n"
            "z.backward()\n")
    cid, st = ev.run(km, "nb", code)
    assert st["status"] == "done"
    g = ev.of(cid, "graph")[0]
    ops = {n["op"] for n in g["nodes"]}
    assert {"MulBackward0", "AddBackward0", "PowBackward0", "leaf"} <= ops
    by_op = {n["op"]: n for n in g["nodes"] if n["kind"] != "leaf"}
    assert by_op["MulBackward0"]["line"] == 5 and by_op["PowBackward0"]["line"] == 6
    assert by_op["PowBackward0"]["kind"] == "output"
    leaves = {n["name"]: n["id"] for n in g["nodes"] if n["kind"] == "leaf"}
    assert set(leaves) == {"x", "w", "b"}
    assert [by_op["AddBackward0"]["id"], by_op["PowBackward0"]["id"]] in g["edges"]
    trace = ev.of(cid, "backward_trace")[0]
    assert trace["pass_index"] == 0
    acc = [(s["leaf"], s["grads_in"][0]["value"]) for s in trace["steps"] if s["op"] == "AccumulateGrad"]
    # here and below: products and sums of small integers (2*7, 14*3, 2*3), exact in float32
    assert acc == [(leaves["b"], 14.0), (leaves["w"], 42.0), (leaves["x"], 28.0)]
    assert [s["op"] for s in trace["steps"]][:2] == ["PowBackward0", "AddBackward0"]
    # values on demand
    km.request_value("nb", leaves["w"], "grad", "r1")
    _, _, v = ev.wait(lambda n, name, d: name == "node_value" and d["request_id"] == "r1")
    assert v["stats"]["max"] == 42.0 and v["shape"] == [] and v["values"] == [42.0]
    km.request_value("nb", by_op["MulBackward0"]["id"], "value", "r2")
    _, _, v = ev.wait(lambda n, name, d: name == "node_value" and d["request_id"] == "r2")
    assert v["values"] == [6.0] and v["dtype"] == "float32"


def test_get_value_stats_and_downsampling(km):
    ev = km.ev
    cid, st = ev.run(km, "nb", "import torch\nw = torch.linspace(-1, 1, 50000).requires_grad_()\n"
                              "loss = (w * 2).sum()\nloss.backward()")
    g = ev.of(cid, "graph")[0]
    wid = next(n["id"] for n in g["nodes"] if n["name"] == "w")
    km.request_value("nb", wid, "value", "big")
    _, _, v = ev.wait(lambda n, name, d: name == "node_value" and d["request_id"] == "big")
    s = v["stats"]
    assert v["shape"] == [50000] and v["downsampled"] and len(v["values"]) <= 10_000
    # float32 linspace is symmetric (start + i*step up to the middle, end - i*step after it): the
    # ends are -1 and 1 exactly and the values cancel in pairs; even without that, each is within
    # 2**-24 + 25000 * step * 2**-24 = 1.2e-7 of the exact grid, and the stats are float64: < 1e-6
    assert s["min"] == pytest.approx(-1) and s["max"] == pytest.approx(1) and abs(s["mean"]) < 1e-6
    assert len(s["histogram"]["counts"]) == 20 and sum(s["histogram"]["counts"]) == 50000
    km.request_value("nb", wid, "grad", "g")
    _, _, v = ev.wait(lambda n, name, d: name == "node_value" and d["request_id"] == "g")
    assert v["stats"]["min"] == 2.0 and v["stats"]["std"] == 0.0  # every grad is 2.0: mean 2.0 exactly, std 0


def test_summary_writer_metrics(km):
    ev = km.ev
    cid, st = ev.run(km, "nb", "from torch.utils.tensorboard import SummaryWriter\n"
                              "with SummaryWriter() as wr:\n"
                              "    for i in range(300):\n"
                              "        wr.add_scalar('loss', 1.0 / (i + 1), i)\n"
                              "    wr.add_scalars('acc', {'train': 0.5, 'val': 0.25}, 7)\n")
    assert st["status"] == "done"
    time.sleep(0.3)
    pts = [p for _, n, d in ev.items if n == "metrics" for p in d["points"]]
    loss = [p for p in pts if p["tag"] == "loss"]
    assert [p["step"] for p in loss] == list(range(300)) and loss[1]["value"] == 0.5  # 1/2, 0.5, 0.25: exact
    assert {(p["tag"], p["value"]) for p in pts if p["tag"].startswith("acc/")} == {("acc/train", 0.5), ("acc/val", 0.25)}
    assert sum(1 for _, n, _ in ev.items if n == "metrics") < 20  # batched


def test_output_limit_and_code_limit(km):
    ev = km.ev
    cid, st = ev.run(km, "nb", "for i in range(10000):\n    print('x' * 50)\nprint('end')")
    assert st["status"] == "done"
    assert len(stdout(ev, cid)) <= 20_000
    assert any("truncated" in d["text"] for d in ev.of(cid, "notice"))
    cid = "huge"
    km.execute("nb", cid, "#" * 20_000)
    assert ev.of(cid, "error")[0]["ename"] == "CodeTooLarge"


def test_images(km):
    ev = km.ev
    cid, st = ev.run(km, "nb", "import numpy as np\ndisplay_image(np.zeros((8, 9, 3), np.uint8))")
    data = ev.of(cid, "result")[0]["data"]
    import base64
    png = base64.b64decode(data["image/png"])
    assert png.startswith(b"\x89PNG") and png[16:24] == (9).to_bytes(4, "big") + (8).to_bytes(4, "big")


def test_interrupt_keeps_namespace(km):
    ev = km.ev
    ev.run(km, "nb", "keep = 'still here'")
    cid = "loop"
    km.execute("nb", cid, "while True:\n    pass")
    km.execute("nb", "queued-after", "1")
    ev.wait(lambda n, name, d: name == "cell_status" and d["cell_id"] == cid and d["status"] == "running")
    time.sleep(0.3)
    km.interrupt("nb")
    ev.wait(lambda n, name, d: name == "cell_status" and d["cell_id"] == cid and d["status"] == "error")
    err = ev.of(cid, "error")[0]
    assert err["ename"] == "KeyboardInterrupt" and err["line"] in (1, 2)
    assert ev.of("queued-after", "cell_status")[-1]["status"] == "idle"
    cid, st = ev.run(km, "nb", "keep")
    assert ev.of(cid, "result")[0]["data"]["text/plain"] == "'still here'"


def test_restart_clears_namespace_and_pool_start(km):
    ev = km.ev
    ev.run(km, "nb", "gone = 1")
    km.restart("nb")
    statuses = [d["status"] for n, name, d in ev.items if name == "kernel_status"]
    assert "restarting" in statuses
    ev.wait(lambda n, name, d: name == "kernel_status" and d["status"] == "idle"
            and statuses.index("restarting") < len(statuses))
    cid, st = ev.run(km, "nb", "gone")
    assert ev.of(cid, "error")[0]["ename"] == "NameError"


@pytest.mark.parametrize("code,reason", [
    ("import os\nos._exit(3)", "exited with code 3"),
    ("import ctypes\nctypes.string_at(0)", "segmentation fault"),
])
def test_crash_reported_and_new_kernel_works(km, code, reason):
    ev = km.ev
    ev.run(km, "nb", "v = 1")
    cid, st = ev.run(km, "nb", code)
    assert st["status"] == "error"
    _, _, dead = ev.wait(lambda n, name, d: name == "kernel_status" and d["status"] == "dead")
    assert reason in dead["reason"]
    assert reason in ev.of(cid, "error")[0]["evalue"]
    cid, st = ev.run(km, "nb", "1 + 1")
    assert st["status"] == "done" and ev.of(cid, "result")[0]["data"]["text/plain"] == "2"


def test_memory_bomb_is_reported(km):
    ev = km.ev
    cid, st = ev.run(km, "nb", "x = bytearray(10**11)")
    assert st["status"] == "error"
    assert ev.of(cid, "error")[0]["ename"] == "MemoryError"
    cid, st = ev.run(km, "nb", "big = []\nwhile True:\n    big.append(bytearray(50 * 2**20))", timeout=30)
    assert st["status"] == "error"
    cid, st = ev.run(km, "nb", "big = None\n'ok'")
    assert st["status"] == "done"


def test_cell_timeout_interrupts():
    ev = Events()
    mgr = KernelManager(Cfg(cell_timeout_s=1, kernel_pool_size=0), ev)
    try:
        cid, st = ev.run(mgr, "nb", "import time\nwhile True: time.sleep(0.01)", timeout=15)
        assert st["status"] == "error"
        assert any("longer than" in d["text"] for d in ev.of(cid, "notice"))
        cid, st = ev.run(mgr, "nb", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                    "while True: pass", timeout=15)
        _, _, dead = ev.wait(lambda n, name, d: name == "kernel_status" and d["status"] == "dead")
        assert "did not stop" in dead["reason"]
        cid, st = ev.run(mgr, "nb", "2")
        assert st["status"] == "done"
    finally:
        mgr.shutdown_all()


PIPE_FD = "import os\nfd = int(open('/proc/self/cmdline').read().split('\\0')[6])\n"


def test_malformed_message_is_dropped_with_a_notice(km):
    ev = km.ev
    assert ev.value(km, "nb", "keep = 7\nkeep") == "7"
    cid, st = ev.run(km, "nb", PIPE_FD + "os.write(fd, b'{not json\\n')\n"
                                          "os.write(fd, b'{\"type\": \"stream\", \"req\": 1}\\n')\nprint('after')")
    assert st["status"] == "done"
    notes = [d["text"] for d in ev.of(cid, "notice")]
    assert sum("dropped" in t for t in notes) == 2, notes
    assert stdout(ev, cid) == "after\n"
    assert ev.value(km, "nb", "keep") == "7"  # the kernel and its variables are still there


def test_protocol_violations_that_go_on_stop_the_kernel(km):
    ev = km.ev
    cid, st = ev.run(km, "nb", PIPE_FD + "for _ in range(50):\n    os.write(fd, b'{not json\\n')\n"
                                          "import time; time.sleep(5)")
    _, _, dead = ev.wait(lambda n, name, d: name == "kernel_status" and d["status"] == "dead")
    assert "malformed messages" in dead["reason"] and "protocol" in dead["reason"]
    assert st["status"] == "error"


@pytest.fixture
def km_1mb():
    """The default output limit (1 MB): big writes reach the pipe instead of the cap."""
    ev = Events()
    mgr = KernelManager(Cfg(output_limit_bytes=1_000_000), ev)
    mgr.ev = ev
    yield mgr
    mgr.shutdown_all()


def test_big_writes_keep_the_kernel_and_its_variables(km_1mb):
    km, ev = km_1mb, km_1mb.ev
    ev.run(km, "nb", "kept = 41")
    cid, st = ev.run(km, "nb", "print('x' * 263_000)")
    assert st["status"] == "done"
    assert stdout(ev, cid) == "x" * 263_000 + "\n"  # split into several messages, all delivered
    cid, st = ev.run(km, "nb", "import sys\nsys.stderr.write('e' * 500_000)")
    assert st["status"] == "done"
    err = "".join(d["text"] for d in ev.of(cid, "stream") if d["name"] == "stderr")
    assert err == "e" * 500_000
    assert ev.value(km, "nb", "kept + 1") == "42"


@pytest.mark.parametrize("expr,size", [("'x' * 9_000_000", 9_000_002), ("list(range(2_000_000))", len(repr(list(range(2_000_000)))))])
def test_huge_result_is_shown_truncated_with_its_size(km_1mb, expr, size):
    km, ev = km_1mb, km_1mb.ev
    ev.run(km, "nb", "kept = 41")
    text = ev.value(km, "nb", expr)
    assert f"the result's text is {size:,} characters" in text and len(text) < 70_000
    assert ev.value(km, "nb", "kept + 1") == "42"


def test_display_results_share_the_cell_output_limit(km_1mb):
    km, ev = km_1mb, km_1mb.ev
    code = ("class Big:\n    def __repr__(self):\n        return 'y' * 6_000_000\n"
            "for _ in range(20):\n    display(Big())\nprint('end')")
    cid, st = ev.run(km, "nb", code, timeout=60)
    assert st["status"] == "done"
    results = ev.of(cid, "result")
    total = sum(len(v) for r in results for v in r["data"].values())
    assert 900_000 < total <= 1_000_000  # twenty 6 MB reprs: each cut, together within the cell's limit
    assert 10 < len(results) < 20 and all("6,000,000 characters" in r["data"]["text/plain"] for r in results)
    assert any("output truncated" in d["text"] for d in ev.of(cid, "notice"))
    assert stdout(ev, cid) == ""  # the limit is spent: later prints are not shown either


def test_each_kind_of_output_has_its_own_budget(km_1mb):
    """A log that spends the text budget does not hide the image after it; images over their budget
    (2 MB with a 1 MB limit) are left out, saying so once, and later small ones are not shown."""
    km, ev = km_1mb, km_1mb.ev
    code = ("import base64, numpy as np\n"
            "for i in range(30_000):\n    print('epoch', i, 'loss', 0.5 ** (i % 40))\n"
            "display_image(np.zeros((16, 16, 3), np.uint8))\n"
            "for _ in range(10):\n"
            "    display_image(np.random.default_rng(0).integers(0, 255, (1000, 1000, 3), dtype=np.uint8))\n"
            "display_image(np.ones((4, 4), np.uint8))\n")
    cid, st = ev.run(km, "nb", code, timeout=120)
    assert st["status"] == "done"
    assert 900_000 < len(stdout(ev, cid).encode()) <= 1_000_000
    pngs = [r["data"]["image/png"] for r in ev.of(cid, "result") if "image/png" in r["data"]]
    assert len(pngs) == 1 and len(pngs[0]) < 1000  # the small image after the log
    notes = [d["text"] for d in ev.of(cid, "notice")]
    assert sum("image output limit of 2,000,000 bytes" in n for n in notes) == 1, notes
    assert sum("bytes of text" in n or "more than 1000000 bytes" in n for n in notes) == 1, notes


def test_server_caps_a_kernel_that_ignores_the_limit(km):
    ev = km.ev  # limit 20,000 bytes (+64 KiB slack on the server): the cell writes 5 x 50 KB results itself
    code = (PIPE_FD + "import json\nreq = display.__self__.req\n"
            "for _ in range(5):\n"
            "    os.write(fd, json.dumps({'type': 'result', 'req': req, 'data': {'text/plain': 'z' * 50_000},"
            " 'execution_count': 1}).encode() + b'\\n')\n")
    cid, st = ev.run(km, "nb", code)
    assert st["status"] == "done"
    results = ev.of(cid, "result")
    assert 1 <= len(results) <= 2  # 20,000 + 65,536 bytes admit one or two of them, not five
    assert any("output truncated" in d["text"] for d in ev.of(cid, "notice"))


def test_queue_per_notebook_is_bounded():
    from backend.kernels import manager
    ev = Events()
    km = KernelManager(Cfg(max_code_bytes=100_000), ev)
    try:
        _queue_is_bounded(km, ev, manager)
    finally:
        km.shutdown_all()


def _queue_is_bounded(km, ev, manager):
    ev.run(km, "nb", "x = 1")
    km.execute("nb", "sleeper", "import time\ntime.sleep(3)")
    accepted = [km.execute("nb", f"q{i}", "x += 1  # " + "p" * 90_000) for i in range(60)]
    # 4 MiB of queued code admits 46 cells of 90 KB; the rest are refused, saying why
    assert accepted.count(True) == manager.MAX_QUEUED_CODE_BYTES // 90_012
    refused = [i for i, ok in enumerate(accepted) if not ok]
    err = ev.of(f"q{refused[0]}", "error")[0]
    assert err["ename"] == "QueueFull" and "already waiting" in err["evalue"]
    last = f"q{accepted.count(True) - 1}"
    ev.wait(lambda n, name, d: name == "cell_status" and d["cell_id"] == last and d["status"] == "done", 60)
    assert ev.value(km, "nb", "x") == str(1 + accepted.count(True))  # every accepted cell ran once


def test_tmp_is_sized(km):
    ev = km.ev  # /tmp is 32 MiB here (files up to 8 MiB each): the ninth 4 MiB file does not fit
    code = ("import os, shutil\nprint(shutil.disk_usage('/tmp').total // 2**20)\nn = 0\n"
            "try:\n    for i in range(20):\n        with open(f'/tmp/f{i}', 'wb') as f:\n"
            "            f.write(b'x' * (4 << 20))\n        n += 1\nexcept OSError as e:\n    print(e.errno)\nprint(n)")
    cid, st = ev.run(km, "nb", code)
    assert st["status"] == "done"
    total, errno_, n = stdout(ev, cid).split()
    assert total == "32" and errno_ == "28" and 6 <= int(n) <= 8  # ENOSPC, after about 32 MiB


SYSCALLS = ("import ctypes, errno, json, os, subprocess, threading\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "def call(nr, *a):\n"
            "    ctypes.set_errno(0)\n"
            "    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(x) for x in a])\n"
            "    return 'ok' if r >= 0 else errno.errorcode[ctypes.get_errno()]\n"
            "res = {'unshare_user': call(272, 0x10000000), 'unshare_net': call(272, 0x40000000),\n"
            "       'setns': call(308, 0, 0), 'mount': call(165, 0, 0, 0, 0, 0), 'ptrace': call(101, 0, 0, 0, 0),\n"
            "       'keyctl': call(250, 0, 0, 0, 0, 0), 'bpf': call(321, 0, 0, 0),\n"
            "       'perf_event_open': call(298, 0, 0, -1, -1, 0), 'userfaultfd': call(323, 0),\n"
            "       'clone3': call(435, 0, 0)}\n"
            "r = subprocess.run(['unshare', '-Ur', 'id', '-u'], capture_output=True, text=True)\n"
            "res['unshare -Ur'] = (r.returncode, r.stdout.strip())\n"
            # what cells do need still works: threads, fork, subprocesses
            "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
            "pid = os.fork()\n"
            "if pid == 0:\n    os._exit(7)\n"
            "res['fork'] = os.waitpid(pid, 0)[1] >> 8\n"
            "res['subprocess'] = subprocess.run(['echo', 'hi'], capture_output=True, text=True).stdout\n"
            "print(json.dumps(res))")


def test_seccomp_blocks_namespaces_mounts_tracing_and_kernel_facilities(km):
    import json
    ev = km.ev
    cid, st = ev.run(km, "nb", SYSCALLS)
    assert st["status"] == "done", ev.of(cid, "error")
    res = json.loads(stdout(ev, cid))
    for call in ("unshare_user", "unshare_net", "setns", "mount", "ptrace", "keyctl", "bpf", "perf_event_open",
                 "userfaultfd"):
        assert res[call] == "EPERM", (call, res)
    assert res["clone3"] == "ENOSYS"  # so the C library uses clone, whose flags the filter checks
    assert res["unshare -Ur"][0] != 0 and res["unshare -Ur"][1] != "0"  # no uid 0 in a new namespace
    assert res["fork"] == 7 and res["subprocess"] == "hi\n"


def test_idle_cull():
    ev = Events()
    mgr = KernelManager(Cfg(kernel_idle_cull_s=1, kernel_pool_size=0), ev)
    try:
        ev.run(mgr, "nb", "1")
        _, _, dead = ev.wait(lambda n, name, d: name == "kernel_status" and d["status"] == "dead", 10)
        assert "without activity" in dead["reason"]
    finally:
        mgr.shutdown_all()


def test_sandbox_unavailable_message(monkeypatch):
    ev = Events()
    monkeypatch.setattr(sandbox, "_probe_result", {})
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(sandbox.os.path, "exists", lambda p: False)
    mgr = KernelManager(Cfg(kernel_pool_size=0), ev)
    try:
        mgr.execute("nb", "c", "1")
        _, _, dead = ev.wait(lambda n, name, d: name == "kernel_status" and d["status"] == "dead")
        assert "sandbox unavailable" in dead["reason"] and "GRADLAB_SANDBOX=none" in dead["reason"]
        assert ev.of("c", "cell_status")[-1]["status"] == "error"
    finally:
        mgr.shutdown_all()
        sandbox._probe_result.clear()


def test_unsandboxed_mode_works():
    ev = Events()
    mgr = KernelManager(Cfg(sandbox="none", kernel_pool_size=0), ev)
    try:
        cid, st = ev.run(mgr, "nb", "import os\nsorted(os.environ)[:3]")
        assert st["status"] == "done"
    finally:
        mgr.shutdown_all()


FORK_BOMB_MEMORY = ("import os, time\n"
                    "pids = []\n"
                    "for i in range(5):\n"
                    "    pid = os.fork()\n"
                    "    if pid == 0:\n"
                    "        try:\n"
                    "            block = b'\\x01' * (300 << 20)  # touched: resident, not just reserved\n"
                    "            time.sleep(3)\n"
                    "            os._exit(0)\n"
                    "        except BaseException:\n"
                    "            os._exit(3)\n"
                    "    pids.append(pid)\n"
                    "codes = [os.waitpid(p, 0)[1] for p in pids]\n"
                    "print(sum(1 for c in codes if c == 0), sorted(set(c & 0x7f for c in codes)))")


@pytest.mark.skipif(bool(cgroups.available()), reason=f"kernel cgroups unavailable here: {cgroups.available()}")
def test_memory_limit_holds_across_forks():
    ev = Events()  # 1 GiB for the kernel (+32 MiB of /tmp); five children of 300 MiB, each under the
    km = KernelManager(Cfg(kernel_memory_mb=1024), ev)  # per-process rlimit, would be 1.5 GiB together
    try:
        cid, st = ev.run(km, "nb", FORK_BOMB_MEMORY, timeout=60)
        out = stdout(ev, cid).split(maxsplit=1)
        assert st["status"] == "done", (ev.of(cid, "error"), out)
        # at most three fit in the group (3 x 300 MiB + the kernel): the others were OOM-killed (SIGKILL)
        assert int(out[0]) <= 3 and "9" in out[1], out
        assert ev.value(km, "nb", "1 + 1") == "2"   # and the kernel lives on
    finally:
        km.shutdown_all()

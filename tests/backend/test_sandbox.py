"""The sandbox holds: each test is a cell that tries something and fails (real bwrap, real kernels)."""
import os
import socket
import time

import pytest

from backend.kernels import sandbox
from backend.kernels.manager import KernelManager
from kernel_events import Events, KernelCfg, bwrap_usable

MARKER = "GRADLAB_TEST_SERVER_SECRET_MARKER"


def Cfg(**kw):
    """Tighter limits than the other kernel tests: the bombs below must hit them."""
    limits = dict(kernel_memory_mb=768, kernel_max_procs=24, kernel_file_size_mb=4, output_limit_bytes=50_000)
    return KernelCfg(**{**limits, **kw})


pytestmark = pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap cannot run on this machine")


@pytest.fixture(scope="module")
def km():
    os.environ[MARKER] = "leaked"
    ev = Events()
    mgr = KernelManager(Cfg(), ev)
    mgr.ev = ev
    yield mgr
    mgr.shutdown_all()
    os.environ.pop(MARKER, None)


def still_works(km, nb="nb"):
    assert km.ev.value(km, nb, "21 * 2") == "42"


def _listener(host):
    s = socket.socket()
    s.bind((host, 0))
    s.listen(1)
    return s


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
def test_no_network(km, host):
    srv = _listener(host)
    try:
        port = srv.getsockname()[1]
        code = ("import socket\ns = socket.socket()\ns.settimeout(2)\n"
                f"try:\n    s.connect(({host!r}, {port}))\n    r = 'connected'\n"
                "except OSError as e:\n    r = 'failed'\nr")
        assert km.ev.value(km, "nb", code) == "'failed'"
    finally:
        srv.close()
    still_works(km)


def test_data_dir_not_visible(km, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "gradlab.db").write_bytes(b"SQLite format 3\0secret rows")
    (data / "secret_key").write_text("s3cr3t")
    os.chmod(tmp_path, 0o755)
    os.chmod(data, 0o755)
    os.chmod(data / "secret_key", 0o644)
    code = ("import os\nres = []\n"
            f"for p in [{str(data / 'secret_key')!r}, {str(data / 'gradlab.db')!r}]:\n"
            "    try:\n        res.append(open(p, 'rb').read()[:4])\n"
            "    except OSError as e:\n        res.append(type(e).__name__)\nres")
    assert km.ev.value(km, "nb", code) == "['FileNotFoundError', 'FileNotFoundError']"
    # nor the rest of the repository, nor the server's /root
    code = ("import os\n[os.path.exists(p) for p in ['/work/main/backend/app.py', '/work/main/.git', "
            "'/work/main/tests', '/root/.ssh', '/etc/shadow']]")
    repo = sandbox.REPO_ROOT
    code = code.replace("/work/main", str(repo))
    assert km.ev.value(km, "nb", code) == "[False, False, False, False, False]"
    still_works(km)


def test_other_kernels_tmp_not_visible(km):
    assert km.ev.value(km, "a", "open('/tmp/mine.txt', 'w').write('a secret')\nimport os\nos.getpid()") is not None
    # (a checkout under /tmp shows up as its read-only bind; nothing the other kernel wrote does)
    assert km.ev.value(km, "b", "import os\nos.path.exists('/tmp/mine.txt'), 'mine.txt' in os.listdir('/tmp')") \
        == "(False, False)"
    assert km.ev.value(km, "b", "import os\nsorted(os.listdir('/proc'))[-3:]") is not None
    code = "import os\n[p for p in os.listdir('/proc') if p.isdigit()]"
    pids = eval(km.ev.value(km, "b", code))
    assert len(pids) <= 3  # its own namespace: bwrap's init and the kernel
    km.shutdown("a")
    km.shutdown("b")


def test_environment_is_clean(km):
    env = eval(km.ev.value(km, "nb", "import os\ndict(os.environ)"))
    assert MARKER not in env
    assert env["HOME"] == "/tmp" and env["OMP_NUM_THREADS"] == "1"
    assert not any(k.startswith(("SECRET", "DATABASE", "REDIS")) for k in env)
    uid = eval(km.ev.value(km, "nb", "import os\nos.getuid(), os.geteuid()"))
    assert uid[0] != 0 and uid[0] == uid[1]


def test_cannot_write_outside_tmp(km):
    code = ("res = []\nfor p in ['/usr/evil', '/etc/evil', '/evil', " + repr(str(sandbox.REPO_ROOT / "engine" / "evil.py"))
            + ", " + repr(os.path.join(os.path.realpath(os.sys.prefix), "evil")) + "]:\n"
            "    try:\n        open(p, 'w').write('x')\n        res.append('wrote')\n"
            "    except OSError as e:\n        res.append('denied')\nres")
    assert km.ev.value(km, "nb", code) == str(["denied"] * 5)
    assert not (sandbox.REPO_ROOT / "engine" / "evil.py").exists()
    # and /tmp is writable but size-limited by RLIMIT_FSIZE
    code = ("try:\n    open('/tmp/big', 'wb').write(b'0' * (8 * 2**20))\n    r = 'wrote'\n"
            "except OSError as e:\n    r = type(e).__name__\nr")
    assert km.ev.value(km, "nb", code) == "'OSError'"  # EFBIG: Python ignores SIGXFSZ
    still_works(km)


def test_fork_bomb_limited(km):
    code = ("import os, time\nn = 0\nerr = None\npids = []\n"
            "for i in range(500):\n    try:\n        pid = os.fork()\n"
            "    except OSError as e:\n        err = type(e).__name__\n        break\n"
            "    if pid == 0:\n        time.sleep(3)\n        os._exit(0)\n    pids.append(pid)\n"
            "for p in pids:\n    os.kill(p, 9); os.waitpid(p, 0)\n(len(pids) < 30, err)")
    assert km.ev.value(km, "nb", code, timeout=30) == "(True, 'BlockingIOError')"
    assert os.getpid() and os.fork  # the server-side process is fine
    still_works(km)


def test_memory_bomb_limited(km):
    r = km.ev.value(km, "nb", "x = [bytearray(2**20) for _ in range(4000)]\nlen(x)", timeout=30)
    assert r.startswith("error:MemoryError") or r.startswith("error:KernelDied")
    still_works(km)


def test_infinite_loop_then_interrupt(km):
    cid = "spin"
    km.execute("nb", cid, "while True:\n    pass")
    km.ev.wait(lambda n, name, d: name == "cell_status" and d.get("cell_id") == cid and d["status"] == "running")
    time.sleep(0.5)
    km.interrupt("nb")
    km.ev.wait(lambda n, name, d: name == "cell_status" and d.get("cell_id") == cid and d["status"] == "error")
    assert km.ev.of(cid, "error")[0]["ename"] == "KeyboardInterrupt"
    still_works(km)

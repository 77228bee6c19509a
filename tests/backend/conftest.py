"""Shared fixtures for the server tests: the REAL server (``python -m backend``) in a subprocess.

* ``server`` (module scope): a running server on a free loopback port with its own temporary
  DATA_DIR.  ``.url``, ``.data_dir``, ``.proc``, ``.port``, ``.restart()``, ``.kill9()``,
  ``.stop()``, ``.log()`` (the server's output so far).
* ``server_env`` (module scope): extra environment for that server; override it in a test module
  (``@pytest.fixture(scope="module") def server_env(): return {"GRADLAB_SANDBOX": "none"}``).
* ``client_session``: a factory, ``client_session(server=None) -> requests.Session`` that has
  fetched its identity cookie; ``session.owner`` is its owner id, ``session.url`` the base URL.
* ``start_server`` (fixture): ``start_server(data_dir, env=None) -> ServerProcess``, one more
  server; stopped at the end of the test.
"""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

if os.path.dirname(os.path.abspath(__file__)) not in sys.path:  # loaded by path (e2e, benches)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clients import make_client_session  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, data_dir, env=None, port=None):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.extra_env = dict(env or {})
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log_path = self.data_dir / "server.log"
        self._log_file = None

    def env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("GRADLAB_") and k not in ("HOST", "PORT", "DATABASE_URL", "SECRET_KEY",
                                                              "REDIS_URL")}
        env.update({"HOST": "127.0.0.1", "PORT": str(self.port), "GRADLAB_DATA_DIR": str(self.data_dir),
                    "GRADLAB_KERNEL_POOL_SIZE": "0", "PYTHONUNBUFFERED": "1"})
        if "GRADLAB_DATA" in os.environ:  # where the offline digits are
            env["GRADLAB_DATA"] = os.environ["GRADLAB_DATA"]
        env.update(self.extra_env)
        return env

    def start(self):
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "backend"], cwd=REPO, env=self.env(),
                                     stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                r = requests.get(self.url + "/healthz", timeout=2)
                if r.status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill9()
        raise RuntimeError(f"server did not answer /healthz within {START_TIMEOUT} s:\n{self.log()}")

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _close_log(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _signal_group(self, sig):
        # the server was started in its own session: its group holds it and its kernels, nothing else
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def kill9(self):
        """SIGKILL the server (and its process group) and wait for it."""
        if self.proc is not None:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._close_log()

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            self._signal_group(signal.SIGKILL)  # leftover kernels
            self.proc.wait(timeout=30)
        self._close_log()

    def restart(self):
        """Stop (if running) and start again on the same port and data directory."""
        self.stop()
        return self.start()


def _start_server(data_dir, env=None, port=None):
    return ServerProcess(data_dir, env, port).start()


@pytest.fixture
def start_server():
    started = []

    def start(data_dir, env=None, port=None):
        srv = _start_server(data_dir, env, port)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture(scope="module")
def server_env():
    return {}


@pytest.fixture(scope="module")
def server(tmp_path_factory, server_env):
    srv = _start_server(tmp_path_factory.mktemp("gradlab-data"), server_env)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def client_session(request):
    sessions = []

    def make(srv=None):
        srv = srv or request.getfixturevalue("server")
        s = make_client_session(srv)
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        s.close()

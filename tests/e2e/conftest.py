"""End-to-end fixtures: the real server, Debian's Chromium, and failure artefacts.

* The server is the real ``python -m backend`` process (``ServerProcess`` from
  tests/backend/conftest.py) on a free loopback port with its own temporary data directory and
  real bubblewrap kernels; one per pytest process (per xdist worker), shared by its tests.  Every
  test gets a fresh browser context, hence a fresh identity cookie: its notebooks are its own.
* The browser is Debian's Chromium (``/usr/bin/chromium``, or ``GRADLAB_CHROMIUM``): Playwright's
  own browser downloads do not work here.  ``make test`` / ``make e2e`` install it when missing.
* A test fails when the page logs a ``console.error`` or throws an uncaught exception
  (``pageerror``) while it runs.
* On failure, ``test-results/<test>/`` receives ``failure.png`` (full-page screenshot),
  ``console.log`` (everything the page logged), ``page.html`` and ``server.log`` (the tail of the
  server's output).  pytest-playwright empties ``test-results/`` at the start of each run.
* The front end must be built (``frontend/dist/index.html``); ``make test`` / ``make e2e`` build it.
"""
import importlib.util
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GRADLAB_CHROMIUM", "/usr/bin/chromium")

# Generous: kernels start in bubblewrap on a busy 2-core CI machine.
expect.set_options(timeout=20_000)


def _load_server_module():
    spec = importlib.util.spec_from_file_location("_gradlab_e2e_server", REPO / "tests" / "backend" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_srv = _load_server_module()
ServerProcess = _srv.ServerProcess
make_client_session = _srv.make_client_session


def pytest_configure(config):
    # pytest-playwright's stand-in for pytest-base-url defines a session fixture on an instance
    config.addinivalue_line("filterwarnings",
                            "ignore:Session-scoped fixtures defined as instance methods:pytest.PytestRemovedIn10Warning")


# ---- browser ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's package ('apt-get install chromium', "
                    "or run 'make e2e' as root), or point GRADLAB_CHROMIUM at a Chromium binary", pytrace=False)
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-dev-shm-usage"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}, "accept_downloads": True}


# ---- server ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory):
    if not (REPO / "frontend" / "dist" / "index.html").is_file():
        pytest.fail("the front end is not built (frontend/dist/index.html): run 'make e2e' or "
                    "'cd frontend && npm ci && npm run build'", pytrace=False)
    # the tests expect the device indicator to read cpu, GPU or not
    srv = ServerProcess(tmp_path_factory.mktemp("gradlab-e2e-data"), {"GRADLAB_DEVICE": "cpu"})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


# ---- console watch + failure artefacts -------------------------------------------------------
class ConsoleWatch:
    """Everything the page logs; ``errors`` are console.error messages and uncaught exceptions."""

    def __init__(self):
        self.lines = []
        self.errors = []

    def on_console(self, msg):
        try:
            loc = msg.location or {}
            where = f" ({loc.get('url', '')}:{loc.get('lineNumber', '')})" if loc.get("url") else ""
        except Exception:  # noqa: BLE001 - a closed page
            where = ""
        line = f"[{msg.type}] {msg.text}{where}"
        self.lines.append(line)
        if msg.type == "error":
            self.errors.append(line)

    def on_pageerror(self, exc):
        line = f"[pageerror] {exc}"
        stack = getattr(exc, "stack", None)
        if stack:
            line += "\n" + str(stack)
        self.lines.append(line)
        self.errors.append(line)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, f"_e2e_rep_{rep.when}", rep)
    return rep


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    __tracebackhide__ = True
    result = yield  # re-raises when the test itself failed
    watch = getattr(item, "_e2e_console", None)
    if watch is not None and watch.errors:
        raise AssertionError("the browser console showed errors during the test:\n  "
                             + "\n  ".join(e[:2000] for e in watch.errors))
    return result


def _slug(nodeid):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", nodeid).strip("-")[:200]


@pytest.fixture
def page(page, request, pytestconfig, e2e_server):
    """pytest-playwright's page, watched: console log kept, dialogs accepted, artefacts on failure."""
    watch = ConsoleWatch()
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_pageerror)
    page.on("dialog", lambda d: d.accept())  # a "restart the kernel?" confirm() says yes
    page.set_default_timeout(20_000)
    request.node._e2e_console = watch
    yield page
    failed = any(getattr(getattr(request.node, f"_e2e_rep_{w}", None), "failed", False)
                 for w in ("setup", "call"))
    if failed:
        out = Path(pytestconfig.getoption("--output")).absolute() / _slug(request.node.nodeid)
        out.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(out / "failure.png"), full_page=True, timeout=10_000)
        except Exception as exc:  # noqa: BLE001 - artefacts are best effort
            (out / "failure.png.txt").write_text(f"no screenshot: {exc}\n")
        try:
            (out / "page.html").write_text(page.content())
        except Exception:  # noqa: BLE001
            pass
        (out / "console.log").write_text("\n".join(watch.lines) + "\n")
        (out / "server.log").write_text(e2e_server.log()[-200_000:])


@pytest.fixture
def app(page, e2e_server):
    from gradlab_ui import App  # tests/e2e/gradlab_ui.py

    return App(page, e2e_server.url)

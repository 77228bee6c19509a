"""The app factory.  ``create_app(config=None)`` wires configuration, storage, identity, the REST
API, the kernel manager and the realtime handlers; ``socketio`` is the one SocketIO instance.

Extensions other modules read:

* ``app.extensions["config"]``   — ``backend.config.Config``
* ``app.extensions["repo"]``     — ``backend.storage.Repo``
* ``app.extensions["kernels"]``  — ``KernelService``: forwards every attribute to
  ``backend.kernels.manager.KernelManager(config, on_event)``, created on first use; raises
  ``KernelsUnavailable`` (a RuntimeError with the reason) when that module cannot be imported.
  Listeners for kernel events: ``app.extensions["kernels"].add_listener(fn)``, ``fn(notebook_id,
  event_name, data)`` called from the manager's threads.
* ``app.extensions["socketio"]`` — the ``flask_socketio.SocketIO`` (also ``backend.app.socketio``)
* ``app.extensions["realtime"]`` — ``backend.realtime.runs.RunService``: cell runs and their
  saving (it also ends the runs a stopped single-process server left behind)
"""
import atexit
import importlib
import importlib.util
import logging
import threading
from urllib.parse import urlsplit

from flask import Flask, abort, jsonify, request, send_from_directory
from flask_socketio import SocketIO
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from . import __version__, identity, protocol, security
from .config import Config, resolve_device, sandbox_check
from .storage import Repo
from .storage.db import check as db_check

log = logging.getLogger("backend")

socketio = SocketIO()


class KernelsUnavailable(RuntimeError):
    pass


class KernelService:
    """Lazy front for ``backend.kernels.manager.KernelManager``: the app starts even when the
    kernels package is missing or broken; using it then raises ``KernelsUnavailable``."""

    def __init__(self, config):
        self._config = config
        self._manager = None
        self._error = None
        self._lock = threading.Lock()
        self._listeners = []

    def add_listener(self, fn):
        """``fn(notebook_id, event_name, data)`` for every kernel event (from background threads)."""
        self._listeners.append(fn)

    def _on_event(self, notebook_id, event_name, data):
        for fn in list(self._listeners):
            try:
                fn(notebook_id, event_name, data)
            except Exception:  # noqa: BLE001 - one bad listener must not kill the reader thread
                log.exception("kernel event listener failed on %s for %s", event_name, notebook_id)

    @property
    def started(self):
        return self._manager is not None

    @property
    def manager(self):
        if self._manager is None:
            with self._lock:
                if self._manager is None:
                    if self._error is not None:
                        raise KernelsUnavailable(self._error)
                    try:
                        mod = importlib.import_module("backend.kernels.manager")
                        self._manager = mod.KernelManager(self._config, self._on_event)
                    except Exception as exc:  # noqa: BLE001
                        self._error = f"kernels unavailable: backend.kernels.manager failed to load: {exc!r}"
                        log.error(self._error)
                        raise KernelsUnavailable(self._error) from exc
        return self._manager

    def warm(self):
        """Create the manager now (its pool starts); errors are logged, not raised."""
        try:
            self.manager
        except KernelsUnavailable:
            pass

    def shutdown_all(self):
        if self._manager is not None:
            self._manager.shutdown_all()

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.manager, name)


def _module_exists(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def _same_origin(origin, allowed):
    if not origin:
        return True
    o = origin.rstrip("/")
    if o in allowed:
        return True
    return urlsplit(o).netloc == request.host and urlsplit(o).scheme in ("http", "https")


def create_app(config=None):
    config = config or Config.from_env()
    app = Flask(__name__, static_folder=None)
    app.config.update(SECRET_KEY=config.secret_key, MAX_CONTENT_LENGTH=config.max_request_bytes,
                      JSON_SORT_KEYS=False)
    app.json.sort_keys = False
    security.install(app, config)  # first: a refused Host gets no identity
    identity.configure(app)
    app.extensions["config"] = config

    repo = Repo.from_url(config.database_url, max_code_bytes=config.max_code_bytes, max_cells=config.max_cells)
    app.extensions["repo"] = repo

    origins = list(config.allowed_origins) or None  # None: same origin only (checked on the Host header)
    socketio.init_app(app, async_mode="threading", max_http_buffer_size=1_000_000, manage_session=False,
                      cors_allowed_origins=origins, message_queue=config.redis_url or None,
                      json=protocol.WireJSON)  # writes the protocol's models, NaN/±inf as strings
    app.extensions["socketio"] = socketio
    app.extensions["kernels"] = KernelService(config)

    @app.before_request
    def _refuse_cross_site_writes():
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        origin = request.headers.get("Origin")
        if origin and not _same_origin(origin, config.allowed_origins):
            return jsonify(error=f"cross-origin request from {origin} refused"), 403
        return None

    from .api import bp as api_bp
    app.register_blueprint(api_bp)

    if _module_exists("backend.realtime"):
        try:
            realtime = importlib.import_module("backend.realtime")
            realtime.register(socketio, app)
        except Exception:  # noqa: BLE001 - the REST side still works; say why loudly
            log.exception("backend.realtime failed to register: the websocket API is unavailable")
    else:
        log.warning("backend.realtime not found: serving without the websocket API")

    _register_pages(app, config)

    @app.errorhandler(HTTPException)
    def _api_paths_answer_json(exc):
        if request.path.startswith("/api/"):
            return jsonify(error=exc.name.lower() if exc.code in (404, 405) else exc.description), exc.code
        return exc
    atexit.register(app.extensions["kernels"].shutdown_all)
    return app


def _health(app):
    config = app.extensions["config"]
    body = {"status": "ok", "version": __version__}
    code = 200
    try:
        db_check(app.extensions["repo"].engine)
        body["db"] = "ok"
    except Exception as exc:  # noqa: BLE001
        body.update(status="error", db=f"error: {type(exc).__name__}")
        code = 503
    ok, reason = sandbox_check(config)
    body["sandbox"] = config.sandbox
    body["sandbox_ok"] = ok
    if not ok:
        body["sandbox_error"] = reason
    body["device"] = resolve_device(config)
    kernels = app.extensions["kernels"]
    body["kernels"] = ("started" if kernels.started else
                       "unavailable" if kernels._error or not _module_exists("backend.kernels.manager")
                       else "not started")
    stats = getattr(kernels._manager, "pool_stats", None) if kernels.started else None
    if stats is not None:  # the pre-started kernels: {ready, starting, target, min, max}
        body["kernel_pool"] = stats()
    return body, code


_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gradlab</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 3em auto">
<h1>Gradlab</h1>
<p>The server is running, but the front end is not built (no <code>frontend/dist/index.html</code>).
The notebook API (<code>/api/notebooks</code>) and the realtime protocol
(<code>docs/protocol.md</code>) are available meanwhile.</p>
{extra}
<p>Your notebooks as JSON: <a href="/api/notebooks">/api/notebooks</a>.
Server health: <a href="/healthz">/healthz</a>.</p>
</body></html>
"""


def _register_pages(app, config):
    dist = config.frontend_dist

    def index_page(extra=""):
        index = dist / "index.html"
        if index.is_file():
            resp = send_from_directory(dist, "index.html", max_age=0)
            resp.headers["Cache-Control"] = "no-cache"
            return resp
        return _NOT_BUILT.format(extra=extra), 200, {"Content-Type": "text/html; charset=utf-8"}

    @app.get("/healthz")
    def healthz():
        body, code = _health(app)
        return jsonify(body), code

    @app.get("/")
    def home():
        return index_page()

    @app.get("/login")
    @app.get("/join")
    def client_routes():  # pages the front end routes itself (classroom)
        return index_page()

    @app.get("/notebooks/<notebook_id>")
    def notebook_page(notebook_id):
        if not app.extensions["repo"].owns(identity.current_owner(), notebook_id):
            return ("<!doctype html><title>Not found</title><h1>Notebook not found</h1>"
                    "<p><a href=\"/\">Your notebooks</a></p>", 404, {"Content-Type": "text/html; charset=utf-8"})
        return index_page(f'<p>Notebook <a href="/api/notebooks/{escape(notebook_id)}">'
                          f'{escape(notebook_id)}</a> as JSON.</p>')

    @app.get("/<path:filename>")
    def dist_file(filename):
        # built front-end files (assets/..., favicon); never anything outside dist
        if filename.startswith(("api/", "socket.io")) or not (dist / "index.html").is_file():
            abort(404)
        return send_from_directory(dist, filename, max_age=3600 if filename.startswith("assets/") else 0)

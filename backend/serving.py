"""The production HTTP server: gunicorn, one worker process with a thread pool (what Flask-SocketIO
documents for its threading mode with simple-websocket), and a worker that reads each request's
header block -- and a body of announced length -- in its event loop before a thread is given to it.

Why the worker is ours: gunicorn's threaded worker hands a connection to a thread as soon as its
first byte arrives and the thread then blocks until the headers are complete, so a client that
trickles its headers (slowloris) holds a thread for as long as it likes; a few hundred of them and
nobody else is served.  ``GradlabWorker`` buffers the request without a thread and drops it when

* the header block is not complete ``request_timeout_s`` after the connection was accepted (or,
  for a kept-alive connection, after its next request began), or
* a body stalls: no byte for ``request_timeout_s``.

A header block over ``MAX_HEADER_BYTES`` is answered 431, a body with ``Transfer-Encoding`` (which
no browser sends to this API) 411; both close the connection.  A body longer than the
configured request limit is handed on at once: the application answers 413 without reading it.

One worker process, because the kernels, the socket rooms and the notebook hub live in it; the
arbiter (``python -m backend``) restarts it if it dies, and the worker dies with the arbiter
(``PR_SET_PDEATHSIG``), taking its kernels with it.
"""
import ctypes
import errno
import logging
import os
import resource
import selectors
import signal
import sys
import threading
import time
from functools import partial

from gunicorn.app.base import BaseApplication
from gunicorn.workers import gthread

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024   # a request line and its header fields, together
READ_CHUNK = 64 * 1024
KEEPALIVE_S = 60               # an idle kept-alive connection is closed after this (no thread is held)
GRACEFUL_S = 5                 # on SIGTERM: how long open requests (and sockets) may take to finish
_PR_SET_PDEATHSIG = 1

_LENGTH_REQUIRED = (b"HTTP/1.1 411 Length Required\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: 47\r\n\r\nA request body needs a Content-Length header.\r\n\r\n")
_HEADERS_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
                      b"Content-Type: text/plain\r\nContent-Length: 31\r\n\r\nRequest header block too large\n")


def _body_framing(head):
    """``(content_length, chunked)`` read from a raw header block; ``(None, False)`` when it has
    neither.  A malformed length is left for gunicorn's parser to answer (400)."""
    length, chunked = None, False
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        name = name.strip().lower()
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return None, False
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


class _Reading:
    """A connection whose request is being buffered by the event loop."""
    __slots__ = ("conn", "buf", "deadline", "head_end", "need")

    def __init__(self, conn, deadline):
        self.conn = conn
        self.buf = bytearray()
        self.deadline = deadline
        self.head_end = -1     # index just past the blank line, once seen
        self.need = 0          # total bytes the request takes (head + body), once known


class GradlabWorker(gthread.ThreadWorker):
    """gunicorn's threaded worker, with requests buffered before dispatch (see the module doc)."""

    request_timeout = 10.0
    max_body = 8_000_000
    on_exit = None             # set by the application: called once the worker stops serving

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading = {}      # socket fd -> _Reading
        self.dropped = 0

    def init_process(self):
        _raise_open_files_limit(self.cfg.worker_connections + self.cfg.threads + 512)
        super().init_process()

    # -- the event loop's side ------------------------------------------------------------------
    def accept(self, listener):
        try:
            client, addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = gthread.TConn(self.cfg, client, addr, listener.getsockname())  # non-blocking
        if self.cfg.is_ssl:  # TLS is terminated in front of us (nginx); gunicorn's own path otherwise
            client.setblocking(True)
            self.enqueue_req(conn)
            return
        self._start_reading(conn)

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection starts its next request: buffer it like a new one."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._start_reading(conn)

    def _start_reading(self, conn):
        r = _Reading(conn, time.monotonic() + self.request_timeout)
        self.reading[conn.sock.fileno()] = r
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, r))

    def _on_readable(self, r, sock):
        try:
            data = sock.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(r)
            return
        r.buf += data
        now = time.monotonic()
        if r.head_end < 0:
            end = r.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(r.buf) > MAX_HEADER_BYTES:
                    self._answer_and_drop(r, _HEADERS_TOO_LARGE)
                return
            r.head_end = end + 4
            if r.head_end > MAX_HEADER_BYTES:
                self._answer_and_drop(r, _HEADERS_TOO_LARGE)
                return
            length, chunked = _body_framing(bytes(r.buf[:end]))
            if chunked:
                self._answer_and_drop(r, _LENGTH_REQUIRED)
                return
            if length is None or length > self.max_body:
                self._dispatch(r)      # no body, or one the application refuses (413) unread
                return
            r.need = r.head_end + length
        if len(r.buf) >= r.need:
            self._dispatch(r)
        else:
            r.deadline = now + self.request_timeout  # the body is moving: its idle clock restarts

    def _unwatch(self, r):
        self.reading.pop(r.conn.sock.fileno(), None)
        try:
            self.poller.unregister(r.conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _dispatch(self, r):
        self._unwatch(r)
        conn = r.conn
        conn.data_ready = True
        conn.sock.setblocking(True)
        if conn.parser is None:
            conn.init()
        conn.parser.unreader.unread(bytes(r.buf))
        self.enqueue_req(conn)

    def _drop(self, r):
        self._unwatch(r)
        self.nr_conns -= 1
        r.conn.close()

    def _answer_and_drop(self, r, response):
        try:
            r.conn.sock.send(response)
        except OSError:
            pass
        self._drop(r)

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        late = [r for r in self.reading.values() if r.deadline <= now]
        for r in late:
            self._drop(r)
        if late:
            self.dropped += len(late)
            log.info("closed %d connection(s) that did not send a request within %g s (%d so far)",
                     len(late), self.request_timeout, self.dropped)

    def run(self):
        try:
            super().run()
        finally:
            for r in list(self.reading.values()):
                self._drop(r)
            if self.on_exit is not None:
                try:
                    self.on_exit()
                except Exception:  # noqa: BLE001 - exiting anyway; say why
                    log.exception("shutting down the kernels failed")
            # Threads still holding websockets would keep the interpreter from exiting
            # (the thread pool is joined at exit): the kernels are down, leave now.
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)


def _raise_open_files_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            log.warning("open-files limit is %d; fewer connections than configured can be served", soft)


def _die_with_parent():
    """The worker is SIGKILLed when the arbiter dies (its kernels then die with it)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return


def bind_address(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class GradlabServer(BaseApplication):
    """``python -m backend``: gunicorn configured from the server's ``Config``; the Flask app is
    built in the worker (after the fork: the kernel manager's threads must live there)."""

    def __init__(self, config):
        self.config = config
        super().__init__()

    def load_config(self):
        c = self.config
        ppid = os.getpid()

        def post_fork(_arbiter, _worker):
            _die_with_parent()
            if os.getppid() != ppid:   # the arbiter died before the line above
                os._exit(1)

        def post_worker_init(worker):
            kernels = worker.wsgi.extensions["kernels"]
            worker.on_exit = kernels.shutdown_all
            if c.kernel_pool_size > 0:
                threading.Thread(target=kernels.warm, name="kernel-warmup", daemon=True).start()
            log.info("serving Gradlab on http://%s (%d threads, at most %d connections)",
                     bind_address(c.host, c.port), c.server_threads, c.max_connections)

        GradlabWorker.request_timeout = float(c.request_timeout_s)
        GradlabWorker.max_body = c.max_request_bytes
        for key, value in {
            "bind": [bind_address(c.host, c.port)],
            "workers": 1,
            "worker_class": "backend.serving.GradlabWorker",
            "threads": c.server_threads,
            "worker_connections": c.max_connections,
            "keepalive": KEEPALIVE_S,
            "graceful_timeout": GRACEFUL_S,
            "timeout": 30,             # the worker's heartbeat: its event loop beats every second
            "control_socket_disable": True,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": "gradlab",
            "post_fork": post_fork,
            "post_worker_init": post_worker_init,
        }.items():
            self.cfg.set(key, value)

    def load(self):
        from .app import create_app
        return create_app(self.config)


def serve(config):
    """Run the server until SIGTERM/SIGINT; returns the exit status."""
    GradlabServer(config).run()
    return 0

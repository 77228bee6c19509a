"""Cell runs: the service behind the socket handlers, and the kernel manager's one listener.

:class:`RunService` starts notebooks' kernels and passes cells and requests to the kernel manager
(``app.extensions["kernels"]``).  Everything the manager reports arrives in
:meth:`RunService.on_kernel_event` (from the manager's threads) and goes to the notebook's room
through its :class:`~backend.realtime.outbox.Outbox`; the answers to ``get_value`` and
``check_grad`` go to the asking client only.

On the way the outputs of each running cell are collected in nbformat's shape and saved with
``repo.set_cell_outputs``:

* when the cell starts (status ``running``, no outputs yet);
* every ``CHECKPOINT_S`` while it shows something (status ``running``), so that a server that
  dies keeps what the cell had shown;
* when it ends (``done``/``error``), after its last output was sent and before its
  ``cell_status`` is: a client that sees the cell end finds its outputs saved;
* when the kernel dies or restarts, cells still running are saved in ``error``.

When a single-process server starts, the runs a stopped server left behind are ended
(:meth:`RunService.reset_busy_cells`): a ``running`` cell keeps what it had shown and ends in
``error`` with a ``RunInterrupted`` output, a ``queued`` one becomes ``idle``.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from backend.realtime.outbox import Outboxes

log = logging.getLogger(__name__)

#: how often the output of a running cell is saved (a server crash keeps what was shown)
CHECKPOINT_S = 1.0
#: persisted text of one cell's streams, beyond which it is cut (the live stream is not)
MAX_PERSISTED_STREAM = 1_000_000
#: outstanding get_value / check_grad requests remembered (to answer only the client that asked)
MAX_PENDING_REQUESTS = 1_000


class KernelStartError(RuntimeError):
    """The notebook's kernel could not be started (the message says why)."""


class RunService:
    def __init__(self, socketio, repo, kernels):
        self.repo = repo
        self.kernels = kernels
        self.outbox = Outboxes(socketio)
        self._lock = threading.Lock()
        self._cells = {}  # notebook id -> _RunningCells
        self._requests = OrderedDict()  # (notebook id, answer event, request id) -> sid
        self._events = {
            "stream": self._stream, "cell_status": self._cell_status, "result": self._result,
            "error": self._error, "graph": self._graph, "backward_trace": self._trace, "metrics": self._metrics,
            "node_value": self._answer, "grad_check": self._answer, "kernel_status": self._kernel_status,
            "device": self._forward, "notice": self._forward,
        }

    def reset_busy_cells(self):
        """End the runs a stopped server left behind.  Only where this is the one server process
        (SQLite): with PostgreSQL, other servers may be running those cells."""
        if self.repo.engine.dialect.name == "sqlite":
            self.repo.reset_busy_cells()

    # -- requests from the socket handlers ----------------------------------------------------
    def open(self, notebook_id):
        """Start the notebook's kernel unless it runs; its (status, device).  Raises
        :class:`KernelStartError`."""
        try:
            self.kernels.ensure(notebook_id)
        except Exception as exc:
            log.exception("kernel start for %r", notebook_id)
            raise KernelStartError(f"kernel failed to start: {exc}"[:500]) from exc
        status = self.kernels.status(notebook_id)
        return status["status"], status.get("device")

    def execute(self, notebook_id, cell_id, code):
        """Queue a cell; False when the manager refused it (its events say why)."""
        return self.kernels.execute(notebook_id, cell_id, code) is not False

    def interrupt(self, notebook_id):
        self.kernels.interrupt(notebook_id)

    def restart(self, notebook_id):
        self.kernels.restart(notebook_id)

    def get_value(self, notebook_id, sid, node_id, which, request_id):
        self._remember(notebook_id, "node_value", request_id, sid)
        self.kernels.request_value(notebook_id, node_id, which, request_id)

    def check_grad(self, notebook_id, sid, node_id, request_id):
        self._remember(notebook_id, "grad_check", request_id, sid)
        self.kernels.request_grad_check(notebook_id, node_id, request_id)

    def forget(self, sid):
        """A client disconnected: its pending answers are not sent."""
        with self._lock:
            for key in [k for k, s in self._requests.items() if s == sid]:
                del self._requests[key]

    def _remember(self, notebook_id, event, request_id, sid):
        with self._lock:
            self._requests[(notebook_id, event, request_id)] = sid
            while len(self._requests) > MAX_PENDING_REQUESTS:
                self._requests.popitem(last=False)

    # -- events from the kernel manager (its threads) -----------------------------------------
    def on_kernel_event(self, notebook_id, name, data):
        handler = self._events.get(name)
        if handler is None:
            log.error("kernel event %r has no message in the protocol: not sent", name)
            return
        try:
            handler(notebook_id, name, data)
        except Exception:
            log.exception("kernel event %s for %r", name, notebook_id)

    def _running(self, notebook_id):
        with self._lock:
            cells = self._cells.get(notebook_id)
            if cells is None:
                cells = self._cells[notebook_id] = _RunningCells(notebook_id, self._save)
            return cells

    def _forward(self, notebook_id, name, data):
        self.outbox(notebook_id).send(name, data)

    def _stream(self, notebook_id, name, data):
        if data["text"]:
            self._running(notebook_id).stream(data["cell_id"], data["name"], data["text"])
            self.outbox(notebook_id).stream(data["cell_id"], data["name"], data["text"])

    def _result(self, notebook_id, name, data):
        self._running(notebook_id).output(data["cell_id"], {
            "output_type": "execute_result", "data": data["data"], "metadata": {},
            "execution_count": data["execution_count"]}, data["execution_count"])
        self.outbox(notebook_id).send("result", data)

    def _error(self, notebook_id, name, data):
        self._running(notebook_id).output(data["cell_id"], {
            "output_type": "error", "ename": data["ename"], "evalue": data["evalue"],
            "traceback": list(data.get("traceback") or [])})
        self.outbox(notebook_id).send("cell_error", data)

    def _cell_status(self, notebook_id, name, data):
        status, box = data["status"], self.outbox(notebook_id)
        if status == "running":
            self._running(notebook_id).start(data["cell_id"])
        elif status in ("done", "error"):
            box.flush()  # the cell's last output and metrics go before its end
            self._running(notebook_id).finish(data["cell_id"], status, data.get("execution_count"))
        box.send("cell_status", data)

    def _kernel_status(self, notebook_id, name, data):
        box = self.outbox(notebook_id)
        if data["status"] in ("dead", "restarting", "starting"):
            box.flush()
            self._running(notebook_id).end_all("error")
        box.send("kernel_status", data)

    def _graph(self, notebook_id, name, data):
        self.outbox(notebook_id).graph(data["cell_id"], data)

    def _trace(self, notebook_id, name, data):
        self.outbox(notebook_id).trace(data["cell_id"], data)

    def _metrics(self, notebook_id, name, data):
        if data["points"]:
            self.outbox(notebook_id).metrics(data["points"])

    def _answer(self, notebook_id, name, data):
        with self._lock:
            sid = self._requests.pop((notebook_id, name, data["request_id"]), None)
        if sid is not None:  # only the asking client, and only while it is connected
            self.outbox(notebook_id).send(name, data, to=sid)

    # -- persistence --------------------------------------------------------------------------
    def _save(self, notebook_id, cell_id, run, status):
        try:
            self.repo.set_cell_outputs(notebook_id, cell_id, run.outputs, execution_count=run.execution_count,
                                       status=status)
        except LookupError:  # the cell was deleted while it ran, or is not one of the notebook's
            log.info("outputs of %r/%r not saved: no such cell", notebook_id, cell_id)
        except Exception:
            log.exception("saving the outputs of %r/%r", notebook_id, cell_id)


class _CellRun:
    """The outputs of one running cell, in nbformat's shape."""

    __slots__ = ("outputs", "execution_count", "stream_chars", "cut", "dirty")

    def __init__(self, outputs=None, execution_count=None):
        self.outputs = outputs if outputs is not None else []
        self.execution_count = execution_count
        self.stream_chars = 0
        self.cut = False
        self.dirty = False  # shown but not saved yet

    def snapshot(self):
        """A copy to save while the run goes on (stream entries grow in place)."""
        return _CellRun([dict(o) for o in self.outputs], self.execution_count)

    def stream(self, name, text):
        if self.cut:
            return
        self.dirty = True
        room = MAX_PERSISTED_STREAM - self.stream_chars
        if len(text) > room:
            text = text[:room] + "\n[output truncated]\n"
            self.cut = True
        self.stream_chars += len(text)
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last.get("output_type") == "stream" and last.get("name") == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def output(self, output, execution_count):
        self.outputs.append(output)
        self.dirty = True
        if execution_count is not None:
            self.execution_count = execution_count


class _RunningCells:
    """The running cells of one notebook and the saving of their outputs.  A checkpoint never
    lands after a cell's final save: both hold ``_save_lock`` while they save."""

    def __init__(self, notebook_id, save):
        self.notebook_id = notebook_id
        self._save = save
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._runs = {}  # cell id -> _CellRun
        self._timer = None

    def start(self, cell_id):
        run = _CellRun()
        with self._lock:
            self._runs[cell_id] = run
        with self._save_lock:
            self._save(self.notebook_id, cell_id, run.snapshot(), "running")

    def _run(self, cell_id):
        run = self._runs.get(cell_id)
        if run is None:  # output of a cell whose start was not seen
            run = self._runs[cell_id] = _CellRun()
        return run

    def stream(self, cell_id, name, text):
        with self._lock:
            self._run(cell_id).stream(name, text)
            self._schedule_checkpoint()

    def output(self, cell_id, output, execution_count=None):
        with self._lock:
            self._run(cell_id).output(output, execution_count)
            self._schedule_checkpoint()

    def finish(self, cell_id, status, execution_count=None):
        with self._lock:
            run = self._runs.pop(cell_id, None)
        if run is None:
            return
        if isinstance(execution_count, int):
            run.execution_count = execution_count
        with self._save_lock:
            self._save(self.notebook_id, cell_id, run, status)

    def end_all(self, status):
        """The kernel went away: every cell still running ends with ``status``."""
        with self._lock:
            runs, self._runs = self._runs, {}
        with self._save_lock:
            for cell_id, run in runs.items():
                self._save(self.notebook_id, cell_id, run, status)

    def _schedule_checkpoint(self):
        if self._timer is None:
            self._timer = threading.Timer(CHECKPOINT_S, self._checkpoint)
            self._timer.daemon = True
            self._timer.start()

    def _checkpoint(self):
        with self._lock:
            self._timer = None
            dirty = [cell_id for cell_id, run in self._runs.items() if run.dirty]
        for cell_id in dirty:
            with self._save_lock:
                with self._lock:
                    run = self._runs.get(cell_id)
                    if run is None:  # ended meanwhile: its final save is made
                        continue
                    run.dirty = False
                    saved = run.snapshot()
                self._save(self.notebook_id, cell_id, saved, "running")

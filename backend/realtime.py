"""Socket.IO handlers of the playground (the wire protocol is described in docs/protocol.md).

Handlers are thin: validate the payload with :mod:`backend.protocol`, check that the client
may act on the notebook, call the kernel manager, answer.  Everything the kernels produce
arrives through :meth:`Hub.on_kernel_event` (called from the manager's threads) and goes to
the notebook's room ``nb:<id>``; on the way, graphs and backward traces are chunked, stream
output and metrics are coalesced, and each cell's outputs are collected and persisted through
``repo.set_cell_outputs`` when the cell ends (and every CHECKPOINT_S while it runs, so a crash keeps them).

``register(socketio, app)`` wires it all; ``app.extensions["realtime"]`` holds the :class:`Hub`.
"""
from __future__ import annotations

import itertools
import json
import logging
import math
import threading
import time
from collections import OrderedDict

from flask import current_app, request

from backend import protocol as P

log = logging.getLogger(__name__)

#: how often the output of a running cell is saved (a server crash keeps what was shown)
CHECKPOINT_S = 1.0
#: persisted text of one cell's streams, beyond which it is cut (the live stream is not)
MAX_PERSISTED_STREAM = 1_000_000
#: outstanding get_value / check_grad requests remembered (to answer only the client that asked)
MAX_VALUE_REQUESTS = 1_000


def register(socketio, app):
    """Install the handlers on ``socketio`` and route the kernel manager's events to rooms."""
    _disable_nagle()
    hub = Hub(socketio, app)
    app.extensions["realtime"] = hub
    hub.install()
    kernels = app.extensions.get("kernels")
    if kernels is not None:
        _wire_manager(kernels, hub.on_kernel_event)
    return hub


def _disable_nagle():
    """TCP_NODELAY on the connections of Werkzeug's server (what ``socketio.run`` serves with in
    threading mode).  Socket.IO sends bursts of small frames; with Nagle's algorithm each burst
    waits for the client's delayed ACK, ~40 ms: a trivial cell's round trip went 44 ms -> 7 ms."""
    try:
        from werkzeug.serving import WSGIRequestHandler
    except ImportError:  # another server: its own business
        return
    WSGIRequestHandler.disable_nagle_algorithm = True


def _wire_manager(kernels, callback):
    """Route the manager's events to ``callback``: the app's ``KernelService.add_listener``."""
    adder = getattr(type(kernels), "add_listener", None)
    if adder is not None:
        kernels.add_listener(callback)
        return
    setter = getattr(kernels, "set_on_event", None)
    if callable(setter):
        setter(callback)
        return
    for attr in ("on_event", "_on_event"):
        if hasattr(kernels, attr):
            setattr(kernels, attr, callback)
            return
    kernels.on_event = callback


# ---------------------------------------------------------------------------------------------
# outbound helpers
# ---------------------------------------------------------------------------------------------
def _finite(obj):
    """Copy of ``obj`` with NaN/±inf floats replaced by the strings JSON.parse cannot choke on."""
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        return "NaN" if obj != obj else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _encoded_size(payload):
    """JSON size of ``payload``; the payload itself, made JSON-safe when it held NaN/inf."""
    try:
        return len(json.dumps(payload, separators=(",", ":"), allow_nan=False, default=str)), payload
    except ValueError:
        payload = _finite(payload)
        return len(json.dumps(payload, separators=(",", ":"), default=str)), payload


def _shrink(event, payload, size):
    """Make an over-large single message fit (or return None to drop it)."""
    note = f"[{event} of {size} bytes omitted: over the {P.MAX_MESSAGE_BYTES // 1024} KB message limit]"
    if event == "result":
        return dict(payload, data={"text/plain": note}, truncated=True)
    if event == "cell_error":
        tb = payload.get("traceback") or []
        return dict(payload, evalue=str(payload.get("evalue", ""))[:4096], traceback=[note] + list(tb[-3:])[:3],
                    truncated=True)
    if event == "node_value":
        return dict(payload, values=None, truncated=True)
    if event == "notice":
        return dict(payload, text=str(payload.get("text", ""))[:4096], truncated=True)
    return None


class _CellRun:
    """Outputs of one running cell, in nbformat's shape, collected for persistence."""

    __slots__ = ("outputs", "execution_count", "stream_chars", "cut", "dirty")

    def __init__(self):
        self.outputs = []
        self.execution_count = None
        self.stream_chars = 0
        self.cut = False
        self.dirty = False  # output not yet saved by a checkpoint

    def snapshot(self):
        """A copy of the outputs so far (stream entries grow in place)."""
        return [dict(o) for o in self.outputs]

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


class Outbox:
    """Everything sent to one notebook's room passes here, in order.

    Stream text is coalesced for ``STREAM_FLUSH_INTERVAL`` and always flushed before any other
    event, so clients see output in the order the kernel produced it.  Metrics are merged and
    emitted at most ``METRICS_MAX_RATE`` times a second (and flushed when a cell ends).
    """

    def __init__(self, hub, notebook_id):
        self.hub = hub
        self.notebook_id = notebook_id
        self.room = P.room_of(notebook_id)
        self.lock = threading.RLock()
        self.streams = []  # [cell_id, name, [texts]]
        self.stream_timer = None
        self.last_stream = 0.0
        self.points = []
        self.coalesced = 0
        self.metrics_timer = None
        self.last_metrics = 0.0
        self.cells = {}  # cell_id -> _CellRun
        self.checkpoint_timer = None
        self.persist_lock = threading.Lock()  # a checkpoint never lands after the cell's final save

    # -- raw emit ---------------------------------------------------------------------------
    def emit(self, event, payload, to=None):
        payload = dict(payload, notebook_id=self.notebook_id)
        size, payload = _encoded_size(payload)
        if size > P.MAX_MESSAGE_BYTES:
            payload = _shrink(event, payload, size)
            if payload is None:
                log.warning("dropped %s of %d bytes for %s", event, size, self.room)
                return
        self.hub.socketio.emit(event, payload, to=to or self.room)

    def send(self, event, payload, to=None):
        """Emit ``event`` after any pending stream text (ordering)."""
        with self.lock:
            self._flush_streams()
            self.emit(event, payload, to)

    # -- streams ----------------------------------------------------------------------------
    def stream(self, cell_id, name, text):
        with self.lock:
            self._cell(cell_id).stream(name, text)
            self._schedule_checkpoint()
            last = self.streams[-1] if self.streams else None
            if last is not None and last[0] == cell_id and last[1] == name:
                last[2].append(text)
            else:
                self.streams.append([cell_id, name, [text]])
            wait = self.last_stream + P.STREAM_FLUSH_INTERVAL - time.monotonic()
            if wait <= 0:
                self._flush_streams()
            elif self.stream_timer is None:
                self.stream_timer = threading.Timer(wait, self._timed_flush_streams)
                self.stream_timer.daemon = True
                self.stream_timer.start()

    def _timed_flush_streams(self):
        with self.lock:
            self.stream_timer = None
            self._flush_streams()

    def _flush_streams(self):
        if not self.streams:
            return
        pending, self.streams = self.streams, []
        for cell_id, name, texts in pending:
            text = "".join(texts)
            for i in range(0, len(text), P.MAX_STREAM_TEXT):
                self.emit("stream", {"cell_id": cell_id, "name": name, "text": text[i:i + P.MAX_STREAM_TEXT]})
        self.last_stream = time.monotonic()

    # -- metrics ----------------------------------------------------------------------------
    def metrics(self, points):
        with self.lock:
            self.points.extend(points)
            wait = self.last_metrics + 1.0 / P.METRICS_MAX_RATE - time.monotonic()
            if wait <= 0:
                self._flush_metrics()
            elif self.metrics_timer is None:
                self.metrics_timer = threading.Timer(wait, self._timed_flush_metrics)
                self.metrics_timer.daemon = True
                self.metrics_timer.start()

    def _timed_flush_metrics(self):
        with self.lock:
            self.metrics_timer = None
            self._flush_metrics()

    def _flush_metrics(self):
        if not self.points:
            return
        pts, self.points = self.points, []
        coalesced = 0
        if len(pts) > P.METRICS_MAX_POINTS:
            pts, coalesced = _thin(pts, P.METRICS_MAX_POINTS)
        self.emit("metrics", {"points": pts, "coalesced": coalesced})
        self.last_metrics = time.monotonic()

    # -- cells ------------------------------------------------------------------------------
    def _cell(self, cell_id):
        run = self.cells.get(cell_id)
        if run is None:
            run = self.cells[cell_id] = _CellRun()
        return run

    def cell_started(self, cell_id):
        with self.lock:
            run = self.cells[cell_id] = _CellRun()
        self.hub.persist(self.notebook_id, cell_id, run, "running")

    def cell_output(self, cell_id, output, execution_count=None):
        with self.lock:
            run = self._cell(cell_id)
            run.outputs.append(output)
            run.dirty = True
            if execution_count is not None:
                run.execution_count = execution_count
            self._schedule_checkpoint()

    # What a running cell has shown is saved every CHECKPOINT_S, so a server crash keeps it.
    def _schedule_checkpoint(self):
        if self.checkpoint_timer is None:
            self.checkpoint_timer = threading.Timer(CHECKPOINT_S, self._checkpoint)
            self.checkpoint_timer.daemon = True
            self.checkpoint_timer.start()

    def _checkpoint(self):
        with self.lock:
            self.checkpoint_timer = None
            dirty = [cid for cid, run in self.cells.items() if run.dirty]
        for cell_id in dirty:
            with self.persist_lock:
                with self.lock:
                    run = self.cells.get(cell_id)
                    if run is None:  # finished meanwhile: its final save has been made
                        continue
                    run.dirty = False
                    saved = _CellRun()
                    saved.outputs, saved.execution_count = run.snapshot(), run.execution_count
                self.hub.persist(self.notebook_id, cell_id, saved, "running")

    def cell_finished(self, cell_id, status, execution_count=None):
        """Flush what the cell produced, then persist its outputs."""
        with self.lock:
            self._flush_streams()
            self._flush_metrics()
            run = self.cells.pop(cell_id, None)
            if run is not None and isinstance(execution_count, int):
                run.execution_count = execution_count
        if run is not None:
            with self.persist_lock:
                self.hub.persist(self.notebook_id, cell_id, run, status)

    def kernel_gone(self):
        """The kernel died or restarted: whatever cells were running end in error."""
        with self.lock:
            self._flush_streams()
            self._flush_metrics()
            runs, self.cells = self.cells, {}
        with self.persist_lock:
            for cell_id, run in runs.items():
                self.hub.persist(self.notebook_id, cell_id, run, "error")


def _thin(points, limit):
    """Keep at most ``limit`` points: per tag an even stride, always keeping each tag's last point."""
    by_tag = OrderedDict()
    for p in points:
        by_tag.setdefault(p.get("tag"), []).append(p)
    share = max(1, limit // max(1, len(by_tag)))
    kept = []
    for pts in by_tag.values():
        if len(pts) > share:
            stride = len(pts) / share
            sel = [pts[int(i * stride)] for i in range(share - 1)] + [pts[-1]]
            kept.extend(sel)
        else:
            kept.extend(pts)
    kept.sort(key=lambda p: (p.get("wall") or 0.0))
    return kept, len(points) - len(kept)


def _clean_points(points):
    out = []
    if not isinstance(points, list):
        return out
    for p in points:
        if not isinstance(p, dict) or not isinstance(p.get("tag"), str):
            continue
        v = p.get("value")
        if isinstance(v, bool) or not (v is None or isinstance(v, (int, float))):
            continue
        step = p.get("step")
        wall = p.get("wall")
        out.append({"tag": p["tag"][:200], "step": step if isinstance(step, int) and not isinstance(step, bool) else None,
                    "value": None if v is None else float(v), "wall": float(wall) if isinstance(wall, (int, float)) else None})
    return out


class _Client:
    __slots__ = ("owner", "joined")

    def __init__(self, owner):
        self.owner = owner
        self.joined = {}  # str(notebook id) -> notebook id as the manager knows it


# ---------------------------------------------------------------------------------------------
# the hub
# ---------------------------------------------------------------------------------------------
class Hub:
    def __init__(self, socketio, app):
        self.socketio = socketio
        self.app = app
        self.lock = threading.Lock()
        self.clients = {}  # sid -> _Client
        self.outboxes = {}  # str(notebook id) -> Outbox
        self.value_requests = OrderedDict()  # (str(nb), request_id) -> sid
        self._seq = itertools.count(1)

    @property
    def repo(self):
        return self.app.extensions["repo"]

    @property
    def kernels(self):
        return self.app.extensions["kernels"]

    def outbox(self, notebook_id):
        key = str(notebook_id)
        with self.lock:
            box = self.outboxes.get(key)
            if box is None:
                box = self.outboxes[key] = Outbox(self, notebook_id)
            return box

    # -- inbound ----------------------------------------------------------------------------
    def install(self):
        sio = self.socketio

        @sio.on("connect")
        def _connect(auth=None):
            from backend.identity import current_owner
            from backend.security import host_allowed
            if not host_allowed(current_app.extensions["config"]):
                return False  # a page on a name this server does not answer to (DNS rebinding)
            try:
                owner = current_owner()
            except Exception:  # no identity: the client may connect but can open nothing
                log.exception("no identity for socket %s", request.sid)
                owner = None
            with self.lock:
                self.clients[request.sid] = _Client(owner)

        @sio.on("disconnect")
        def _disconnect(*_):
            with self.lock:
                self.clients.pop(request.sid, None)
                for k in [k for k, sid in self.value_requests.items() if sid == request.sid]:
                    del self.value_requests[k]

        for event in P.INBOUND:
            sio.on(event)(self._handler(event))

        @sio.on("*")
        def _unknown(event, *args):
            return self._refuse(P.ProtocolError("unknown event", str(event)[:64]))

        @sio.on_error_default
        def _failed(exc):
            ev = (getattr(request, "event", None) or {}).get("message")
            log.exception("socket handler %s failed", ev, exc_info=exc)
            self._reply_error("internal error", ev)
            return {"ok": False, "reason": "internal error"}

    def _handler(self, event):
        method = getattr(self, "on_" + event)

        def handler(*args):
            try:
                msg = P.parse_inbound(event, args)
            except P.ProtocolError as err:
                return self._refuse(err)
            return method(msg)

        handler.__name__ = "on_" + event
        return handler

    def _reply_error(self, reason, event=None, **extra):
        payload = {"reason": reason, "event": event}
        payload.update({k: v for k, v in extra.items() if v is not None})
        self.socketio.emit("error", payload, to=request.sid)

    def _refuse(self, err, **extra):
        self._reply_error(err.reason, err.event, **extra)
        return {"ok": False, "reason": err.reason}

    def _client(self):
        with self.lock:
            return self.clients.get(request.sid)

    def _joined(self, event, msg):
        """The manager's id of a notebook this client joined, or None after an error reply."""
        client = self._client()
        nb = client.joined.get(str(msg.notebook_id)) if client is not None else None
        if nb is None:
            self._reply_error("not joined to this notebook", event, notebook_id=msg.notebook_id)
        return nb

    def on_join(self, msg):
        client = self._client()
        try:
            if client is None or client.owner is None:
                raise LookupError("no identity")
            notebook = self.repo.get_notebook(client.owner, msg.notebook_id)
        except Exception as exc:
            if not isinstance(exc, LookupError) and type(exc).__name__ != "NotFound":
                log.exception("join %r", msg.notebook_id)
            return self._refuse(P.ProtocolError("notebook not found", "join"), notebook_id=msg.notebook_id)
        nb = _id_of(notebook, msg.notebook_id)
        from flask_socketio import join_room
        join_room(P.room_of(nb))
        client.joined[str(msg.notebook_id)] = nb
        client.joined[str(nb)] = nb
        box = self.outbox(nb)
        box.send("joined", {}, to=request.sid)
        try:
            self.kernels.ensure(nb)
        except Exception as exc:
            log.exception("kernel start for %r", nb)
            box.send("kernel_status", {"status": "dead", "reason": f"kernel failed to start: {exc}"[:500]},
                     to=request.sid)
            return {"ok": False, "reason": "kernel failed to start"}
        status, device = _status_of(self.kernels.status(nb))
        box.send("kernel_status", {"status": status}, to=request.sid)
        if device:
            box.send("device", {"device": device}, to=request.sid)
        return {"ok": True, "notebook_id": nb, "kernel_status": status, "device": device}

    def on_leave(self, msg):
        nb = self._joined("leave", msg)
        if nb is None:
            return {"ok": False, "reason": "not joined to this notebook"}
        from flask_socketio import leave_room
        leave_room(P.room_of(nb))
        client = self._client()
        for k in [k for k, v in client.joined.items() if v == nb]:
            del client.joined[k]
        self.socketio.emit("left", {"notebook_id": nb}, to=request.sid)
        return {"ok": True}

    def on_execute(self, msg):
        nb = self._joined("execute", msg)
        if nb is None:
            return {"ok": False, "reason": "not joined to this notebook"}
        limit = min(P.MAX_CODE_BYTES, _setting(self.app, "max_code_bytes", P.MAX_CODE_BYTES))
        if len(msg.code.encode("utf-8", "surrogatepass")) > limit:
            return self._refuse(P.ProtocolError(f"invalid payload: code longer than {limit} bytes", "execute"),
                                notebook_id=msg.notebook_id)
        client = self._client()
        if not self.repo.owns(client.owner, nb):  # deleted since the join
            client.joined.pop(str(msg.notebook_id), None)
            client.joined.pop(str(nb), None)
            return self._refuse(P.ProtocolError("notebook not found", "execute"), notebook_id=msg.notebook_id)
        ok = self.kernels.execute(nb, msg.cell_id, msg.code)
        return {"ok": ok is not False}

    def on_interrupt(self, msg):
        nb = self._joined("interrupt", msg)
        if nb is None:
            return {"ok": False, "reason": "not joined to this notebook"}
        self.kernels.interrupt(nb)
        return {"ok": True}

    def on_restart(self, msg):
        nb = self._joined("restart", msg)
        if nb is None:
            return {"ok": False, "reason": "not joined to this notebook"}
        self.kernels.restart(nb)
        return {"ok": True}

    def on_get_value(self, msg):
        nb = self._joined("get_value", msg)
        if nb is None:
            return {"ok": False, "reason": "not joined to this notebook"}
        with self.lock:
            self.value_requests[(str(nb), msg.request_id)] = request.sid
            while len(self.value_requests) > MAX_VALUE_REQUESTS:
                self.value_requests.popitem(last=False)
        self.kernels.request_value(nb, msg.node_id, msg.which, msg.request_id)
        return {"ok": True}

    def on_check_grad(self, msg):
        nb = self._joined("check_grad", msg)
        if nb is None:
            return {"ok": False, "reason": "not joined to this notebook"}
        key = (str(nb), "check_grad", msg.request_id)
        with self.lock:
            self.value_requests[key] = request.sid
            while len(self.value_requests) > MAX_VALUE_REQUESTS:
                self.value_requests.popitem(last=False)
        self.kernels.request_grad_check(nb, msg.node_id, msg.request_id)
        return {"ok": True}

    # -- outbound: events from the kernel manager (its threads) ------------------------------
    def on_kernel_event(self, notebook_id, name, data):
        try:
            self._dispatch(notebook_id, name, data if isinstance(data, dict) else {})
        except Exception:
            log.exception("kernel event %s for %r", name, notebook_id)

    def _dispatch(self, nb, name, data):
        box = self.outbox(nb)
        cell_id = data.get("cell_id")
        if name == "stream":
            text = data.get("text")
            if isinstance(text, str) and text and cell_id is not None:
                box.stream(cell_id, "stderr" if data.get("name") == "stderr" else "stdout", text)
        elif name == "cell_status":
            status = data.get("status")
            if status == "running":
                box.cell_started(cell_id)
            if status in ("done", "error"):
                box.cell_finished(cell_id, status, data.get("execution_count"))
            box.send("cell_status", data)
        elif name == "result":
            payload = {"cell_id": cell_id, "data": data.get("data") or {},
                       "execution_count": data.get("execution_count")}
            box.cell_output(cell_id, {"output_type": "execute_result", "data": payload["data"], "metadata": {},
                                      "execution_count": payload["execution_count"]},
                            payload["execution_count"])
            box.send("result", payload)
        elif name == "error":
            out = {"output_type": "error", "ename": str(data.get("ename", "")),
                   "evalue": str(data.get("evalue", "")), "traceback": list(data.get("traceback") or [])}
            box.cell_output(cell_id, out)
            box.send("cell_error", dict(data))
        elif name == "graph":
            self._send_graph(box, data)
        elif name == "backward_trace":
            self._send_trace(box, data)
        elif name == "metrics":
            points = _clean_points(data.get("points"))
            if points:
                box.metrics(points)
        elif name == "node_value":
            with self.lock:
                sid = self.value_requests.pop((str(nb), data.get("request_id")), None)
            if sid is not None:  # only the asking client, and only while it is connected
                box.send("node_value", data, to=sid)
        elif name == "grad_check":
            with self.lock:
                sid = self.value_requests.pop((str(nb), "check_grad", data.get("request_id")), None)
            if sid is not None:  # only the asking client, and only while it is connected
                box.send("grad_check", data, to=sid)
        elif name == "kernel_status":
            if data.get("status") in ("dead", "restarting", "starting"):
                box.kernel_gone()
            box.send("kernel_status", data)
        else:  # device, notice, and whatever the manager adds later
            box.send(name, data)

    def _send_graph(self, box, data):
        lists = {k: P.chunk_items(list(data.get(k) or [])) for k in ("nodes", "edges", "groups")}
        count = max(1, max(len(chunks) for chunks, _ in lists.values()))
        seq = next(self._seq)
        cell_id = data.get("cell_id")
        with box.lock:
            for i in range(count):
                part = {k: (chunks[i] if i < len(chunks) else []) for k, (chunks, _) in lists.items()}
                box.send("graph_chunk", dict(part, cell_id=cell_id, seq=seq, index=i, count=count))
            summary = {"cell_id": cell_id, "seq": seq, "count": count,
                       "omitted": sum(omitted for _, omitted in lists.values()),
                       "dropped": data.get("dropped", 0), "dropped_steps": data.get("dropped_steps", 0)}
            for k, (chunks, _) in lists.items():
                summary[k[:-1] + "_count"] = sum(len(c) for c in chunks)
            box.send("graph", summary)

    def _send_trace(self, box, data):
        chunks, omitted = P.chunk_items(list(data.get("steps") or []))
        count = max(len(chunks), 1)
        seq = next(self._seq)
        cell_id = data.get("cell_id")
        pass_index = data.get("pass_index", 0)
        with box.lock:
            for i in range(count):
                box.send("backward_trace_chunk", {"cell_id": cell_id, "seq": seq, "pass_index": pass_index,
                                                  "index": i, "count": count,
                                                  "steps": chunks[i] if i < len(chunks) else []})
            box.send("backward_trace", {"cell_id": cell_id, "seq": seq, "pass_index": pass_index, "count": count,
                                        "step_count": sum(len(c) for c in chunks), "omitted": omitted})

    # -- persistence ------------------------------------------------------------------------
    def persist(self, notebook_id, cell_id, run, status):
        try:
            self.repo.set_cell_outputs(notebook_id, cell_id, run.outputs, execution_count=run.execution_count,
                                       status=status)
        except LookupError:  # the cell was deleted while it ran, or is not one of the notebook's
            log.info("outputs of %r/%r not saved: no such cell", notebook_id, cell_id)
        except Exception:
            log.exception("persisting outputs of %r/%r", notebook_id, cell_id)


def _setting(app, name, default):
    """A server setting: B1's Config object (wherever the app keeps it) or app.config."""
    for holder in (app.extensions.get("config"), app.config.get("GRADLAB_CONFIG"), app.config.get("GRADLAB")):
        if holder is not None and hasattr(holder, name):
            return getattr(holder, name)
    return app.config.get(name.upper(), default)


def _id_of(notebook, fallback):
    if isinstance(notebook, dict):
        return notebook.get("id", fallback)
    return getattr(notebook, "id", fallback)


def _status_of(st):
    """(status, device) from whatever ``KernelManager.status`` returns."""
    if isinstance(st, dict):
        return str(st.get("status") or st.get("kernel_status") or "unknown"), st.get("device")
    if isinstance(st, str):
        return st, None
    return str(getattr(st, "status", "unknown")), getattr(st, "device", None)

"""What the server sends, and in which order.

* :func:`emit` builds a message with its model (``backend/protocol.py``: the payload is
  validated, NaN/±inf become strings), keeps it under ``MAX_MESSAGE_BYTES`` and emits it.
* :class:`Outbox`, one per notebook, sends what concerns the notebook to its room in the order the
  kernel produced it.  Stream text is coalesced for ``STREAM_FLUSH_INTERVAL`` and flushed before
  any other message.  Metrics are merged and sent at most ``METRICS_MAX_RATE`` times a second:
  this is the only place metrics are throttled (the kernel is untrusted, and the rate is what the
  browser sees).  Graphs and backward traces go out as chunks of about ``CHUNK_BYTES`` followed by
  their summary, back to back.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict

from pydantic import ValidationError

from backend import protocol as P

log = logging.getLogger(__name__)


def emit(socketio, event, payload, to):
    """Send ``event`` built from ``payload`` to ``to`` (a room or a client's sid).  False when
    nothing was sent: no model for ``event`` or a payload that does not fit it (a server bug,
    logged), or a message over the size limit that cannot be shrunk."""
    if event not in P.OUTBOUND:
        log.error("not sent: %r is not an event of the protocol", event)
        return False
    try:
        message = P.outbound(event, payload)
    except ValidationError:
        log.exception("not sent: a %s message that does not fit its model", event)
        return False
    size = P.json_size(message)
    if size > P.MAX_MESSAGE_BYTES:
        message = _shrink(event, message, size)
        if message is None or P.json_size(message) > P.MAX_MESSAGE_BYTES:
            log.warning("dropped %s of %d bytes for %s", event, size, to)
            return False
    socketio.emit(event, message, to=to)
    return True


def _shrink(event, message, size):
    """An over-large single message made to fit, saying so (None: it cannot be)."""
    note = f"[{event} of {size} bytes omitted: over the {P.MAX_MESSAGE_BYTES // 1024} KB message limit]"
    if event == "result":
        return message.model_copy(update={"data": {"text/plain": note}, "truncated": True})
    if event == "cell_error":
        return message.model_copy(update={"evalue": message.evalue[:4096],
                                          "traceback": [note] + message.traceback[-3:], "truncated": True})
    if event == "node_value":
        return message.model_copy(update={"values": None, "truncated": True})
    if event == "notice":
        return message.model_copy(update={"text": message.text[:4096], "truncated": True})
    return None


def thin_points(points, limit):
    """Keep at most ``limit`` points: per tag an even stride, always keeping each tag's last point;
    returns (kept points in time order, how many were left out)."""
    by_tag = OrderedDict()
    for p in points:
        by_tag.setdefault(p.get("tag"), []).append(p)
    share = max(1, limit // max(1, len(by_tag)))
    kept = []
    for pts in by_tag.values():
        if len(pts) > share:
            stride = len(pts) / share
            kept.extend([pts[int(i * stride)] for i in range(share - 1)] + [pts[-1]])
        else:
            kept.extend(pts)
    kept.sort(key=lambda p: p.get("wall") or 0.0)
    return kept, len(points) - len(kept)


class Outboxes:
    """The outbox of each notebook, made on first use; graph and trace ``seq`` numbers are
    unique in this server process."""

    def __init__(self, socketio):
        self.socketio = socketio
        self._boxes = {}
        self._lock = threading.Lock()
        self._seq = itertools.count(1)

    def __call__(self, notebook_id):
        with self._lock:
            box = self._boxes.get(notebook_id)
            if box is None:
                box = self._boxes[notebook_id] = Outbox(self.socketio, notebook_id, self._seq)
            return box


class Outbox:
    """Everything sent about one notebook, in order (see the module's docstring)."""

    def __init__(self, socketio, notebook_id, seq):
        self.socketio = socketio
        self.notebook_id = notebook_id
        self.room = P.room_of(notebook_id)
        self._seq = seq
        self._lock = threading.RLock()
        self._streams = []  # [cell_id, name, [texts]], in arrival order
        self._stream_timer = None
        self._last_stream = 0.0
        self._points = []
        self._metrics_timer = None
        self._last_metrics = 0.0

    def send(self, event, payload, to=None):
        """Send ``event`` (to the room, or to one client) after any pending stream text."""
        with self._lock:
            self._flush_streams()
            self._emit(event, payload, to)

    def flush(self):
        """Send pending stream text and metrics now (a cell ended, the kernel went away)."""
        with self._lock:
            self._flush_streams()
            self._flush_metrics()

    def _emit(self, event, payload, to=None):
        emit(self.socketio, event, dict(payload, notebook_id=self.notebook_id), to or self.room)

    def _after(self, wait, flush):
        timer = threading.Timer(wait, self._timed, (flush,))
        timer.daemon = True
        timer.start()
        return timer

    def _timed(self, flush):
        with self._lock:
            flush(timed=True)

    # -- stream text --------------------------------------------------------------------------
    def stream(self, cell_id, name, text):
        with self._lock:
            last = self._streams[-1] if self._streams else None
            if last is not None and last[0] == cell_id and last[1] == name:
                last[2].append(text)
            else:
                self._streams.append([cell_id, name, [text]])
            wait = self._last_stream + P.STREAM_FLUSH_INTERVAL - time.monotonic()
            if wait <= 0:
                self._flush_streams()
            elif self._stream_timer is None:
                self._stream_timer = self._after(wait, self._flush_streams)

    def _flush_streams(self, timed=False):
        if timed:
            self._stream_timer = None
        if not self._streams:
            return
        pending, self._streams = self._streams, []
        for cell_id, name, texts in pending:
            text = "".join(texts)
            for i in range(0, len(text), P.MAX_STREAM_TEXT):
                self._emit("stream", {"cell_id": cell_id, "name": name, "text": text[i:i + P.MAX_STREAM_TEXT]})
        self._last_stream = time.monotonic()

    # -- metrics ------------------------------------------------------------------------------
    def metrics(self, points):
        with self._lock:
            self._points.extend(points)
            wait = self._last_metrics + 1.0 / P.METRICS_MAX_RATE - time.monotonic()
            if wait <= 0:
                self._flush_metrics()
            elif self._metrics_timer is None:
                self._metrics_timer = self._after(wait, self._flush_metrics)

    def _flush_metrics(self, timed=False):
        if timed:
            self._metrics_timer = None
        if not self._points:
            return
        points, self._points = self._points, []
        coalesced = 0
        if len(points) > P.METRICS_MAX_POINTS:
            points, coalesced = thin_points(points, P.METRICS_MAX_POINTS)
        self._emit("metrics", {"points": points, "coalesced": coalesced})
        self._last_metrics = time.monotonic()

    # -- chunked transfers --------------------------------------------------------------------
    def graph(self, cell_id, graph):
        """``graph_chunk`` × count, then ``graph``: the nodes, edges and groups of ``graph``."""
        parts = {key: P.chunk_items(graph[key]) for key in ("nodes", "edges", "groups")}
        count = max(1, max(len(chunks) for chunks, _ in parts.values()))
        seq = next(self._seq)
        with self._lock:
            for i in range(count):
                chunk = {key: chunks[i] if i < len(chunks) else [] for key, (chunks, _) in parts.items()}
                self.send("graph_chunk", dict(chunk, cell_id=cell_id, seq=seq, index=i, count=count))
            self.send("graph", {
                "cell_id": cell_id, "seq": seq, "count": count,
                "node_count": sum(map(len, parts["nodes"][0])), "edge_count": sum(map(len, parts["edges"][0])),
                "group_count": sum(map(len, parts["groups"][0])),
                "omitted": sum(omitted for _, omitted in parts.values()),
                "dropped": graph["dropped"], "dropped_steps": graph["dropped_steps"]})

    def trace(self, cell_id, trace):
        """``backward_trace_chunk`` × count, then ``backward_trace``: the steps of one backward()."""
        chunks, omitted = P.chunk_items(trace["steps"])
        count = max(1, len(chunks))
        seq = next(self._seq)
        pass_index = trace["pass_index"]
        with self._lock:
            for i in range(count):
                self.send("backward_trace_chunk", {"cell_id": cell_id, "seq": seq, "pass_index": pass_index,
                                                   "index": i, "count": count,
                                                   "steps": chunks[i] if i < len(chunks) else []})
            self.send("backward_trace", {"cell_id": cell_id, "seq": seq, "pass_index": pass_index, "count": count,
                                         "step_count": sum(map(len, chunks)), "omitted": omitted})

"""The Socket.IO handlers (default namespace ``/``; the protocol is docs/protocol.md).

Every inbound event is validated by its model (``backend/protocol.py``) before a handler sees it;
a refused one is answered with an ``error`` message and a ``{"ok": false, "reason"}`` ack.
Handlers that act on a notebook carry :func:`joined`: the client must have joined the notebook,
which ``join`` allows only to the notebook's owner.  The work is done by the run service
(``backend/realtime/runs.py``).
"""
from __future__ import annotations

import functools
import logging
import threading

from flask import request
from flask_socketio import Namespace, join_room, leave_room

from backend import protocol as P
from backend.identity import current_owner
from backend.realtime.outbox import emit
from backend.realtime.runs import KernelStartError
from backend.security import host_allowed

log = logging.getLogger(__name__)

NOT_FOUND = "notebook not found"  # an unknown notebook and someone else's get the same answer
NOT_JOINED = "not joined to this notebook"


class _Client:
    """One connection: the owner its cookie named when it connected, the notebooks it joined."""

    __slots__ = ("owner", "joined")

    def __init__(self, owner):
        self.owner = owner
        self.joined = set()


def joined(handler=None, *, still_owned=False):
    """The handler runs only for a notebook this client joined, as ``handler(self, msg,
    notebook_id)``; otherwise the client hears ``not joined to this notebook``.  With
    ``still_owned`` the notebook must also still be the owner's: one deleted since the join is
    forgotten and answered ``notebook not found``."""
    if handler is None:
        return functools.partial(joined, still_owned=still_owned)
    event = handler.__name__.removeprefix("on_")

    @functools.wraps(handler)
    def checked(self, msg):
        client = self._client()
        notebook_id = msg.notebook_id
        if client is None or notebook_id not in client.joined:
            return self._refuse(event, NOT_JOINED, notebook_id)
        if still_owned and not self._owns(client, notebook_id):
            client.joined.discard(notebook_id)
            return self._refuse(event, NOT_FOUND, notebook_id)
        return handler(self, msg, notebook_id)

    return checked


class NotebookNamespace(Namespace):
    def __init__(self, runs, repo, config):
        super().__init__("/")
        self.runs = runs
        self.repo = repo
        self.config = config
        self._clients = {}  # sid -> _Client
        self._lock = threading.Lock()

    def trigger_event(self, event, *args):
        """Validate an inbound event, then dispatch it to ``on_<event>`` with its model."""
        if event in ("connect", "disconnect"):
            return super().trigger_event(event, *args)
        sid, payload = args[0], args[1:]
        try:
            msg = P.parse_inbound(event, payload)
        except P.ProtocolError as err:
            return self._refuse(err.event, err.reason, sid=sid)
        try:
            return super().trigger_event(event, sid, msg)
        except Exception:
            log.exception("socket handler %s failed", event)
            return self._refuse(event, "internal error", sid=sid)

    # -- helpers ------------------------------------------------------------------------------
    def _client(self):
        with self._lock:
            return self._clients.get(request.sid)

    def _refuse(self, event, reason, notebook_id=None, sid=None):
        """Tell the client why its event was refused (an ``error`` message); the ack to return."""
        emit(self.socketio, "error", {"reason": reason, "event": event, "notebook_id": notebook_id},
             to=sid or request.sid)
        return {"ok": False, "reason": reason}

    def _owns(self, client, notebook_id):
        if client is None or client.owner is None:
            return False
        try:
            return self.repo.owns(client.owner, notebook_id)
        except Exception:
            log.exception("ownership of %r", notebook_id)
            return False

    # -- connection ---------------------------------------------------------------------------
    def on_connect(self, auth=None):
        if not host_allowed(self.config):
            return False  # a page on a name this server does not answer to (DNS rebinding)
        try:
            owner = current_owner()
        except Exception:  # no identity: the client may connect but can open nothing
            log.exception("no identity for socket %s", request.sid)
            owner = None
        with self._lock:
            self._clients[request.sid] = _Client(owner)

    def on_disconnect(self, reason=None):
        with self._lock:
            self._clients.pop(request.sid, None)
        self.runs.forget(request.sid)

    # -- notebooks ----------------------------------------------------------------------------
    def on_join(self, msg):
        client = self._client()
        notebook_id = msg.notebook_id
        if not self._owns(client, notebook_id):
            return self._refuse("join", NOT_FOUND, notebook_id)
        join_room(P.room_of(notebook_id))
        client.joined.add(notebook_id)
        box = self.runs.outbox(notebook_id)
        box.send("joined", {}, to=request.sid)
        try:
            status, device = self.runs.open(notebook_id)
        except KernelStartError as exc:
            box.send("kernel_status", {"status": "dead", "reason": str(exc)}, to=request.sid)
            return {"ok": False, "reason": "kernel failed to start"}
        box.send("kernel_status", {"status": status}, to=request.sid)
        if device:
            box.send("device", {"device": device}, to=request.sid)
        return {"ok": True, "notebook_id": notebook_id, "kernel_status": status, "device": device}

    @joined
    def on_leave(self, msg, notebook_id):
        leave_room(P.room_of(notebook_id))
        self._client().joined.discard(notebook_id)
        emit(self.socketio, "left", {"notebook_id": notebook_id}, to=request.sid)
        return {"ok": True}

    @joined(still_owned=True)
    def on_execute(self, msg, notebook_id):
        limit = min(P.MAX_CODE_BYTES, self.config.max_code_bytes)
        if len(msg.code.encode("utf-8", "surrogatepass")) > limit:
            return self._refuse("execute", f"invalid payload: code longer than {limit} bytes", notebook_id)
        return {"ok": self.runs.execute(notebook_id, msg.cell_id, msg.code)}

    @joined
    def on_interrupt(self, msg, notebook_id):
        self.runs.interrupt(notebook_id)
        return {"ok": True}

    @joined
    def on_restart(self, msg, notebook_id):
        self.runs.restart(notebook_id)
        return {"ok": True}

    @joined
    def on_get_value(self, msg, notebook_id):
        self.runs.get_value(notebook_id, request.sid, msg.node_id, msg.which, msg.request_id)
        return {"ok": True}

    @joined
    def on_check_grad(self, msg, notebook_id):
        self.runs.check_grad(notebook_id, request.sid, msg.node_id, msg.request_id)
        return {"ok": True}

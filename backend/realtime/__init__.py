"""The playground's realtime side: the Socket.IO protocol of docs/protocol.md.

* ``namespace.py`` — the socket handlers: validate, check the client joined the notebook, call
  the run service;
* ``runs.py`` — the run service: kernels, cell runs, the kernel manager's events, and the saving
  of cell outputs;
* ``outbox.py`` — what is sent: one model per message, ordering, stream coalescing, the metrics
  throttle, chunking of graphs and traces, the message size limit.

``register(socketio, app)`` wires them into the app; ``app.extensions["realtime"]`` holds the
:class:`~backend.realtime.runs.RunService`.
"""
from backend.realtime.namespace import NotebookNamespace
from backend.realtime.runs import RunService


def register(socketio, app):
    """Serve the protocol on ``socketio`` and listen to the app's kernel manager."""
    repo = app.extensions["repo"]
    runs = RunService(socketio, repo, app.extensions["kernels"])
    runs.reset_busy_cells()
    app.extensions["kernels"].add_listener(runs.on_kernel_event)
    socketio.on_namespace(NotebookNamespace(runs, repo, app.extensions["config"]))
    app.extensions["realtime"] = runs
    return runs


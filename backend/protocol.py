"""The Socket.IO wire protocol of the playground, as pydantic models (docs/protocol.md explains it).

Inbound models (client -> server) are strict: wrong types are rejected rather than coerced,
unknown fields are rejected, and every string and number has a bound.  Use
:func:`parse_inbound` to validate an inbound event; it raises :class:`ProtocolError` with a
short, client-safe reason.

Outbound models (server -> client), one per event in :data:`OUTBOUND`, build every message the
server sends (``backend/realtime/outbox.py`` validates each payload with its model and emits the
model), so a message has all of its model's fields and nothing else.  The socket's JSON codec
(:class:`WireJSON`) writes NaN and ±inf as the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"``.  The records inside them
(graph nodes, backward steps, metric points, tensor statistics...) are the kernel protocol's
(``backend/kernels/protocol.py``), defined once.  ``tools/gen_protocol_ts.py`` writes the front
end's TypeScript types (``frontend/src/generated/protocol.ts``) from these models.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator
from pydantic_core import to_json

from backend.kernels.protocol import (BackwardStep, Edge, GradCheckBody, GraphGroup, GraphNode, MetricPoint,
                                      NodeValueBody)

# ---------------------------------------------------------------------------------------------
# limits (documented in docs/protocol.md; the server's own max_http_buffer_size is 1 MB)
# ---------------------------------------------------------------------------------------------
MAX_ID_CHARS = 64  # notebook ids, cell ids, request ids
MAX_CODE_BYTES = 100_000  # one cell's source, UTF-8 (the server's config may lower it)
MAX_NODE_ID = 10_000_000
#: upper bound for one outbound message once serialised; chunked payloads stay well below it
MAX_MESSAGE_BYTES = 512 * 1024
#: target size of one graph_chunk / backward_trace_chunk message
CHUNK_BYTES = 128 * 1024
#: outbound stream text per message
MAX_STREAM_TEXT = 64 * 1024
#: metrics: at most this many emits per second per notebook (the one metrics throttle), at most
#: this many points per emit
METRICS_MAX_RATE = 10
METRICS_MAX_POINTS = 2_000
#: stream output coalescing window (seconds)
STREAM_FLUSH_INTERVAL = 0.05

NotebookId = StrictStr


class ProtocolError(ValueError):
    """An inbound message that does not follow the protocol (reason is safe to send back)."""

    def __init__(self, reason: str, event: Optional[str] = None):
        super().__init__(reason)
        self.reason = reason
        self.event = event


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _id_field():
    return Field(min_length=1, max_length=MAX_ID_CHARS)


class NotebookRef(_Inbound):
    """Payload of ``join``, ``leave``, ``interrupt`` and ``restart``."""

    notebook_id: NotebookId

    def room(self) -> str:
        return room_of(self.notebook_id)


class JoinIn(NotebookRef):
    pass


class LeaveIn(NotebookRef):
    pass


class InterruptIn(NotebookRef):
    pass


class RestartIn(NotebookRef):
    pass


class ExecuteIn(NotebookRef):
    cell_id: StrictStr = _id_field()
    code: StrictStr = Field(max_length=MAX_CODE_BYTES)

    @field_validator("code")
    @classmethod
    def _code_bytes(cls, v):
        if len(v) * 4 > MAX_CODE_BYTES and len(v.encode("utf-8", "surrogatepass")) > MAX_CODE_BYTES:
            raise ValueError(f"code longer than {MAX_CODE_BYTES} bytes")
        return v


class GetValueIn(NotebookRef):
    node_id: StrictInt = Field(ge=0, le=MAX_NODE_ID)
    which: Literal["value", "grad"]
    request_id: StrictStr = _id_field()


class CheckGradIn(NotebookRef):
    """Payload of ``check_grad``: compare a node's analytic gradient with finite differences."""

    node_id: StrictInt = Field(ge=0, le=MAX_NODE_ID)
    request_id: StrictStr = _id_field()


INBOUND: Dict[str, type] = {
    "join": JoinIn,
    "leave": LeaveIn,
    "execute": ExecuteIn,
    "interrupt": InterruptIn,
    "restart": RestartIn,
    "get_value": GetValueIn,
    "check_grad": CheckGradIn,
}


def room_of(notebook_id) -> str:
    return f"nb:{notebook_id}"


def _check_notebook_id(v):
    if not (1 <= len(v) <= MAX_ID_CHARS):
        raise ProtocolError(f"invalid payload: notebook_id must be 1..{MAX_ID_CHARS} characters")


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:3]:
        loc = ".".join(str(p) for p in e.get("loc", ())) or "payload"
        msg = e.get("msg", "invalid")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def parse_inbound(event: str, args: tuple):
    """Validate the arguments of inbound ``event``; return the model or raise ProtocolError."""
    model = INBOUND.get(event)
    if model is None:
        raise ProtocolError("unknown event", str(event)[:64])
    if len(args) != 1 or not isinstance(args[0], dict):
        raise ProtocolError("payload must be one JSON object", event)
    try:
        msg = model.model_validate(args[0])
    except ValidationError as err:
        raise ProtocolError(f"invalid payload: {_describe(err)}", event) from None
    try:
        _check_notebook_id(msg.notebook_id)
    except ProtocolError as err:
        err.event = event
        raise
    return msg


# ---------------------------------------------------------------------------------------------
# outbound (server -> client).  Every message that concerns a notebook carries notebook_id.
# ---------------------------------------------------------------------------------------------
KernelStatus = Literal["starting", "idle", "busy", "restarting", "dead"]
CellStatus = Literal["idle", "queued", "running", "done", "error"]


class _Outbound(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, ser_json_inf_nan="strings",
                              json_schema_serialization_defaults_required=True)


class ErrorOut(_Outbound):
    """A refused or failed client event (the ack says the same)."""
    reason: str
    event: Optional[str] = None
    notebook_id: Optional[NotebookId] = None


class JoinedOut(_Outbound):
    notebook_id: NotebookId


class LeftOut(_Outbound):
    notebook_id: NotebookId


class KernelStatusOut(_Outbound):
    notebook_id: NotebookId
    status: KernelStatus
    reason: Optional[str] = None


class DeviceOut(_Outbound):
    notebook_id: NotebookId
    device: str


class CellStatusOut(_Outbound):
    notebook_id: NotebookId
    cell_id: str
    status: CellStatus
    duration_ms: Optional[float] = None
    execution_count: Optional[int] = None


class StreamOut(_Outbound):
    notebook_id: NotebookId
    cell_id: str
    name: Literal["stdout", "stderr"]
    text: str


class ResultOut(_Outbound):
    notebook_id: NotebookId
    cell_id: str
    data: Dict[str, Any]
    execution_count: Optional[int] = None
    truncated: bool = False


class CellErrorOut(_Outbound):
    notebook_id: NotebookId
    cell_id: str
    ename: str
    evalue: str
    traceback: List[str] = []
    line: Optional[int] = None
    truncated: bool = False


class NoticeOut(_Outbound):
    notebook_id: NotebookId
    cell_id: Optional[str] = None
    text: str
    truncated: bool = False


class GraphChunkOut(_Outbound):
    notebook_id: NotebookId
    cell_id: str
    seq: int
    index: int
    count: int
    nodes: List[GraphNode]
    edges: List[Edge]
    groups: List[GraphGroup] = []


class GraphOut(_Outbound):
    notebook_id: NotebookId
    cell_id: str
    seq: int
    count: int
    node_count: int
    edge_count: int
    group_count: int = 0
    dropped: int = 0
    dropped_steps: int = 0
    omitted: int = 0


class BackwardTraceChunkOut(_Outbound):
    notebook_id: NotebookId
    cell_id: str
    seq: int
    pass_index: int
    index: int
    count: int
    steps: List[BackwardStep]


class BackwardTraceOut(_Outbound):
    notebook_id: NotebookId
    cell_id: str
    seq: int
    pass_index: int
    count: int
    step_count: int
    omitted: int = 0


class MetricsOut(_Outbound):
    notebook_id: NotebookId
    points: List[MetricPoint]
    coalesced: int = 0


class NodeValueOut(NodeValueBody):
    """The answer to ``get_value``, to the asking client only."""
    model_config = _Outbound.model_config
    notebook_id: NotebookId
    request_id: str
    truncated: bool = False


class GradCheckOut(GradCheckBody):
    """The answer to ``check_grad``, to the asking client only."""
    model_config = _Outbound.model_config
    notebook_id: NotebookId
    request_id: str


OUTBOUND: Dict[str, type] = {
    "error": ErrorOut,
    "joined": JoinedOut,
    "left": LeftOut,
    "kernel_status": KernelStatusOut,
    "device": DeviceOut,
    "cell_status": CellStatusOut,
    "stream": StreamOut,
    "result": ResultOut,
    "cell_error": CellErrorOut,
    "notice": NoticeOut,
    "graph_chunk": GraphChunkOut,
    "graph": GraphOut,
    "backward_trace_chunk": BackwardTraceChunkOut,
    "backward_trace": BackwardTraceOut,
    "metrics": MetricsOut,
    "node_value": NodeValueOut,
    "grad_check": GradCheckOut,
}


def outbound(event: str, payload: dict) -> BaseModel:
    """The message ``event`` with ``payload``, validated by its model (KeyError: no such event;
    pydantic's ValidationError: the payload does not fit the model)."""
    return OUTBOUND[event].model_validate(payload)


class WireJSON:
    """The JSON codec of the Socket.IO server (``SocketIO(json=WireJSON)``): outbound models are
    written by their own serializer, and NaN/±inf, wherever they are, as the strings "NaN",
    "Infinity" and "-Infinity"."""

    @staticmethod
    def dumps(obj, **_options) -> str:
        return to_json(obj, inf_nan_mode="strings").decode()

    @staticmethod
    def loads(text, **options):
        return json.loads(text, **options)


def json_size(obj) -> int:
    """Bytes of ``obj`` as the socket sends it."""
    return len(to_json(obj, inf_nan_mode="strings"))


def chunk_items(items: List[Any], budget: int = CHUNK_BYTES):
    """Split ``items`` into consecutive lists whose JSON size stays under ``budget`` bytes.

    An item that alone exceeds the budget is left out; returns (chunks, omitted_count).
    """
    chunks: List[List[Any]] = []
    cur: List[Any] = []
    size = 2
    omitted = 0
    for it in items:
        n = json_size(it) + 1
        if n > budget:
            omitted += 1
            continue
        if cur and size + n > budget:
            chunks.append(cur)
            cur, size = [], 2
        cur.append(it)
        size += n
    if cur:
        chunks.append(cur)
    return chunks, omitted

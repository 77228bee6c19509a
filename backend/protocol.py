"""The Socket.IO wire protocol of the playground, as pydantic models (docs/protocol.md explains it).

Inbound models (client -> server) are strict: wrong types are rejected rather than coerced,
unknown fields are rejected, and every string and number has a bound.  Outbound models
(server -> client) describe what ``backend.realtime`` emits; they are used to build the
messages and by the tests to check them.

Use :func:`parse_inbound` to validate an inbound event; it raises :class:`ProtocolError`
with a short, client-safe reason.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator

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
#: metrics: at most this many emits per second per notebook, at most this many points per emit
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
        raise ProtocolError("unknown event", event)
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
class _Outbound(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorOut(_Outbound):
    reason: str
    event: Optional[str] = None
    notebook_id: Optional[NotebookId] = None
    request_id: Optional[str] = None


class JoinedOut(_Outbound):
    notebook_id: NotebookId


class LeftOut(_Outbound):
    notebook_id: NotebookId


class KernelStatusOut(_Outbound):
    notebook_id: NotebookId
    status: str
    reason: Optional[str] = None


class DeviceOut(_Outbound):
    notebook_id: NotebookId
    device: str


class CellStatusOut(_Outbound):
    notebook_id: NotebookId
    cell_id: str
    status: Literal["queued", "running", "done", "error", "idle"]
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


class CellErrorOut(_Outbound):
    notebook_id: NotebookId
    cell_id: str
    ename: str
    evalue: str
    traceback: List[str] = []
    line: Optional[int] = None


class NoticeOut(_Outbound):
    notebook_id: NotebookId
    cell_id: Optional[str] = None
    text: str


class GraphChunkOut(_Outbound):
    notebook_id: NotebookId
    cell_id: str
    seq: int
    index: int
    count: int
    nodes: List[Any]
    edges: List[Any]
    groups: List[Any] = []


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
    steps: List[Any]


class BackwardTraceOut(_Outbound):
    notebook_id: NotebookId
    cell_id: str
    seq: int
    pass_index: int
    count: int
    step_count: int
    omitted: int = 0


class MetricPoint(_Outbound):
    tag: str
    step: Optional[int] = None
    value: Optional[float]
    wall: Optional[float] = None


class MetricsOut(_Outbound):
    notebook_id: NotebookId
    points: List[MetricPoint]
    coalesced: int = 0


class NodeValueOut(_Outbound):
    notebook_id: NotebookId
    request_id: Optional[str] = None
    node_id: int
    which: Literal["value", "grad"]
    stats: Optional[Dict[str, Any]] = None
    values: Optional[Any] = None
    shape: Optional[List[int]] = None
    dtype: Optional[str] = None


class GradCheckInputOut(_Outbound):
    index: int
    node: Optional[int] = None
    checked: int
    skipped: int = 0
    numel: int = 0
    max_abs_diff: Optional[float] = None
    max_rel_diff: Optional[float] = None
    analytic_norm: Optional[float] = None
    numeric_norm: Optional[float] = None
    ok: bool = False


class GradCheckOut(_Outbound):
    notebook_id: NotebookId
    request_id: Optional[str] = None
    node_id: int
    ok: bool
    reason: Optional[str] = None
    eps: Optional[float] = None
    op: Optional[str] = None
    cotangent: Optional[Literal["recorded", "ones", "random"]] = None
    note: Optional[str] = None
    inputs: List[GradCheckInputOut] = []


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


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def json_size(obj) -> int:
    """Bytes of ``obj`` as Socket.IO will serialise it (compact JSON, ASCII-escaped)."""
    return len(_ENCODER.encode(obj))


def chunk_items(items: List[Any], budget: int = CHUNK_BYTES):
    """Split ``items`` into consecutive lists whose JSON size stays under ``budget`` bytes.

    An item that alone exceeds the budget is left out; returns (chunks, omitted_count).
    """
    chunks: List[List[Any]] = []
    cur: List[Any] = []
    size = 2
    omitted = 0
    encode = _ENCODER.encode
    for it in items:
        n = len(encode(it)) + 1
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

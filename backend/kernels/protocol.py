"""Kernel <-> manager messages: one JSON object per line over inherited pipes.

The manager treats everything a kernel writes as untrusted (user code runs in the kernel and
can write to the pipe itself): a line longer than ``MAX_LINE_BYTES``, a line that is not JSON,
or one that does not validate against these strict schemas means the kernel is broken; the
manager kills it and reports it crashed with the reason (:class:`ProtocolViolation`).

Requests (manager -> kernel) are built by the manager and need no validation here:
``{"type": "execute", "req", "code"}``, ``{"type": "get_value", "req", "node_id", "which"}``,
``{"type": "check_grad", "req", "node_id"}``, ``{"type": "shutdown"}``.
"""
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

MAX_LINE_BYTES = 8 * 1024 * 1024      # one message (a graph of max_nodes nodes fits)
MAX_NODES = 20_000
MAX_STEPS = 20_000
MAX_TEXT = 256 * 1024                 # stream text per message (kernel batches at 8 KB)
MAX_VALUES = 20_000

Str = Annotated[str, StringConstraints(max_length=1024)]
Req = Annotated[str, StringConstraints(max_length=128)]
Shape = Annotated[list[Annotated[int, Field(ge=0)]], Field(max_length=64)]
Num = Optional[float]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Ready(_M):
    type: Literal["ready"]
    pid: int
    device: Annotated[str, StringConstraints(pattern=r"^(cpu|cuda:\d+)$")]
    python: Str
    startup_ms: float


class Stream(_M):
    type: Literal["stream"]
    req: Req
    name: Literal["stdout", "stderr"]
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT)]


class Result(_M):
    type: Literal["result"]
    req: Optional[Req]
    data: Annotated[dict[Annotated[str, StringConstraints(max_length=100)], Any], Field(max_length=8)]
    execution_count: int


class Error(_M):
    type: Literal["error"]
    req: Optional[Req]
    ename: Annotated[str, StringConstraints(max_length=200)]
    evalue: Annotated[str, StringConstraints(max_length=10_000)]
    traceback: Annotated[list[Annotated[str, StringConstraints(max_length=2000)]], Field(max_length=200)]
    line: Optional[int]


class Node(_M):
    id: int
    op: Str
    kind: Literal["leaf", "op", "output"]
    module: Str
    name: Optional[Str]
    inputs: Annotated[list[Optional[int]], Field(max_length=1024)]
    in_shapes: Annotated[list[Optional[Shape]], Field(max_length=1024)]
    in_dtypes: Annotated[list[Optional[Str]], Field(max_length=1024)]
    out_shapes: Annotated[list[Shape], Field(max_length=1024)]
    out_dtypes: Annotated[list[Str], Field(max_length=1024)]
    line: Optional[int]
    cell: Optional[int]


class Group(_M):
    module: Str
    nodes: Annotated[list[int], Field(max_length=MAX_NODES)]


class Graph(_M):
    type: Literal["graph"]
    req: Req
    nodes: Annotated[list[Node], Field(max_length=MAX_NODES)]
    edges: Annotated[list[Annotated[list[int], Field(min_length=2, max_length=2)]], Field(max_length=8 * MAX_NODES)]
    groups: Annotated[list[Group], Field(max_length=MAX_NODES)]
    dropped: int
    dropped_steps: int


class GradSummary(_M):
    shape: Shape
    dtype: Str
    norm: Num = None
    mean: Num = None
    min: Num = None
    max: Num = None
    value: Num = None


class Step(_M):
    index: int
    node: Optional[int]
    op: Str
    grads_in: Annotated[list[Optional[GradSummary]], Field(max_length=1024)]
    grads_out: Annotated[list[Optional[GradSummary]], Field(max_length=1024)]
    leaf: Optional[int]


class BackwardTrace(_M):
    type: Literal["backward_trace"]
    req: Req
    pass_index: int
    steps: Annotated[list[Step], Field(max_length=MAX_STEPS)]


class Point(_M):
    tag: Annotated[str, StringConstraints(max_length=200)]
    step: int
    value: Num
    wall: float


class Metrics(_M):
    type: Literal["metrics"]
    points: Annotated[list[Point], Field(max_length=5000)]


class Histogram(_M):
    counts: Annotated[list[int], Field(max_length=64)]
    edges: Annotated[list[float], Field(max_length=65)]


class Stats(_M):
    numel: int
    nan: int = 0
    inf: int = 0
    min: Num = None
    max: Num = None
    mean: Num = None
    std: Num = None
    norm: Num = None
    histogram: Optional[Histogram] = None


class NodeValue(_M):
    type: Literal["node_value"]
    req: Req
    node_id: int
    which: Literal["value", "grad"]
    shape: Optional[Shape]
    dtype: Optional[Str]
    stats: Optional[Stats]
    values: Optional[Annotated[list[Union[float, int, bool, None]], Field(max_length=MAX_VALUES)]]
    downsampled: bool = False
    stride: int = 1


Count = Annotated[int, Field(ge=0, le=1 << 40)]
NodeId = Annotated[int, Field(ge=0, le=10_000_000)]
Finite = Optional[Annotated[float, Field(allow_inf_nan=False)]]


class GradCheckInput(_M):
    index: Annotated[int, Field(ge=0, le=1024)]
    node: Optional[NodeId]
    checked: Count
    skipped: Count = 0
    numel: Count = 0
    max_abs_diff: Num = None
    max_rel_diff: Num = None
    analytic_norm: Num = None
    numeric_norm: Num = None
    ok: bool = False


class GradCheck(_M):
    """The answer to ``check_grad``: a node's analytic gradient against finite differences."""
    type: Literal["grad_check"]
    req: Req
    node_id: NodeId
    ok: bool
    reason: Optional[Annotated[str, StringConstraints(max_length=1000)]]
    eps: Finite
    op: Optional[Str] = None
    cotangent: Optional[Literal["recorded", "ones", "random"]] = None
    note: Optional[Annotated[str, StringConstraints(max_length=2000)]] = None
    inputs: Annotated[list[GradCheckInput], Field(max_length=1024)]


class Notice(_M):
    type: Literal["notice"]
    req: Optional[Req]
    text: Annotated[str, StringConstraints(max_length=2000)]


class Started(_M):
    """The cell's code has begun to run: from now on SIGINT raises KeyboardInterrupt in it."""
    type: Literal["started"]
    req: Req


class Done(_M):
    type: Literal["done"]
    req: Req
    status: Literal["ok", "error"]
    execution_count: int
    duration_ms: float


KernelMessage = Annotated[
    Union[Ready, Stream, Result, Error, Graph, BackwardTrace, Metrics, NodeValue, GradCheck, Notice, Started,
          Done],
    Field(discriminator="type"),
]
_adapter = TypeAdapter(KernelMessage)


class ProtocolViolation(Exception):
    """A kernel sent something the manager does not accept; the kernel is considered broken."""


def parse_line(line: bytes):
    """Validate one line from a kernel; raises :class:`ProtocolViolation` with the reason."""
    if len(line) > MAX_LINE_BYTES:
        raise ProtocolViolation(f"message of {len(line)} bytes exceeds the {MAX_LINE_BYTES}-byte limit")
    try:
        return _adapter.validate_json(line)
    except ValidationError as e:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))[:200]
        raise ProtocolViolation(f"malformed message ({where}: {first.get('msg', 'invalid')})"[:500]) from None

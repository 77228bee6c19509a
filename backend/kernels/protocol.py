"""Kernel <-> manager messages: one JSON object per line over inherited pipes.

The manager treats everything a kernel writes as untrusted (user code runs in the kernel and
can write to the pipe itself): a line longer than ``MAX_LINE_BYTES``, a line that is not JSON,
or one that does not validate against these strict schemas means the kernel is broken; the
manager kills it and reports it crashed with the reason (:class:`ProtocolViolation`).

The records inside the messages (:class:`GraphNode`, :class:`GraphGroup`, :class:`BackwardStep`,
:class:`GradSummary`, :class:`MetricPoint`, :class:`ValueStats`, :class:`GradCheckInput`, and the
bodies of ``node_value`` and ``grad_check``) are also what the browser receives: the outbound
models of ``backend/protocol.py`` are built from them, and the front end's TypeScript types are
generated from those (``tools/gen_protocol_ts.py``).  They are defined here, once.

Non-finite floats travel as the JSON extensions ``NaN``, ``Infinity`` and ``-Infinity`` on the
pipe (Python's ``json`` writes them, pydantic reads them); serialised to JSON by these models they
become the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, which is how the socket carries them.

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
    # ser_json_inf_nan: NaN/±inf serialise as strings (plain JSON has no such numbers);
    # defaults required: every field is always present in what these models serialise.
    model_config = ConfigDict(extra="forbid", strict=True, ser_json_inf_nan="strings",
                              json_schema_serialization_defaults_required=True)


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


class NodeRule(_M):
    """What an op computed and how its gradient flows to each input, from the engine's node class
    (``Node.rule()``): shown while stepping through backward."""
    forward: Str
    lines: Annotated[list[Str], Field(max_length=32)]


class GraphNode(_M):
    """One node of the autograd graph a cell built (``engine.autograd.observe``'s record)."""
    id: int
    op: Annotated[Str, Field(description='PyTorch\'s grad_fn name ("MulBackward0"), or "leaf"')]
    kind: Annotated[Literal["leaf", "op", "output"],
                    Field(description='"output": an op nothing else consumes (usually the loss)')]
    module: Annotated[Str, Field(description='the module path that made it ("encoder.fc1"), "" at top level')]
    name: Annotated[Optional[Str], Field(description="a leaf's parameter or variable name (fc1.weight, w)")]
    inputs: Annotated[list[Optional[int]], Field(max_length=1024,
                                                 description="the node the gradient of input i flows to (null: none)")]
    in_shapes: Annotated[list[Optional[Shape]], Field(max_length=1024)]
    in_dtypes: Annotated[list[Optional[Str]], Field(max_length=1024)]
    out_shapes: Annotated[list[Shape], Field(max_length=1024)]
    out_dtypes: Annotated[list[Str], Field(max_length=1024)]
    line: Annotated[Optional[int], Field(description="the source line in the cell that made it")]
    cell: Annotated[Optional[int], Field(description="the execution count of that cell")]
    rule: Annotated[Optional[NodeRule], Field(description="the op's forward and local gradient rule "
                                                          "(a leaf: its accumulation)")] = None


#: ``[src, dst]`` node ids, in the forward direction (the gradient flows dst -> src)
Edge = Annotated[list[int], Field(min_length=2, max_length=2)]


class GraphGroup(_M):
    """The nodes under one module path, for collapsing."""
    module: Str
    nodes: Annotated[list[int], Field(max_length=MAX_NODES)]


class Graph(_M):
    type: Literal["graph"]
    req: Req
    nodes: Annotated[list[GraphNode], Field(max_length=MAX_NODES)]
    edges: Annotated[list[Edge], Field(max_length=8 * MAX_NODES)]
    groups: Annotated[list[GraphGroup], Field(max_length=MAX_NODES)]
    dropped: int
    dropped_steps: int


class GradSummary(_M):
    """A gradient in a backward step, summarised (``value``: one-element gradients)."""
    shape: Shape
    dtype: Str
    norm: Num = None
    mean: Num = None
    min: Num = None
    max: Num = None
    value: Num = None


class BackwardStep(_M):
    """One step of ``backward()`` in PyTorch's execution order; ``op`` is "AccumulateGrad" for a
    gradient added into leaf ``leaf``; a null summary: no gradient flowed there."""
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
    steps: Annotated[list[BackwardStep], Field(max_length=MAX_STEPS)]


class MetricPoint(_M):
    """A scalar logged with ``SummaryWriter.add_scalar(s)``; ``wall`` is the kernel's ``time.time()``."""
    tag: Annotated[str, StringConstraints(max_length=200)]
    step: int
    value: Num
    wall: float


class Metrics(_M):
    type: Literal["metrics"]
    points: Annotated[list[MetricPoint], Field(max_length=5000)]


class Histogram(_M):
    """``counts[i]`` elements lie in ``[edges[i], edges[i+1])``."""
    counts: Annotated[list[int], Field(max_length=64)]
    edges: Annotated[list[float], Field(max_length=65)]


class ValueStats(_M):
    """Statistics of a tensor; min ... norm and the histogram are over its finite elements."""
    numel: int
    nan: int = 0
    inf: int = 0
    min: Num = None
    max: Num = None
    mean: Num = None
    std: Num = None
    norm: Num = None
    histogram: Optional[Histogram] = None


class NodeValueBody(_M):
    """A node's value or grad: ``shape`` null = no such tensor; ``values`` flattened (row-major),
    every ``stride``-th element when ``downsampled``."""
    node_id: int
    which: Literal["value", "grad"]
    shape: Optional[Shape]
    dtype: Optional[Str]
    stats: Optional[ValueStats]
    values: Optional[Annotated[list[Union[float, int, bool, None]], Field(max_length=MAX_VALUES)]]
    downsampled: bool = False
    stride: int = 1


class NodeValue(NodeValueBody):
    type: Literal["node_value"]
    req: Req


Count = Annotated[int, Field(ge=0, le=1 << 40)]
NodeId = Annotated[int, Field(ge=0, le=10_000_000)]
Finite = Optional[Annotated[float, Field(allow_inf_nan=False)]]


class GradCheckInput(_M):
    """The check of one input the gradient flows to (docs/protocol.md, "Gradient check")."""
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


class GradCheckBody(_M):
    """A node's analytic gradient against finite differences (docs/protocol.md, "Gradient check")."""
    node_id: NodeId
    ok: bool
    reason: Optional[Annotated[str, StringConstraints(max_length=1000)]]
    eps: Finite
    op: Optional[Str] = None
    cotangent: Optional[Literal["recorded", "ones", "random"]] = None
    note: Optional[Annotated[str, StringConstraints(max_length=2000)]] = None
    inputs: Annotated[list[GradCheckInput], Field(max_length=1024)]


class GradCheck(GradCheckBody):
    """The answer to ``check_grad``."""
    type: Literal["grad_check"]
    req: Req


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

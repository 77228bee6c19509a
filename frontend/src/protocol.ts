// Pure decoding of the server's Socket.IO messages (docs/protocol.md; their wire types are
// generated/protocol.ts) into the types of types.ts, and reassembly of chunked graphs and backward
// traces. Nothing here touches the DOM or a socket, so every function is unit-testable. Every
// decoder is defensive: a malformed message decodes to null (the caller drops it); "NaN" /
// "Infinity" / "-Infinity" strings become numbers.

import type {
  BackwardStep,
  BackwardTrace,
  CellStatus,
  GradCheck,
  GradCheckInput,
  GradSummary,
  Graph,
  GraphEdge,
  GraphGroup,
  GraphNode,
  KernelStatus,
  MetricPoint,
  NodeValue,
  SessionEvents,
  ValueStats,
} from "./types";

type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A number from the wire: finite numbers as they are, the strings "NaN", "Infinity",
 * "-Infinity" as the numbers they name; anything else (null included) is null. */
export function num(v: unknown): number | null {
  if (typeof v === "number") return v;
  if (v === "NaN") return NaN;
  if (v === "Infinity" || v === "+Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  return null;
}

function int(v: unknown): number | null {
  const n = num(v);
  return n !== null && Number.isInteger(n) ? n : null;
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function strOr(v: unknown, fallback: string): string {
  return typeof v === "string" ? v : fallback;
}

function intList(v: unknown): number[] | null {
  if (!Array.isArray(v)) return null;
  const out: number[] = [];
  for (const x of v) {
    const n = int(x);
    if (n === null) return null;
    out.push(n);
  }
  return out;
}

function shapeList(v: unknown): number[][] {
  if (!Array.isArray(v)) return [];
  const out: number[][] = [];
  for (const s of v) out.push(intList(s) ?? []);
  return out;
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.map((x) => (typeof x === "string" ? x : String(x ?? ""))) : [];
}

/** An input's shapes or dtypes: null where the kernel does not know them. */
function maybeList<T>(v: unknown, item: (x: unknown) => T): (T | null)[] {
  return Array.isArray(v) ? v.map((x) => (x === null ? null : item(x))) : [];
}

// ---- records ----------------------------------------------------------------------------------

const NODE_KINDS = new Set(["leaf", "op", "output"]);

export function decodeNode(v: unknown): GraphNode | null {
  if (!isObj(v)) return null;
  const id = int(v.id);
  const op = str(v.op);
  if (id === null || op === null) return null;
  const kind = NODE_KINDS.has(v.kind as string) ? (v.kind as GraphNode["kind"]) : op === "leaf" ? "leaf" : "op";
  const inputs: (number | null)[] = Array.isArray(v.inputs) ? v.inputs.map((x) => int(x)) : [];
  return {
    id,
    kind,
    op,
    module: strOr(v.module, ""),
    name: str(v.name),
    inputs,
    in_shapes: maybeList(v.in_shapes, (s) => intList(s) ?? []),
    in_dtypes: maybeList(v.in_dtypes, (d) => (typeof d === "string" ? d : String(d))),
    out_shapes: shapeList(v.out_shapes),
    out_dtypes: strList(v.out_dtypes),
    line: int(v.line),
    cell: int(v.cell),
    rule: decodeRule(v.rule),
  };
}

function decodeRule(v: unknown): GraphNode["rule"] {
  if (!isObj(v)) return null;
  const forward = str(v.forward);
  if (forward === null || !Array.isArray(v.lines)) return null;
  return { forward, lines: v.lines.filter((l): l is string => typeof l === "string") };
}

export function decodeEdge(v: unknown): GraphEdge | null {
  if (!Array.isArray(v) || v.length !== 2) return null;
  const a = int(v[0]);
  const b = int(v[1]);
  return a === null || b === null ? null : [a, b];
}

export function decodeGroup(v: unknown): GraphGroup | null {
  if (!isObj(v)) return null;
  const nodes = intList(v.nodes);
  if (nodes === null) return null;
  return { module: strOr(v.module, ""), nodes };
}

export function decodeGradSummary(v: unknown): GradSummary | null {
  if (!isObj(v)) return null;
  const g: GradSummary = {
    shape: intList(v.shape) ?? [],
    dtype: strOr(v.dtype, ""),
    norm: num(v.norm),
    mean: num(v.mean),
    min: num(v.min),
    max: num(v.max),
  };
  if ("value" in v) g.value = num(v.value);
  return g;
}

export function decodeStep(v: unknown): BackwardStep | null {
  if (!isObj(v)) return null;
  const index = int(v.index);
  const node = int(v.node);
  const op = str(v.op);
  if (index === null || node === null || op === null) return null;
  const grads = (x: unknown) => (Array.isArray(x) ? x.map(decodeGradSummary) : []);
  const step: BackwardStep = { index, node, op, grads_in: grads(v.grads_in), grads_out: grads(v.grads_out) };
  if ("leaf" in v) step.leaf = int(v.leaf);
  return step;
}

/** Decode a list, dropping bad items; returns the items and how many were dropped. */
function decodeList<T>(v: unknown, fn: (x: unknown) => T | null): { items: T[]; bad: number } {
  if (!Array.isArray(v)) return { items: [], bad: 0 };
  const items: T[] = [];
  let bad = 0;
  for (const x of v) {
    const d = fn(x);
    if (d === null) bad++;
    else items.push(d);
  }
  return { items, bad };
}

// ---- simple events ----------------------------------------------------------------------------

const KERNEL_STATUSES = new Set<KernelStatus>(["starting", "idle", "busy", "restarting", "dead"]);
const CELL_STATUSES = new Set<CellStatus>(["idle", "queued", "running", "done", "error"]);

export function decodeKernelStatus(m: unknown): SessionEvents["kernel_status"] | null {
  if (!isObj(m) || !KERNEL_STATUSES.has(m.status as KernelStatus)) return null;
  return { status: m.status as KernelStatus, reason: str(m.reason) };
}

export function decodeDevice(m: unknown): SessionEvents["device"] | null {
  if (!isObj(m) || typeof m.device !== "string") return null;
  return { device: m.device };
}

export function decodeCellStatus(m: unknown): SessionEvents["cell_status"] | null {
  if (!isObj(m) || typeof m.cell_id !== "string" || !CELL_STATUSES.has(m.status as CellStatus)) return null;
  return {
    cellId: m.cell_id,
    status: m.status as CellStatus,
    durationMs: num(m.duration_ms),
    executionCount: int(m.execution_count),
  };
}

export function decodeStream(m: unknown): SessionEvents["stream"] | null {
  if (!isObj(m) || typeof m.cell_id !== "string" || typeof m.text !== "string") return null;
  return { cellId: m.cell_id, name: m.name === "stderr" ? "stderr" : "stdout", text: m.text };
}

export function decodeResult(m: unknown): SessionEvents["result"] | null {
  if (!isObj(m) || typeof m.cell_id !== "string" || !isObj(m.data)) return null;
  return { cellId: m.cell_id, data: m.data, executionCount: int(m.execution_count) };
}

export function decodeCellError(m: unknown): SessionEvents["cell_error"] | null {
  if (!isObj(m) || typeof m.cell_id !== "string") return null;
  return {
    cellId: m.cell_id,
    ename: strOr(m.ename, "Error"),
    evalue: strOr(m.evalue, ""),
    traceback: strList(m.traceback),
    line: int(m.line),
  };
}

export function decodeNotice(m: unknown): SessionEvents["notice"] | null {
  if (!isObj(m) || typeof m.text !== "string") return null;
  return { cellId: str(m.cell_id), text: m.text };
}

export function decodeError(m: unknown): SessionEvents["error"] | null {
  if (!isObj(m) || typeof m.reason !== "string") return null;
  return { reason: m.reason, event: str(m.event) };
}

export function decodeMetricPoint(v: unknown): MetricPoint | null {
  if (!isObj(v) || typeof v.tag !== "string") return null;
  const wall = num(v.wall);
  return { tag: v.tag, step: num(v.step), value: num(v.value), wall: wall ?? Date.now() / 1000 };
}

export function decodeMetrics(m: unknown): SessionEvents["metrics"] | null {
  if (!isObj(m) || !Array.isArray(m.points)) return null;
  const { items } = decodeList(m.points, decodeMetricPoint);
  return { points: items, coalesced: int(m.coalesced) ?? 0 };
}

function decodeStats(v: unknown): ValueStats | null {
  if (!isObj(v)) return null;
  let histogram: ValueStats["histogram"] = null;
  if (isObj(v.histogram) && Array.isArray(v.histogram.counts) && Array.isArray(v.histogram.edges)) {
    histogram = {
      counts: v.histogram.counts.map((x) => num(x) ?? 0),
      edges: v.histogram.edges.map((x) => num(x) ?? NaN),
    };
  }
  return {
    numel: int(v.numel) ?? 0,
    nan: int(v.nan) ?? 0,
    inf: int(v.inf) ?? 0,
    min: num(v.min),
    max: num(v.max),
    mean: num(v.mean),
    std: num(v.std),
    norm: num(v.norm),
    histogram,
  };
}

/** `node_value` → [request_id, NodeValue]. */
export function decodeNodeValue(m: unknown): { requestId: string; value: NodeValue } | null {
  if (!isObj(m) || typeof m.request_id !== "string") return null;
  const nodeId = int(m.node_id);
  if (nodeId === null) return null;
  const shape = m.shape === null || m.shape === undefined ? null : intList(m.shape);
  const value: NodeValue = {
    nodeId,
    which: m.which === "grad" ? "grad" : "value",
    shape,
    dtype: str(m.dtype),
    stats: decodeStats(m.stats),
    values: Array.isArray(m.values) ? m.values.map((x) => num(x)) : null,
    downsampled: m.downsampled === true,
    stride: int(m.stride) ?? 1,
  };
  if (m.truncated === true) value.truncated = true;
  return { requestId: m.request_id, value };
}

/** `grad_check` → [request_id, GradCheck]. */
export function decodeGradCheck(m: unknown): { requestId: string; value: GradCheck } | null {
  if (!isObj(m) || typeof m.request_id !== "string") return null;
  const nodeId = int(m.node_id);
  if (nodeId === null) return null;
  const inputs: GradCheckInput[] = [];
  if (Array.isArray(m.inputs)) {
    for (const x of m.inputs) {
      if (!isObj(x)) continue;
      const index = int(x.index);
      if (index === null) continue;
      inputs.push({
        index,
        node: int(x.node),
        checked: int(x.checked) ?? 0,
        maxAbsDiff: num(x.max_abs_diff),
        maxRelDiff: num(x.max_rel_diff),
        analyticNorm: num(x.analytic_norm),
        numericNorm: num(x.numeric_norm),
      });
    }
  }
  return {
    requestId: m.request_id,
    value: { nodeId, ok: m.ok === true, reason: str(m.reason), eps: num(m.eps) ?? NaN, inputs, op: str(m.op), note: str(m.note) },
  };
}

// ---- chunk reassembly -------------------------------------------------------------------------

interface Pending<C> {
  cellId: string;
  count: number;
  chunks: Map<number, C>;
  born: number; // arrival order, for pruning
}

/** Buffers chunks by `seq` until their summary comes. Keeps at most `limit` unfinished
 * sequences (the oldest are dropped: their summary was lost, e.g. across a reconnect). */
class ChunkBuffer<C> {
  private pending = new Map<number, Pending<C>>();
  private clock = 0;
  constructor(private limit = 16) {}

  /** Buffer a chunk message (`cell_id`, `seq`, `index` of `count`) with what `decode` reads from
   * it; false when the message is malformed (and dropped). */
  offer(m: unknown, decode: (m: Obj) => C | null): boolean {
    if (!isObj(m) || typeof m.cell_id !== "string") return false;
    const seq = int(m.seq);
    const index = int(m.index);
    const count = int(m.count);
    if (seq === null || index === null || count === null || count < 1 || index < 0 || index >= count) return false;
    const chunk = decode(m);
    if (chunk === null) return false;
    this.add(seq, m.cell_id, index, count, chunk);
    return true;
  }

  /** For a summary message (`cell_id`, `seq` and the chunk `count`): its chunks in index order
   * and how many never came; null when the message is malformed. */
  finish(m: unknown): { msg: Obj; cellId: string; seq: number; chunks: C[]; missing: number } | null {
    if (!isObj(m) || typeof m.cell_id !== "string") return null;
    const seq = int(m.seq);
    const count = int(m.count);
    if (seq === null || count === null || count < 0 || count > 100000) return null;
    return { msg: m, cellId: m.cell_id, seq, ...this.take(seq, count) };
  }

  private add(seq: number, cellId: string, index: number, count: number, chunk: C): void {
    let p = this.pending.get(seq);
    if (!p) {
      p = { cellId, count, chunks: new Map(), born: this.clock++ };
      this.pending.set(seq, p);
      this.prune();
    }
    if (index < 0 || index >= Math.max(count, p.count)) return;
    if (!p.chunks.has(index)) p.chunks.set(index, chunk);
  }

  /** The chunks of `seq` in index order, and how many of 0..count-1 are missing. */
  private take(seq: number, count: number): { chunks: C[]; missing: number } {
    const p = this.pending.get(seq);
    this.pending.delete(seq);
    if (!p) return { chunks: [], missing: count };
    const chunks: C[] = [];
    let missing = 0;
    for (let i = 0; i < count; i++) {
      const c = p.chunks.get(i);
      if (c === undefined) missing++;
      else chunks.push(c);
    }
    return { chunks, missing };
  }

  get size(): number {
    return this.pending.size;
  }

  clear(): void {
    this.pending.clear();
  }

  private prune(): void {
    while (this.pending.size > this.limit) {
      let oldest: number | null = null;
      let born = Infinity;
      for (const [seq, p] of this.pending) {
        if (p.born < born) {
          born = p.born;
          oldest = seq;
        }
      }
      if (oldest === null) break;
      this.pending.delete(oldest);
    }
  }
}

/** A summary's `omitted` plus, when chunks were lost or bad, what fell short of its counts. */
function omittedCount(m: Obj, missing: number, bad: number, shortfall: number): number {
  return (int(m.omitted) ?? 0) + (missing > 0 || bad > 0 ? Math.max(shortfall, bad) : 0);
}

/** What both assemblers share: a chunk buffer, its size and reset. */
abstract class Assembler<C> {
  protected buf = new ChunkBuffer<C>();

  /** Sequences with chunks whose summary has not come yet. */
  get pending(): number {
    return this.buf.size;
  }

  reset(): void {
    this.buf.clear();
  }
}

interface GraphChunk {
  nodes: GraphNode[];
  edges: GraphEdge[];
  groups: GraphGroup[];
  bad: number;
}

/** The outcome of a finished graph or trace: the record, and whether parts were missing. */
export interface Assembled<T> {
  value: T;
  missingChunks: number;
}

/** Reassembles `graph_chunk` × count + `graph` into a Graph. Missing chunks do not block the
 * graph: it is delivered with what came, edges to absent nodes removed and the shortfall counted
 * in `omitted`; `missingChunks` says how many chunks never arrived. */
export class GraphAssembler extends Assembler<GraphChunk> {
  /** Feed a `graph_chunk` message; false if it was malformed (and dropped). */
  chunk(m: unknown): boolean {
    return this.buf.offer(m, (c) => {
      if (!Array.isArray(c.nodes) && !Array.isArray(c.edges) && !Array.isArray(c.groups)) return null;
      const nodes = decodeList(c.nodes, decodeNode);
      const edges = decodeList(c.edges, decodeEdge);
      const groups = decodeList(c.groups, decodeGroup);
      return { nodes: nodes.items, edges: edges.items, groups: groups.items, bad: nodes.bad + edges.bad + groups.bad };
    });
  }

  /** Feed a `graph` summary; the finished graph, or null if the summary is malformed. */
  finish(summary: unknown): Assembled<Graph> | null {
    const done = this.buf.finish(summary);
    if (done === null) return null;
    const { msg: m, chunks, missing } = done;
    const nodes: GraphNode[] = [];
    const edges: GraphEdge[] = [];
    const groups: GraphGroup[] = [];
    const seen = new Set<number>();
    let bad = 0;
    for (const c of chunks) {
      for (const n of c.nodes) {
        if (seen.has(n.id)) {
          bad++;
          continue;
        }
        seen.add(n.id);
        nodes.push(n);
      }
      edges.push(...c.edges);
      groups.push(...c.groups);
      bad += c.bad;
    }
    let cleanEdges = edges;
    let cleanGroups = groups;
    if (missing > 0 || bad > 0) {
      cleanEdges = edges.filter(([a, b]) => seen.has(a) && seen.has(b));
      cleanGroups = groups.map((g) => ({ module: g.module, nodes: g.nodes.filter((id) => seen.has(id)) }));
    }
    const expectedNodes = int(m.node_count);
    const expectedEdges = int(m.edge_count);
    const shortfall =
      Math.max(0, (expectedNodes ?? nodes.length) - nodes.length) +
      Math.max(0, (expectedEdges ?? cleanEdges.length) - cleanEdges.length);
    const graph: Graph = {
      cellId: done.cellId,
      seq: done.seq,
      nodes,
      edges: cleanEdges,
      groups: cleanGroups,
      dropped: int(m.dropped) ?? 0,
      droppedSteps: int(m.dropped_steps) ?? 0,
      omitted: omittedCount(m, missing, bad, shortfall),
    };
    return { value: graph, missingChunks: missing };
  }
}

interface TraceChunk {
  steps: BackwardStep[];
  bad: number;
}

/** Reassembles `backward_trace_chunk` × count + `backward_trace` into a BackwardTrace; steps are
 * sorted by their `index` and missing ones counted in `omitted`. */
export class TraceAssembler extends Assembler<TraceChunk> {
  chunk(m: unknown): boolean {
    return this.buf.offer(m, (c) => {
      if (!Array.isArray(c.steps)) return null;
      const steps = decodeList(c.steps, decodeStep);
      return { steps: steps.items, bad: steps.bad };
    });
  }

  finish(summary: unknown): Assembled<BackwardTrace> | null {
    const done = this.buf.finish(summary);
    if (done === null) return null;
    const { msg: m, chunks, missing } = done;
    const steps: BackwardStep[] = [];
    let bad = 0;
    for (const c of chunks) {
      steps.push(...c.steps);
      bad += c.bad;
    }
    steps.sort((a, b) => a.index - b.index);
    const expected = int(m.step_count);
    const shortfall = Math.max(0, (expected ?? steps.length) - steps.length);
    const trace: BackwardTrace = {
      cellId: done.cellId,
      seq: done.seq,
      passIndex: int(m.pass_index) ?? 0,
      steps,
      omitted: omittedCount(m, missing, bad, shortfall),
    };
    return { value: trace, missingChunks: missing };
  }
}

/** The notebook a server message is about (null when it names none). */
export function notebookOf(m: unknown): string | null {
  return isObj(m) && typeof m.notebook_id === "string" ? m.notebook_id : null;
}

/** An ack `{ok, reason}`: null when ok, else the reason. A missing/odd ack counts as ok. */
export function ackFailure(ack: unknown): string | null {
  if (!isObj(ack) || ack.ok !== false) return null;
  return typeof ack.reason === "string" ? ack.reason : "refused";
}

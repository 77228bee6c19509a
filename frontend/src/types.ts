// Shared types of the front end: the wire records of docs/protocol.md after decoding, and the
// NotebookSession interface through which every panel (cells, graph, stepper, inspector,
// metrics) talks to the server. Implementations live in session.ts; panels depend only on this.

export type KernelStatus = "starting" | "idle" | "busy" | "restarting" | "dead";
export type CellStatus = "idle" | "queued" | "running" | "done" | "error";

/** A gradient (or value) summary as the kernel sends it; numbers may be null for NaN/inf. */
export interface GradSummary {
  shape: number[];
  dtype: string;
  norm: number | null;
  mean: number | null;
  min: number | null;
  max: number | null;
  value?: number | null; // one-element tensors only
}

export interface GraphNode {
  id: number;
  kind: "leaf" | "op" | "output";
  op: string; // PyTorch grad_fn name (MulBackward0) or "leaf"
  module: string; // module path, "" at top level
  name: string | null; // a leaf's parameter / variable name (fc1.weight, w)
  inputs: (number | null)[];
  in_shapes: number[][];
  in_dtypes: string[];
  out_shapes: number[][];
  out_dtypes: string[];
  line: number | null; // source line in the cell
  cell: number | null; // execution count of the cell that created it
}

export type GraphEdge = [number, number]; // [src, dst] forward direction

export interface GraphGroup {
  module: string;
  nodes: number[];
}

/** A whole graph, reassembled from its chunks. */
export interface Graph {
  cellId: string;
  seq: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
  groups: GraphGroup[];
  dropped: number;
  droppedSteps: number;
  omitted: number;
}

export interface BackwardStep {
  index: number;
  node: number;
  op: string; // "AccumulateGrad" for a leaf accumulation
  grads_in: (GradSummary | null)[];
  grads_out: (GradSummary | null)[];
  leaf?: number | null;
}

/** One backward() pass of a cell, reassembled. */
export interface BackwardTrace {
  cellId: string;
  seq: number;
  passIndex: number;
  steps: BackwardStep[];
  omitted: number;
}

export interface MetricPoint {
  tag: string;
  step: number | null;
  value: number | null;
  wall: number;
}

export interface ValueStats {
  numel: number;
  nan: number;
  inf: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  norm: number | null;
  histogram: { counts: number[]; edges: number[] } | null;
}

export interface NodeValue {
  nodeId: number;
  which: "value" | "grad";
  shape: number[] | null; // null: no such tensor
  dtype: string | null;
  stats: ValueStats | null;
  values: (number | null)[] | null;
  downsampled: boolean;
  stride: number;
  truncated?: boolean;
}

/** Result of the inspector's "check gradient": analytic vs finite differences, per input. */
export interface GradCheckInput {
  index: number;
  node: number | null;
  checked: number; // elements compared
  maxAbsDiff: number | null;
  maxRelDiff: number | null;
  analyticNorm: number | null;
  numericNorm: number | null;
}

export interface GradCheck {
  nodeId: number;
  ok: boolean; // every compared element within tolerance
  reason: string | null; // why it could not be checked (null when it was)
  eps: number;
  inputs: GradCheckInput[];
  op: string | null; // the grad_fn the kernel checked (differs from the clicked node's if a newer graph replaced it)
  note: string | null; // what to know about a check that ran (sampled elements, inputs changed in place…)
}

export interface CellOutput {
  output_type: "stream" | "execute_result" | "display_data" | "error";
  name?: "stdout" | "stderr";
  text?: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  line?: number | null;
}

/** Events a session delivers, already decoded and (for graphs/traces) reassembled. */
export interface SessionEvents {
  kernel_status: { status: KernelStatus; reason: string | null };
  device: { device: string };
  cell_status: { cellId: string; status: CellStatus; durationMs: number | null; executionCount: number | null };
  stream: { cellId: string; name: "stdout" | "stderr"; text: string };
  result: { cellId: string; data: Record<string, unknown>; executionCount: number | null };
  cell_error: { cellId: string; ename: string; evalue: string; traceback: string[]; line: number | null };
  notice: { cellId: string | null; text: string };
  graph: Graph;
  backward_trace: BackwardTrace;
  metrics: { points: MetricPoint[]; coalesced: number };
  error: { reason: string; event: string | null };
  connection: { connected: boolean };
}

export type Unsubscribe = () => void;

/** One joined notebook over the socket (see session.ts). */
export interface NotebookSession {
  readonly notebookId: string;
  on<K extends keyof SessionEvents>(event: K, fn: (payload: SessionEvents[K]) => void): Unsubscribe;
  execute(cellId: string, code: string): Promise<void>;
  interrupt(): Promise<void>;
  restart(): Promise<void>;
  getValue(nodeId: number, which: "value" | "grad"): Promise<NodeValue>;
  checkGrad(nodeId: number): Promise<GradCheck>;
  close(): void;
}

/** What the notebook page offers the graph panel: hovering a node highlights its source line. */
export interface EditorLink {
  highlightLine(executionCount: number | null, line: number | null): void;
}

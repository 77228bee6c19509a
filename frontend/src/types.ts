// Shared types of the front end: the wire records of docs/protocol.md after decoding (derived from
// the generated wire types, generated/protocol.ts), and the NotebookSession interface through which
// every panel (cells, graph, stepper, inspector, metrics) talks to the server. Implementations live
// in session.ts; panels depend only on this.

import type * as Wire from "./generated/protocol";

/**
 * A wire type (generated/protocol.ts, written from the server's models) as protocol.ts decodes
 * it: every `WireNumber` read back into a number ("NaN", "Infinity", "-Infinity" become NaN and
 * ±Infinity).
 */
export type Decoded<T> = T extends Wire.NonFinite ? number : T extends object ? { [K in keyof T]: Decoded<T[K]> } : T;

/** `T` with its fields `K` optional. */
type Loosen<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

export type KernelStatus = Wire.KernelStatusOut["status"];
export type CellStatus = Wire.CellStatusOut["status"];

/** A gradient summary in a backward step (`value`: for one-element gradients). */
export type GradSummary = Loosen<Decoded<Wire.GradSummary>, "value">;

export type GraphNode = Wire.GraphNode;

export type GraphEdge = Wire.GraphChunkOut["edges"][number]; // [src, dst] forward direction

export type GraphGroup = Wire.GraphGroup;

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

/** A backward step; the front end keeps only the steps of a graph node (`node` not null). */
export type BackwardStep = Omit<Decoded<Wire.BackwardStep>, "node" | "leaf" | "grads_in" | "grads_out"> & {
  node: number;
  leaf?: number | null;
  grads_in: (GradSummary | null)[];
  grads_out: (GradSummary | null)[];
};

/** One backward() pass of a cell, reassembled. */
export interface BackwardTrace {
  cellId: string;
  seq: number;
  passIndex: number;
  steps: BackwardStep[];
  omitted: number;
}

/** A metrics point; the metrics panel also takes points without a step (it indexes them). */
export type MetricPoint = Omit<Decoded<Wire.MetricPoint>, "step"> & { step: number | null };

export type ValueStats = Decoded<Wire.ValueStats>;

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

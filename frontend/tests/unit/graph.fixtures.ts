// Test fixtures for the graph panel tests: the protocol's worked example and the seeds'
// multi-path example (recorded from the engine), plus generators for large graphs.
import type { BackwardStep, BackwardTrace, Graph, GraphNode, GradSummary } from "../../src/types";

export function N(id: number, op: string, inputs: (number | null)[], name: string | null = null, module = "", shape: number[] = []): GraphNode {
  const leaf = op === "leaf";
  return {
    id,
    kind: leaf ? "leaf" : "op",
    op,
    module,
    name,
    inputs,
    in_shapes: inputs.map(() => shape),
    in_dtypes: inputs.map(() => "float32"),
    out_shapes: [shape],
    out_dtypes: ["float32"],
    line: leaf ? null : 1,
    cell: leaf ? null : 1,
    rule: null,
  };
}

export function G(v: number | null): GradSummary | null {
  return v === null ? null : { shape: [], dtype: "float32", norm: Math.abs(v), mean: v, min: v, max: v, value: v };
}

export function S(index: number, node: number, op: string, gin: (number | null)[], gout: (number | null)[], leaf: number | null = null): BackwardStep {
  return { index, node, op, grads_in: gin.map(G), grads_out: gout.map(G), leaf };
}

/** Marks op nodes nothing consumes as "output" and derives edges. */
export function graphOf(nodes: GraphNode[], cellId = "c1", seq = 7): Graph {
  const used = new Set<number>();
  for (const n of nodes) for (const i of n.inputs) if (i !== null) used.add(i);
  for (const n of nodes) if (n.kind === "op" && !used.has(n.id)) n.kind = "output";
  const edges: [number, number][] = [];
  for (const n of nodes) for (const i of n.inputs) if (i !== null) edges.push([i, n.id]);
  const groups = new Map<string, number[]>();
  for (const n of nodes) {
    const l = groups.get(n.module) ?? [];
    l.push(n.id);
    groups.set(n.module, l);
  }
  return {
    cellId,
    seq,
    nodes,
    edges,
    groups: [...groups].map(([module, ids]) => ({ module, nodes: ids })),
    dropped: 0,
    droppedSteps: 0,
    omitted: 0,
  };
}

export function traceOf(steps: BackwardStep[], passIndex = 0, cellId = "c1", seq = 8): BackwardTrace {
  return { cellId, seq, passIndex, steps, omitted: 0 };
}

/** y = w*x + b; z = y**2 at x=3, w=2, b=1 (docs/protocol.md). */
export function workedExample(): { graph: Graph; trace: BackwardTrace } {
  const graph = graphOf([
    N(0, "leaf", [], "w"),
    N(1, "leaf", [], "x"),
    N(2, "MulBackward0", [0, 1]),
    N(3, "leaf", [], "b"),
    N(4, "AddBackward0", [2, 3]),
    N(5, "PowBackward0", [4]),
  ]);
  const trace = traceOf([
    S(0, 5, "PowBackward0", [1], [14]),
    S(1, 4, "AddBackward0", [14], [14, 14]),
    S(2, 3, "AccumulateGrad", [14], [], 3),
    S(3, 2, "MulBackward0", [14], [42, 28]),
    S(4, 0, "AccumulateGrad", [42], [], 0),
    S(5, 1, "AccumulateGrad", [28], [], 1),
  ]);
  return { graph, trace };
}

/** The seeds' multi-path example: x = 2*a + 3*b; y = 5*a*a + 3*b*b*b; z = 2*x + 3*y (a=2, b=1). */
export function multiPath(): { graph: Graph; trace: BackwardTrace } {
  const graph = graphOf([
    N(0, "leaf", [], "a"),
    N(1, "MulBackward0", [0]),
    N(2, "leaf", [], "b"),
    N(3, "MulBackward0", [2]),
    N(4, "AddBackward0", [1, 3]),
    N(5, "MulBackward0", [0]),
    N(6, "MulBackward0", [5, 0]),
    N(7, "MulBackward0", [2]),
    N(8, "MulBackward0", [7, 2]),
    N(9, "MulBackward0", [8, 2]),
    N(10, "AddBackward0", [6, 9]),
    N(11, "MulBackward0", [4]),
    N(12, "MulBackward0", [10]),
    N(13, "AddBackward0", [11, 12]),
  ]);
  const trace = traceOf([
    S(0, 13, "AddBackward0", [1.0], [1.0, 1.0]),
    S(1, 12, "MulBackward0", [1.0], [3.0]),
    S(2, 11, "MulBackward0", [1.0], [2.0]),
    S(3, 10, "AddBackward0", [3.0], [3.0, 3.0]),
    S(4, 9, "MulBackward0", [3.0], [3.0, 9.0]),
    S(5, 8, "MulBackward0", [3.0], [3.0, 9.0]),
    S(6, 7, "MulBackward0", [3.0], [9.0]),
    S(7, 6, "MulBackward0", [3.0], [6.0, 30.0]),
    S(8, 5, "MulBackward0", [6.0], [30.0]),
    S(9, 4, "AddBackward0", [2.0], [2.0, 2.0]),
    S(10, 3, "MulBackward0", [2.0], [6.0]),
    S(11, 2, "AccumulateGrad", [33.0], [], 2),
    S(12, 1, "MulBackward0", [2.0], [4.0]),
    S(13, 0, "AccumulateGrad", [64.0], [], 0),
  ]);
  return { graph, trace };
}

/**
 * An MLP-like graph of about `n` nodes: `layers` blocks, each a module `net.blockK` holding
 * `fc` (weight, bias, TBackward0, AddmmBackward0) and an activation, chained; then a loss.
 */
export function bigGraph(n: number, modules = true): Graph {
  const nodes: GraphNode[] = [];
  let id = 0;
  let prev: number | null = null;
  let k = 0;
  while (id < n - 2) {
    const mod = modules ? `net.block${Math.floor(k / 4)}.fc${k % 4}` : "";
    const w = id++;
    nodes.push(N(w, "leaf", [], `${mod ? mod + "." : ""}weight${k}`, mod, [16, 16]));
    const t = id++;
    nodes.push(N(t, "TBackward0", [w], null, mod, [16, 16]));
    const b = id++;
    nodes.push(N(b, "leaf", [], `${mod ? mod + "." : ""}bias${k}`, mod, [16]));
    const a = id++;
    nodes.push(N(a, "AddmmBackward0", [b, prev, t], null, mod, [8, 16]));
    const r = id++;
    nodes.push(N(r, "ReluBackward0", [a], null, mod, [8, 16]));
    prev = r;
    k++;
  }
  nodes.push(N(id, "SumBackward0", [prev], null, "", []));
  return graphOf(nodes);
}

/** A backward trace visiting every op node of `graph` in reverse creation order, leaves accumulating. */
export function fullTrace(graph: Graph): BackwardTrace {
  const steps: BackwardStep[] = [];
  const one: GradSummary = { shape: [8, 16], dtype: "float32", norm: 1, mean: 0, min: -1, max: 1 };
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (n.kind === "leaf") steps.push({ index: steps.length, node: n.id, op: "AccumulateGrad", grads_in: [one], grads_out: [], leaf: n.id });
    else steps.push({ index: steps.length, node: n.id, op: n.op, grads_in: [one], grads_out: n.inputs.map((x) => (x === null ? null : one)) });
  }
  return traceOf(steps);
}

import { describe, expect, it } from "vitest";
import {
  GraphAssembler,
  TraceAssembler,
  ackFailure,
  decodeCellError,
  decodeCellStatus,
  decodeGradCheck,
  decodeGradSummary,
  decodeKernelStatus,
  decodeMetrics,
  decodeNode,
  decodeNodeValue,
  decodeStream,
  notebookOf,
  num,
} from "../../src/protocol";
import { applyCarriageReturns } from "../../src/notebook/outputs";

const NB = "Kq3xYb1mZ0A";

function node(id: number, op = "leaf", extra: Record<string, unknown> = {}) {
  return {
    id,
    kind: op === "leaf" ? "leaf" : "op",
    op,
    module: "",
    name: op === "leaf" ? `v${id}` : null,
    inputs: [],
    in_shapes: [],
    in_dtypes: [],
    out_shapes: [[]],
    out_dtypes: ["float32"],
    line: 1,
    cell: 1,
    ...extra,
  };
}

function graphChunk(seq: number, index: number, count: number, nodes: unknown[], edges: unknown[] = [], groups: unknown[] = []) {
  return { notebook_id: NB, cell_id: "c1", seq, index, count, nodes, edges, groups };
}

function graphSummary(seq: number, count: number, nodeCount: number, edgeCount: number, extra: Record<string, unknown> = {}) {
  return {
    notebook_id: NB,
    cell_id: "c1",
    seq,
    count,
    node_count: nodeCount,
    edge_count: edgeCount,
    group_count: 1,
    dropped: 0,
    dropped_steps: 0,
    omitted: 0,
    ...extra,
  };
}

describe("num", () => {
  it("reads numbers and the non-finite strings", () => {
    expect(num(1.5)).toBe(1.5);
    expect(num(0)).toBe(0);
    expect(Number.isNaN(num("NaN"))).toBe(true);
    expect(num("Infinity")).toBe(Infinity);
    expect(num("-Infinity")).toBe(-Infinity);
  });
  it("turns everything else into null", () => {
    expect(num(null)).toBeNull();
    expect(num(undefined)).toBeNull();
    expect(num("1")).toBeNull();
    expect(num("nan")).toBeNull();
    expect(num({})).toBeNull();
    expect(num(true)).toBeNull();
  });
});

describe("simple events", () => {
  it("decodes cell_status with camelCase fields", () => {
    expect(decodeCellStatus({ notebook_id: NB, cell_id: "c1", status: "done", duration_ms: 12.4, execution_count: 3 })).toEqual({
      cellId: "c1",
      status: "done",
      durationMs: 12.4,
      executionCount: 3,
    });
    expect(decodeCellStatus({ cell_id: "c1", status: "running" })).toEqual({ cellId: "c1", status: "running", durationMs: null, executionCount: null });
  });
  it("drops malformed simple events", () => {
    expect(decodeCellStatus({ cell_id: "c1", status: "finished" })).toBeNull();
    expect(decodeCellStatus({ cell_id: 5, status: "done" })).toBeNull();
    expect(decodeCellStatus(null)).toBeNull();
    expect(decodeCellStatus("done")).toBeNull();
    expect(decodeCellStatus([])).toBeNull();
    expect(decodeKernelStatus({ status: "sleepy" })).toBeNull();
    expect(decodeStream({ cell_id: "c1", name: "stdout" })).toBeNull();
  });
  it("keeps stderr apart and defaults other stream names to stdout", () => {
    expect(decodeStream({ cell_id: "c", name: "stderr", text: "x" })?.name).toBe("stderr");
    expect(decodeStream({ cell_id: "c", name: "weird", text: "x" })?.name).toBe("stdout");
  });
  it("decodes cell_error with an optional line", () => {
    expect(decodeCellError({ cell_id: "c1", ename: "ZeroDivisionError", evalue: "division by zero", traceback: ["a", "b"], line: 4 })).toEqual({
      cellId: "c1",
      ename: "ZeroDivisionError",
      evalue: "division by zero",
      traceback: ["a", "b"],
      line: 4,
    });
    expect(decodeCellError({ cell_id: "c1", ename: "E", evalue: "v", traceback: "not a list" })?.line).toBeNull();
  });
  it("decodes metrics, NaN strings and null values, dropping bad points", () => {
    const m = decodeMetrics({
      notebook_id: NB,
      points: [
        { tag: "loss", step: 0, value: 1.5, wall: 100 },
        { tag: "loss", step: 1, value: "NaN", wall: 101 },
        { tag: "loss", step: null, value: null, wall: 102 },
        { step: 3, value: 1 },
        "garbage",
      ],
      coalesced: 0,
    });
    expect(m).not.toBeNull();
    expect(m!.points).toHaveLength(3);
    expect(Number.isNaN(m!.points[1].value)).toBe(true);
    expect(m!.points[2]).toEqual({ tag: "loss", step: null, value: null, wall: 102 });
    expect(decodeMetrics({ points: "nope" })).toBeNull();
  });
  it("reads notebook ids and acks", () => {
    expect(notebookOf({ notebook_id: NB })).toBe(NB);
    expect(notebookOf({})).toBeNull();
    expect(ackFailure({ ok: true })).toBeNull();
    expect(ackFailure(undefined)).toBeNull();
    expect(ackFailure({ ok: false, reason: "not joined to this notebook" })).toBe("not joined to this notebook");
    expect(ackFailure({ ok: false })).toBe("refused");
  });
});

describe("records", () => {
  it("decodes a node and fills defaults", () => {
    const n = decodeNode({ id: 2, kind: "op", op: "MulBackward0", inputs: [0, 1] });
    expect(n).toEqual({
      id: 2,
      kind: "op",
      op: "MulBackward0",
      module: "",
      name: null,
      inputs: [0, 1],
      in_shapes: [],
      in_dtypes: [],
      out_shapes: [],
      out_dtypes: [],
      line: null,
      cell: null,
      rule: null,
    });
    const rule = { forward: "result = self * other", lines: ["grad_self = grad * other", "grad_other = grad * self"] };
    expect(decodeNode({ id: 2, op: "MulBackward0", rule })?.rule).toEqual(rule);
    expect(decodeNode({ id: 2, op: "MulBackward0", rule: { lines: [] } })?.rule).toBeNull();
    expect(decodeNode({ id: "2", op: "MulBackward0" })).toBeNull();
    expect(decodeNode({ id: 1.5, op: "x" })).toBeNull();
    expect(decodeNode({ id: 1 })).toBeNull();
  });
  it("decodes gradient summaries with non-finite numbers", () => {
    const g = decodeGradSummary({ shape: [2, 3], dtype: "float32", norm: "Infinity", mean: null, min: "-Infinity", max: "NaN", value: 3 });
    expect(g!.shape).toEqual([2, 3]);
    expect(g!.norm).toBe(Infinity);
    expect(g!.mean).toBeNull();
    expect(g!.min).toBe(-Infinity);
    expect(Number.isNaN(g!.max)).toBe(true);
    expect(g!.value).toBe(3);
    expect(decodeGradSummary(null)).toBeNull();
  });
  it("decodes node_value answers", () => {
    const d = decodeNodeValue({
      notebook_id: NB,
      request_id: "r1",
      node_id: 0,
      which: "grad",
      shape: [],
      dtype: "float32",
      stats: { numel: 1, nan: 0, inf: 0, min: 42, max: 42, mean: 42, std: 0, norm: 42, histogram: { counts: [1], edges: [41.5, 42.5] } },
      values: [42, "NaN", null],
      downsampled: false,
      stride: 1,
    });
    expect(d!.requestId).toBe("r1");
    expect(d!.value.which).toBe("grad");
    expect(d!.value.shape).toEqual([]);
    expect(d!.value.stats!.mean).toBe(42);
    expect(d!.value.values![0]).toBe(42);
    expect(Number.isNaN(d!.value.values![1])).toBe(true);
    expect(d!.value.values![2]).toBeNull();
    // no such tensor
    const none = decodeNodeValue({ request_id: "r2", node_id: 9, which: "value", shape: null, dtype: null, stats: null, values: null });
    expect(none!.value.shape).toBeNull();
    expect(decodeNodeValue({ node_id: 1 })).toBeNull();
  });
  it("maps grad_check to camelCase", () => {
    const d = decodeGradCheck({
      notebook_id: NB,
      request_id: "r7",
      node_id: 4,
      ok: true,
      reason: null,
      eps: 1e-6,
      op: "MulBackward0",
      note: "compared at the inputs' current values",
      inputs: [{ index: 0, node: 2, checked: 1, max_abs_diff: 1e-9, max_rel_diff: "NaN", analytic_norm: 14, numeric_norm: 14 }, { bad: true }],
    });
    expect(d!.value.op).toBe("MulBackward0");
    expect(d!.value.note).toBe("compared at the inputs' current values");
    expect(d!.requestId).toBe("r7");
    expect(d!.value.nodeId).toBe(4);
    expect(d!.value.ok).toBe(true);
    expect(d!.value.eps).toBe(1e-6);
    expect(d!.value.inputs).toHaveLength(1);
    expect(d!.value.inputs[0].maxAbsDiff).toBe(1e-9);
    expect(Number.isNaN(d!.value.inputs[0].maxRelDiff)).toBe(true);
    expect(d!.value.inputs[0].analyticNorm).toBe(14);
    expect(decodeGradCheck({ request_id: "r", node_id: "x" })).toBeNull();
    expect(decodeGradCheck({ request_id: "r", node_id: 1, ok: false, reason: "no graph" })!.value.note).toBeNull();
  });
});

describe("GraphAssembler", () => {
  it("assembles a single-chunk graph", () => {
    const a = new GraphAssembler();
    expect(a.chunk(graphChunk(7, 0, 1, [node(0), node(1), node(2, "MulBackward0")], [[0, 2], [1, 2]], [{ module: "", nodes: [0, 1, 2] }]))).toBe(true);
    const g = a.finish(graphSummary(7, 1, 3, 2));
    expect(g).not.toBeNull();
    expect(g!.missingChunks).toBe(0);
    expect(g!.value.cellId).toBe("c1");
    expect(g!.value.seq).toBe(7);
    expect(g!.value.nodes.map((n) => n.id)).toEqual([0, 1, 2]);
    expect(g!.value.edges).toEqual([[0, 2], [1, 2]]);
    expect(g!.value.groups).toEqual([{ module: "", nodes: [0, 1, 2] }]);
    expect(g!.value.omitted).toBe(0);
    expect(a.pending).toBe(0);
  });

  it("orders out-of-order chunks by index", () => {
    const a = new GraphAssembler();
    a.chunk(graphChunk(3, 2, 3, [node(4), node(5)], [[4, 5]]));
    a.chunk(graphChunk(3, 0, 3, [node(0), node(1)], [[0, 1]]));
    a.chunk(graphChunk(3, 1, 3, [node(2), node(3)], [[1, 2], [2, 3]]));
    const g = a.finish(graphSummary(3, 3, 6, 4))!;
    expect(g.value.nodes.map((n) => n.id)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(g.value.edges).toEqual([[0, 1], [1, 2], [2, 3], [4, 5]]);
    expect(g.missingChunks).toBe(0);
  });

  it("keeps graphs of different seqs apart when interleaved", () => {
    const a = new GraphAssembler();
    a.chunk(graphChunk(1, 0, 2, [node(0)]));
    a.chunk(graphChunk(2, 0, 1, [node(10)]));
    a.chunk(graphChunk(1, 1, 2, [node(1)], [[0, 1]]));
    const g2 = a.finish(graphSummary(2, 1, 1, 0))!;
    const g1 = a.finish(graphSummary(1, 2, 2, 1))!;
    expect(g2.value.nodes.map((n) => n.id)).toEqual([10]);
    expect(g1.value.nodes.map((n) => n.id)).toEqual([0, 1]);
    expect(g1.value.edges).toEqual([[0, 1]]);
  });

  it("ignores a duplicated chunk", () => {
    const a = new GraphAssembler();
    a.chunk(graphChunk(4, 0, 1, [node(0)]));
    a.chunk(graphChunk(4, 0, 1, [node(99)]));
    const g = a.finish(graphSummary(4, 1, 1, 0))!;
    expect(g.value.nodes.map((n) => n.id)).toEqual([0]);
  });

  it("delivers what came when chunks are missing, without dangling edges", () => {
    const a = new GraphAssembler();
    a.chunk(graphChunk(5, 0, 3, [node(0), node(1)], [[0, 1], [1, 2]]));
    // chunk 1 (nodes 2, 3) never arrives
    a.chunk(graphChunk(5, 2, 3, [node(4)], [[3, 4]]));
    const g = a.finish(graphSummary(5, 3, 5, 4))!;
    expect(g.missingChunks).toBe(1);
    expect(g.value.nodes.map((n) => n.id)).toEqual([0, 1, 4]);
    expect(g.value.edges).toEqual([[0, 1]]);
    expect(g.value.omitted).toBeGreaterThan(0);
  });

  it("gives an empty graph when only the summary arrives", () => {
    const a = new GraphAssembler();
    const g = a.finish(graphSummary(9, 2, 4, 3))!;
    expect(g.missingChunks).toBe(2);
    expect(g.value.nodes).toEqual([]);
    expect(g.value.edges).toEqual([]);
  });

  it("drops malformed chunks and summaries, and bad records inside a chunk", () => {
    const a = new GraphAssembler();
    expect(a.chunk(null)).toBe(false);
    expect(a.chunk({ cell_id: "c1", seq: "1", index: 0, count: 1, nodes: [] })).toBe(false);
    expect(a.chunk({ cell_id: "c1", seq: 1, index: 2, count: 1, nodes: [] })).toBe(false);
    expect(a.chunk({ cell_id: "c1", seq: 1, index: 0, count: 0, nodes: [] })).toBe(false);
    expect(a.chunk({ seq: 1, index: 0, count: 1, nodes: [] })).toBe(false);
    expect(a.finish({ cell_id: "c1", seq: null, count: 1 })).toBeNull();
    expect(a.finish("graph")).toBeNull();

    expect(a.chunk(graphChunk(6, 0, 1, [node(0), { id: "x", op: "leaf" }, node(1), 42], [[0, 1], [0], "e", [1, "2"]], [{ module: "", nodes: [0, 1] }, { module: 3 }]))).toBe(true);
    const g = a.finish(graphSummary(6, 1, 4, 4))!;
    expect(g.value.nodes.map((n) => n.id)).toEqual([0, 1]);
    expect(g.value.edges).toEqual([[0, 1]]);
    expect(g.value.groups).toEqual([{ module: "", nodes: [0, 1] }]);
    expect(g.value.omitted).toBeGreaterThan(0);
  });

  it("reads NaN strings inside node records' numbers as numbers, not failures", () => {
    const a = new GraphAssembler();
    a.chunk(graphChunk(8, 0, 1, [node(0, "leaf", { line: "NaN" })]));
    const g = a.finish(graphSummary(8, 1, 1, 0, { dropped: 2, dropped_steps: 1, omitted: 0 }))!;
    expect(g.value.nodes[0].line).toBeNull(); // NaN is not a line number
    expect(g.value.dropped).toBe(2);
    expect(g.value.droppedSteps).toBe(1);
  });

  it("forgets the oldest unfinished graphs instead of growing without bound", () => {
    const a = new GraphAssembler();
    for (let seq = 0; seq < 100; seq++) a.chunk(graphChunk(seq, 0, 2, [node(seq)]));
    expect(a.pending).toBeLessThanOrEqual(16);
    a.reset();
    expect(a.pending).toBe(0);
  });
});

describe("TraceAssembler", () => {
  const step = (index: number, nodeId: number, op: string, extra: Record<string, unknown> = {}) => ({
    index,
    node: nodeId,
    op,
    grads_in: [{ shape: [], dtype: "float32", norm: 14, mean: 14, min: 14, max: 14, value: 14 }],
    grads_out: [null],
    ...extra,
  });
  const chunk = (seq: number, index: number, count: number, steps: unknown[]) => ({ notebook_id: NB, cell_id: "c1", seq, pass_index: 0, index, count, steps });
  const summary = (seq: number, count: number, stepCount: number, extra: Record<string, unknown> = {}) => ({
    notebook_id: NB,
    cell_id: "c1",
    seq,
    pass_index: 0,
    count,
    step_count: stepCount,
    omitted: 0,
    ...extra,
  });

  it("assembles out-of-order chunks and sorts steps by index", () => {
    const a = new TraceAssembler();
    a.chunk(chunk(8, 1, 2, [step(3, 2, "MulBackward0"), step(4, 0, "AccumulateGrad", { leaf: 0 })]));
    a.chunk(chunk(8, 0, 2, [step(0, 5, "PowBackward0"), step(2, 3, "AccumulateGrad", { leaf: 3 }), step(1, 4, "AddBackward0")]));
    const t = a.finish(summary(8, 2, 5, { pass_index: 1 }))!;
    expect(t.missingChunks).toBe(0);
    expect(t.value.passIndex).toBe(1);
    expect(t.value.steps.map((s) => s.index)).toEqual([0, 1, 2, 3, 4]);
    expect(t.value.steps[2].leaf).toBe(3);
    expect(t.value.steps[0].grads_in[0]!.value).toBe(14);
    expect(t.value.steps[0].grads_out).toEqual([null]);
    expect(t.value.omitted).toBe(0);
  });

  it("counts missing chunks and bad steps in omitted", () => {
    const a = new TraceAssembler();
    a.chunk(chunk(9, 0, 2, [step(0, 5, "PowBackward0"), { index: "1" }]));
    const t = a.finish(summary(9, 2, 4))!;
    expect(t.missingChunks).toBe(1);
    expect(t.value.steps).toHaveLength(1);
    expect(t.value.omitted).toBe(3);
  });

  it("drops malformed trace messages", () => {
    const a = new TraceAssembler();
    expect(a.chunk(chunk(1, 0, 1, "steps" as unknown as unknown[]))).toBe(false);
    expect(a.chunk({ cell_id: "c1", seq: 1, index: 0, count: 1 })).toBe(false);
    expect(a.finish({ cell_id: "c1", seq: 1 })).toBeNull();
  });
});

describe("stream text", () => {
  it("honours carriage returns like a terminal", () => {
    expect(applyCarriageReturns("", "a\nb")).toBe("a\nb");
    expect(applyCarriageReturns("epoch 1\n", "10%\r50%\r100%\n")).toBe("epoch 1\n100%\n");
    expect(applyCarriageReturns("x 10%", "\rx 20%")).toBe("x 20%");
    expect(applyCarriageReturns("", "a\r\nb")).toBe("a\nb");
  });
});

import { describe, expect, it } from "vitest";
import { Stepper, passesFor, scalarSum } from "../../src/graph/stepper";
import { G, N, S, graphOf, multiPath, traceOf, workedExample } from "./graph.fixtures";

describe("stepper: worked example y = w*x + b; z = y**2", () => {
  const { graph, trace } = workedExample();

  it("steps forward and back with k / n positions", () => {
    const s = new Stepper(trace, graph.nodes);
    expect(s.n).toBe(6);
    expect(s.label).toBe("0 / 6");
    expect(s.current()).toBeNull();
    expect(s.prev()).toBe(false);
    expect(s.next()).toBe(true);
    expect(s.label).toBe("1 / 6");
    expect(s.current()!.op).toBe("PowBackward0");
    s.next();
    s.next();
    expect(s.label).toBe("3 / 6");
    s.prev();
    expect(s.label).toBe("2 / 6");
    s.toEnd();
    expect(s.label).toBe("6 / 6");
    expect(s.next()).toBe(false);
    expect(s.atEnd).toBe(true);
    s.reset();
    expect(s.label).toBe("0 / 6");
    s.jumpTo(99);
    expect(s.position).toBe(6);
    s.jumpTo(-3);
    expect(s.position).toBe(0);
  });

  it("marks the current node active, processed ones done, others idle", () => {
    const s = new Stepper(trace, graph.nodes);
    for (const n of graph.nodes) expect(s.nodeState(n.id)).toBe("idle");
    s.next(); // Pow
    expect(s.nodeState(5)).toBe("active");
    expect(s.nodeState(4)).toBe("idle");
    s.next(); // Add
    expect(s.nodeState(5)).toBe("done");
    expect(s.nodeState(4)).toBe("active");
    s.jumpTo(4); // Mul
    expect(s.nodeState(2)).toBe("active");
    expect(s.nodeState(3)).toBe("done"); // b accumulated at step 3
    expect(s.nodeState(0)).toBe("idle");
    expect([...s.states()].filter(([, st]) => st === "done").map(([id]) => id).sort()).toEqual([3, 4, 5]);
  });

  it("highlights the edges the current step sends gradient along", () => {
    const s = new Stepper(trace, graph.nodes);
    expect(s.activeEdges()).toEqual([]);
    s.next();
    expect(s.activeEdges()).toEqual([[4, 5]]);
    s.next();
    expect(s.activeEdges()).toEqual([
      [2, 4],
      [3, 4],
    ]);
    s.next(); // AccumulateGrad b: no edge
    expect(s.activeEdges()).toEqual([]);
    s.next();
    expect(s.activeEdges()).toEqual([
      [0, 2],
      [1, 2],
    ]);
  });

  it("accumulates leaf grads: w 42, x 28, b 14", () => {
    const s = new Stepper(trace, graph.nodes);
    expect(s.gradState(0).grad).toBeNull();
    s.jumpTo(4); // after Mul: w's gradient arrived, not accumulated
    expect(s.gradState(0).arrived).toBe(42);
    expect(s.gradState(0).grad).toBeNull();
    expect(s.gradState(3).grad).toBe(14);
    s.toEnd();
    expect(s.gradState(0).grad).toBe(42);
    expect(s.gradState(1).grad).toBe(28);
    expect(s.gradState(3).grad).toBe(14);
    expect(s.gradState(4).arrived).toBe(14); // op node: gradient from Pow
  });

  it("jumps to a node's step", () => {
    const s = new Stepper(trace, graph.nodes);
    expect(s.jumpToNode(2)).toBe(true);
    expect(s.position).toBe(4);
    expect(s.nodeState(2)).toBe("active");
    expect(s.jumpToNode(0)).toBe(true);
    expect(s.position).toBe(5);
    // a node before the current position: wraps to its step
    expect(s.jumpToNode(5)).toBe(true);
    expect(s.position).toBe(1);
    expect(s.jumpToNode(99)).toBe(false);
    expect(s.position).toBe(1);
  });

  it("plays with ticks and stops at the end", () => {
    const s = new Stepper(trace, graph.nodes);
    expect(s.tick()).toBe(false); // not playing
    s.play();
    expect(s.isPlaying).toBe(true);
    let ticks = 0;
    while (s.tick()) ticks++;
    expect(s.position).toBe(6);
    expect(ticks).toBe(5); // the 6th tick reaches the end and stops
    expect(s.isPlaying).toBe(false);
    // play at the end starts over
    s.play();
    expect(s.position).toBe(0);
    s.tick();
    expect(s.togglePlay()).toBe(false);
    expect(s.position).toBe(1);
    s.play();
    s.reset();
    expect(s.isPlaying).toBe(false);
  });
});

describe("stepper: multi-path accumulation (seeds)", () => {
  it("a.grad = 64 with one AccumulateGrad of the summed gradient", () => {
    const { graph, trace } = multiPath();
    const s = new Stepper(trace, graph.nodes);
    s.jumpTo(9); // through step 9 (MulBackward0 #5)
    const mid = s.gradState(0);
    expect(mid.contributions.map((c) => c.grad.value)).toEqual([30, 30]);
    expect(mid.arrived).toBe(60);
    expect(mid.grad).toBeNull();
    s.toEnd();
    const a = s.gradState(0);
    expect(a.contributions.map((c) => [c.from, c.grad.value])).toEqual([
      [6, 30],
      [5, 30],
      [1, 4],
    ]);
    expect(a.arrived).toBe(64);
    expect(a.accumulations.map((x) => x.grad.value)).toEqual([64]);
    expect(a.grad).toBe(64);
    expect(s.gradState(2).grad).toBe(33);
    expect(s.nodeState(0)).toBe("active");
  });

  it("a.grad = 64 when the engine accumulates every path separately", () => {
    // a = leaf 0; three consumers each send a gradient, each followed by its own AccumulateGrad
    const graph = graphOf([N(0, "leaf", [], "a"), N(1, "MulBackward0", [0]), N(2, "MulBackward0", [0, 0]), N(3, "AddBackward0", [1, 2])]);
    const trace = traceOf([
      S(0, 3, "AddBackward0", [1], [1, 1]),
      S(1, 2, "MulBackward0", [1], [30, 30]),
      S(2, 0, "AccumulateGrad", [30], [], 0),
      S(3, 0, "AccumulateGrad", [30], [], 0),
      S(4, 1, "MulBackward0", [1], [4]),
      S(5, 0, "AccumulateGrad", [4], [], 0),
    ]);
    const s = new Stepper(trace, graph.nodes);
    s.jumpTo(3);
    expect(s.gradState(0).grad).toBe(30);
    expect(s.nodeState(0)).toBe("active");
    s.jumpTo(5);
    expect(s.gradState(0).grad).toBe(60);
    expect(s.nodeState(0)).toBe("done");
    s.toEnd();
    const a = s.gradState(0);
    expect(a.accumulations).toHaveLength(3);
    expect(a.totalAccumulations).toBe(3);
    expect(a.grad).toBe(64);
    // jumping to a node that runs several times goes to its next run
    s.reset();
    s.jumpToNode(0);
    expect(s.position).toBe(3);
    s.jumpToNode(0);
    expect(s.position).toBe(4);
  });

  it("non-scalar grads give no running number", () => {
    expect(scalarSum([])).toBeNull();
    expect(scalarSum([G(1)!, G(2)!])).toBe(3);
    expect(scalarSum([G(1)!, { shape: [2], dtype: "float32", norm: 1, mean: 0, min: 0, max: 1 }])).toBeNull();
  });
});

describe("stepper: passes and edge cases", () => {
  it("offers the passes of the graph's cell that came after it, by pass index", () => {
    const t = (cell: string, seq: number, pass: number) => traceOf([], pass, cell, seq);
    const all = [t("c1", 9, 1), t("c1", 8, 0), t("c2", 10, 0), t("c1", 3, 0)];
    const ps = passesFor(all, "c1", 7);
    expect(ps.map((p) => [p.seq, p.passIndex])).toEqual([
      [8, 0],
      [9, 1],
    ]);
  });

  it("handles an empty or missing trace", () => {
    const s = new Stepper(null);
    expect(s.label).toBe("0 / 0");
    expect(s.next()).toBe(false);
    s.play();
    expect(s.isPlaying).toBe(false);
    expect(s.activeEdges()).toEqual([]);
  });

  it("each pass is its own stepper", () => {
    const { graph, trace } = workedExample();
    const second = traceOf(trace.steps.slice(0, 3), 1, "c1", 9);
    const s1 = new Stepper(trace, graph.nodes);
    const s2 = new Stepper(second, graph.nodes);
    expect(s1.n).toBe(6);
    expect(s2.n).toBe(3);
    s2.toEnd();
    expect(s2.gradState(3).grad).toBe(14);
    expect(s2.gradState(0).grad).toBeNull();
  });
});

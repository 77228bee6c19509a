import { afterEach, describe, expect, it } from "vitest";
import { mountGraphPanel } from "../../src/graph/panel";
import type { GradCheck, NodeValue, NotebookSession, SessionEvents } from "../../src/types";
import { bigGraph, fullTrace, multiPath, workedExample } from "./graph.fixtures";

type Handler = (p: unknown) => void;

class FakeSession implements NotebookSession {
  readonly notebookId = "nb1";
  handlers = new Map<string, Set<Handler>>();
  values = new Map<string, number>();
  requests: [number, string][] = [];
  on<K extends keyof SessionEvents>(event: K, fn: (payload: SessionEvents[K]) => void) {
    const s = this.handlers.get(event) ?? new Set();
    s.add(fn as Handler);
    this.handlers.set(event, s);
    return () => s.delete(fn as Handler);
  }
  emit<K extends keyof SessionEvents>(event: K, payload: SessionEvents[K]) {
    for (const f of this.handlers.get(event) ?? []) f(payload);
  }
  async execute() {}
  async interrupt() {}
  async restart() {}
  async getValue(nodeId: number, which: "value" | "grad"): Promise<NodeValue> {
    this.requests.push([nodeId, which]);
    const v = this.values.get(`${nodeId}:${which}`);
    if (v === undefined) return { nodeId, which, shape: null, dtype: null, stats: null, values: null, downsampled: false, stride: 1 };
    return {
      nodeId,
      which,
      shape: [],
      dtype: "float32",
      stats: { numel: 1, nan: 0, inf: 0, min: v, max: v, mean: v, std: 0, norm: Math.abs(v), histogram: null },
      values: [v],
      downsampled: false,
      stride: 1,
    };
  }
  async checkGrad(nodeId: number): Promise<GradCheck> {
    return {
      nodeId,
      ok: true,
      reason: null,
      eps: 1e-6,
      inputs: [{ index: 0, node: 0, checked: 1, maxAbsDiff: 1e-7, maxRelDiff: 2e-8, analyticNorm: 42, numericNorm: 42 }],
      op: null,
      note: null,
    };
  }
  close() {}
}

const flush = () => new Promise((r) => setTimeout(r, 0));
let disposers: (() => void)[] = [];
afterEach(() => {
  for (const d of disposers) d();
  disposers = [];
  document.body.textContent = "";
});

function mount() {
  const root = document.createElement("section");
  document.body.append(root);
  const session = new FakeSession();
  const hovered: [number | null, number | null][] = [];
  const panel = mountGraphPanel(root, session, { highlightLine: (c, l) => hovered.push([c, l]) }, { heatmaps: false });
  disposers.push(() => panel.dispose());
  const q = (sel: string) => root.querySelector(sel) as HTMLElement;
  const qa = (sel: string) => [...root.querySelectorAll(sel)] as HTMLElement[];
  const click = (el: Element) => el.dispatchEvent(new MouseEvent("click", { bubbles: true }));
  return { root, session, hovered, panel, q, qa, click };
}

describe("graph panel", () => {
  it("draws the worked example with the contract's test ids", async () => {
    const { q, qa, session } = mount();
    const { graph, trace } = workedExample();
    session.emit("graph", graph);
    await flush();
    const view = q('[data-testid="graph-view"]');
    expect(view.getAttribute("data-graph-seq")).toBe("7");
    expect(view.getAttribute("data-drawn-nodes")).toBe("6");
    expect(view.getAttribute("data-layout-state")).toBe("done");
    const nodes = qa('[data-testid="graph-node"]');
    expect(nodes).toHaveLength(6);
    expect(nodes.map((n) => n.getAttribute("data-op")).sort()).toEqual(["AddBackward0", "MulBackward0", "PowBackward0", "leaf", "leaf", "leaf"]);
    expect(nodes.every((n) => n.getAttribute("data-state") === "idle")).toBe(true);
    expect(qa('[data-testid="graph-edge"]')).toHaveLength(5);
    expect(q('[data-node-id="5"]').classList.contains("kind-output")).toBe(true);
    expect(q('[data-node-id="0"]').textContent).toContain("w");
    session.emit("backward_trace", trace);
    expect(q('[data-testid="backward-position"]').textContent).toBe("0 / 6");
  });

  it("shows the rule the engine sent with a node, the table only without one", async () => {
    const { q, session, click } = mount();
    const { graph, trace } = workedExample();
    const pow = graph.nodes.find((n) => n.op === "PowBackward0")!;
    pow.rule = { forward: "result = self ** exponent", lines: ["grad_self = grad * exponent * self ** (exponent - 1)"] };
    session.emit("graph", graph);
    session.emit("backward_trace", trace);
    await flush();
    click(q('[data-testid="backward-step"]'));
    const card = q('[data-testid="step-card"]').textContent ?? "";
    expect(card).toContain("result = self ** exponent");
    expect(card).toContain("grad_self = grad * exponent * self ** (exponent - 1)");
    expect(card).not.toContain("2y");
    click(q('[data-testid="backward-step"]'));
    expect(q('[data-testid="step-card"]').textContent).toContain("∂out/∂a = grad"); // AddBackward0: no rule sent
  });

  it("steps backprop: states, position, step card, leaf grads", async () => {
    const { q, qa, session, click } = mount();
    const { graph, trace } = workedExample();
    session.emit("graph", graph);
    session.emit("backward_trace", trace);
    await flush();
    const state = (id: number) => q(`[data-testid="graph-node"][data-node-id="${id}"]`).getAttribute("data-state");
    click(q('[data-testid="backward-step"]'));
    expect(q('[data-testid="backward-position"]').textContent).toBe("1 / 6");
    expect(state(5)).toBe("active");
    expect(q('[data-testid="step-card"]').textContent).toContain("PowBackward0");
    expect(q('[data-testid="step-card"]').textContent).toContain("2y");
    expect(qa(".gv-edge-active")).toHaveLength(1);
    click(q('[data-testid="backward-step"]'));
    expect(state(5)).toBe("done");
    expect(state(4)).toBe("active");
    expect(qa(".gv-edge-active")).toHaveLength(2);
    click(q('[data-testid="backward-prev"]'));
    expect(q('[data-testid="backward-position"]').textContent).toBe("1 / 6");
    expect(state(4)).toBe("idle");
    // double-click w: step until its AccumulateGrad
    q('[data-node-id="0"]').dispatchEvent(new MouseEvent("dblclick", { bubbles: true }));
    expect(q('[data-testid="backward-position"]').textContent).toBe("5 / 6");
    expect(state(0)).toBe("active");
    expect(q('[data-testid="step-card"]').textContent).toContain("w (#0).grad = 42");
    click(q('[data-testid="backward-reset"]'));
    expect(q('[data-testid="backward-position"]').textContent).toBe("0 / 6");
    expect(qa('[data-testid="graph-node"]').every((n) => n.getAttribute("data-state") === "idle")).toBe(true);
  });

  it("selects a node and shows its value and grad in the inspector", async () => {
    const { q, session, click, hovered } = mount();
    const { graph, trace } = workedExample();
    session.values.set("0:value", 2);
    session.values.set("0:grad", 42);
    session.emit("device", { device: "cuda:0" });
    session.emit("graph", graph);
    session.emit("backward_trace", trace);
    await flush();
    click(q('[data-node-id="0"]'));
    await flush();
    const insp = q('[data-testid="node-inspector"]');
    expect(insp.getAttribute("data-node-id")).toBe("0");
    expect(insp.textContent).toContain("cuda:0");
    expect(q('[data-testid="inspector-grad-scalar"]').textContent).toBe("42");
    expect(q('[data-testid="inspector-value-scalar"]').textContent).toBe("2");
    expect(q('[data-node-id="0"]').classList.contains("gv-selected")).toBe(true);
    // stepping updates the "so far" part
    click(q('[data-testid="backward-step"]'));
    expect(q('[data-testid="inspector-grad-so-far"]').textContent).toContain("None");
    click(q('[data-testid="inspector-jump"]'));
    expect(q('[data-testid="backward-position"]').textContent).toBe("5 / 6");
    expect(q('[data-testid="inspector-grad-so-far"]').textContent).toContain("42");
    // check gradient
    click(q('[data-testid="check-grad"]'));
    await flush();
    expect(q('[data-testid="grad-check-result"]').textContent).toContain("gradient ok");
    // hovering highlights the source line
    q('[data-node-id="2"]').dispatchEvent(new MouseEvent("pointerover", { bubbles: true }));
    expect(hovered.at(-1)).toEqual([1, 1]);
    q('[data-node-id="2"]').dispatchEvent(new MouseEvent("pointerout", { bubbles: true }));
    expect(hovered.at(-1)).toEqual([null, null]);
    // a new graph without node 0 clears the selection
    const { graph: g2 } = workedExample();
    g2.seq = 20;
    g2.nodes = g2.nodes.filter((n) => n.id !== 0);
    g2.edges = g2.edges.filter(([s]) => s !== 0);
    session.emit("graph", g2);
    await flush();
    expect(q('[data-testid="node-inspector"]').getAttribute("data-node-id")).toBe("");
    expect(q('[data-testid="backward-position"]').textContent).toBe("0 / 0");
  });

  it("shows a's accumulated .grad of 64 in the multi-path example", async () => {
    const { q, session, click } = mount();
    const { graph, trace } = multiPath();
    session.emit("graph", graph);
    session.emit("backward_trace", trace);
    await flush();
    click(q('[data-node-id="0"]'));
    click(q('[data-testid="backward-end"]'));
    const so = q('[data-testid="inspector-grad-so-far"]').textContent!;
    expect(so).toContain("64");
    const insp = q('[data-testid="node-inspector"]').textContent!;
    expect(insp).toContain("from MulBackward0 #6");
    expect(q('[data-testid="step-card"]').textContent).toContain("a (#0).grad = 64");
  });

  it("offers a pass selector with several passes, defaulting to the last", async () => {
    const { q, session } = mount();
    const { graph, trace } = workedExample();
    session.emit("graph", graph);
    session.emit("backward_trace", trace);
    session.emit("backward_trace", { ...trace, seq: 9, passIndex: 1, steps: trace.steps.slice(0, 2) });
    const sel = q('[data-testid="backward-pass"]') as unknown as HTMLSelectElement;
    expect(sel.options).toHaveLength(2);
    expect(sel.value).toBe("1");
    expect(q('[data-testid="backward-position"]').textContent).toBe("0 / 2");
    sel.value = "0";
    sel.dispatchEvent(new Event("change"));
    expect(q('[data-testid="backward-position"]').textContent).toBe("0 / 6");
  });

  it("collapses a large graph's modules, expands on click, and searches", async () => {
    const { q, qa, session, click } = mount();
    const g = bigGraph(600);
    session.emit("graph", g);
    await flush();
    const view = q('[data-testid="graph-view"]');
    const groups = qa('[data-testid="graph-group"]');
    expect(groups.length).toBeGreaterThan(0);
    expect(q('[data-testid="graph-note"]').textContent).toMatch(/Large graph/);
    const drawn = Number(view.getAttribute("data-drawn-nodes"));
    expect(drawn).toBe(qa('[data-testid="graph-node"]').length);
    expect(drawn + groups.length).toBeLessThanOrEqual(150);
    // click a collapsed module: it expands
    const path = groups.at(-1)!.getAttribute("data-module")!;
    click(groups.at(-1)!);
    await flush();
    expect(q(`[data-testid="graph-group"][data-module="${path}"]`)).toBeNull();
    expect(q(`[data-testid="graph-group-box"][data-module="${path}"]`)).not.toBeNull();
    // search a node hidden in a collapsed module: Enter expands, selects and centers it
    const hidden = g.nodes.find((n) => n.kind === "leaf" && !q(`[data-node-id="${n.id}"]`))!;
    const input = q(".gv-search") as HTMLInputElement;
    input.value = hidden.name!;
    input.dispatchEvent(new Event("input"));
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    await flush();
    await flush();
    expect(q(`[data-node-id="${hidden.id}"]`)).not.toBeNull();
    expect(q(`[data-node-id="${hidden.id}"]`).classList.contains("gv-selected")).toBe(true);
    expect(q('[data-testid="node-inspector"]').getAttribute("data-node-id")).toBe(String(hidden.id));
  });

  it("keyboard: arrows move between nodes, Enter selects", async () => {
    const { q, session } = mount();
    const { graph } = workedExample();
    session.emit("graph", graph);
    await flush();
    const mul = q('[data-node-id="2"]');
    mul.focus();
    mul.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
    expect(document.activeElement?.getAttribute("data-node-id")).toBe("4");
    (document.activeElement as HTMLElement).dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(q('[data-testid="node-inspector"]').getAttribute("data-node-id")).toBe("4");
  });

  it("steps at 1,000 nodes in well under a frame (attributes only, no re-layout)", async () => {
    const { q, qa, session, click } = mount();
    const g = bigGraph(1000, false);
    session.emit("graph", g);
    session.emit("backward_trace", fullTrace(g));
    await flush();
    expect(qa('[data-testid="graph-node"]').length).toBe(g.nodes.length);
    const view = q('[data-testid="graph-view"]');
    const before = qa('[data-testid="graph-node"]')[10];
    const times: number[] = [];
    const stepBtn = q('[data-testid="backward-step"]');
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      click(stepBtn);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1];
    console.log(`step at ${g.nodes.length} nodes (jsdom): median ${median.toFixed(2)} ms, max ${times.at(-1)!.toFixed(2)} ms`);
    expect(median).toBeLessThan(16);
    // same elements: nothing was redrawn
    expect(qa('[data-testid="graph-node"]')[10]).toBe(before);
    expect(view.getAttribute("data-layout-state")).toBe("done"); // no layout was started
    expect(qa('[data-state="active"]')).toHaveLength(1);
    expect(qa('[data-state="done"]').length).toBe(49);
  });
});

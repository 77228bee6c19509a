import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { GradCheck, NodeValue, NotebookSession, SessionEvents, Unsubscribe } from "../../src/types";

interface FakeGd extends HTMLElement {
  data?: { x: number[]; y: (number | null)[]; name: string; opacity?: number; showlegend?: boolean }[];
  layout?: { yaxis: { type: string }; paper_bgcolor: string };
}

const plotly = {
  react: vi.fn(async (el: FakeGd, data: unknown[], layout: unknown) => {
    el.data = data as FakeGd["data"];
    el.layout = layout as FakeGd["layout"];
    return el;
  }),
  purge: vi.fn(),
  downloadImage: vi.fn(async () => ""),
};
vi.mock("plotly.js-cartesian-dist-min", () => ({ default: plotly }));

import { mountMetricsPanel } from "../../src/metrics/panel";

class FakeSession implements NotebookSession {
  readonly notebookId = "nb";
  listeners = new Map<string, Set<(p: unknown) => void>>();
  on<K extends keyof SessionEvents>(event: K, fn: (payload: SessionEvents[K]) => void): Unsubscribe {
    const set = this.listeners.get(event) ?? new Set();
    this.listeners.set(event, set);
    set.add(fn as (p: unknown) => void);
    return () => set.delete(fn as (p: unknown) => void);
  }
  fire<K extends keyof SessionEvents>(event: K, payload: SessionEvents[K]): void {
    for (const fn of this.listeners.get(event) ?? []) fn(payload);
  }
  async execute(): Promise<void> {}
  async interrupt(): Promise<void> {}
  async restart(): Promise<void> {}
  getValue(): Promise<NodeValue> {
    return Promise.reject(new Error("unused"));
  }
  checkGrad(): Promise<GradCheck> {
    return Promise.reject(new Error("unused"));
  }
  close(): void {}
}

const tick = async () => {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
};

function points(tag: string, from: number, n: number) {
  return Array.from({ length: n }, (_, i) => ({ tag, step: from + i, value: 1 / (from + i + 1), wall: 1 }));
}

describe("metrics panel", () => {
  let root: HTMLElement;
  let session: FakeSession;
  let panel: { dispose(): void };

  beforeEach(() => {
    plotly.react.mockClear();
    plotly.purge.mockClear();
    root = document.createElement("div");
    document.body.append(root);
    session = new FakeSession();
    panel = mountMetricsPanel(root, session);
  });

  afterEach(() => {
    panel.dispose();
    root.remove();
  });

  it("shows an empty state, then one metrics-chart per tag whose Plotly data grows", async () => {
    expect(root.querySelector('[data-testid="metrics-chart"]')).toBeNull();
    expect(root.querySelector<HTMLElement>('[data-testid="metrics-empty"]')!.style.display).toBe("");
    session.fire("metrics", { points: [...points("loss", 0, 3), ...points("acc", 0, 2)], coalesced: 0 });
    await tick();
    const charts = root.querySelectorAll<HTMLElement>('[data-testid="metrics-chart"]');
    expect([...charts].map((c) => c.dataset.tag)).toEqual(["loss", "acc"]);
    expect(root.querySelector<HTMLElement>('[data-testid="metrics-empty"]')!.style.display).toBe("none");
    const gd = charts[0].querySelector<FakeGd>(".metrics-plot")!;
    // smoothing on by default: a faint raw trace and a smoothed one
    expect(gd.data!.length).toBe(2);
    expect(gd.data![0].x).toEqual([0, 1, 2]);
    expect(gd.data![0].opacity).toBeLessThan(1);
    session.fire("metrics", { points: points("loss", 3, 4), coalesced: 0 });
    await tick();
    expect(gd.data![0].x.length).toBe(7);
    expect(gd.data![1].x.length).toBe(7);
  });

  it("batches many metrics messages into few redraws", async () => {
    for (let i = 0; i < 50; i++) session.fire("metrics", { points: points("loss", i, 1), coalesced: 0 });
    await tick();
    expect(plotly.react.mock.calls.length).toBeLessThan(10);
    const gd = root.querySelector<FakeGd>('[data-testid="metrics-chart"] .metrics-plot')!;
    expect(gd.data![0].x.length).toBe(50);
  });

  it("overlays runs: a new cell run is a new trace in the legend", async () => {
    session.fire("cell_status", { cellId: "c1", status: "running", durationMs: null, executionCount: null });
    session.fire("metrics", { points: points("loss", 0, 3), coalesced: 0 });
    session.fire("cell_status", { cellId: "c1", status: "done", durationMs: 1, executionCount: 1 });
    session.fire("cell_status", { cellId: "c1", status: "running", durationMs: null, executionCount: null });
    session.fire("metrics", { points: points("loss", 0, 2), coalesced: 0 });
    await tick();
    const gd = root.querySelector<FakeGd>('[data-testid="metrics-chart"] .metrics-plot')!;
    const names = [...new Set(gd.data!.map((t) => t.name))];
    expect(names).toEqual(["run 1", "run 2"]);
  });

  it("switches smoothing off, log scale on, and clears", async () => {
    session.fire("metrics", { points: points("loss", 0, 3), coalesced: 0 });
    await tick();
    const slider = root.querySelector<HTMLInputElement>('[data-testid="metrics-smoothing"]')!;
    slider.value = "0";
    slider.dispatchEvent(new Event("input"));
    const log = root.querySelector<HTMLInputElement>('[data-testid="metrics-log-scale"]')!;
    log.checked = true;
    log.dispatchEvent(new Event("change"));
    await tick();
    const gd = root.querySelector<FakeGd>('[data-testid="metrics-chart"] .metrics-plot')!;
    expect(gd.data!.length).toBe(1);
    expect(gd.data![0].opacity).toBe(1);
    expect(gd.layout!.yaxis.type).toBe("log");
    root.querySelector<HTMLButtonElement>('[data-testid="metrics-clear"]')!.click();
    expect(root.querySelector('[data-testid="metrics-chart"]')).toBeNull();
  });

  it("marks NaN/inf values of a diverging run on the chart", async () => {
    session.fire("metrics", {
      points: [
        { tag: "loss", step: 0, value: 1, wall: 1 },
        { tag: "loss", step: 1, value: 4, wall: 1 },
        { tag: "loss", step: 2, value: Number.NaN, wall: 1 },
      ],
      coalesced: 0,
    });
    await tick();
    const gd = root.querySelector<FakeGd>('[data-testid="metrics-chart"] .metrics-plot')!;
    const marks = gd.data!.find((t) => t.name === "run 1 NaN/inf") as unknown as { x: number[]; y: number[]; text: string[] };
    expect(marks.x).toEqual([2]);
    expect(marks.y).toEqual([4]);
    expect(marks.text).toEqual(["NaN"]);
    expect(gd.data![0].y).toEqual([1, 4, null]); // the line has a gap there
  });

  it("stops listening when disposed", async () => {
    panel.dispose();
    session.fire("metrics", { points: points("loss", 0, 3), coalesced: 0 });
    await tick();
    expect(root.children.length).toBe(0);
    expect(plotly.react).not.toHaveBeenCalled();
  });
});

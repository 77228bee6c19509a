import { describe, expect, it } from "vitest";
import { MetricsStore, fileNameOf, nonFiniteMarks, smooth, toCSV } from "../../src/metrics/model";
import { decodeMetrics } from "../../src/protocol";
import type { MetricPoint } from "../../src/types";

const pt = (tag: string, step: number | null, value: number | null, wall = 1000): MetricPoint => ({ tag, step, value, wall });

describe("MetricsStore runs", () => {
  it("puts the first points in run 1, per tag, in order", () => {
    const s = new MetricsStore();
    const ch = s.addPoints([pt("loss", 0, 1), pt("acc", 0, 0.1), pt("loss", 1, 0.5)]);
    expect(ch.structural).toBe(true);
    expect([...ch.tags].sort()).toEqual(["acc", "loss"]);
    expect(s.runs.map((r) => r.id)).toEqual([1]);
    expect(s.tags()).toEqual(["loss", "acc"]);
    expect(s.runs[0].series.get("loss")!.x).toEqual([0, 1]);
    expect(s.runs[0].series.get("loss")!.y).toEqual([1, 0.5]);
    const more = s.addPoints([pt("loss", 2, 0.25)]);
    expect(more.structural).toBe(false);
    expect([...more.tags]).toEqual(["loss"]);
    expect(s.pointCount()).toBe(4);
  });

  it("starts a new run when a cell starts and then logs", () => {
    const s = new MetricsStore();
    s.beginCell("c1");
    s.addPoints([pt("loss", 0, 1), pt("loss", 1, 0.9)]);
    s.beginCell("c2"); // a cell that logs nothing makes no run
    s.beginCell("c1");
    s.addPoints([pt("loss", 0, 2)]);
    expect(s.runs.map((r) => [r.id, r.cellId])).toEqual([[1, "c1"], [2, "c1"]]);
    expect(s.runs[1].series.get("loss")!.y).toEqual([2]);
  });

  it("starts a new run when a tag's step goes backwards", () => {
    const s = new MetricsStore();
    s.addPoints([pt("loss", 5, 1), pt("loss", 6, 1), pt("loss", 6, 2), pt("loss", 0, 3), pt("acc", 1, 0.5)]);
    expect(s.runs.length).toBe(2);
    expect(s.runs[0].series.get("loss")!.x).toEqual([5, 6, 6]);
    expect(s.runs[1].series.get("loss")!.x).toEqual([0]);
    expect(s.runs[1].series.get("acc")!.x).toEqual([1]);
  });

  it("indexes points without a step and keeps NaN as null", () => {
    const s = new MetricsStore();
    s.addPoints([pt("a", null, 1), pt("a", null, null), pt("a", null, Number.NaN), pt("a", 10, 4), pt("a", null, 5)]);
    const a = s.runs[0].series.get("a")!;
    expect(a.x).toEqual([0, 1, 2, 10, 11]);
    expect(a.step).toEqual([null, null, null, 10, null]);
    expect(a.y).toEqual([1, null, null, 4, 5]);
  });

  it("keeps the last N runs and drops tags no run has", () => {
    const s = new MetricsStore({ maxRuns: 2 });
    s.beginCell("a");
    s.addPoints([pt("old", 0, 1)]);
    s.beginCell("b");
    s.addPoints([pt("x", 0, 1)]);
    s.beginCell("c");
    s.addPoints([pt("x", 0, 2)]);
    expect(s.runs.map((r) => r.id)).toEqual([2, 3]);
    expect(s.tags()).toEqual(["x"]);
    expect(s.setMaxRuns(1)).toBe(true);
    expect(s.runs.map((r) => r.id)).toEqual([3]);
    s.clear();
    expect(s.runs).toEqual([]);
    expect(s.tags()).toEqual([]);
    s.addPoints([pt("x", 0, 1)]);
    expect(s.runs[0].id).toBe(4); // ids are never reused
  });

  it("thins a series past its cap, keeping the newest point", () => {
    const s = new MetricsStore({ maxPointsPerSeries: 16 });
    const pts: MetricPoint[] = [];
    for (let i = 0; i < 17; i++) pts.push(pt("a", i, i));
    const ch = s.addPoints(pts);
    expect(ch.structural).toBe(true);
    const a = s.runs[0].series.get("a")!;
    expect(a.x.length).toBeLessThanOrEqual(16);
    expect(a.x[a.x.length - 1]).toBe(16);
    expect(a.x[0]).toBe(0);
  });
});

describe("smooth", () => {
  it("is the identity at weight 0", () => {
    expect(smooth([1, null, 3], 0)).toEqual([1, null, 3]);
  });

  it("is TensorBoard's debiased exponential moving average", () => {
    const w = 0.5;
    const out = smooth([2, 4, 8], w);
    // last = 1, 2.5, 5.25; debias 0.5, 0.75, 0.875
    expect(out[0]).toBeCloseTo(2);
    expect(out[1]).toBeCloseTo(2.5 / 0.75);
    expect(out[2]).toBeCloseTo(5.25 / 0.875);
  });

  it("keeps a constant series constant and skips nulls", () => {
    const out = smooth([3, 3, null, 3, 3], 0.9);
    expect(out[2]).toBeNull();
    for (const v of [out[0], out[1], out[3], out[4]]) expect(v).toBeCloseTo(3);
  });

  it("clamps the weight below 1", () => {
    const out = smooth([1, 2], 1.5);
    expect(out.every((v) => v !== null && Number.isFinite(v))).toBe(true);
  });
});

describe("CSV", () => {
  it("writes tag, run, step, value, wall for every point", () => {
    const s = new MetricsStore();
    s.addPoints([pt("loss", 0, 1.5, 100), pt('we,"ird"', null, null, 101)]);
    s.beginCell("c");
    s.addPoints([pt("loss", 0, 0.5, 102)]);
    expect(toCSV(s)).toBe(
      "tag,run,step,value,wall\n" +
        "loss,1,0,1.5,100\n" +
        "loss,2,0,0.5,102\n" +
        '"we,""ird""",1,0,,101\n',
    );
  });

  it("makes file names of tags", () => {
    expect(fileNameOf("train/loss (avg)")).toBe("train_loss_avg");
    expect(fileNameOf("///")).toBe("metrics");
  });
});

describe("non-finite values", () => {
  it("reads a diverging loss from the wire as NaN and marks it", () => {
    const msg = decodeMetrics({
      notebook_id: "nb",
      points: [
        { tag: "loss", step: 0, value: 2, wall: 1 },
        { tag: "loss", step: 1, value: 0.5, wall: 2 },
        { tag: "loss", step: 2, value: "Infinity", wall: 3 },
        { tag: "loss", step: 3, value: "NaN", wall: 4 },
        { tag: "loss", step: 4, value: "-Infinity", wall: 5 },
      ],
      coalesced: 0,
    });
    const s = new MetricsStore();
    s.addPoints(msg!.points);
    const loss = s.runs[0].series.get("loss")!;
    expect(loss.y).toEqual([2, 0.5, null, null, null]); // a gap in the line
    expect(loss.nonFinite).toEqual([null, null, "Infinity", "NaN", "-Infinity"]);
    // marked at the last finite value, from where the line stops
    expect(nonFiniteMarks(loss)).toEqual({ x: [2, 3, 4], y: [0.5, 0.5, 0.5], kind: ["Infinity", "NaN", "-Infinity"] });
    expect(toCSV(s)).toBe(
      "tag,run,step,value,wall\n" + "loss,1,0,2,1\n" + "loss,1,1,0.5,2\n" + "loss,1,2,Infinity,3\n" + "loss,1,3,NaN,4\n" + "loss,1,4,-Infinity,5\n",
    );
  });

  it("marks a series that starts non-finite at its first finite value, or at 0", () => {
    const s = new MetricsStore();
    s.addPoints([pt("a", 0, Number.NaN), pt("a", 1, 3), pt("b", 0, Number.POSITIVE_INFINITY), pt("c", 0, null)]);
    const [a, b, c] = ["a", "b", "c"].map((t) => s.runs[0].series.get(t)!);
    expect(nonFiniteMarks(a)).toEqual({ x: [0], y: [3], kind: ["NaN"] });
    expect(nonFiniteMarks(b)).toEqual({ x: [0], y: [0], kind: ["Infinity"] });
    expect(nonFiniteMarks(c).x).toEqual([]); // no value is not a non-finite one
  });

  it("keeps the marks in step with the points when a series is thinned", () => {
    const s = new MetricsStore({ maxPointsPerSeries: 16 });
    const pts: MetricPoint[] = [];
    for (let i = 0; i < 17; i++) pts.push(pt("a", i, i === 16 ? Number.NaN : i));
    s.addPoints(pts);
    const a = s.runs[0].series.get("a")!;
    expect(a.nonFinite.length).toBe(a.x.length);
    expect(nonFiniteMarks(a).x).toEqual([16]);
  });
});

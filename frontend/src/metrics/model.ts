// The metrics panel's data, apart from any drawing: runs of scalar series per tag, TensorBoard's
// smoothing, and CSV export. Unit-tested in tests/unit/metrics.test.ts.
//
// A *run* is one execution of a cell that logs metrics. A new run starts at the first point after
// a cell started running (`beginCell`), or when a tag's step goes backwards within the current
// run (a second training loop in the same cell, or a cell re-run whose start we did not see).
// Points with no step get an increasing index per (run, tag).
//
// Non-finite values (a diverging loss: the server sends them as "NaN", "Infinity", "-Infinity" and
// protocol.ts reads them back into numbers) are a gap in the line and are kept, by kind, so that the
// chart marks them (`nonFiniteMarks`) and the CSV says what they were.

import type { NonFinite } from "../generated/protocol";
import type { MetricPoint } from "../types";

export interface Series {
  /** x as plotted: the step, or an increasing index when the point had none */
  x: number[];
  /** the step as logged (null: none) */
  step: (number | null)[];
  /** null: NaN or ±inf (see `nonFinite`), or no value */
  y: (number | null)[];
  /** what a non-finite value was ("NaN", "Infinity", "-Infinity"); null for the others */
  nonFinite: (NonFinite | null)[];
  wall: (number | null)[];
  /** next index for a point without a step */
  nextIndex: number;
  /** the last step seen (to notice it going backwards) */
  lastStep: number | null;
}

export interface Run {
  /** 1, 2, 3 … in the order runs started (never reused, even after clear) */
  id: number;
  label: string;
  cellId: string | null;
  series: Map<string, Series>;
}

export interface StoreOptions {
  /** runs kept; older ones are dropped (default 5) */
  maxRuns?: number;
  /** points kept per (run, tag); past it the series is thinned by 2 (default 100,000) */
  maxPointsPerSeries?: number;
}

/** What `addPoints` changed: the tags that got points, and whether runs were added or dropped
 *  or a series was thinned (then a chart must redraw rather than extend). */
export interface Change {
  tags: Set<string>;
  structural: boolean;
}

function newSeries(): Series {
  return { x: [], step: [], y: [], nonFinite: [], wall: [], nextIndex: 0, lastStep: null };
}

export class MetricsStore {
  runs: Run[] = [];
  maxRuns: number;
  maxPointsPerSeries: number;
  /** every tag of the kept runs, in first-seen order */
  private tagOrder: string[] = [];
  private nextRunId = 1;
  /** a cell started: the next point opens a new run for it */
  private pendingCell: string | null | undefined = undefined;

  constructor(opts: StoreOptions = {}) {
    this.maxRuns = Math.max(1, Math.floor(opts.maxRuns ?? 5));
    this.maxPointsPerSeries = Math.max(16, Math.floor(opts.maxPointsPerSeries ?? 100_000));
  }

  /** A cell started running: if it logs metrics, they form a new run. */
  beginCell(cellId: string | null): void {
    this.pendingCell = cellId;
  }

  get current(): Run | null {
    return this.runs.length ? this.runs[this.runs.length - 1] : null;
  }

  tags(): string[] {
    return this.tagOrder.slice();
  }

  pointCount(): number {
    let n = 0;
    for (const r of this.runs) for (const s of r.series.values()) n += s.x.length;
    return n;
  }

  setMaxRuns(n: number): boolean {
    this.maxRuns = Math.max(1, Math.floor(n));
    return this.trimRuns();
  }

  clear(): void {
    this.runs = [];
    this.tagOrder = [];
    this.pendingCell = undefined;
  }

  private startRun(cellId: string | null): Run {
    const id = this.nextRunId++;
    const run: Run = { id, label: `run ${id}`, cellId, series: new Map() };
    this.runs.push(run);
    this.trimRuns();
    return run;
  }

  private trimRuns(): boolean {
    if (this.runs.length <= this.maxRuns) return false;
    this.runs.splice(0, this.runs.length - this.maxRuns);
    // tags no run has any more disappear with their charts
    const alive = new Set<string>();
    for (const r of this.runs) for (const t of r.series.keys()) alive.add(t);
    this.tagOrder = this.tagOrder.filter((t) => alive.has(t));
    return true;
  }

  addPoints(points: readonly MetricPoint[]): Change {
    const change: Change = { tags: new Set(), structural: false };
    for (const p of points) {
      if (!p || typeof p.tag !== "string") continue;
      let run = this.current;
      if (run === null || this.pendingCell !== undefined) {
        run = this.startRun(this.pendingCell ?? null);
        this.pendingCell = undefined;
        change.structural = true;
      }
      let s = run.series.get(p.tag);
      const step = typeof p.step === "number" && Number.isFinite(p.step) ? p.step : null;
      if (s && step !== null && s.lastStep !== null && step < s.lastStep) {
        // the step went backwards: a new run (same cell) from here on
        run = this.startRun(run.cellId);
        change.structural = true;
        s = undefined;
      }
      if (!s) {
        s = newSeries();
        run.series.set(p.tag, s);
        if (!this.tagOrder.includes(p.tag)) this.tagOrder.push(p.tag);
        change.structural = true;
      }
      let x: number;
      if (step === null) {
        x = s.nextIndex;
        s.nextIndex += 1;
      } else {
        x = step;
        s.nextIndex = Math.max(s.nextIndex, step + 1);
        s.lastStep = step;
      }
      const v = typeof p.value === "number" ? p.value : null;
      const finite = v !== null && Number.isFinite(v);
      s.x.push(x);
      s.step.push(step);
      s.y.push(finite ? v : null);
      s.nonFinite.push(v === null || finite ? null : nonFiniteKind(v));
      s.wall.push(typeof p.wall === "number" && Number.isFinite(p.wall) ? p.wall : null);
      if (s.x.length > this.maxPointsPerSeries) {
        thin(s);
        change.structural = true;
      }
      change.tags.add(p.tag);
    }
    return change;
  }
}

/** Keep every other point but always the last one. */
function thin(s: Series): void {
  const keep = (_: unknown, i: number, a: unknown[]) => i % 2 === 0 || i === a.length - 1;
  s.x = s.x.filter(keep);
  s.step = s.step.filter(keep);
  s.y = s.y.filter(keep);
  s.nonFinite = s.nonFinite.filter(keep);
  s.wall = s.wall.filter(keep);
}

function nonFiniteKind(v: number): NonFinite {
  return Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
}

/** Where the chart marks the non-finite points of a series. */
export interface Marks {
  x: number[];
  /** the last finite value before the point (the first after it when there is none; 0 when the
   *  series has no finite value at all) */
  y: number[];
  kind: NonFinite[];
}

export function nonFiniteMarks(s: Series): Marks {
  const marks: Marks = { x: [], y: [], kind: [] };
  let last: number | null = null;
  let pending = 0; // marks placed before any finite value, waiting for the first one
  for (let i = 0; i < s.x.length; i++) {
    const v = s.y[i];
    if (v !== null) {
      for (; pending > 0; pending--) marks.y[marks.y.length - pending] = v;
      last = v;
    }
    const kind = s.nonFinite[i];
    if (kind === null) continue;
    marks.x.push(s.x[i]);
    marks.y.push(last ?? 0);
    marks.kind.push(kind);
    if (last === null) pending++;
  }
  return marks;
}

/**
 * TensorBoard's smoothing: an exponential moving average, debiased so that the first values are
 * not pulled towards zero. `weight` in [0, 1): 0 = no smoothing. Null (NaN/inf) values stay null
 * and do not enter the average; a constant series stays constant.
 */
export function smooth(values: readonly (number | null)[], weight: number): (number | null)[] {
  const w = Math.min(Math.max(Number.isFinite(weight) ? weight : 0, 0), 0.999);
  if (w === 0) return values.slice();
  const out: (number | null)[] = new Array(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || !Number.isFinite(v)) {
      out[i] = null;
      continue;
    }
    last = last * w + (1 - w) * v;
    n += 1;
    out[i] = last / (1 - Math.pow(w, n));
  }
  return out;
}

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function csvNumber(v: number | null): string {
  return v === null ? "" : String(v);
}

/** Every point of every kept run: `tag,run,step,value,wall` (NaN/inf as NaN, Infinity, -Infinity;
 *  a point without a value: empty). */
export function toCSV(store: MetricsStore): string {
  const lines = ["tag,run,step,value,wall"];
  for (const tag of store.tags()) {
    for (const run of store.runs) {
      const s = run.series.get(tag);
      if (!s) continue;
      for (let i = 0; i < s.x.length; i++) {
        const step = s.step[i] ?? s.x[i];
        const value = s.nonFinite[i] ?? csvNumber(s.y[i]);
        lines.push([csvField(tag), String(run.id), String(step), value, csvNumber(s.wall[i])].join(","));
      }
    }
  }
  return lines.join("\n") + "\n";
}

/** A file name made of a tag (for downloads). */
export function fileNameOf(tag: string): string {
  const base = tag.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^_+|_+$/g, "");
  return base || "metrics";
}

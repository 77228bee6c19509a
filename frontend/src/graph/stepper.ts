// The backprop stepper as a pure state machine over one backward pass (a BackwardTrace) of a
// graph: position k = steps applied (0 … n), per-node states, the edges carrying gradient in the
// current step, and each leaf's gradient accumulating. No DOM; the UI (stepper-ui.ts) renders it.
import type { BackwardStep, BackwardTrace, GradSummary, GraphNode } from "../types";

export type NodeState = "idle" | "active" | "done";

/** A gradient arriving at a node from one of its consumers (a grads_out entry of a step). */
export interface Contribution {
  step: number; // step index in the pass
  from: number; // node that sent it
  slot: number; // input slot of `from`
  grad: GradSummary;
}

/** One AccumulateGrad into a leaf. */
export interface Accumulation {
  step: number;
  grad: GradSummary;
}

export interface LeafGradState {
  contributions: Contribution[]; // arrived so far (steps < position)
  accumulations: Accumulation[]; // AccumulateGrad applied so far
  /** Running .grad: sum of the accumulated values (one-element grads only), null when not scalar or none yet. */
  grad: number | null;
  /** Sum of the gradients that arrived so far (one-element only), null when not scalar or none. */
  arrived: number | null;
  /** AccumulateGrad steps of this leaf in the whole pass. */
  totalAccumulations: number;
}

export class Stepper {
  readonly steps: BackwardStep[];
  readonly n: number;
  private k = 0;
  private playing = false;
  private byId = new Map<number, GraphNode>();
  private stepsOf = new Map<number, number[]>(); // node id → step indices
  private contribsTo = new Map<number, Contribution[]>(); // node id → contributions (by step)
  private accumsOf = new Map<number, Accumulation[]>(); // leaf id → accumulations (by step)

  constructor(trace: Pick<BackwardTrace, "steps"> | null, nodes: readonly GraphNode[] = []) {
    this.steps = trace ? trace.steps : [];
    this.n = this.steps.length;
    for (const nd of nodes) this.byId.set(nd.id, nd);
    this.steps.forEach((s, i) => {
      if (s.node !== null && s.node !== undefined) {
        const l = this.stepsOf.get(s.node) ?? [];
        l.push(i);
        this.stepsOf.set(s.node, l);
      }
      if (s.op === "AccumulateGrad") {
        const leaf = s.leaf ?? s.node;
        const g = s.grads_in?.[0];
        if (leaf !== null && leaf !== undefined && g) {
          const l = this.accumsOf.get(leaf) ?? [];
          l.push({ step: i, grad: g });
          this.accumsOf.set(leaf, l);
        }
        return;
      }
      const nd = s.node !== null && s.node !== undefined ? this.byId.get(s.node) : undefined;
      if (!nd) return;
      (s.grads_out ?? []).forEach((g, slot) => {
        const to = nd.inputs[slot];
        if (to === null || to === undefined || !g) return;
        const l = this.contribsTo.get(to) ?? [];
        l.push({ step: i, from: nd.id, slot, grad: g });
        this.contribsTo.set(to, l);
      });
    });
  }

  // ---- position ---------------------------------------------------------------------------
  get position(): number {
    return this.k;
  }
  get isPlaying(): boolean {
    return this.playing;
  }
  get atEnd(): boolean {
    return this.k >= this.n;
  }
  /** `k / n` as the UI shows it. */
  get label(): string {
    return `${this.k} / ${this.n}`;
  }

  next(): boolean {
    if (this.k >= this.n) return false;
    this.k++;
    return true;
  }
  prev(): boolean {
    if (this.k <= 0) return false;
    this.k--;
    return true;
  }
  reset(): void {
    this.k = 0;
    this.playing = false;
  }
  toEnd(): void {
    this.k = this.n;
  }
  jumpTo(k: number): void {
    this.k = Math.max(0, Math.min(this.n, Math.floor(k)));
  }
  /**
   * Step until node `id` runs: the position right after its next step (after the current
   * position; wrapping to its first step). Returns false when the node has no step.
   */
  jumpToNode(id: number): boolean {
    const l = this.stepsOf.get(id);
    if (!l || !l.length) return false;
    const after = l.find((i) => i + 1 > this.k);
    this.k = (after ?? l[0]) + 1;
    return true;
  }
  /** Steps in which node `id` runs. */
  stepsOfNode(id: number): readonly number[] {
    return this.stepsOf.get(id) ?? [];
  }

  // ---- play -------------------------------------------------------------------------------
  play(): void {
    if (this.n === 0) return;
    if (this.k >= this.n) this.k = 0;
    this.playing = true;
  }
  pause(): void {
    this.playing = false;
  }
  togglePlay(): boolean {
    if (this.playing) this.pause();
    else this.play();
    return this.playing;
  }
  /** One play tick: advance one step; stops playing at the end. Returns whether it still plays. */
  tick(): boolean {
    if (!this.playing) return false;
    this.next();
    if (this.k >= this.n) this.playing = false;
    return this.playing;
  }

  // ---- what the view shows ----------------------------------------------------------------
  /** The step applied last (the current one), or null at position 0. */
  current(): BackwardStep | null {
    return this.k > 0 ? this.steps[this.k - 1] : null;
  }

  nodeState(id: number): NodeState {
    const l = this.stepsOf.get(id);
    if (!l || this.k === 0) return "idle";
    const cur = this.steps[this.k - 1];
    if (cur && cur.node === id) return "active";
    return l[0] < this.k ? "done" : "idle";
  }

  /** States of every node that has a step (others are idle). */
  states(): Map<number, NodeState> {
    const out = new Map<number, NodeState>();
    for (const id of this.stepsOf.keys()) out.set(id, this.nodeState(id));
    return out;
  }

  /** Graph edges [src, dst] (forward direction) along which the current step sends gradient. */
  activeEdges(): [number, number][] {
    const s = this.current();
    if (!s || s.op === "AccumulateGrad" || s.node === null || s.node === undefined) return [];
    const nd = this.byId.get(s.node);
    if (!nd) return [];
    const out: [number, number][] = [];
    (s.grads_out ?? []).forEach((g, slot) => {
      const src = nd.inputs[slot];
      if (g && src !== null && src !== undefined) out.push([src, nd.id]);
    });
    return out;
  }

  /** Gradient of node `id` as far as the steps applied so far tell (leaves: .grad accumulating). */
  gradState(id: number): LeafGradState {
    const contributions = (this.contribsTo.get(id) ?? []).filter((c) => c.step < this.k);
    const all = this.accumsOf.get(id) ?? [];
    const accumulations = all.filter((a) => a.step < this.k);
    return {
      contributions,
      accumulations,
      grad: scalarSum(accumulations.map((a) => a.grad)),
      arrived: scalarSum(contributions.map((c) => c.grad)),
      totalAccumulations: all.length,
    };
  }
}

/** Sum of one-element gradient values; null if there are none or any is not a single element. */
export function scalarSum(gs: readonly GradSummary[]): number | null {
  if (!gs.length) return null;
  let s = 0;
  for (const g of gs) {
    if (g.value === undefined || g.value === null) return null;
    s += g.value;
  }
  return s;
}

/** Passes to offer for a graph: traces of the graph's cell that arrived after it, by pass index. */
export function passesFor(traces: readonly BackwardTrace[], cellId: string, graphSeq: number): BackwardTrace[] {
  return traces
    .filter((t) => t.cellId === cellId && t.seq > graphSeq)
    .sort((a, b) => a.passIndex - b.passIndex || a.seq - b.seq);
}

// Draws a laid-out view of the graph as SVG: module boxes, items (nodes and collapsed modules) and
// edges, each in its own layer under one <g> that the viewport transforms. After drawing, stepping,
// selection and search only change attributes and classes, never the drawing.
import { svgEl } from "../dom";
import type { GraphNode } from "../types";
import type { LayoutInput, LayoutOutput } from "./layout";
import type { ViewGraph, ViewItem } from "./model";
import type { NodeState } from "./stepper";

const NODE_H = 38;
const GROUP_H = 46;
/** Above this many drawn items, off-screen items are culled and active edges do not animate. */
export const CULL_MIN = 300;
let instances = 0;

/** A drawn item and its box in layout coordinates; `hidden` while culled. */
export interface Drawn {
  item: ViewItem;
  el: SVGGElement;
  x: number;
  y: number;
  w: number;
  h: number;
  rank: number;
  hidden: boolean;
}

/** A drawn edge and the box around its curve (for culling). */
export interface DrawnEdge {
  el: SVGGElement;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  hidden: boolean;
}

/** The size an item is drawn at (what the layout places). */
export function itemSize(it: ViewItem): { w: number; h: number } {
  const chars = Math.max(it.label.length, it.sub.length * 0.85);
  const w = Math.round(Math.min(240, Math.max(it.kind === "group" ? 110 : 64, chars * 7.2 + 26)));
  return { w, h: it.kind === "group" ? GROUP_H : NODE_H };
}

function tooltip(it: ViewItem, byId: ReadonlyMap<number, GraphNode>): string {
  if (it.kind === "group") return `module ${it.group} — ${it.count} nodes (click to expand)`;
  const n = byId.get(it.nodeId!);
  if (!n) return it.label;
  const parts = [`#${n.id} ${n.kind === "leaf" ? "leaf " + (n.name ?? "") : n.op}`];
  if (n.module) parts.push(`module ${n.module}`);
  parts.push(`shape ${it.sub}`);
  if (n.line !== null && n.line !== undefined) parts.push(`line ${n.line}${n.cell !== null && n.cell !== undefined ? ` of cell [${n.cell}]` : ""}`);
  parts.push("click: inspect · double-click: step to it");
  return parts.join("\n");
}

function titled<E extends SVGElement>(el: E, text: string): E {
  const title = svgEl("title");
  title.textContent = text;
  el.append(title);
  return el;
}

export class GraphRenderer {
  readonly svg: SVGSVGElement;
  /** The group the viewport pans and zooms. */
  readonly stage: SVGGElement;
  private gBoxes: SVGGElement;
  private gEdges: SVGGElement;
  private gNodes: SVGGElement;
  private markerId: string;

  /** What is drawn: the view, its layout, the items by key, the edges. */
  view: ViewGraph | null = null;
  layout: LayoutOutput | null = null;
  readonly items = new Map<string, Drawn>();
  readonly edgeEls = new Map<string, SVGGElement>();
  edges: DrawnEdge[] = [];

  private itemState = new Map<string, string>();
  private activeEdgeKeys = new Set<string>();
  private statesSrc: Map<number, NodeState> = new Map();
  private activeEdgesSrc: [number, number][] = [];

  constructor() {
    this.markerId = `gv-arrow-${++instances}`;
    this.svg = svgEl("svg", { class: "gv-svg", role: "application", "aria-label": "Autograd graph" });
    const marker = svgEl("marker", {
      id: this.markerId,
      viewBox: "0 0 10 10",
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: "auto-start-reverse",
    });
    marker.append(svgEl("path", { d: "M0,0 L10,5 L0,10 z", class: "gv-arrowhead" }));
    const defs = svgEl("defs");
    defs.append(marker);
    this.stage = svgEl("g", { class: "gv-viewport" });
    this.gBoxes = svgEl("g", { class: "gv-boxes" });
    this.gEdges = svgEl("g", { class: "gv-edges" });
    this.gNodes = svgEl("g", { class: "gv-nodes" });
    this.stage.append(this.gBoxes, this.gEdges, this.gNodes);
    this.svg.append(defs, this.stage);
  }

  /** The drawn item (node, or the collapsed module holding it) that shows node `id`. */
  itemOfNode(id: number): Drawn | undefined {
    const key = this.view?.itemOf.get(id);
    return key !== undefined ? this.items.get(key) : undefined;
  }

  /** The drawn item an event target belongs to. */
  itemAt(target: EventTarget | null): Drawn | null {
    const el = target instanceof Element ? target.closest<SVGGElement>(".gv-node") : null;
    if (!el) return null;
    const key = el.getAttribute("data-key");
    return key !== null ? (this.items.get(key) ?? null) : null;
  }

  /** Replace the drawing; stepping states given earlier are applied to the new one. */
  draw(view: ViewGraph, out: LayoutOutput, input: LayoutInput, byId: ReadonlyMap<number, GraphNode>): void {
    this.view = view;
    this.layout = out;
    this.gBoxes.textContent = "";
    this.gEdges.textContent = "";
    this.gNodes.textContent = "";
    this.items.clear();
    this.edgeEls.clear();
    this.edges = [];
    this.svg.classList.toggle("gv-small", view.items.length <= CULL_MIN);
    this.itemState.clear();
    this.activeEdgeKeys.clear();
    this.gBoxes.append(this.boxes(view, out));
    this.gNodes.append(this.nodes(view, out, input, byId));
    this.gEdges.append(this.edgeLayer(view));
    this.applyStates(this.statesSrc, this.activeEdgesSrc);
  }

  /** Module boxes, outermost first (so inner ones paint on top). */
  private boxes(view: ViewGraph, out: LayoutOutput): DocumentFragment {
    const boxInfo = new Map(view.boxes.map((b) => [b.path, b]));
    const sorted = [...out.boxes].sort((a, b) => (boxInfo.get(a.path)?.depth ?? 0) - (boxInfo.get(b.path)?.depth ?? 0));
    const frag = document.createDocumentFragment();
    for (const b of sorted) {
      const info = boxInfo.get(b.path)!;
      const g = svgEl("g", { class: `gv-box depth-${Math.min(info.depth, 4)}`, "data-module": b.path, "data-testid": "graph-group-box" });
      g.append(svgEl("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 8 }));
      const label = svgEl("text", { x: b.x + 8, y: b.y + 17, class: "gv-box-label", tabindex: 0, role: "button" });
      label.textContent = `▾ ${info.label} · ${info.count}`;
      g.append(titled(label, `module ${info.label}: ${info.count} nodes — click to collapse`));
      frag.append(g);
    }
    return frag;
  }

  private nodes(view: ViewGraph, out: LayoutOutput, input: LayoutInput, byId: ReadonlyMap<number, GraphNode>): DocumentFragment {
    const order = input.items.map((_, i) => i).sort((a, b) => out.x[a] - out.x[b] || out.y[a] - out.y[b]);
    const frag = document.createDocumentFragment();
    for (const i of order) {
      const it = view.items[i];
      const { w, h } = input.items[i];
      const x = out.x[i];
      const y = out.y[i];
      const g = svgEl("g", { class: `gv-node kind-${it.cls}`, transform: `translate(${x},${y})`, tabindex: 0 });
      if (it.kind === "node") {
        g.setAttribute("data-testid", "graph-node");
        g.setAttribute("data-node-id", String(it.nodeId));
        g.setAttribute("data-op", it.op);
      } else {
        g.setAttribute("data-testid", "graph-group");
        g.setAttribute("data-module", it.group!);
        g.setAttribute("data-op", "group");
      }
      g.setAttribute("data-state", "idle");
      g.setAttribute("role", "button");
      g.setAttribute("data-key", it.key);
      const group = it.kind === "group";
      const rx = it.cls === "leaf" ? h / 2 : group ? 4 : 6;
      if (group) g.append(svgEl("rect", { width: w, height: h, rx, class: "gv-shape-stack", transform: "translate(4,4)" }));
      g.append(svgEl("rect", { width: w, height: h, rx, class: "gv-shape" }));
      const t1 = svgEl("text", { x: w / 2, y: group ? 19 : 16, class: "gv-l1" });
      t1.textContent = group ? `▸ ${it.label}` : it.label;
      const t2 = svgEl("text", { x: w / 2, y: group ? 36 : 31, class: "gv-l2" });
      t2.textContent = group ? it.sub : it.cls === "output" ? `output · ${it.sub}` : it.sub;
      g.append(t1, t2);
      frag.append(titled(g, tooltip(it, byId)));
      this.items.set(it.key, { item: it, el: g, x, y, w, h, rank: out.rank[i], hidden: false });
    }
    return frag;
  }

  private edgeLayer(view: ViewGraph): DocumentFragment {
    const frag = document.createDocumentFragment();
    for (const e of view.edges) {
      const a = this.items.get(e.src);
      const b = this.items.get(e.dst);
      if (!a || !b) continue;
      const x1 = a.x + a.w;
      const y1 = a.y + a.h / 2;
      const x2 = b.x;
      const y2 = b.y + b.h / 2;
      const forward = x2 > x1;
      // an edge that goes back (only between collapsed modules) loops below both ends
      const dip = Math.max(a.y + a.h, b.y + b.h) + 40;
      const c = Math.max(24, (x2 - x1) / 2);
      const d = forward ? `M${x1},${y1} C${x1 + c},${y1} ${x2 - c},${y2} ${x2},${y2}` : `M${x1},${y1} C${x1 + 60},${dip} ${x2 - 60},${dip} ${x2},${y2}`;
      const g = svgEl("g", { class: "gv-edge", "data-testid": "graph-edge", "data-key": e.key });
      const [s0, d0] = e.pairs[0];
      g.setAttribute("data-src", a.item.kind === "node" ? String(s0) : e.src);
      g.setAttribute("data-dst", b.item.kind === "node" ? String(d0) : e.dst);
      g.append(svgEl("path", { d, "marker-end": `url(#${this.markerId})` }));
      const t = svgEl("text", {
        x: forward ? x2 - 8 : (x1 + x2) / 2,
        y: forward ? y2 - 5 : dip - 8,
        class: "gv-edge-label",
        "text-anchor": forward ? "end" : "middle",
      });
      t.textContent = e.pairs.length > 1 ? `${e.label} ×${e.pairs.length}` : e.label;
      g.append(t);
      frag.append(g);
      this.edgeEls.set(e.key, g);
      this.edges.push({
        el: g,
        x0: Math.min(x1, x2) - 60,
        y0: Math.min(y1, y2) - 12,
        x1: Math.max(x1, x2) + 60,
        y1: Math.max(y1, y2, forward ? 0 : dip),
        hidden: false,
      });
    }
    return frag;
  }

  /** Forget the stepping states (a new graph came; its drawing follows). */
  resetStates(): void {
    this.statesSrc = new Map();
    this.activeEdgesSrc = [];
  }

  /** Set data-state on drawn items and highlight the edges carrying gradient; touches only changes. */
  applyStates(states: Map<number, NodeState>, activeEdges: [number, number][]): void {
    this.statesSrc = states;
    this.activeEdgesSrc = activeEdges;
    const view = this.view;
    if (!view) return;
    const next = new Map<string, string>();
    // groups: active if they hold the active node, done when every stepped member is done
    const groupAll = new Map<string, boolean>();
    for (const [id, st] of states) {
      const key = view.itemOf.get(id);
      if (key === undefined) continue;
      const d = this.items.get(key);
      if (!d) continue;
      if (d.item.kind === "node") {
        if (st !== "idle") next.set(key, st);
      } else {
        const cur = next.get(key);
        if (st === "active") next.set(key, "active");
        else if (cur !== "active" && st === "done") next.set(key, "done");
        if (st !== "done" && st !== "active") groupAll.set(key, false);
      }
    }
    for (const [key, all] of groupAll) if (!all && next.get(key) === "done") next.set(key, "partial");
    for (const key of this.itemState.keys()) {
      if (!next.has(key)) this.items.get(key)?.el.setAttribute("data-state", "idle");
    }
    for (const [key, st] of next) {
      if (this.itemState.get(key) !== st) {
        const d = this.items.get(key);
        if (d) d.el.setAttribute("data-state", st === "partial" ? "done" : st);
        if (d && d.item.kind === "group") d.el.classList.toggle("gv-partial", st === "partial");
      }
    }
    this.itemState = next;
    const nextEdges = new Set<string>();
    for (const [s, d] of activeEdges) {
      const k = view.edgeOf.get(`${s}>${d}`);
      if (k !== undefined) nextEdges.add(k);
    }
    for (const k of this.activeEdgeKeys) if (!nextEdges.has(k)) this.edgeEls.get(k)?.classList.remove("gv-edge-active");
    for (const k of nextEdges) if (!this.activeEdgeKeys.has(k)) this.edgeEls.get(k)?.classList.add("gv-edge-active");
    this.activeEdgeKeys = nextEdges;
  }

  /** Mark the item showing node `id` as selected (none for null). */
  markSelected(id: number | null): void {
    for (const el of this.gNodes.querySelectorAll(".gv-selected")) el.classList.remove("gv-selected");
    const d = id !== null ? this.itemOfNode(id) : undefined;
    if (d) {
      d.el.classList.add("gv-selected");
      d.el.setAttribute("aria-pressed", "true");
    }
  }

  /** Mark the items showing these nodes as search matches. */
  markMatches(ids: readonly number[]): void {
    for (const el of this.gNodes.querySelectorAll(".gv-match")) el.classList.remove("gv-match");
    for (const id of ids) this.itemOfNode(id)?.el.classList.add("gv-match");
  }
}

// The graph view: one SVG with the drawn items (nodes and collapsed modules), module boxes and
// edges; pan (drag), zoom (wheel, buttons), fit, search, keyboard navigation, forward replay.
// Layout runs in a Web Worker; stepping only changes attributes (applyStates), never the layout.
import type { Graph, GraphNode } from "../types";
import type { NodeState } from "./stepper";
import type { LayoutInput, LayoutOutput } from "./layout";
import { layoutGraph } from "./layout";
import {
  ancestorsOf,
  buildGroupTree,
  buildView,
  collapseNote,
  defaultCollapsed,
  enforceLimit,
  COLLAPSE_THRESHOLD,
  type GroupTree,
  type ViewGraph,
  type ViewItem,
} from "./model";

const SVG = "http://www.w3.org/2000/svg";
const NODE_H = 38;
const GROUP_H = 46;
/** Above this many drawn items, off-screen items are culled and active edges do not animate. */
const CULL_MIN = 300;
let instances = 0;

export interface GraphViewCallbacks {
  onSelect(nodeId: number | null): void;
  onJump(nodeId: number): void;
  onHover(node: GraphNode | null): void;
}

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, String(attrs[k]));
  return e;
}

function h<K extends keyof HTMLElementTagNameMap>(tag: K, cls = "", text = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function itemSize(it: ViewItem): { w: number; h: number } {
  const chars = Math.max(it.label.length, it.sub.length * 0.85);
  const w = Math.round(Math.min(240, Math.max(it.kind === "group" ? 110 : 64, chars * 7.2 + 26)));
  return { w, h: it.kind === "group" ? GROUP_H : NODE_H };
}

/** Runs layouts in a worker (or, where there is none, on this thread). Latest request wins. */
class LayoutRunner {
  private worker: Worker | null = null;
  private seq = 0;
  private pending = new Map<number, (o: LayoutOutput) => void>();

  constructor() {
    if (typeof Worker === "undefined") return;
    try {
      this.worker = new Worker(new URL("./layout.worker.ts", import.meta.url), { type: "module" });
      this.worker.onmessage = (ev: MessageEvent<{ id: number; output?: LayoutOutput; error?: string }>) => {
        const cb = this.pending.get(ev.data.id);
        this.pending.delete(ev.data.id);
        if (cb && ev.data.output) cb(ev.data.output);
      };
      this.worker.onerror = () => {
        // the worker failed to load or crashed: lay out on this thread from now on
        this.worker?.terminate();
        this.worker = null;
        this.pending.clear();
      };
    } catch {
      this.worker = null;
    }
  }

  run(input: LayoutInput): Promise<LayoutOutput> {
    const id = ++this.seq;
    if (!this.worker) return Promise.resolve(layoutGraph(input));
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker!.postMessage({ id, input });
    });
  }

  dispose(): void {
    this.worker?.terminate();
    this.worker = null;
    this.pending.clear();
  }
}

interface Drawn {
  item: ViewItem;
  el: SVGGElement;
  x: number;
  y: number;
  w: number;
  h: number;
  rank: number;
}

export class GraphView {
  readonly el: HTMLElement;
  private cb: GraphViewCallbacks;
  private svg: SVGSVGElement;
  private viewport: SVGGElement;
  private gBoxes: SVGGElement;
  private gEdges: SVGGElement;
  private gNodes: SVGGElement;
  private note: HTMLElement;
  private empty: HTMLElement;
  private searchInput: HTMLInputElement;
  private searchCount: HTMLElement;
  private runner = new LayoutRunner();
  private markerId: string;

  graph: Graph | null = null;
  private byId = new Map<number, GraphNode>();
  private tree: GroupTree | null = null;
  private collapsed = new Set<string>();
  private defaultApplied = false;
  private view: ViewGraph | null = null;
  private drawn = new Map<string, Drawn>();
  private edgeEls = new Map<string, SVGGElement>();
  private edgeBoxes: { el: SVGGElement; x0: number; y0: number; x1: number; y1: number; hidden: boolean }[] = [];
  private hiddenItems = new Set<Drawn>();
  private movingTimer: ReturnType<typeof setTimeout> | null = null;
  private layoutToken = 0;
  private afterLayout: (() => void) | null = null;
  private lastLayout: LayoutOutput | null = null;

  private itemState = new Map<string, string>();
  private activeEdgeKeys = new Set<string>();
  private statesSrc: Map<number, NodeState> = new Map();
  private activeEdgesSrc: [number, number][] = [];
  selected: number | null = null;

  private tx = 0;
  private ty = 0;
  private scale = 1;
  private dragging: { x: number; y: number; tx: number; ty: number; moved: boolean; id: number } | null = null;
  private suppressClick = false;
  private matches: number[] = [];
  private matchIdx = -1;
  private replayTimer: number | null = null;
  private disposed = false;

  constructor(host: HTMLElement, cb: GraphViewCallbacks) {
    this.cb = cb;
    this.markerId = `gv-arrow-${++instances}`;
    this.el = h("div", "gv");
    this.el.dataset.testid = "graph-view";
    this.el.setAttribute("data-testid", "graph-view");

    const bar = h("div", "gv-toolbar");
    this.searchInput = h("input", "gv-search");
    this.searchInput.type = "search";
    this.searchInput.placeholder = "Find node (name, op, #id)…";
    this.searchInput.setAttribute("aria-label", "Find a node by name or op");
    this.searchCount = h("span", "gv-search-count");
    const btn = (label: string, title: string, fn: () => void, testid?: string) => {
      const b = h("button", "gv-btn", label);
      b.type = "button";
      b.title = title;
      b.setAttribute("aria-label", title);
      if (testid) b.setAttribute("data-testid", testid);
      b.addEventListener("click", fn);
      return b;
    };
    bar.append(
      this.searchInput,
      this.searchCount,
      btn("−", "Zoom out", () => this.zoomBy(1 / 1.25), "graph-zoom-out"),
      btn("+", "Zoom in", () => this.zoomBy(1.25), "graph-zoom-in"),
      btn("Fit", "Fit the graph in the view", () => this.fit(), "graph-fit"),
      btn("▶ Forward", "Replay the forward pass: nodes appear in creation order", () => this.replayForward(), "graph-replay"),
      btn("Expand all", "Expand every module", () => this.setAllCollapsed(false), "graph-expand-all"),
      btn("Collapse all", "Collapse every module", () => this.setAllCollapsed(true), "graph-collapse-all"),
    );
    this.note = h("div", "gv-note");
    this.note.setAttribute("data-testid", "graph-note");
    this.note.hidden = true;

    const canvas = h("div", "gv-canvas");
    this.svg = svgEl("svg", { class: "gv-svg", role: "application", "aria-label": "Autograd graph" });
    const defs = svgEl("defs");
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
    defs.append(marker);
    this.viewport = svgEl("g", { class: "gv-viewport" });
    this.gBoxes = svgEl("g", { class: "gv-boxes" });
    this.gEdges = svgEl("g", { class: "gv-edges" });
    this.gNodes = svgEl("g", { class: "gv-nodes" });
    this.viewport.append(this.gBoxes, this.gEdges, this.gNodes);
    this.svg.append(defs, this.viewport);
    this.empty = h("div", "gv-empty", "Run a cell that builds an autograd graph — e.g. y = w*x + b; z = y**2; z.backward() — to see it here.");
    canvas.append(this.svg, this.empty);
    this.el.append(bar, this.note, canvas);
    host.append(this.el);
    this.wire();
  }

  // ---- graph in ----------------------------------------------------------------------------
  setGraph(graph: Graph): void {
    this.stopReplay();
    this.graph = graph;
    this.byId = new Map(graph.nodes.map((n) => [n.id, n]));
    this.tree = buildGroupTree(graph);
    this.collapsed = defaultCollapsed(this.tree, COLLAPSE_THRESHOLD);
    this.defaultApplied = this.collapsed.size > 0;
    if (this.selected !== null && !this.byId.has(this.selected)) this.selected = null;
    this.statesSrc = new Map();
    this.activeEdgesSrc = [];
    this.matches = [];
    this.matchIdx = -1;
    this.searchCount.textContent = "";
    this.relayout(true);
  }

  node(id: number): GraphNode | undefined {
    return this.byId.get(id);
  }

  isCollapsed(path: string): boolean {
    return this.collapsed.has(path);
  }

  toggleGroup(path: string): void {
    if (this.collapsed.has(path)) this.collapsed.delete(path);
    else this.collapsed.add(path);
    this.defaultApplied = false;
    this.relayout(false);
  }

  setAllCollapsed(on: boolean): void {
    if (!this.tree) return;
    this.collapsed = on ? new Set([...this.tree.groups.keys()].filter((p) => p !== "")) : new Set();
    this.defaultApplied = false;
    this.relayout(true);
  }

  /** Expand the modules that hide node `id`; true when a relayout was started. */
  private reveal(id: number): boolean {
    if (!this.tree) return false;
    const path = this.tree.moduleOf.get(id) ?? "";
    let changed = false;
    for (const a of ancestorsOf(path)) {
      if (this.collapsed.delete(a)) changed = true;
    }
    if (changed) this.relayout(false);
    return changed;
  }

  private relayout(fitAfter: boolean): void {
    const graph = this.graph;
    const tree = this.tree;
    if (!graph || !tree) return;
    const lim = enforceLimit(tree, this.collapsed);
    this.collapsed = lim.collapsed;
    const view = buildView(graph, tree, this.collapsed);
    const noteParts: string[] = [];
    const cn = collapseNote(tree.groups.get("")!.total, lim.count, this.defaultApplied, lim.autoCollapsed);
    if (cn) noteParts.push(cn);
    if (graph.dropped > 0) noteParts.push(`${graph.dropped} node records were not kept (recording limit); the graph is cut.`);
    if (graph.omitted > 0) noteParts.push(`${graph.omitted} records were too large to send.`);
    this.note.textContent = noteParts.join(" ");
    this.note.hidden = noteParts.length === 0;
    const input: LayoutInput = {
      items: view.items.map((it) => ({ key: it.key, ...itemSize(it), parent: it.parent, order: it.order })),
      edges: view.edges.map((e) => [e.src, e.dst] as [string, string]),
      boxes: view.boxes.map((b) => ({ path: b.path, parent: b.parent })),
    };
    const token = ++this.layoutToken;
    this.el.setAttribute("data-layout-state", "running");
    const t0 = performance.now();
    void this.runner.run(input).then((out) => {
      if (this.disposed || token !== this.layoutToken) return;
      this.view = view;
      this.lastLayout = out;
      this.render(view, out, input);
      this.el.setAttribute("data-layout-ms", String(Math.round(out.ms)));
      this.el.setAttribute("data-layout-roundtrip-ms", String(Math.round(performance.now() - t0)));
      this.el.setAttribute("data-layout-state", "done");
      this.el.setAttribute("data-graph-seq", String(graph.seq));
      this.el.setAttribute("data-drawn-nodes", String(this.gNodes.querySelectorAll('[data-testid="graph-node"]').length));
      this.el.setAttribute("data-drawn-groups", String(view.items.filter((it) => it.kind === "group").length));
      if (fitAfter) this.fit(true);
      const after = this.afterLayout;
      this.afterLayout = null;
      after?.();
    });
  }

  // ---- drawing -----------------------------------------------------------------------------
  private render(view: ViewGraph, out: LayoutOutput, input: LayoutInput): void {
    this.gBoxes.textContent = "";
    this.gEdges.textContent = "";
    this.gNodes.textContent = "";
    this.drawn.clear();
    this.edgeEls.clear();
    this.edgeBoxes = [];
    this.hiddenItems.clear();
    this.svg.classList.toggle("gv-small", view.items.length <= CULL_MIN);
    this.itemState.clear();
    this.activeEdgeKeys.clear();
    this.empty.hidden = view.items.length > 0;
    if (this.graph && this.graph.nodes.length === 0) {
      this.empty.textContent = "The last cell built no autograd graph.";
      this.empty.hidden = false;
    }

    // boxes, outermost first (so inner ones paint on top)
    const boxInfo = new Map(view.boxes.map((b) => [b.path, b]));
    const boxesSorted = [...out.boxes].sort((a, b) => (boxInfo.get(a.path)?.depth ?? 0) - (boxInfo.get(b.path)?.depth ?? 0));
    const fragB = document.createDocumentFragment();
    for (const b of boxesSorted) {
      const info = boxInfo.get(b.path)!;
      const g = svgEl("g", { class: `gv-box depth-${Math.min(info.depth, 4)}`, "data-module": b.path, "data-testid": "graph-group-box" });
      g.append(svgEl("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 8 }));
      const label = svgEl("text", { x: b.x + 8, y: b.y + 17, class: "gv-box-label", tabindex: 0, role: "button" });
      label.textContent = `▾ ${info.label} · ${info.count}`;
      const title = svgEl("title");
      title.textContent = `module ${info.label}: ${info.count} nodes — click to collapse`;
      label.append(title);
      g.append(label);
      fragB.append(g);
    }
    this.gBoxes.append(fragB);

    // items
    const order = input.items.map((_, i) => i).sort((a, b) => out.x[a] - out.x[b] || out.y[a] - out.y[b]);
    const fragN = document.createDocumentFragment();
    for (const i of order) {
      const it = view.items[i];
      const { w, h: hh } = input.items[i];
      const x = out.x[i];
      const y = out.y[i];
      const g = svgEl("g", { class: `gv-node kind-${it.cls}`, transform: `translate(${x},${y})`, tabindex: 0 });
      if (it.kind === "node") {
        g.setAttribute("data-testid", "graph-node");
        g.setAttribute("data-node-id", String(it.nodeId));
        g.setAttribute("data-op", it.op);
        g.setAttribute("data-state", "idle");
        g.setAttribute("role", "button");
      } else {
        g.setAttribute("data-testid", "graph-group");
        g.setAttribute("data-module", it.group!);
        g.setAttribute("data-op", "group");
        g.setAttribute("data-state", "idle");
        g.setAttribute("role", "button");
      }
      g.setAttribute("data-key", it.key);
      const rx = it.cls === "leaf" ? hh / 2 : it.kind === "group" ? 4 : 6;
      g.append(svgEl("rect", { width: w, height: hh, rx, class: "gv-shape" }));
      if (it.kind === "group") {
        g.append(svgEl("rect", { width: w, height: hh, rx, class: "gv-shape-stack", transform: "translate(4,4)" }));
        g.insertBefore(g.lastChild!, g.firstChild);
      }
      const t1 = svgEl("text", { x: w / 2, y: it.kind === "group" ? 19 : 16, class: "gv-l1" });
      t1.textContent = it.kind === "group" ? `▸ ${it.label}` : it.label;
      const t2 = svgEl("text", { x: w / 2, y: it.kind === "group" ? 36 : 31, class: "gv-l2" });
      t2.textContent = it.kind === "group" ? it.sub : it.cls === "output" ? `output · ${it.sub}` : it.sub;
      const title = svgEl("title");
      title.textContent = this.tooltip(it);
      g.append(t1, t2, title);
      fragN.append(g);
      this.drawn.set(it.key, { item: it, el: g, x, y, w, h: hh, rank: out.rank[i] });
    }
    this.gNodes.append(fragN);

    // edges
    const fragE = document.createDocumentFragment();
    for (const e of view.edges) {
      const a = this.drawn.get(e.src);
      const b = this.drawn.get(e.dst);
      if (!a || !b) continue;
      const x1 = a.x + a.w;
      const y1 = a.y + a.h / 2;
      const x2 = b.x;
      const y2 = b.y + b.h / 2;
      let d: string;
      let lx: number;
      let ly: number;
      if (x2 > x1) {
        const c = Math.max(24, (x2 - x1) / 2);
        d = `M${x1},${y1} C${x1 + c},${y1} ${x2 - c},${y2} ${x2},${y2}`;
        lx = x2 - 8;
        ly = y2 - 5;
      } else {
        // goes back (only between collapsed modules): loop below
        const dip = Math.max(a.y + a.h, b.y + b.h) + 40;
        d = `M${x1},${y1} C${x1 + 60},${dip} ${x2 - 60},${dip} ${x2},${y2}`;
        lx = (x1 + x2) / 2;
        ly = dip - 8;
      }
      const g = svgEl("g", { class: "gv-edge", "data-testid": "graph-edge", "data-key": e.key });
      const [s0, d0] = e.pairs[0];
      g.setAttribute("data-src", a.item.kind === "node" ? String(s0) : e.src);
      g.setAttribute("data-dst", b.item.kind === "node" ? String(d0) : e.dst);
      g.append(svgEl("path", { d, "marker-end": `url(#${this.markerId})` }));
      const t = svgEl("text", { x: lx, y: ly, class: "gv-edge-label", "text-anchor": x2 > x1 ? "end" : "middle" });
      t.textContent = e.pairs.length > 1 ? `${e.label} ×${e.pairs.length}` : e.label;
      g.append(t);
      fragE.append(g);
      this.edgeEls.set(e.key, g);
      this.edgeBoxes.push({
        el: g,
        x0: Math.min(x1, x2) - 60,
        y0: Math.min(y1, y2) - 12,
        x1: Math.max(x1, x2) + 60,
        y1: Math.max(y1, y2, x2 > x1 ? 0 : Math.max(a.y + a.h, b.y + b.h) + 40),
        hidden: false,
      });
    }
    this.gEdges.append(fragE);

    // re-apply stepping state and selection on the new drawing
    this.applyStates(this.statesSrc, this.activeEdgesSrc);
    this.markSelected();
  }

  private tooltip(it: ViewItem): string {
    if (it.kind === "group") return `module ${it.group} — ${it.count} nodes (click to expand)`;
    const n = this.byId.get(it.nodeId!);
    if (!n) return it.label;
    const parts = [`#${n.id} ${n.kind === "leaf" ? "leaf " + (n.name ?? "") : n.op}`];
    if (n.module) parts.push(`module ${n.module}`);
    parts.push(`shape ${it.sub}`);
    if (n.line !== null && n.line !== undefined) parts.push(`line ${n.line}${n.cell !== null && n.cell !== undefined ? ` of cell [${n.cell}]` : ""}`);
    parts.push("click: inspect · double-click: step to it");
    return parts.join("\n");
  }

  // ---- stepping: attributes only ---------------------------------------------------------
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
      const d = this.drawn.get(key);
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
      if (!next.has(key)) {
        const d = this.drawn.get(key);
        if (d) d.el.setAttribute("data-state", "idle");
      }
    }
    for (const [key, st] of next) {
      if (this.itemState.get(key) !== st) {
        const d = this.drawn.get(key);
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

  // ---- selection ---------------------------------------------------------------------------
  select(id: number | null, opts: { center?: boolean; notify?: boolean } = {}): void {
    this.selected = id;
    if (id !== null && opts.center) {
      if (this.reveal(id)) {
        this.afterLayout = () => {
          this.markSelected();
          this.centerOn(id);
        };
      } else this.centerOn(id);
    }
    this.markSelected();
    if (opts.notify !== false) this.cb.onSelect(id);
  }

  private markSelected(): void {
    for (const el of this.gNodes.querySelectorAll(".gv-selected")) el.classList.remove("gv-selected");
    if (this.selected === null || !this.view) return;
    const key = this.view.itemOf.get(this.selected);
    const d = key !== undefined ? this.drawn.get(key) : undefined;
    if (d) {
      d.el.classList.add("gv-selected");
      d.el.setAttribute("aria-pressed", "true");
    }
  }

  centerOn(id: number): void {
    const key = this.view?.itemOf.get(id);
    const d = key !== undefined ? this.drawn.get(key) : undefined;
    if (!d) return;
    const r = this.svg.getBoundingClientRect();
    const W = r.width || 600;
    const H = r.height || 400;
    if (this.scale < 0.6) this.scale = 0.9;
    this.tx = W / 2 - (d.x + d.w / 2) * this.scale;
    this.ty = H / 2 - (d.y + d.h / 2) * this.scale;
    this.applyTransform();
  }

  // ---- pan / zoom --------------------------------------------------------------------------
  private applyTransform(): void {
    this.viewport.setAttribute("transform", `translate(${this.tx.toFixed(1)},${this.ty.toFixed(1)}) scale(${this.scale.toFixed(4)})`);
    // level of detail: SVG text is what makes big drawings slow, so drop it when too small to read
    this.svg.classList.toggle("gv-far", this.scale < 0.5);
    this.svg.classList.toggle("gv-tiny", this.scale < 0.28);
    this.el.setAttribute("data-zoom", this.scale.toFixed(3));
    this.cull();
    if (this.drawn.size > CULL_MIN) {
      // while panning/zooming a big drawing, leave text out; it comes back when the motion stops
      this.svg.classList.add("gv-moving");
      if (this.movingTimer !== null) clearTimeout(this.movingTimer);
      this.movingTimer = setTimeout(() => {
        this.movingTimer = null;
        this.svg.classList.remove("gv-moving");
      }, 200);
    }
  }

  /** Big drawings: take what lies outside the visible area out of rendering (display none). */
  private cull(): void {
    if (this.drawn.size <= CULL_MIN) {
      if (this.hiddenItems.size) {
        for (const d of this.hiddenItems) d.el.style.display = "";
        this.hiddenItems.clear();
      }
      return;
    }
    const r = this.svg.getBoundingClientRect();
    const W = r.width || 600;
    const H = r.height || 400;
    const m = 80 / this.scale;
    const x0 = -this.tx / this.scale - m;
    const y0 = -this.ty / this.scale - m;
    const x1 = (W - this.tx) / this.scale + m;
    const y1 = (H - this.ty) / this.scale + m;
    for (const d of this.drawn.values()) {
      const hide = d.x > x1 || d.x + d.w < x0 || d.y > y1 || d.y + d.h < y0;
      if (hide === this.hiddenItems.has(d)) continue;
      d.el.style.display = hide ? "none" : "";
      if (hide) this.hiddenItems.add(d);
      else this.hiddenItems.delete(d);
    }
    for (const e of this.edgeBoxes) {
      const hide = e.x0 > x1 || e.x1 < x0 || e.y0 > y1 || e.y1 < y0;
      if (hide === e.hidden) continue;
      e.hidden = hide;
      e.el.style.display = hide ? "none" : "";
    }
  }

  zoomBy(f: number, cx?: number, cy?: number): void {
    const r = this.svg.getBoundingClientRect();
    const px = cx ?? (r.width || 600) / 2;
    const py = cy ?? (r.height || 400) / 2;
    const s = Math.min(4, Math.max(0.02, this.scale * f));
    const k = s / this.scale;
    this.tx = px - (px - this.tx) * k;
    this.ty = py - (py - this.ty) * k;
    this.scale = s;
    this.applyTransform();
  }

  fit(initial = false): void {
    const out = this.lastLayout;
    const r = this.svg.getBoundingClientRect();
    const W = r.width || 600;
    const H = r.height || 400;
    if (!out || out.width <= 0) {
      this.tx = 0;
      this.ty = 0;
      this.scale = 1;
    } else {
      this.scale = Math.max(0.02, Math.min(1.4, (W - 16) / out.width, (H - 16) / out.height));
      this.tx = (W - out.width * this.scale) / 2;
      this.ty = (H - out.height * this.scale) / 2;
      // first view of a graph that would only fit as unreadable specks: readable size, showing
      // the output end (where backward starts); Fit shows everything
      if (initial && this.scale < 0.3) {
        this.scale = 0.6;
        const out0 = this.view?.items.find((it) => it.cls === "output");
        const d = out0 ? this.drawn.get(out0.key) : undefined;
        this.tx = W - out.width * this.scale - 8;
        this.ty = d ? H / 2 - (d.y + d.h / 2) * this.scale : Math.max(8, (H - out.height * this.scale) / 2);
      }
    }
    this.applyTransform();
  }

  // ---- events ------------------------------------------------------------------------------
  private itemFromTarget(t: EventTarget | null): Drawn | null {
    const el = t instanceof Element ? t.closest<SVGGElement>(".gv-node") : null;
    if (!el) return null;
    const key = el.getAttribute("data-key");
    return key !== null ? (this.drawn.get(key) ?? null) : null;
  }

  private wire(): void {
    const svg = this.svg;
    svg.addEventListener("click", (ev) => {
      if (this.suppressClick) {
        this.suppressClick = false;
        return;
      }
      const boxLabel = ev.target instanceof Element ? ev.target.closest(".gv-box-label") : null;
      if (boxLabel) {
        const path = boxLabel.closest(".gv-box")?.getAttribute("data-module");
        if (path) this.toggleGroup(path);
        return;
      }
      const d = this.itemFromTarget(ev.target);
      if (!d) return;
      this.activate(d);
    });
    svg.addEventListener("dblclick", (ev) => {
      const d = this.itemFromTarget(ev.target);
      if (d && d.item.kind === "node") this.cb.onJump(d.item.nodeId!);
    });
    svg.addEventListener("pointerover", (ev) => {
      const d = this.itemFromTarget(ev.target);
      if (d && d.item.kind === "node") this.cb.onHover(this.byId.get(d.item.nodeId!) ?? null);
    });
    svg.addEventListener("pointerout", (ev) => {
      const from = this.itemFromTarget(ev.target);
      const to = this.itemFromTarget(ev.relatedTarget);
      if (from && from !== to && from.item.kind === "node") this.cb.onHover(null);
    });
    svg.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const r = svg.getBoundingClientRect();
      this.zoomBy(Math.exp(-ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0015)), ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });
    svg.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      this.dragging = { x: ev.clientX, y: ev.clientY, tx: this.tx, ty: this.ty, moved: false, id: ev.pointerId };
    });
    svg.addEventListener("pointermove", (ev) => {
      const dr = this.dragging;
      if (!dr || dr.id !== ev.pointerId) return;
      const dx = ev.clientX - dr.x;
      const dy = ev.clientY - dr.y;
      if (!dr.moved && Math.abs(dx) + Math.abs(dy) > 4) {
        dr.moved = true;
        try {
          svg.setPointerCapture(ev.pointerId);
        } catch {
          /* not capturable */
        }
        svg.classList.add("gv-panning");
      }
      if (dr.moved) {
        this.tx = dr.tx + dx;
        this.ty = dr.ty + dy;
        this.applyTransform();
      }
    });
    const end = (ev: PointerEvent) => {
      const dr = this.dragging;
      if (!dr || dr.id !== ev.pointerId) return;
      if (dr.moved) this.suppressClick = true;
      this.dragging = null;
      svg.classList.remove("gv-panning");
      // a click follows pointerup only when something was clicked; clear the flag soon after
      if (dr.moved) setTimeout(() => (this.suppressClick = false), 0);
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    svg.addEventListener("keydown", (ev) => this.onKey(ev));
    this.searchInput.addEventListener("input", () => this.updateMatches());
    this.searchInput.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        this.nextMatch(ev.shiftKey ? -1 : 1);
      } else if (ev.key === "Escape") {
        this.searchInput.value = "";
        this.updateMatches();
      }
    });
  }

  private activate(d: Drawn): void {
    if (d.item.kind === "group") this.toggleGroup(d.item.group!);
    else this.select(d.item.nodeId!);
  }

  private onKey(ev: KeyboardEvent): void {
    const d = this.itemFromTarget(ev.target);
    if (!d) {
      if (ev.key === "+" || ev.key === "=") this.zoomBy(1.25);
      else if (ev.key === "-") this.zoomBy(1 / 1.25);
      return;
    }
    let to: Drawn | null = null;
    switch (ev.key) {
      case "Enter":
      case " ":
        ev.preventDefault();
        this.activate(d);
        return;
      case "ArrowRight":
        to = this.neighbor(d, "succ");
        break;
      case "ArrowLeft":
        to = this.neighbor(d, "pred");
        break;
      case "ArrowUp":
        to = this.sameRank(d, -1);
        break;
      case "ArrowDown":
        to = this.sameRank(d, 1);
        break;
      default:
        return;
    }
    ev.preventDefault();
    if (to) {
      to.el.focus();
      this.ensureVisible(to);
    }
  }

  private neighbor(d: Drawn, dir: "succ" | "pred"): Drawn | null {
    if (!this.view) return null;
    let best: Drawn | null = null;
    for (const e of this.view.edges) {
      const k = dir === "succ" ? (e.src === d.item.key ? e.dst : null) : e.dst === d.item.key ? e.src : null;
      if (k === null) continue;
      const c = this.drawn.get(k);
      if (c && (!best || Math.abs(c.y - d.y) < Math.abs(best.y - d.y))) best = c;
    }
    return best;
  }

  private sameRank(d: Drawn, dir: 1 | -1): Drawn | null {
    let best: Drawn | null = null;
    for (const c of this.drawn.values()) {
      if (c.rank !== d.rank || c === d) continue;
      const dy = (c.y - d.y) * dir;
      if (dy > 0 && (!best || dy < (best.y - d.y) * dir)) best = c;
    }
    return best;
  }

  /** Pan (no zoom change) so that node `id` (or the module holding it) is in view. */
  ensureNodeVisible(id: number): void {
    const key = this.view?.itemOf.get(id);
    const d = key !== undefined ? this.drawn.get(key) : undefined;
    if (d) this.ensureVisible(d);
  }

  private ensureVisible(d: Drawn): void {
    const r = this.svg.getBoundingClientRect();
    const W = r.width || 600;
    const H = r.height || 400;
    const sx = d.x * this.scale + this.tx;
    const sy = d.y * this.scale + this.ty;
    if (sx < 0 || sy < 0 || sx + d.w * this.scale > W || sy + d.h * this.scale > H) {
      this.tx = W / 2 - (d.x + d.w / 2) * this.scale;
      this.ty = H / 2 - (d.y + d.h / 2) * this.scale;
      this.applyTransform();
    }
  }

  // ---- search ------------------------------------------------------------------------------
  private updateMatches(): void {
    const q = this.searchInput.value.trim().toLowerCase();
    this.matches = [];
    this.matchIdx = -1;
    if (q && this.graph) {
      const idq = q.startsWith("#") ? Number(q.slice(1)) : NaN;
      for (const n of this.graph.nodes) {
        if (!Number.isNaN(idq)) {
          if (n.id === idq) this.matches.push(n.id);
          continue;
        }
        const hay = `${n.name ?? ""} ${n.op} ${n.module}`.toLowerCase();
        if (hay.includes(q)) this.matches.push(n.id);
      }
    }
    this.searchCount.textContent = q ? `${this.matches.length} match${this.matches.length === 1 ? "" : "es"}` : "";
    for (const el of this.gNodes.querySelectorAll(".gv-match")) el.classList.remove("gv-match");
    if (this.view) {
      for (const id of this.matches) {
        const k = this.view.itemOf.get(id);
        if (k) this.drawn.get(k)?.el.classList.add("gv-match");
      }
    }
  }

  /** Enter in the search box: select and center the next match. */
  nextMatch(dir = 1): void {
    if (!this.matches.length) this.updateMatches();
    if (!this.matches.length) return;
    this.matchIdx = (this.matchIdx + dir + this.matches.length) % this.matches.length;
    const id = this.matches[this.matchIdx];
    this.searchCount.textContent = `${this.matchIdx + 1} / ${this.matches.length}`;
    this.select(id, { center: true });
  }

  setSearch(q: string): void {
    this.searchInput.value = q;
    this.updateMatches();
  }

  // ---- forward replay ----------------------------------------------------------------------
  replayForward(): void {
    this.stopReplay();
    const items = [...this.drawn.values()].sort((a, b) => a.item.order - b.item.order);
    if (!items.length) return;
    this.svg.classList.add("gv-replay");
    const shown = new Set<string>();
    const edgesAt = new Map<string, string[]>();
    for (const e of this.view?.edges ?? []) {
      for (const k of [e.src, e.dst]) {
        const l = edgesAt.get(k) ?? [];
        l.push(e.key);
        edgesAt.set(k, l);
      }
    }
    const edgeByKey = new Map((this.view?.edges ?? []).map((e) => [e.key, e]));
    const perItem = Math.max(8, Math.min(300, 3000 / items.length));
    const t0 = performance.now();
    let i = 0;
    const frame = () => {
      if (this.disposed) return;
      const upto = Math.min(items.length, Math.floor((performance.now() - t0) / perItem) + 1);
      for (; i < upto; i++) {
        items[i].el.classList.add("gv-shown");
        shown.add(items[i].item.key);
        for (const k of edgesAt.get(items[i].item.key) ?? []) {
          const e = edgeByKey.get(k)!;
          if (shown.has(e.src) && shown.has(e.dst)) this.edgeEls.get(k)?.classList.add("gv-shown");
        }
      }
      if (i < items.length) this.replayTimer = requestAnimationFrame(frame);
      else this.replayTimer = window.setTimeout(() => this.stopReplay(), 600) as unknown as number;
    };
    this.replayTimer = requestAnimationFrame(frame);
  }

  private stopReplay(): void {
    if (this.replayTimer !== null) {
      cancelAnimationFrame(this.replayTimer);
      clearTimeout(this.replayTimer);
      this.replayTimer = null;
    }
    this.svg.classList.remove("gv-replay");
    for (const el of this.svg.querySelectorAll(".gv-shown")) el.classList.remove("gv-shown");
  }

  dispose(): void {
    this.disposed = true;
    this.stopReplay();
    if (this.movingTimer !== null) clearTimeout(this.movingTimer);
    this.runner.dispose();
    this.el.remove();
  }
}

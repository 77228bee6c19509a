// The graph view: the toolbar, a note about what is not shown, and the drawing. It keeps the graph,
// which modules are collapsed and the selection; it lays the visible part out in the worker
// (layout-runner.ts) and hands it to the renderer (render.ts). Pan/zoom (viewport.ts), keys
// (keyboard.ts), search (search.ts) and forward replay (replay.ts) act on the drawing; stepping
// only changes attributes (applyStates), never the layout.
import { h } from "../dom";
import type { Graph, GraphNode } from "../types";
import { onGraphKey } from "./keyboard";
import type { LayoutInput } from "./layout";
import { LayoutRunner } from "./layout-runner";
import {
  ancestorsOf,
  buildGroupTree,
  buildView,
  collapseNote,
  defaultCollapsed,
  enforceLimit,
  COLLAPSE_THRESHOLD,
  type GroupTree,
} from "./model";
import { GraphRenderer, itemSize, type Drawn } from "./render";
import { ForwardReplay } from "./replay";
import { NodeSearch } from "./search";
import type { NodeState } from "./stepper";
import { GraphToolbar } from "./toolbar";
import { Viewport } from "./viewport";

export interface GraphViewCallbacks {
  onSelect(nodeId: number | null): void;
  onJump(nodeId: number): void;
  onHover(node: GraphNode | null): void;
}

const EMPTY_TEXT = "Run a cell that builds an autograd graph — e.g. y = w*x + b; z = y**2; z.backward() — to see it here.";

export class GraphView {
  readonly el: HTMLElement;
  graph: Graph | null = null;
  selected: number | null = null;
  private cb: GraphViewCallbacks;
  private toolbar: GraphToolbar;
  private note: HTMLElement;
  private empty: HTMLElement;
  private drawing = new GraphRenderer();
  private viewport: Viewport;
  private replay: ForwardReplay;
  private search: NodeSearch;
  private runner = new LayoutRunner();

  private byId = new Map<number, GraphNode>();
  private tree: GroupTree | null = null;
  private collapsed = new Set<string>();
  private defaultApplied = false;
  private layoutToken = 0;
  private afterLayout: (() => void) | null = null;
  private disposed = false;

  constructor(host: HTMLElement, cb: GraphViewCallbacks) {
    this.cb = cb;
    this.toolbar = new GraphToolbar({
      zoomBy: (f) => this.zoomBy(f),
      fit: () => this.fit(),
      replay: () => this.replayForward(),
      setAllCollapsed: (on) => this.setAllCollapsed(on),
      search: () => this.search.update(),
      nextMatch: (dir) => this.nextMatch(dir),
    });
    this.note = h("div", { class: "gv-note", testid: "graph-note", hidden: true });
    this.empty = h("div", { class: "gv-empty" }, EMPTY_TEXT);
    const canvas = h("div", { class: "gv-canvas" }, this.drawing.svg, this.empty);
    this.el = h("div", { class: "gv", testid: "graph-view" }, this.toolbar.el, this.note, canvas);
    host.append(this.el);
    this.viewport = new Viewport(this.el, this.drawing);
    this.replay = new ForwardReplay(this.drawing);
    this.search = new NodeSearch(this.toolbar, this.drawing, () => this.graph, (id) => this.select(id, { center: true }));
    this.wire();
  }

  // ---- graph in ----------------------------------------------------------------------------
  setGraph(graph: Graph): void {
    this.replay.stop();
    this.graph = graph;
    this.byId = new Map(graph.nodes.map((n) => [n.id, n]));
    this.tree = buildGroupTree(graph);
    this.collapsed = defaultCollapsed(this.tree, COLLAPSE_THRESHOLD);
    this.defaultApplied = this.collapsed.size > 0;
    if (this.selected !== null && !this.byId.has(this.selected)) this.selected = null;
    this.drawing.resetStates();
    this.search.reset();
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

  /** Lay out and draw what the collapsed set leaves visible; the latest request wins. */
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
    void this.runner.run(input).then((out) => {
      if (this.disposed || token !== this.layoutToken) return;
      this.drawing.draw(view, out, input, this.byId);
      this.drawing.markSelected(this.selected);
      this.empty.hidden = view.items.length > 0;
      if (graph.nodes.length === 0) {
        this.empty.textContent = "The last cell built no autograd graph.";
        this.empty.hidden = false;
      }
      this.el.setAttribute("data-layout-state", "done");
      this.el.setAttribute("data-graph-seq", String(graph.seq));
      this.el.setAttribute("data-drawn-nodes", String(view.items.filter((it) => it.kind === "node").length));
      this.el.setAttribute("data-drawn-groups", String(view.items.filter((it) => it.kind === "group").length));
      if (fitAfter) this.fit(true);
      const after = this.afterLayout;
      this.afterLayout = null;
      after?.();
    });
  }

  // ---- stepping, selection -----------------------------------------------------------------
  /** Set data-state on drawn items and highlight the edges carrying gradient; touches only changes. */
  applyStates(states: Map<number, NodeState>, activeEdges: [number, number][]): void {
    this.drawing.applyStates(states, activeEdges);
  }

  select(id: number | null, opts: { center?: boolean; notify?: boolean } = {}): void {
    this.selected = id;
    if (id !== null && opts.center) {
      if (this.reveal(id)) {
        this.afterLayout = () => {
          this.drawing.markSelected(this.selected);
          this.centerOn(id);
        };
      } else this.centerOn(id);
    }
    this.drawing.markSelected(id);
    if (opts.notify !== false) this.cb.onSelect(id);
  }

  private activate(d: Drawn): void {
    if (d.item.kind === "group") this.toggleGroup(d.item.group!);
    else this.select(d.item.nodeId!);
  }

  // ---- viewport ----------------------------------------------------------------------------
  centerOn(id: number): void {
    const d = this.drawing.itemOfNode(id);
    if (d) this.viewport.centerOn(d);
  }

  /** Pan (no zoom change) so that node `id` (or the module holding it) is in view. */
  ensureNodeVisible(id: number): void {
    const d = this.drawing.itemOfNode(id);
    if (d) this.viewport.ensureVisible(d);
  }

  zoomBy(f: number, cx?: number, cy?: number): void {
    this.viewport.zoomBy(f, cx, cy);
  }

  fit(initial = false): void {
    this.viewport.fit(initial);
  }

  // ---- pointer and keys on the drawing ------------------------------------------------------
  private wire(): void {
    const svg = this.drawing.svg;
    const itemAt = (t: EventTarget | null) => this.drawing.itemAt(t);
    svg.addEventListener("click", (ev) => {
      if (this.viewport.takeDragClick()) return;
      const boxLabel = ev.target instanceof Element ? ev.target.closest(".gv-box-label") : null;
      if (boxLabel) {
        const path = boxLabel.closest(".gv-box")?.getAttribute("data-module");
        if (path) this.toggleGroup(path);
        return;
      }
      const d = itemAt(ev.target);
      if (d) this.activate(d);
    });
    svg.addEventListener("dblclick", (ev) => {
      const d = itemAt(ev.target);
      if (d && d.item.kind === "node") this.cb.onJump(d.item.nodeId!);
    });
    svg.addEventListener("pointerover", (ev) => {
      const d = itemAt(ev.target);
      if (d && d.item.kind === "node") this.cb.onHover(this.byId.get(d.item.nodeId!) ?? null);
    });
    svg.addEventListener("pointerout", (ev) => {
      const from = itemAt(ev.target);
      const to = itemAt(ev.relatedTarget);
      if (from && from !== to && from.item.kind === "node") this.cb.onHover(null);
    });
    svg.addEventListener("keydown", (ev) =>
      onGraphKey(ev, this.drawing, {
        activate: (d) => this.activate(d),
        focus: (d) => {
          d.el.focus();
          this.viewport.ensureVisible(d);
        },
        zoomBy: (f) => this.zoomBy(f),
      }),
    );
  }

  // ---- search ------------------------------------------------------------------------------
  /** Enter in the search box: select and center the next match. */
  nextMatch(dir = 1): void {
    this.search.next(dir);
  }

  setSearch(q: string): void {
    this.search.set(q);
  }

  // ---- forward replay ----------------------------------------------------------------------
  replayForward(): void {
    this.replay.start();
  }

  dispose(): void {
    this.disposed = true;
    this.replay.dispose();
    this.viewport.dispose();
    this.runner.dispose();
    this.el.remove();
  }
}

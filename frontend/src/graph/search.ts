// Finding nodes from the toolbar's search box: `#12` is node 12, any other text matches name, op
// and module path. Matches are marked in the drawing; Enter selects and centres them in turn.
import type { Graph, GraphNode } from "../types";
import type { GraphRenderer } from "./render";
import type { GraphToolbar } from "./toolbar";

export function findNodes(nodes: readonly GraphNode[], query: string): number[] {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const idq = q.startsWith("#") ? Number(q.slice(1)) : NaN;
  if (!Number.isNaN(idq)) return nodes.filter((n) => n.id === idq).map((n) => n.id);
  return nodes.filter((n) => `${n.name ?? ""} ${n.op} ${n.module}`.toLowerCase().includes(q)).map((n) => n.id);
}

export class NodeSearch {
  private matches: number[] = [];
  private index = -1;

  constructor(
    private toolbar: GraphToolbar,
    private drawing: GraphRenderer,
    private graph: () => Graph | null,
    private select: (id: number) => void,
  ) {}

  /** A new graph: forget the matches (the query stays in the box). */
  reset(): void {
    this.matches = [];
    this.index = -1;
    this.toolbar.setCount("");
  }

  /** The query changed: find and mark the matches. */
  update(): void {
    const q = this.toolbar.query.trim();
    const graph = this.graph();
    this.matches = graph ? findNodes(graph.nodes, q) : [];
    this.index = -1;
    const n = this.matches.length;
    this.toolbar.setCount(q ? `${n} match${n === 1 ? "" : "es"}` : "");
    this.drawing.markMatches(this.matches);
  }

  /** Select the next (dir 1) or previous (dir -1) match. */
  next(dir = 1): void {
    if (!this.matches.length) this.update();
    const n = this.matches.length;
    if (!n) return;
    this.index = (this.index + dir + n) % n;
    this.toolbar.setCount(`${this.index + 1} / ${n}`);
    this.select(this.matches[this.index]);
  }

  set(q: string): void {
    this.toolbar.query = q;
    this.update();
  }
}

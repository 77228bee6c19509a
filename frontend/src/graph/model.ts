// Pure graph model of the graph panel: the module-group tree (nested by dots), the collapse
// policy, and the "view graph" that is actually drawn (visible items, group boxes, edges
// re-routed to collapsed groups). No DOM here, so the unit tests need none.
import type { Graph, GraphNode } from "../types";

/** Graphs with more nodes than this start with their modules collapsed. */
export const COLLAPSE_THRESHOLD = 150;
/** Never draw more than this many items; collapse more (and say so) past it. */
export const DRAW_LIMIT = 2000;

export interface GroupInfo {
  path: string; // "" is the top level (never drawn as a box)
  name: string; // last dotted component ("fc1"), "" for the top level
  parent: string | null; // null for the top level
  children: string[]; // sub-group paths, in order of first node
  direct: number[]; // node ids directly in this module
  total: number; // node ids in this module and all sub-modules
  depth: number; // 0 for the top level, 1 for "encoder", 2 for "encoder.fc1"
  firstId: number; // smallest node id inside (order of appearance)
}

export interface GroupTree {
  groups: Map<string, GroupInfo>;
  moduleOf: Map<number, string>;
}

/** Parent path of a module path: "encoder.fc1" → "encoder", "encoder" → "". */
export function parentPath(path: string): string {
  const i = path.lastIndexOf(".");
  return i < 0 ? "" : path.slice(0, i);
}

/** Group tree from the graph's groups (falling back on each node's `module`). */
export function buildGroupTree(graph: Pick<Graph, "nodes" | "groups">): GroupTree {
  const moduleOf = new Map<number, string>();
  for (const n of graph.nodes) moduleOf.set(n.id, n.module ?? "");
  for (const g of graph.groups ?? []) for (const id of g.nodes) moduleOf.set(id, g.module ?? "");
  const groups = new Map<string, GroupInfo>();
  const ensure = (path: string): GroupInfo => {
    let g = groups.get(path);
    if (g) return g;
    const parent = path === "" ? null : parentPath(path);
    g = {
      path,
      name: path === "" ? "" : path.slice(path.lastIndexOf(".") + 1),
      parent,
      children: [],
      direct: [],
      total: 0,
      depth: path === "" ? 0 : path.split(".").length,
      firstId: Infinity,
    };
    groups.set(path, g);
    if (parent !== null) ensure(parent).children.push(path);
    return g;
  };
  ensure("");
  const ids = [...moduleOf.keys()].sort((a, b) => a - b);
  for (const id of ids) {
    const path = moduleOf.get(id)!;
    const g = ensure(path);
    g.direct.push(id);
    for (let p: string | null = path; p !== null; p = groups.get(p)!.parent) {
      const a = groups.get(p)!;
      a.total += 1;
      if (id < a.firstId) a.firstId = id;
    }
  }
  for (const g of groups.values()) g.children.sort((a, b) => groups.get(a)!.firstId - groups.get(b)!.firstId);
  return { groups, moduleOf };
}

/** Ancestors of a module path from the outermost ("encoder") to itself; the top level excluded. */
export function ancestorsOf(path: string): string[] {
  if (path === "") return [];
  const parts = path.split(".");
  const out: string[] = [];
  for (let i = 1; i <= parts.length; i++) out.push(parts.slice(0, i).join("."));
  return out;
}

/** The key of the drawn item that holds node `id` given the collapsed groups. */
export function visibleKeyOf(tree: GroupTree, collapsed: ReadonlySet<string>, id: number): string {
  const path = tree.moduleOf.get(id) ?? "";
  for (const a of ancestorsOf(path)) if (collapsed.has(a)) return groupKey(a);
  return nodeKey(id);
}

export const nodeKey = (id: number): string => `n${id}`;
export const groupKey = (path: string): string => `g:${path}`;

/** Number of items drawn with these groups collapsed (nodes outside collapsed groups + collapsed groups). */
export function visibleCount(tree: GroupTree, collapsed: ReadonlySet<string>): number {
  let count = 0;
  const walk = (path: string) => {
    const g = tree.groups.get(path)!;
    if (path !== "" && collapsed.has(path)) {
      count += 1;
      return;
    }
    count += g.direct.length;
    for (const c of g.children) walk(c);
  };
  walk("");
  return count;
}

/**
 * Default collapse state: everything expanded when the graph is small; otherwise every module
 * collapsed, then modules expanded outermost first (in order of appearance) while the drawn
 * count stays within `threshold`.
 */
export function defaultCollapsed(tree: GroupTree, threshold = COLLAPSE_THRESHOLD): Set<string> {
  const all = [...tree.groups.keys()].filter((p) => p !== "");
  const total = tree.groups.get("")!.total;
  if (total <= threshold || all.length === 0) return new Set();
  const collapsed = new Set(all);
  let count = visibleCount(tree, collapsed);
  // breadth first: outermost modules first, each level in order of appearance
  const queue = [...tree.groups.get("")!.children];
  while (queue.length) {
    const p = queue.shift()!;
    const g = tree.groups.get(p)!;
    // expanding p replaces its one item by its direct nodes and its (collapsed) children
    const after = count - 1 + g.direct.length + g.children.length;
    if (after <= threshold) {
      collapsed.delete(p);
      count = after;
      queue.push(...g.children);
    }
  }
  return collapsed;
}

export interface LimitResult {
  collapsed: Set<string>;
  autoCollapsed: string[]; // modules collapsed to stay within the limit
  count: number; // drawn items afterwards
}

/**
 * Collapse more when more than `limit` items would be drawn: the innermost expanded modules
 * first (then their parents), largest first, until the count fits or nothing is left to collapse.
 */
export function enforceLimit(tree: GroupTree, collapsedIn: ReadonlySet<string>, limit = DRAW_LIMIT): LimitResult {
  const collapsed = new Set(collapsedIn);
  let count = visibleCount(tree, collapsed);
  const autoCollapsed: string[] = [];
  if (count <= limit) return { collapsed, autoCollapsed, count };
  const isShown = (p: string) => ancestorsOf(parentPath(p)).every((a) => !collapsed.has(a));
  while (count > limit) {
    // expanded, shown modules; prefer deep ones whose sub-modules are all collapsed, then the largest
    const cands = [...tree.groups.values()].filter(
      (g) => g.path !== "" && !collapsed.has(g.path) && isShown(g.path),
    );
    if (!cands.length) break;
    const leafish = cands.filter((g) => g.children.every((c) => collapsed.has(c)));
    const pool = leafish.length ? leafish : cands;
    pool.sort((a, b) => b.depth - a.depth || b.total - a.total);
    const pick = pool[0];
    collapsed.add(pick.path);
    // collapsing a module that holds collapsed sub-modules hides them: not "auto" any more
    for (let i = autoCollapsed.length - 1; i >= 0; i--) {
      if (autoCollapsed[i].startsWith(pick.path + ".")) autoCollapsed.splice(i, 1);
    }
    autoCollapsed.push(pick.path);
    count = visibleCount(tree, collapsed);
  }
  return { collapsed, autoCollapsed, count };
}

/** The sentence shown when modules were collapsed to keep the drawing light. */
export function collapseNote(
  total: number,
  drawn: number,
  defaultApplied: boolean,
  autoCollapsed: string[],
  limit = DRAW_LIMIT,
): string | null {
  const parts: string[] = [];
  if (autoCollapsed.length) {
    const names = autoCollapsed.slice(0, 6).join(", ") + (autoCollapsed.length > 6 ? `, … (${autoCollapsed.length} modules)` : "");
    parts.push(`More than ${limit.toLocaleString("en-US")} nodes to draw: collapsed ${names}.`);
  }
  if (drawn > limit) parts.push(`${drawn.toLocaleString("en-US")} nodes are drawn (no module left to collapse); the view may be slow.`);
  if (defaultApplied && !parts.length) {
    parts.push(`Large graph (${total.toLocaleString("en-US")} nodes): modules are collapsed; click a module to expand it.`);
  }
  return parts.length ? parts.join(" ") : null;
}

export interface ViewItem {
  key: string;
  kind: "node" | "group";
  nodeId: number | null; // for kind "node"
  group: string | null; // for kind "group": the collapsed module path
  parent: string; // the innermost expanded module that contains it ("" = top level)
  order: number; // smallest node id inside: creation order
  label: string;
  sub: string; // second line: shape, or "N nodes"
  cls: string; // "leaf" | "op" | "output" | "group"
  op: string; // data-op: grad_fn name, "leaf", or "group"
  count: number; // nodes inside (1 for a node)
}

export interface ViewEdge {
  key: string;
  src: string;
  dst: string;
  label: string;
  pairs: [number, number][]; // underlying graph edges
}

export interface ViewBox {
  path: string;
  parent: string; // "" for outermost boxes
  label: string;
  count: number;
  depth: number;
}

export interface ViewGraph {
  items: ViewItem[];
  edges: ViewEdge[];
  boxes: ViewBox[]; // expanded modules with something drawn inside
  itemOf: Map<number, string>; // node id → drawn item key
  edgeOf: Map<string, string>; // "src>dst" (graph edge) → drawn edge key
}

/** A shape as people read it: [3, 4] → "3×4", [] → "scalar". */
export function shapeText(shape: readonly number[] | null | undefined): string {
  if (!shape) return "?";
  if (shape.length === 0) return "scalar";
  return shape.join("×");
}

export function nodeLabel(n: GraphNode): string {
  if (n.kind === "leaf" || n.op === "leaf") return n.name || "leaf";
  return n.op;
}

/** Shape flowing along src → dst: the consumer's input shape for that input, else src's first output. */
export function edgeShape(byId: Map<number, GraphNode>, src: number, dst: number): number[] | null {
  const d = byId.get(dst);
  if (d && d.in_shapes) {
    const i = d.inputs.indexOf(src);
    if (i >= 0 && d.in_shapes[i]) return d.in_shapes[i];
  }
  const s = byId.get(src);
  return s && s.out_shapes && s.out_shapes.length ? s.out_shapes[0] : null;
}

export function buildView(graph: Pick<Graph, "nodes" | "edges">, tree: GroupTree, collapsed: ReadonlySet<string>): ViewGraph {
  const byId = new Map<number, GraphNode>();
  for (const n of graph.nodes) byId.set(n.id, n);
  const items: ViewItem[] = [];
  const itemOf = new Map<number, string>();
  const boxes: ViewBox[] = [];
  const walk = (path: string, parent: string) => {
    const g = tree.groups.get(path)!;
    for (const id of g.direct) {
      const n = byId.get(id);
      const key = nodeKey(id);
      itemOf.set(id, key);
      if (!n) continue;
      const cls = n.kind === "leaf" || n.op === "leaf" ? "leaf" : n.kind === "output" ? "output" : "op";
      items.push({
        key,
        kind: "node",
        nodeId: id,
        group: null,
        parent,
        order: id,
        label: nodeLabel(n),
        sub: shapeText(n.out_shapes?.[0]),
        cls,
        op: cls === "leaf" ? "leaf" : n.op,
        count: 1,
      });
    }
    for (const c of g.children) {
      const cg = tree.groups.get(c)!;
      if (collapsed.has(c)) {
        const key = groupKey(c);
        const mark = (p: string) => {
          const gg = tree.groups.get(p)!;
          for (const id of gg.direct) itemOf.set(id, key);
          for (const cc of gg.children) mark(cc);
        };
        mark(c);
        items.push({
          key,
          kind: "group",
          nodeId: null,
          group: c,
          parent,
          order: cg.firstId,
          label: c,
          sub: `${cg.total} node${cg.total === 1 ? "" : "s"}`,
          cls: "group",
          op: "group",
          count: cg.total,
        });
      } else if (cg.total === 1 && cg.children.length === 0) {
        // a module holding one node gets no box of its own (the node says its module on hover)
        walk(c, parent);
      } else {
        if (cg.total > 0) boxes.push({ path: c, parent, label: c, count: cg.total, depth: cg.depth });
        walk(c, c);
      }
    }
  };
  walk("", "");
  // nodes referenced by edges but absent from the records: give them no item (edges skipped)
  const edges: ViewEdge[] = [];
  const edgeByKey = new Map<string, ViewEdge>();
  const edgeOf = new Map<string, string>();
  for (const [s, d] of graph.edges) {
    const a = itemOf.get(s);
    const b = itemOf.get(d);
    if (a === undefined || b === undefined || a === b) continue;
    const key = `${a}>${b}`;
    let e = edgeByKey.get(key);
    if (!e) {
      e = { key, src: a, dst: b, label: shapeText(edgeShape(byId, s, d)), pairs: [] };
      edgeByKey.set(key, e);
      edges.push(e);
    }
    e.pairs.push([s, d]);
    edgeOf.set(`${s}>${d}`, key);
  }
  return { items, edges, boxes, itemOf, edgeOf };
}

import { describe, expect, it } from "vitest";
import { layoutGraph, type LayoutInput } from "../../src/graph/layout";
import { buildGroupTree, buildView } from "../../src/graph/model";
import { bigGraph, workedExample } from "./graph.fixtures";

function inputOf(graph: ReturnType<typeof bigGraph>, collapsed = new Set<string>()): LayoutInput {
  const v = buildView(graph, buildGroupTree(graph), collapsed);
  return {
    items: v.items.map((it) => ({ key: it.key, w: 100, h: 38, parent: it.parent, order: it.order })),
    edges: v.edges.map((e) => [e.src, e.dst] as [string, string]),
    boxes: v.boxes.map((b) => ({ path: b.path, parent: b.parent })),
  };
}

function overlaps(a: { x: number; y: number; w: number; h: number }, b: { x: number; y: number; w: number; h: number }): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

describe("layered layout", () => {
  it("lays the worked example out left to right", () => {
    const { graph } = workedExample();
    const inp = inputOf(graph);
    const out = layoutGraph(inp);
    const at = (k: string) => inp.items.findIndex((i) => i.key === k);
    // every edge goes right
    for (const [a, b] of inp.edges) expect(out.x[at(a)]).toBeLessThan(out.x[at(b)]);
    // leaves pulled next to their consumer: b sits in the rank before AddBackward0
    expect(out.rank[at("n3")]).toBe(out.rank[at("n4")] - 1);
    expect(out.rank[at("n5")]).toBe(3);
  });

  it("never overlaps items and keeps boxes around their members", () => {
    const g = bigGraph(300);
    const inp = inputOf(g);
    const out = layoutGraph(inp);
    const rects = inp.items.map((it, i) => ({ x: out.x[i], y: out.y[i], w: it.w, h: it.h }));
    for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) expect(overlaps(rects[i], rects[j])).toBe(false);
    const box = new Map(out.boxes.map((b) => [b.path, b]));
    inp.items.forEach((it, i) => {
      if (!it.parent) return;
      for (let p = it.parent; p; p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "") {
        const b = box.get(p)!;
        expect(rects[i].x).toBeGreaterThanOrEqual(b.x);
        expect(rects[i].y).toBeGreaterThanOrEqual(b.y);
        expect(rects[i].x + rects[i].w).toBeLessThanOrEqual(b.x + b.w);
        expect(rects[i].y + rects[i].h).toBeLessThanOrEqual(b.y + b.h);
      }
    });
    // items outside a box are not inside it
    inp.items.forEach((it, i) => {
      for (const b of out.boxes) {
        const inside = it.parent === b.path || it.parent.startsWith(b.path + ".");
        if (!inside) expect(overlaps(rects[i], b)).toBe(false);
      }
    });
  });

  it("is fast at 1,000 and 2,000 nodes", () => {
    for (const n of [1000, 2000]) {
      for (const modules of [false, true]) {
        const inp = inputOf(bigGraph(n, modules));
        const t0 = performance.now();
        const out = layoutGraph(inp);
        const ms = performance.now() - t0;
        console.log(`layout ${n} nodes (${modules ? "modules expanded" : "flat"}): ${ms.toFixed(1)} ms`);
        expect(out.x).toHaveLength(inp.items.length);
        expect(ms).toBeLessThan(1500);
      }
    }
  });
});

import { describe, expect, it } from "vitest";
import {
  ancestorsOf,
  buildGroupTree,
  buildView,
  collapseNote,
  defaultCollapsed,
  enforceLimit,
  shapeText,
  visibleCount,
  visibleKeyOf,
} from "../../src/graph/model";
import { N, bigGraph, graphOf, workedExample } from "./graph.fixtures";

function nested() {
  // encoder.fc1: w1, t1, mm1 ; encoder.act: relu ; decoder.fc: w2, mm2 ; top: loss
  return graphOf([
    N(0, "leaf", [], "encoder.fc1.weight", "encoder.fc1", [4, 3]),
    N(1, "leaf", [], "x", "", [2, 3]),
    N(2, "TBackward0", [0], null, "encoder.fc1", [3, 4]),
    N(3, "MmBackward0", [1, 2], null, "encoder.fc1", [2, 4]),
    N(4, "ReluBackward0", [3], null, "encoder.act", [2, 4]),
    N(5, "leaf", [], "decoder.fc.weight", "decoder.fc", [4, 1]),
    N(6, "MmBackward0", [4, 5], null, "decoder.fc", [2, 1]),
    N(7, "SumBackward0", [6], null, "", []),
  ]);
}

describe("group tree", () => {
  it("nests module paths by dots, with parents that hold no node themselves", () => {
    const t = buildGroupTree(nested());
    expect([...t.groups.keys()].sort()).toEqual(["", "decoder", "decoder.fc", "encoder", "encoder.act", "encoder.fc1"]);
    const enc = t.groups.get("encoder")!;
    expect(enc.parent).toBe("");
    expect(enc.children).toEqual(["encoder.fc1", "encoder.act"]);
    expect(enc.direct).toEqual([]);
    expect(enc.total).toBe(4);
    expect(t.groups.get("encoder.fc1")!.depth).toBe(2);
    expect(t.groups.get("encoder.fc1")!.name).toBe("fc1");
    expect(t.groups.get("")!.total).toBe(8);
    expect(t.groups.get("")!.direct).toEqual([1, 7]);
    expect(ancestorsOf("encoder.fc1")).toEqual(["encoder", "encoder.fc1"]);
    expect(ancestorsOf("")).toEqual([]);
  });

  it("maps nodes to the outermost collapsed module", () => {
    const t = buildGroupTree(nested());
    expect(visibleKeyOf(t, new Set(["encoder.fc1"]), 2)).toBe("g:encoder.fc1");
    expect(visibleKeyOf(t, new Set(["encoder", "encoder.fc1"]), 2)).toBe("g:encoder");
    expect(visibleKeyOf(t, new Set(["decoder"]), 2)).toBe("n2");
  });
});

describe("view graph", () => {
  it("draws everything when nothing is collapsed, with boxes for each module", () => {
    const g = nested();
    const t = buildGroupTree(g);
    const v = buildView(g, t, new Set());
    expect(v.items).toHaveLength(8);
    expect(v.edges).toHaveLength(g.edges.length);
    // encoder.act holds a single node: no box of its own, its node sits in encoder's box
    expect(v.boxes.map((b) => b.path).sort()).toEqual(["decoder", "decoder.fc", "encoder", "encoder.fc1"]);
    expect(v.items.find((i) => i.nodeId === 4)!.parent).toBe("encoder");
    expect(v.boxes.find((b) => b.path === "encoder.fc1")!.parent).toBe("encoder");
    const mm = v.items.find((i) => i.nodeId === 3)!;
    expect(mm.parent).toBe("encoder.fc1");
    expect(mm.op).toBe("MmBackward0");
    const w = v.items.find((i) => i.nodeId === 0)!;
    expect(w.op).toBe("leaf");
    expect(w.label).toBe("encoder.fc1.weight");
    expect(w.sub).toBe("4×3");
    // edge labels are the shape flowing along the edge
    expect(v.edges.find((e) => e.key === "n3>n4")!.label).toBe("2×4");
    expect(v.items.find((i) => i.nodeId === 7)!.cls).toBe("output");
  });

  it("re-routes edges to a collapsed module, dropping inner edges and merging duplicates", () => {
    const g = nested();
    const t = buildGroupTree(g);
    const v = buildView(g, t, new Set(["encoder"]));
    const keys = v.items.map((i) => i.key);
    expect(keys).toContain("g:encoder");
    expect(keys).not.toContain("n2");
    const grp = v.items.find((i) => i.key === "g:encoder")!;
    expect(grp.count).toBe(4);
    expect(grp.sub).toBe("4 nodes");
    expect(grp.op).toBe("group");
    // x → mm1 becomes x → encoder; relu → mm2 becomes encoder → mm2; inner edges gone
    expect(v.edges.map((e) => e.key).sort()).toEqual(["g:encoder>n6", "n1>g:encoder", "n5>n6", "n6>n7"].sort());
    expect(v.itemOf.get(3)).toBe("g:encoder");
    expect(v.edgeOf.get("4>6")).toBe("g:encoder>n6");
    expect(v.boxes.map((b) => b.path)).toEqual(["decoder", "decoder.fc"]);
    expect(visibleCount(t, new Set(["encoder"]))).toBe(5);
  });

  it("merges parallel edges into one with a count", () => {
    const g = graphOf([
      N(0, "leaf", [], "a", "m", [2]),
      N(1, "leaf", [], "b", "m", [2]),
      N(2, "MulBackward0", [0, 1], null, "", [2]),
    ]);
    const v = buildView(g, buildGroupTree(g), new Set(["m"]));
    expect(v.edges).toHaveLength(1);
    expect(v.edges[0].pairs).toHaveLength(2);
  });

  it("labels scalars and shapes", () => {
    expect(shapeText([])).toBe("scalar");
    expect(shapeText([3, 4])).toBe("3×4");
    const { graph } = workedExample();
    const v = buildView(graph, buildGroupTree(graph), new Set());
    expect(v.items.map((i) => i.label)).toEqual(["w", "x", "MulBackward0", "b", "AddBackward0", "PowBackward0"]);
    expect(v.boxes).toHaveLength(0);
  });
});

describe("collapse policy", () => {
  it("expands small graphs entirely", () => {
    const t = buildGroupTree(nested());
    expect(defaultCollapsed(t).size).toBe(0);
  });

  it("collapses large graphs, expanding outer modules while they fit", () => {
    const g = bigGraph(400); // net.blockK.fcJ modules
    const t = buildGroupTree(g);
    const c = defaultCollapsed(t, 150);
    const n = visibleCount(t, c);
    expect(n).toBeLessThanOrEqual(150);
    expect(c.size).toBeGreaterThan(0);
    // "net" holds everything but the loss: expanding it shows its blocks collapsed
    expect(c.has("net")).toBe(false);
    expect(c.has("net.block0")).toBe(false);
    // then the first fc modules while they fit; the last ones stay collapsed
    expect(c.has("net.block0.fc0")).toBe(false);
    const lastBlock = t.groups.get("net")!.children.at(-1)!;
    expect(c.has(t.groups.get(lastBlock)!.children.at(-1)!)).toBe(true);
  });

  it("collapses more above the draw limit and says what", () => {
    const g = bigGraph(3000);
    const t = buildGroupTree(g);
    const r = enforceLimit(t, new Set(), 2000);
    expect(r.count).toBeLessThanOrEqual(2000);
    expect(r.autoCollapsed.length).toBeGreaterThan(0);
    for (const p of r.autoCollapsed) expect(r.collapsed.has(p)).toBe(true);
    const note = collapseNote(t.groups.get("")!.total, r.count, false, r.autoCollapsed)!;
    expect(note).toMatch(/More than 2,000 nodes/);
    expect(note).toContain(r.autoCollapsed[0]);
  });

  it("says when nothing can be collapsed", () => {
    const g = bigGraph(2500, false);
    const t = buildGroupTree(g);
    const r = enforceLimit(t, new Set(), 2000);
    expect(r.autoCollapsed).toEqual([]);
    expect(r.count).toBe(g.nodes.length);
    expect(collapseNote(2500, 2500, false, [])).toMatch(/2,500 nodes are drawn/);
  });

  it("explains the default collapse", () => {
    expect(collapseNote(400, 40, true, [])).toMatch(/Large graph \(400 nodes\)/);
    expect(collapseNote(40, 40, false, [])).toBeNull();
  });
});

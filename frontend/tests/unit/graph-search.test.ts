import { describe, expect, it } from "vitest";
import { findNodes } from "../../src/graph/search";
import { N } from "./graph.fixtures";

describe("node search", () => {
  const nodes = [N(0, "leaf", [], "weight", "encoder.fc1"), N(1, "MulBackward0", [0, null], null, "encoder.fc1"), N(12, "AddBackward0", [1])];

  it("matches name, op and module path, case-insensitively", () => {
    expect(findNodes(nodes, "  WEIGHT ")).toEqual([0]);
    expect(findNodes(nodes, "backward0")).toEqual([1, 12]);
    expect(findNodes(nodes, "fc1")).toEqual([0, 1]);
    expect(findNodes(nodes, "nothing")).toEqual([]);
    expect(findNodes(nodes, " ")).toEqual([]);
  });

  it("finds a node by #id", () => {
    expect(findNodes(nodes, "#12")).toEqual([12]);
    expect(findNodes(nodes, "#7")).toEqual([]);
  });
});

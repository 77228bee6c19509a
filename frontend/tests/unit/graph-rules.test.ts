import { describe, expect, it } from "vitest";
import { hasRule, ruleFor } from "../../src/graph/rules";
import { fmtGrad, fmtNum } from "../../src/graph/format";

describe("rule table", () => {
  it("has readable rules for the common ops", () => {
    for (const op of [
      "MulBackward0", "AddBackward0", "PowBackward0", "SubBackward0", "DivBackward0", "MmBackward0", "AddmmBackward0",
      "ReluBackward0", "SigmoidBackward0", "TanhBackward0", "ExpBackward0", "LogBackward0", "SumBackward0", "MeanBackward0",
      "ViewBackward0", "ReshapeAliasBackward0", "TBackward0", "PermuteBackward0", "LogSoftmaxBackward0", "NllLossBackward0",
      "ConvolutionBackward0", "MaxPool2DWithIndicesBackward0", "AccumulateGrad",
    ]) {
      expect(hasRule(op), op).toBe(true);
      expect(ruleFor(op).lines.length).toBeGreaterThan(0);
    }
    expect(ruleFor("MulBackward0").lines.join(" ")).toContain("b · grad");
    expect(ruleFor("PowBackward0").lines.join(" ")).toContain("2y");
    expect(ruleFor("AccumulateGrad").lines).toEqual(["leaf.grad += grad"]);
  });

  it("falls back to a generic vector-Jacobian product", () => {
    expect(hasRule("FancyBackward")).toBe(false);
    const r = ruleFor("FancyBackward", 2);
    expect(r.forward).toBe("out = Fancy(…)");
    expect(r.lines).toHaveLength(2);
    expect(r.lines[0]).toContain("vector–Jacobian");
    expect(ruleFor("MyFn").lines).toHaveLength(1);
  });
});

describe("number formatting", () => {
  it("prints numbers the way people read them", () => {
    expect(fmtNum(42)).toBe("42");
    expect(fmtNum(0.1 + 0.2)).toBe("0.3");
    expect(fmtNum(-1.5)).toBe("-1.5");
    expect(fmtNum(1e-9)).toBe("1e-9");
    expect(fmtNum(123456789.5)).toBe("1.2346e+8");
    expect(fmtNum(null)).toBe("nan");
    expect(fmtNum(Infinity)).toBe("inf");
    expect(fmtGrad({ shape: [], dtype: "float32", norm: 14, mean: 14, min: 14, max: 14, value: 14 })).toBe("14");
    expect(fmtGrad({ shape: [2, 3], dtype: "float32", norm: 1, mean: 0.5, min: 0, max: 1 })).toBe("2×3 · ‖·‖ 1 · mean 0.5 · [0, 1]");
    expect(fmtGrad(null)).toBe("none");
  });
});

// Number and gradient-summary formatting for the graph panel.
import type { GradSummary } from "../types";
import { shapeText } from "./model";

/** A number as people read it: 42 → "42", 0.1+0.2 → "0.3", 1e-9 → "1e-9", null → "nan/inf". */
export function fmtNum(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (v === 0) return "0";
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  if (a >= 1e-4 && a < 1e6) {
    // up to 6 significant digits, trailing zeros dropped
    return String(Number(v.toPrecision(6)));
  }
  return v.toExponential(4).replace(/\.?0+e/, "e");
}

/** A gradient summary in one line: the value for one element, else shape and statistics. */
export function fmtGrad(g: GradSummary | null | undefined): string {
  if (!g) return "none";
  const numel = (g.shape ?? []).reduce((a, b) => a * b, 1);
  if (numel === 1 && g.value !== undefined) return fmtNum(g.value);
  const parts = [shapeText(g.shape)];
  if (g.norm !== undefined) parts.push(`‖·‖ ${fmtNum(g.norm)}`);
  if (g.mean !== undefined) parts.push(`mean ${fmtNum(g.mean)}`);
  if (g.min !== undefined && g.max !== undefined) parts.push(`[${fmtNum(g.min)}, ${fmtNum(g.max)}]`);
  return parts.join(" · ");
}

/** A one-element tensor the way PyTorch prints it: tensor(42.), tensor(0.5000), tensor(1.0000e-08). */
export function fmtTorch(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "tensor(nan)";
  if (!Number.isFinite(v)) return v > 0 ? "tensor(inf)" : "tensor(-inf)";
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e8) return `tensor(${v}.)`;
  if (a !== 0 && (a < 1e-4 || a >= 1e8)) return `tensor(${v.toExponential(4)})`;
  return `tensor(${v.toFixed(4)})`;
}

// The node inspector: what a selected node is, its value and gradient (fetched on demand with
// session.getValue), the gradient as the stepper has accumulated it so far, and "check gradient".
import { h, svgEl } from "../dom";
import { loadPlotly, purgePlots } from "../plotly";
import type { GradCheck, GraphNode, NodeValue, NotebookSession } from "../types";
import { fmtGrad, fmtNum, fmtTorch } from "./format";
import { shapeText } from "./model";
import type { Stepper } from "./stepper";

export interface InspectorDeps {
  node(id: number): GraphNode | undefined;
  stepper(): Stepper | null;
  device(): string;
  onJump(id: number): void;
  /** Whether Plotly heatmaps may be drawn (off in tests). */
  heatmaps?: boolean;
}

function row(table: HTMLElement, k: string, v: string): void {
  table.append(h("tr", {}, h("th", {}, k), h("td", {}, v)));
}

export class Inspector {
  readonly el: HTMLElement;
  private session: NotebookSession;
  private deps: InspectorDeps;
  private id: number | null = null;
  private token = 0;
  private stepBox: HTMLElement | null = null;
  private jumpBtn: HTMLButtonElement | null = null;
  private plots: HTMLElement[] = [];

  constructor(host: HTMLElement, session: NotebookSession, deps: InspectorDeps) {
    this.session = session;
    this.deps = deps;
    this.el = h("section", { class: "gi", testid: "node-inspector", "aria-label": "Node inspector", "aria-live": "polite" });
    host.append(this.el);
    this.show(null);
  }

  get selected(): number | null {
    return this.id;
  }

  /** A new graph arrived: keep the selection if the node still exists, refetch its values. */
  onGraph(): void {
    if (this.id !== null && !this.deps.node(this.id)) this.show(null);
    else this.show(this.id);
  }

  show(id: number | null): void {
    const token = ++this.token;
    this.purgePlots();
    this.id = id;
    this.el.textContent = "";
    this.stepBox = null;
    this.jumpBtn = null;
    const n = id !== null ? this.deps.node(id) : undefined;
    if (id === null || !n) {
      this.id = null;
      this.el.setAttribute("data-node-id", "");
      this.el.append(h("div", { class: "gi-empty" }, "Click a node in the graph to inspect its value and gradient."));
      return;
    }
    this.el.setAttribute("data-node-id", String(id));
    const isLeaf = n.kind === "leaf" || n.op === "leaf";
    this.el.append(
      h(
        "header",
        { class: "gi-head" },
        h("span", { class: `gi-kind kind-${isLeaf ? "leaf" : n.kind}` }, isLeaf ? "leaf" : n.kind),
        h("strong", { class: "gi-title" }, isLeaf ? n.name || "leaf" : n.op),
        h("span", { class: "gi-id" }, `#${n.id}`),
      ),
    );

    const table = h("table", { class: "gi-props" });
    row(table, "kind", n.kind);
    row(table, "op", isLeaf ? "leaf (AccumulateGrad)" : n.op);
    row(table, "name", n.name ?? "—");
    row(table, "module", n.module || "(top level)");
    row(table, "shape", `${shapeText(n.out_shapes?.[0])}${n.out_shapes?.[0] ? `  [${n.out_shapes[0].join(", ")}]` : ""}`);
    row(table, "dtype", n.out_dtypes?.[0] ?? "—");
    row(table, "device", this.deps.device());
    row(table, "requires_grad", "True");
    row(table, "is_leaf", isLeaf ? "True" : "False");
    row(table, "source", n.line !== null && n.line !== undefined ? `line ${n.line}${n.cell !== null && n.cell !== undefined ? ` of cell [${n.cell}]` : ""}` : "—");
    if (!isLeaf && n.inputs?.length) {
      const names = n.inputs.map((src, i) => {
        if (src === null || src === undefined) return `${i}: (no grad)`;
        const s = this.deps.node(src);
        return `${i}: ${s ? (s.kind === "leaf" ? s.name || "leaf" : s.op) : "?"} #${src}`;
      });
      row(table, "inputs", names.join(", "));
    }
    this.el.append(table);

    const jump = h("button", { class: "gv-btn", type: "button", testid: "inspector-jump", onclick: () => this.deps.onJump(id) }, "Step to this node");
    this.jumpBtn = jump;
    const checkOut = h("div", { class: "gi-check", testid: "grad-check-result" });
    const check: HTMLButtonElement = h(
      "button",
      {
        class: "gv-btn",
        type: "button",
        testid: "check-grad",
        title: "Compare the analytic gradient with finite differences",
        onclick: () => void this.runCheck(id, check, checkOut, token),
      },
      "Check gradient",
    );
    this.el.append(h("div", { class: "gi-actions" }, jump, check), checkOut);

    const valSec = this.section("value", "Value");
    const gradSec = this.section("grad", isLeaf ? "Gradient (.grad)" : "Gradient (at this node's output)");
    this.stepBox = h("div", { class: "gi-stepgrad", testid: "inspector-step-grad" });
    gradSec.body.append(this.stepBox);
    const finalBox = h("div", { class: "gi-final" });
    gradSec.body.append(finalBox);
    this.refreshStepping();
    void this.fetch(id, "value", valSec.body, token);
    void this.fetch(id, "grad", finalBox, token, isLeaf ? "final .grad (after the whole backward, from the kernel)" : "gradient of the last backward (from the kernel)");
  }

  private section(which: string, title: string): { body: HTMLElement } {
    const body = h("div", { class: "gi-body" });
    this.el.append(h("section", { class: `gi-sec gi-${which}`, testid: `inspector-${which}` }, h("h4", {}, title), body));
    return { body };
  }

  /** Re-render the part that follows the stepper (cheap; called on every step). */
  refreshStepping(): void {
    const box = this.stepBox;
    const id = this.id;
    if (!box || id === null) return;
    const st = this.deps.stepper();
    const n = this.deps.node(id);
    const isLeaf = !!n && (n.kind === "leaf" || n.op === "leaf");
    box.textContent = "";
    if (this.jumpBtn) this.jumpBtn.disabled = !st || st.stepsOfNode(id).length === 0;
    if (!st || st.n === 0) return;
    const k = st.position;
    const gs = st.gradState(id);
    const ran = st.stepsOfNode(id).length > 0;
    if (k === 0) {
      box.append(h("div", { class: "gi-muted" }, ran ? `Stepping: press Step — this node runs at step ${st.stepsOfNode(id).map((i) => i + 1).join(", ")} of ${st.n}.` : "This node does not run in this backward pass."));
      return;
    }
    box.append(h("div", { class: "gi-steplabel" }, `while stepping (${st.label})`));
    if (gs.contributions.length) {
      const ul = h("ul", { class: "gi-contribs" });
      for (const c of gs.contributions) {
        const from = this.deps.node(c.from);
        ul.append(h("li", {}, `+ ${fmtGrad(c.grad)}  from ${from ? from.op : "?"} #${c.from} (step ${c.step + 1})`));
      }
      box.append(h("div", {}, "gradient arrived:"), ul);
      if (gs.arrived !== null && gs.contributions.length > 1) box.append(h("div", {}, `sum arrived so far: ${fmtNum(gs.arrived)}`));
    }
    if (isLeaf) {
      const acc = gs.accumulations;
      const line = h("div", { class: "gi-soFar", testid: "inspector-grad-so-far" });
      if (!acc.length) line.textContent = ".grad so far: None (AccumulateGrad not reached yet)";
      else if (gs.grad !== null) {
        line.textContent = `.grad so far: ${acc.map((a) => fmtGrad(a.grad)).join(" + ")}${acc.length > 1 ? ` = ${fmtNum(gs.grad)}` : ""}`;
      } else {
        line.textContent = `.grad so far: ${acc.length} accumulation${acc.length > 1 ? "s" : ""}, last ${fmtGrad(acc[acc.length - 1].grad)}`;
      }
      box.append(line);
    } else if (!gs.contributions.length) {
      const cur = st.current();
      box.append(h("div", { class: "gi-muted" }, cur && cur.node === id ? `incoming gradient: ${fmtGrad(cur.grads_in?.[0])}` : "no gradient has arrived yet"));
    }
  }

  private async fetch(id: number, which: "value" | "grad", box: HTMLElement, token: number, label?: string): Promise<void> {
    box.append(h("div", { class: "gi-muted" }, "loading…"));
    let v: NodeValue;
    try {
      v = await this.session.getValue(id, which);
    } catch (e) {
      if (token !== this.token) return;
      box.lastChild?.remove();
      box.append(h("div", { class: "gi-error" }, `could not fetch the ${which}: ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    if (token !== this.token) return;
    box.lastChild?.remove();
    if (label) box.append(h("div", { class: "gi-steplabel" }, label));
    this.renderValue(v, box, which);
  }

  private renderValue(v: NodeValue, box: HTMLElement, which: "value" | "grad"): void {
    if (v.shape === null) {
      box.append(h("div", { class: "gi-muted" }, which === "grad" ? "None (no gradient: no backward reached it, or it was freed)" : "not available (no tensor kept for this node)"));
      return;
    }
    const s = v.stats;
    const numel = s?.numel ?? v.shape.reduce((a, b) => a * b, 1);
    const vals = v.values;
    if (numel === 1 && vals && vals.length) {
      box.append(h("div", { class: "gi-scalar", testid: `inspector-${which}-scalar` }, fmtNum(vals[0])), h("div", { class: "gi-muted" }, `${fmtTorch(vals[0])} · ${v.dtype ?? ""}`));
      return;
    }
    box.append(h("div", { class: "gi-muted" }, `shape [${v.shape.join(", ")}] · ${v.dtype ?? ""}${v.downsampled ? ` · every ${v.stride}th value shown` : ""}${v.truncated ? " · values too large to send" : ""}`));
    if (s) {
      const t = h("table", { class: "gi-stats" });
      const tr1 = h("tr");
      const tr2 = h("tr");
      const cells: [string, string][] = [
        ["min", fmtNum(s.min)],
        ["max", fmtNum(s.max)],
        ["mean", fmtNum(s.mean)],
        ["std", fmtNum(s.std)],
        ["norm", fmtNum(s.norm)],
        ["numel", String(s.numel)],
        ["nan", String(s.nan ?? 0)],
        ["inf", String(s.inf ?? 0)],
      ];
      for (const [k, val] of cells) {
        tr1.append(h("th", {}, k));
        tr2.append(h("td", { class: (k === "nan" || k === "inf") && val !== "0" ? "gi-bad" : null }, val));
      }
      t.append(tr1, tr2);
      box.append(t);
    }
    if (vals && vals.length && vals.length <= 12 && v.shape.length === 1) {
      box.append(h("div", { class: "gi-values" }, `[${vals.map((x) => fmtNum(x)).join(", ")}]`));
    }
    if (v.shape.length === 2 && vals && !v.downsampled && vals.length === v.shape[0] * v.shape[1]) {
      const div = h("div", { class: "gi-heatmap", testid: `inspector-${which}-heatmap` });
      box.append(div);
      void this.heatmap(div, vals, v.shape[0], v.shape[1]);
    } else if (s?.histogram) {
      box.append(histogram(s.histogram.counts, s.histogram.edges));
    }
  }

  private async heatmap(div: HTMLElement, vals: (number | null)[], rows: number, cols: number): Promise<void> {
    const z: (number | null)[][] = [];
    for (let r = 0; r < rows; r++) z.push(vals.slice(r * cols, (r + 1) * cols));
    if (this.deps.heatmaps === false) {
      div.textContent = `${rows}×${cols} heatmap`;
      return;
    }
    try {
      const Plotly = await loadPlotly();
      if (!div.isConnected) return;
      const css = getComputedStyle(document.documentElement);
      const fg = css.getPropertyValue("--fg").trim() || "#222";
      await Plotly.newPlot(
        div,
        [{ type: "heatmap", z, colorscale: "RdBu", reversescale: true, zmid: 0, showscale: true, hovertemplate: "[%{y}, %{x}] = %{z}<extra></extra>" }],
        {
          height: Math.min(260, Math.max(140, rows * 14 + 60)),
          margin: { l: 36, r: 10, t: 8, b: 28 },
          paper_bgcolor: "rgba(0,0,0,0)",
          plot_bgcolor: "rgba(0,0,0,0)",
          font: { color: fg, size: 10 },
          yaxis: { autorange: "reversed" },
        },
        { displayModeBar: false, responsive: true },
      );
      this.plots.push(div);
    } catch {
      div.textContent = "(heatmap unavailable)";
    }
  }

  private purgePlots(): void {
    purgePlots(this.plots.splice(0));
  }

  private async runCheck(id: number, btn: HTMLButtonElement, out: HTMLElement, token: number): Promise<void> {
    btn.disabled = true;
    out.textContent = "checking the gradient with finite differences…";
    let r: GradCheck;
    try {
      r = await this.session.checkGrad(id);
    } catch (e) {
      if (token !== this.token) return;
      btn.disabled = false;
      out.textContent = `could not check: ${e instanceof Error ? e.message : String(e)}`;
      return;
    }
    if (token !== this.token) return;
    btn.disabled = false;
    out.textContent = "";
    if (r.reason) {
      out.append(h("div", { class: "gi-muted" }, `not checked: ${r.reason}`));
      return;
    }
    const clicked = this.deps.node(id);
    if (r.op && clicked && clicked.op !== r.op) {
      // a cell ran in between: the kernel's last graph is no longer the one drawn here
      out.append(h("div", { class: "gi-muted" }, `not checked: the graph changed (node #${id} is now ${r.op}); run the check again on the new graph`));
      return;
    }
    out.append(h("div", { class: r.ok ? "gi-ok" : "gi-bad", "data-ok": String(r.ok) }, r.ok ? `✓ gradient ok (eps ${r.eps})` : `✗ gradient mismatch (eps ${r.eps})`));
    const t = h("table", { class: "gi-stats" }, h("tr", {}, ...["input", "elements", "max |abs diff|", "max rel diff"].map((k) => h("th", {}, k))));
    for (const inp of r.inputs) {
      const src = inp.node !== null ? this.deps.node(inp.node) : undefined;
      const name = src ? (src.kind === "leaf" ? src.name || "leaf" : src.op) : "—";
      t.append(h("tr", {}, h("td", {}, `${inp.index}: ${name}`), h("td", {}, String(inp.checked)), h("td", {}, fmtNum(inp.maxAbsDiff)), h("td", {}, fmtNum(inp.maxRelDiff))));
    }
    out.append(t);
    if (r.note) out.append(h("div", { class: "gi-muted" }, r.note));
  }

  dispose(): void {
    this.token++;
    this.purgePlots();
    this.el.remove();
  }
}

/** A small SVG bar chart of a histogram (counts per bin, edges). */
export function histogram(counts: number[], edges: number[]): SVGSVGElement {
  const W = 260;
  const H = 80;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H + 14}`, class: "gi-hist", "data-testid": "inspector-histogram" });
  const max = Math.max(1, ...counts);
  const bw = W / Math.max(1, counts.length);
  counts.forEach((c, i) => {
    const hh = (c / max) * H;
    const r = svgEl("rect", { x: i * bw + 0.5, y: H - hh, width: Math.max(1, bw - 1), height: hh });
    const t = svgEl("title");
    t.textContent = `[${fmtNum(edges[i])}, ${fmtNum(edges[i + 1])}): ${c}`;
    r.append(t);
    svg.append(r);
  });
  for (const [x, v, anchor] of [
    [0, edges[0], "start"],
    [W, edges[edges.length - 1], "end"],
  ] as [number, number, string][]) {
    const t = svgEl("text", { x, y: H + 12, "text-anchor": anchor });
    t.textContent = fmtNum(v);
    svg.append(t);
  }
  return svg;
}

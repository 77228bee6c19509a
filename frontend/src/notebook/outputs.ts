// A cell's output area (data-testid cell-output): stream text (stdout / stderr styled apart,
// consecutive text of one stream joined, carriage returns honoured), results (text/plain in a
// <pre>, image/png as <img>, Plotly JSON drawn with Plotly), errors, notices. Saved nbformat
// outputs (GET /api/notebooks/<id>) render through the same path. All text goes in as text.

import type { CellOutput } from "../types";
import { clear, h } from "../dom";
import { loadPlotly, purgePlots } from "../plotly";
import { currentTheme } from "./topbar";

const PLOTLY_MIME = "application/vnd.plotly.v1+json";
const MAX_STREAM_CHARS = 2_000_000;

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Append `text` to `prev` as a terminal would: "\r" returns to the start of the line. */
export function applyCarriageReturns(prev: string, text: string): string {
  if (!text.includes("\r")) return prev + text;
  let out = prev;
  for (const part of (text.replace(/\r\n/g, "\n")).split(/(\r)/)) {
    if (part === "\r") {
      const nl = out.lastIndexOf("\n");
      out = out.slice(0, nl + 1);
    } else out += part;
  }
  return out;
}

export class OutputArea {
  readonly el: HTMLElement;
  private lastStream: { name: string; pre: HTMLPreElement; text: string } | null = null;
  private plots: HTMLElement[] = [];

  constructor() {
    this.el = h("div", { class: "cell-output", testid: "cell-output", role: "log", "aria-label": "Cell output" });
  }

  clear(): void {
    this.purgePlots();
    clear(this.el);
    this.lastStream = null;
  }

  get isEmpty(): boolean {
    return !this.el.firstChild;
  }

  stream(name: "stdout" | "stderr", text: string): void {
    text = text.replace(ANSI, "");
    if (this.lastStream && this.lastStream.name === name && this.lastStream.pre === this.el.lastChild) {
      let next = applyCarriageReturns(this.lastStream.text, text);
      if (next.length > MAX_STREAM_CHARS) next = "[…earlier output hidden]\n" + next.slice(next.length - MAX_STREAM_CHARS);
      this.lastStream.text = next;
      this.lastStream.pre.textContent = next;
    } else {
      const value = applyCarriageReturns("", text);
      const pre = h("pre", { class: `stream stream-${name}`, "data-stream": name }, value);
      this.el.append(pre);
      this.lastStream = { name, pre, text: value };
    }
    this.scrollToEnd();
  }

  result(data: Record<string, unknown>, executionCount: number | null): void {
    const box = h("div", { class: "result", "data-execution-count": executionCount ?? "" });
    const plot = data[PLOTLY_MIME];
    const png = data["image/png"];
    const text = data["text/plain"];
    if (plot && typeof plot === "object") {
      const div = h("div", { class: "plot" });
      box.append(div);
      this.drawPlot(div, plot as Record<string, unknown>, typeof text === "string" ? text : null);
    } else if (typeof png === "string" && /^[A-Za-z0-9+/=\s]+$/.test(png)) {
      box.append(h("img", { src: `data:image/png;base64,${png.replace(/\s/g, "")}`, alt: typeof text === "string" ? text : "image output" }));
    } else if (typeof text === "string") {
      box.append(h("pre", { class: "text-result" }, text.replace(ANSI, "")));
    } else if (Array.isArray(text)) {
      box.append(h("pre", { class: "text-result" }, text.join("")));
    } else {
      const mimes = Object.keys(data).join(", ");
      box.append(h("pre", { class: "text-result" }, `[output of type ${mimes || "unknown"} cannot be shown]`));
    }
    this.el.append(box);
    this.lastStream = null;
    this.scrollToEnd();
  }

  error(ename: string, evalue: string, traceback: string[], line: number | null): void {
    const head = h("div", { class: "error-head" }, evalue ? `${ename}: ${evalue}` : ename);
    const box = h("div", { class: "error", role: "alert", "data-ename": ename }, head);
    if (line !== null) box.append(h("div", { class: "error-line" }, `in line ${line} of this cell`));
    const tb = traceback.map((l) => l.replace(ANSI, "")).join("\n").trim();
    if (tb && tb !== head.textContent) box.append(h("pre", { class: "traceback" }, tb));
    this.el.append(box);
    this.lastStream = null;
    this.scrollToEnd();
  }

  notice(text: string): void {
    this.el.append(h("div", { class: "notice" }, `⚠ ${text}`));
    this.lastStream = null;
  }

  /** Render saved nbformat outputs. */
  restore(outputs: CellOutput[], executionCount: number | null): void {
    this.clear();
    for (const o of outputs ?? []) {
      if (!o || typeof o !== "object") continue;
      switch (o.output_type) {
        case "stream":
          this.stream(o.name === "stderr" ? "stderr" : "stdout", textOf(o.text));
          break;
        case "execute_result":
        case "display_data":
          if (o.data && typeof o.data === "object") this.result(o.data, executionCount);
          break;
        case "error":
          this.error(String(o.ename ?? "Error"), String(o.evalue ?? ""), Array.isArray(o.traceback) ? o.traceback.map(String) : [], o.line ?? null);
          break;
      }
    }
  }

  dispose(): void {
    this.purgePlots();
  }

  private scrollToEnd(): void {
    const el = this.el;
    if (el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }

  private drawPlot(div: HTMLElement, spec: Record<string, unknown>, fallback: string | null): void {
    this.plots.push(div);
    const dark = currentTheme() === "dark";
    const fg = getComputedStyle(document.documentElement).getPropertyValue("--fg").trim() || (dark ? "#ddd" : "#222");
    const layout = {
      autosize: true,
      margin: { l: 50, r: 20, t: 30, b: 40 },
      ...(typeof spec.layout === "object" && spec.layout ? (spec.layout as object) : {}),
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: fg },
    };
    loadPlotly()
      .then((Plotly) => Plotly.newPlot(div, Array.isArray(spec.data) ? spec.data : [], layout, { responsive: true, displaylogo: false }))
      .catch(() => {
        div.replaceWith(h("pre", { class: "text-result" }, fallback ?? "[plot could not be drawn]"));
      });
  }

  private purgePlots(): void {
    purgePlots(this.plots.splice(0));
  }
}

function textOf(t: unknown): string {
  if (typeof t === "string") return t;
  if (Array.isArray(t)) return t.join("");
  return "";
}

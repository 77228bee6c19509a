// The metrics panel: one live Plotly chart per SummaryWriter tag (data-testid `metrics-chart`,
// the Plotly graph div inside), runs overlaid as separate traces with a legend, TensorBoard-like
// smoothing (raw values drawn faint behind the smoothed line), log-scale y, a clear button, and
// PNG (per chart) / CSV (all) downloads. Points come from the session's `metrics` events; a
// cell starting (`cell_status` running) makes its metrics a new run (see model.ts). Redraws are
// batched to one per animation frame. Colours come from the theme's CSS variables. A NaN or ±inf
// value (a diverging loss) is a gap in its line and a red cross, labelled, where the line stopped.

import { h } from "../dom";
import { loadPlotly, purgePlots, type PlotlyAPI } from "../plotly";
import type { NotebookSession, Unsubscribe } from "../types";
import { MetricsStore, fileNameOf, nonFiniteMarks, smooth, toCSV } from "./model";

const STYLE_ID = "gradlab-metrics-style";
const CSS = `
.metrics-panel { display: flex; flex-direction: column; gap: 8px; padding: 8px; min-height: 0; overflow-y: auto; color: var(--fg); }
.metrics-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 14px; font-size: 12px; color: var(--muted); }
.metrics-toolbar label { display: inline-flex; align-items: center; gap: 6px; }
.metrics-toolbar input[type=range] { width: 110px; accent-color: var(--accent); }
.metrics-toolbar select, .metrics-toolbar button, .metrics-chart-head button {
  font: inherit; font-size: 12px; color: var(--fg); background: var(--panel-bg); border: 1px solid var(--border);
  border-radius: 4px; padding: 2px 8px; cursor: pointer; }
.metrics-toolbar button:hover, .metrics-chart-head button:hover { border-color: var(--accent); }
.metrics-toolbar button:disabled { opacity: 0.5; cursor: default; }
.metrics-toolbar .metrics-summary { margin-left: auto; font-variant-numeric: tabular-nums; }
.metrics-charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 10px; }
.metrics-chart { background: var(--panel-bg); border: 1px solid var(--border); border-radius: 6px; padding: 6px 8px 4px; min-width: 0; }
.metrics-chart-head { display: flex; align-items: center; gap: 8px; font-size: 12px; }
.metrics-chart-head .metrics-tag { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; flex: 1; }
.metrics-plot { width: 100%; height: 240px; }
.metrics-empty { color: var(--muted); font-size: 13px; padding: 12px 4px; }
.metrics-empty code { font-family: var(--font-mono, monospace); }
`;

function ensureStyle(): void {
  if (document.getElementById(STYLE_ID)) return;
  document.head.append(h("style", { id: STYLE_ID }, CSS));
}

interface Theme {
  bg: string;
  fg: string;
  muted: string;
  border: string;
  accent: string;
  panel: string;
}

function readTheme(root: HTMLElement): Theme {
  const cs = getComputedStyle(root);
  const v = (name: string, dflt: string) => cs.getPropertyValue(name).trim() || dflt;
  return {
    bg: v("--bg", "#f7f8fa"),
    fg: v("--fg", "#1d2330"),
    muted: v("--muted", "#5f6b7d"),
    border: v("--border", "#d7dce4"),
    accent: v("--accent", "#2f6fde"),
    panel: v("--panel-bg", "#ffffff"),
  };
}

/** Run colours: the newest run in the accent colour, older ones from a palette readable on both themes. */
const PALETTE = ["#e8684a", "#3fae7a", "#d9a021", "#9b6cd9", "#3aa9bd", "#d45d9a", "#8c8c3c", "#7f8c9d"];

function runColor(theme: Theme, runIndexFromNewest: number, runId: number): string {
  if (runIndexFromNewest === 0) return theme.accent;
  return PALETTE[runId % PALETTE.length];
}

/** The markers of NaN/inf values, in every run. */
const NON_FINITE_COLOR = "#d62728";

interface Chart {
  tag: string;
  box: HTMLElement;
  plot: HTMLElement;
  drawn: boolean;
}

export function mountMetricsPanel(root: HTMLElement, session: NotebookSession): { dispose(): void } {
  ensureStyle();
  root.textContent = "";
  const store = new MetricsStore({ maxRuns: 5 });
  let smoothing = 0.6;
  let logY = false;
  let disposed = false;
  let coalesced = 0;

  // -- DOM ------------------------------------------------------------------------------------
  const panel = h("div", { class: "metrics-panel", testid: "metrics-panel" });
  const smoothInput = h("input", { type: "range", min: "0", max: "0.99", step: "0.01", value: String(smoothing), testid: "metrics-smoothing" });
  const smoothValue = h("span", {}, smoothing.toFixed(2));
  const smoothLabel = h("label", { title: "Exponential moving average, as in TensorBoard (raw values drawn faint)" }, "Smoothing", smoothInput, smoothValue);

  const logInput = h("input", { type: "checkbox", testid: "metrics-log-scale" });
  const logLabel = h("label", {}, logInput, "Log scale");

  const runsSelect = h("select", { testid: "metrics-max-runs" });
  for (const n of [1, 2, 3, 5, 10]) runsSelect.append(h("option", { value: String(n), selected: n === store.maxRuns }, String(n)));
  const runsLabel = h("label", { title: "How many runs (cell executions) to keep and overlay" }, "Keep runs", runsSelect);

  const csvButton = h("button", { type: "button", title: "Download every point as CSV (tag, run, step, value, wall)", testid: "metrics-download-csv" }, "CSV");
  const clearButton = h("button", { type: "button", title: "Forget all runs", testid: "metrics-clear" }, "Clear");
  const summary = h("span", { class: "metrics-summary" });
  const toolbar = h("div", { class: "metrics-toolbar" }, smoothLabel, logLabel, runsLabel, csvButton, clearButton, summary);

  const empty = h(
    "div",
    { class: "metrics-empty", testid: "metrics-empty" },
    "No metrics yet. Log scalars from a cell with ",
    h("code", {}, "SummaryWriter().add_scalar(tag, value, step)"),
    " (from torch.utils.tensorboard).",
  );
  const grid = h("div", { class: "metrics-charts" });
  panel.append(toolbar, empty, grid);
  root.append(panel);

  const charts = new Map<string, Chart>();
  let theme = readTheme(root);

  // -- drawing --------------------------------------------------------------------------------
  const dirty = new Set<string>();
  let frame: number | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;

  function schedule(tags: Iterable<string>): void {
    for (const t of tags) dirty.add(t);
    if (frame !== null || timer !== null || disposed) return;
    if (typeof requestAnimationFrame === "function" && document.visibilityState !== "hidden") {
      frame = requestAnimationFrame(() => {
        frame = null;
        void flush();
      });
    } else {
      timer = setTimeout(() => {
        timer = null;
        void flush();
      }, 50);
    }
  }

  function chartFor(tag: string): Chart {
    let c = charts.get(tag);
    if (c) return c;
    const png = h("button", { type: "button", title: "Download this chart as PNG", testid: "metrics-download-png" }, "PNG");
    const plot = h("div", { class: "metrics-plot" });
    const box = h(
      "div",
      { class: "metrics-chart", testid: "metrics-chart", "data-tag": tag },
      h("div", { class: "metrics-chart-head" }, h("span", { class: "metrics-tag", title: tag }, tag), png),
      plot,
    );
    c = { tag, box, plot, drawn: false };
    const chart = c;
    png.addEventListener("click", () => {
      void loadPlotly().then((P) => {
        if (!chart.drawn) return;
        const r = chart.plot.getBoundingClientRect();
        return P.downloadImage(chart.plot, {
          format: "png", filename: `metrics-${fileNameOf(tag)}`,
          width: Math.max(600, Math.round(r.width)) || 900, height: Math.max(360, Math.round(r.height)) || 480,
        });
      }).catch(() => {});
    });
    charts.set(tag, c);
    return c;
  }

  /** Put the chart boxes in tag order; remove the ones whose tag is gone. */
  function syncCharts(): void {
    const tags = store.tags();
    const keep = new Set(tags);
    for (const [tag, c] of charts) {
      if (!keep.has(tag)) {
        purgePlots([c.plot]);
        c.box.remove();
        charts.delete(tag);
      }
    }
    tags.forEach((tag, i) => {
      const c = chartFor(tag);
      if (grid.children[i] !== c.box) grid.insertBefore(c.box, grid.children[i] ?? null);
    });
    empty.style.display = tags.length ? "none" : "";
    const n = store.pointCount();
    summary.textContent = tags.length
      ? `${tags.length} tag${tags.length === 1 ? "" : "s"} · ${store.runs.length} run${store.runs.length === 1 ? "" : "s"} · ${n.toLocaleString()} points` +
        (coalesced ? ` · ${coalesced.toLocaleString()} thinned by the server` : "")
      : "";
    csvButton.disabled = tags.length === 0;
    clearButton.disabled = tags.length === 0;
  }

  function figure(tag: string): { data: unknown[]; layout: unknown } {
    const data: unknown[] = [];
    const runs = store.runs;
    const smoothed = smoothing > 0;
    runs.forEach((run, i) => {
      const s = run.series.get(tag);
      if (!s) return;
      const color = runColor(theme, runs.length - 1 - i, run.id);
      const group = `run-${run.id}`;
      const hover = `${run.label}<br>step %{x}<br>%{y:.6g}<extra></extra>`;
      data.push({
        type: "scatter", mode: s.x.length === 1 ? "markers" : "lines", name: run.label, legendgroup: group,
        x: s.x.slice(), y: s.y.slice(), connectgaps: false,
        line: { color, width: smoothed ? 1 : 1.8 }, marker: { color, size: 5 },
        opacity: smoothed ? 0.28 : 1, showlegend: !smoothed, hovertemplate: hover,
      });
      if (smoothed) {
        data.push({
          type: "scatter", mode: s.x.length === 1 ? "markers" : "lines", name: run.label, legendgroup: group,
          x: s.x.slice(), y: smooth(s.y, smoothing), connectgaps: false,
          line: { color, width: 2 }, marker: { color, size: 5 }, showlegend: true,
          hovertemplate: `${run.label} (smoothed)<br>step %{x}<br>%{y:.6g}<extra></extra>`,
        });
      }
      const marks = nonFiniteMarks(s);
      if (marks.x.length) {
        // a diverging run: its NaN/inf points are a gap in the line, marked where it stopped
        data.push({
          type: "scatter", mode: "markers", name: `${run.label} NaN/inf`, legendgroup: group, showlegend: false,
          x: marks.x, y: marks.y, text: marks.kind,
          marker: { color: NON_FINITE_COLOR, size: 9, symbol: "x", line: { width: 1, color: NON_FINITE_COLOR } },
          hovertemplate: `${run.label}<br>step %{x}<br>%{text}<extra></extra>`,
        });
      }
    });
    const axis = {
      gridcolor: theme.border, linecolor: theme.border, zerolinecolor: theme.border,
      tickfont: { color: theme.muted, size: 10 }, automargin: true,
    };
    const layout = {
      paper_bgcolor: theme.panel, plot_bgcolor: theme.panel,
      font: { color: theme.fg, size: 11, family: "system-ui, sans-serif" },
      margin: { l: 48, r: 10, t: 8, b: 30 },
      xaxis: { ...axis, title: { text: "step", font: { color: theme.muted, size: 10 }, standoff: 4 } },
      yaxis: { ...axis, type: logY ? "log" : "linear" },
      showlegend: true,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { color: theme.muted, size: 10 }, bgcolor: "rgba(0,0,0,0)" },
      hovermode: "closest",
      hoverlabel: { bgcolor: theme.panel, bordercolor: theme.border, font: { color: theme.fg } },
      uirevision: tag, // keep the user's zoom across live updates
    };
    return { data, layout };
  }

  const CONFIG = {
    responsive: true, displaylogo: false, scrollZoom: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "toImage"],
  };

  let flushing = false;

  async function flush(): Promise<void> {
    if (disposed || dirty.size === 0) return;
    if (flushing) return; // the running flush reschedules when it ends
    flushing = true;
    try {
      await draw();
    } finally {
      flushing = false;
    }
    if (!disposed && dirty.size) schedule([]);
  }

  async function draw(): Promise<void> {
    const tags = [...dirty];
    dirty.clear();
    syncCharts();
    let P: PlotlyAPI;
    try {
      P = await loadPlotly();
    } catch {
      return;
    }
    if (disposed) return;
    for (const tag of tags) {
      const c = charts.get(tag);
      if (!c) continue;
      const { data, layout } = figure(tag);
      try {
        await P.react(c.plot, data, layout, CONFIG);
        c.drawn = true;
      } catch {
        // a failed draw must not stop the others
      }
      if (disposed) return;
    }
  }

  function redrawAll(): void {
    syncCharts();
    schedule(store.tags());
  }

  // -- events ---------------------------------------------------------------------------------
  const unsubs: Unsubscribe[] = [];
  unsubs.push(session.on("cell_status", (p) => {
    if (p.status === "running") store.beginCell(p.cellId);
  }));
  unsubs.push(session.on("metrics", (p) => {
    if (!p || !Array.isArray(p.points) || p.points.length === 0) return;
    coalesced += p.coalesced || 0;
    const change = store.addPoints(p.points);
    if (change.structural) {
      syncCharts();
      schedule(store.tags()); // a run appeared or went: colours and legends of every chart change
    } else {
      schedule(change.tags);
    }
  }));

  smoothInput.addEventListener("input", () => {
    smoothing = Number(smoothInput.value) || 0;
    smoothValue.textContent = smoothing.toFixed(2);
    redrawAll();
  });
  logInput.addEventListener("change", () => {
    logY = logInput.checked;
    redrawAll();
  });
  runsSelect.addEventListener("change", () => {
    store.setMaxRuns(Number(runsSelect.value) || 5);
    redrawAll();
  });
  clearButton.addEventListener("click", () => {
    store.clear();
    coalesced = 0;
    syncCharts();
  });
  csvButton.addEventListener("click", () => {
    const blob = new Blob([toCSV(store)], { type: "text/csv" });
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: "metrics.csv" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });

  // the theme can change at any time (html[data-theme]): recolour
  const themeObserver = new MutationObserver(() => {
    theme = readTheme(root);
    if (charts.size) redrawAll();
  });
  themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme", "class", "style"] });

  syncCharts();

  return {
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const u of unsubs) u();
      themeObserver.disconnect();
      if (frame !== null && typeof cancelAnimationFrame === "function") cancelAnimationFrame(frame);
      if (timer !== null) clearTimeout(timer);
      purgePlots([...charts.values()].map((c) => c.plot));
      charts.clear();
      root.textContent = "";
    },
  };
}

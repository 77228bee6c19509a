// Plotly (the partial cartesian bundle: scatter, heatmap, histogram), loaded on first use (it is
// large) and shared by every chart: the metrics panel, the inspector's heatmaps and cell outputs.

/** The part of Plotly the app uses (the partial bundle ships without type declarations). */
export interface PlotlyAPI {
  newPlot(el: HTMLElement, data: unknown[], layout?: unknown, config?: unknown): Promise<unknown>;
  react(el: HTMLElement, data: unknown[], layout?: unknown, config?: unknown): Promise<unknown>;
  purge(el: HTMLElement): void;
  downloadImage(el: HTMLElement, opts: { format: string; filename: string; width?: number; height?: number }): Promise<unknown>;
  Plots?: { resize(el: HTMLElement): void };
}

let loading: Promise<PlotlyAPI> | null = null;

/** Plotly, imported once; a failed import is tried again on the next call. */
export function loadPlotly(): Promise<PlotlyAPI> {
  if (!loading) {
    // @ts-ignore -- the partial bundle ships without type declarations
    loading = import("plotly.js-cartesian-dist-min").then((m: { default?: PlotlyAPI } & PlotlyAPI) => (m.default ?? m) as PlotlyAPI);
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

/** Free Plotly's state on these plot divs. Nothing to do when Plotly was never loaded. */
export function purgePlots(plots: readonly HTMLElement[]): void {
  if (!loading || !plots.length) return;
  void loading.then((P) => plots.forEach((p) => P.purge(p))).catch(() => {});
}

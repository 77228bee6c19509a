// The metrics panel: one live Plotly chart per SummaryWriter tag.
import type { NotebookSession } from "../types";

export function mountMetricsPanel(root: HTMLElement, _session: NotebookSession): { dispose(): void } {
  root.textContent = "";
  return { dispose() {} };
}

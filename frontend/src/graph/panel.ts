// The graph panel: autograd graph view, backward stepper and node inspector.
import type { EditorLink, NotebookSession } from "../types";

export function mountGraphPanel(root: HTMLElement, _session: NotebookSession, _link: EditorLink): { dispose(): void } {
  root.textContent = "";
  return { dispose() {} };
}

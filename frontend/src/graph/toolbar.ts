// The bar above the graph: the node search box and its match count, zoom, fit, forward replay,
// expand / collapse all. It renders and reports; the view acts.
import { h } from "../dom";

export interface GraphToolbarActions {
  zoomBy(f: number): void;
  fit(): void;
  replay(): void;
  setAllCollapsed(on: boolean): void;
  /** The search text changed. */
  search(): void;
  /** Enter in the search box: go to the next (dir 1) or previous (dir -1) match. */
  nextMatch(dir: 1 | -1): void;
}

export class GraphToolbar {
  readonly el: HTMLElement;
  private input: HTMLInputElement;
  private count: HTMLElement;

  constructor(act: GraphToolbarActions) {
    this.input = h("input", { class: "gv-search", type: "search", placeholder: "Find node (name, op, #id)…", "aria-label": "Find a node by name or op" });
    this.count = h("span", { class: "gv-search-count" });
    const btn = (label: string, title: string, testid: string, onclick: () => void) =>
      h("button", { class: "gv-btn", type: "button", title, "aria-label": title, testid, onclick }, label);
    this.el = h(
      "div",
      { class: "gv-toolbar" },
      this.input,
      this.count,
      btn("−", "Zoom out", "graph-zoom-out", () => act.zoomBy(1 / 1.25)),
      btn("+", "Zoom in", "graph-zoom-in", () => act.zoomBy(1.25)),
      btn("Fit", "Fit the graph in the view", "graph-fit", () => act.fit()),
      btn("▶ Forward", "Replay the forward pass: nodes appear in creation order", "graph-replay", () => act.replay()),
      btn("Expand all", "Expand every module", "graph-expand-all", () => act.setAllCollapsed(false)),
      btn("Collapse all", "Collapse every module", "graph-collapse-all", () => act.setAllCollapsed(true)),
    );
    this.input.addEventListener("input", () => act.search());
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        act.nextMatch(ev.shiftKey ? -1 : 1);
      } else if (ev.key === "Escape") {
        this.input.value = "";
        act.search();
      }
    });
  }

  get query(): string {
    return this.input.value;
  }

  set query(q: string) {
    this.input.value = q;
  }

  setCount(text: string): void {
    this.count.textContent = text;
  }
}

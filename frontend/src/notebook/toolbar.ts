// The notebook toolbar: run all, add cell, add markdown, interrupt, restart, kernel status,
// device indicator, export. It only renders and reports clicks; the page wires the actions.

import { h } from "../dom";

export interface ToolbarActions {
  runAll(): void;
  addCell(kind: "code" | "markdown"): void;
  interrupt(): void;
  restart(): void;
  exportUrl: string;
}

export interface Toolbar {
  el: HTMLElement;
  /** Kernel status and device pills (the page places them in its header). */
  status: HTMLElement;
  setKernelStatus(status: string, reason: string | null): void;
  setDevice(device: string): void;
}

export function createToolbar(actions: ToolbarActions): Toolbar {
  const b = (label: string, title: string, testid: string, onclick: () => void, cls = "") =>
    h("button", { type: "button", class: cls, title, testid, onclick }, label);

  const kernelText = h("span", { testid: "kernel-status" }, "connecting");
  const kernel = h("span", { class: "pill", "data-status": "connecting", title: "Kernel status", role: "status" }, h("span", { class: "dot", "aria-hidden": "true" }), kernelText);
  const deviceText = h("span", { testid: "device-indicator" }, "…");
  const device = h("span", { class: "pill", title: "The kernel computes on this device" }, "device", h("strong", {}, deviceText));

  const el = h(
    "div",
    { class: "toolbar", role: "toolbar", "aria-label": "Notebook" },
    b("▶▶ Run all", "Run every code cell in order", "run-all", actions.runAll, "primary"),
    b("+ Code", "Add a code cell at the end", "add-cell", () => actions.addCell("code")),
    b("+ Text", "Add a Markdown cell at the end", "add-markdown", () => actions.addCell("markdown")),
    h("span", { class: "sep", "aria-hidden": "true" }),
    b("■ Interrupt", "Interrupt the running cell", "interrupt-kernel", actions.interrupt),
    b("↻ Restart", "Restart the kernel (all variables are lost)", "restart-kernel", actions.restart),
    h("span", { class: "spacer" }),
    h("a", { class: "btn icon", href: actions.exportUrl, download: "", title: "Download as .ipynb", testid: "export-notebook" }, "⤓ .ipynb"),
  );

  return {
    el,
    status: h("span", { class: "kernel-pills" }, kernel, device),
    setKernelStatus(status, reason) {
      kernelText.textContent = status;
      kernel.dataset.status = status;
      kernel.title = reason ? `Kernel ${status}: ${reason}` : `Kernel ${status}`;
    },
    setDevice(d) {
      deviceText.textContent = d;
    },
  };
}

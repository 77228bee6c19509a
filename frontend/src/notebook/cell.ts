// One notebook cell: header (kind, status, duration, run / move / kind / delete buttons), the
// CodeMirror editor, the rendered markdown, and the output area. The page owns the cell list and
// the session; a cell only reports what the user asked for through CellHooks.

import type { CellRecord, CellKind } from "../api";
import type { CellStatus } from "../types";
import { h } from "../dom";
import { createEditor, type CellEditor } from "./editor";
import { renderMarkdown } from "./markdown";
import { OutputArea } from "./outputs";

export interface CellHooks {
  run(cell: Cell, advance: boolean): void;
  remove(cell: Cell): void;
  move(cell: Cell, delta: -1 | 1): void;
  changeKind(cell: Cell, kind: CellKind): void;
  sourceChanged(cell: Cell): void;
  selected(cell: Cell): void;
  /** Focus moves to a neighbour: from the editor edge (edit = true) or by keyboard navigation. */
  neighbour(cell: Cell, delta: -1 | 1, edit: boolean): boolean;
  insert(cell: Cell, where: "above" | "below"): void;
  words(): Iterable<string>;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60000);
  return `${m} min ${Math.round((ms % 60000) / 1000)} s`;
}

export class Cell {
  readonly id: string;
  kind: CellKind;
  status: CellStatus = "idle";
  /** The execution count of this cell's last run (links graph nodes to it). */
  executionCount: number | null;
  readonly el: HTMLElement;
  readonly outputs: OutputArea;
  readonly editor: CellEditor;
  private statusEl: HTMLElement;
  private durationEl: HTMLElement;
  private promptEl: HTMLElement;
  private kindEl: HTMLElement;
  private kindBtn: HTMLButtonElement;
  private mdEl: HTMLElement;
  private editing = false;
  private startedAt = 0;
  private ticker: ReturnType<typeof setInterval> | null = null;

  constructor(
    rec: CellRecord,
    private hooks: CellHooks,
  ) {
    this.id = rec.id;
    this.kind = rec.kind;
    this.executionCount = rec.execution_count ?? null;

    this.statusEl = h("span", { class: "cell-status", testid: "cell-status", "data-status": "idle", "aria-live": "polite" }, "idle");
    this.durationEl = h("span", { class: "cell-duration", testid: "cell-duration" });
    this.promptEl = h("span", { class: "cell-prompt" });
    this.kindEl = h("span", { class: "cell-kind" });

    const btn = (label: string, title: string, testid: string, onclick: () => void, cls = "icon") =>
      h("button", { type: "button", class: cls, title, "aria-label": title, testid, onclick: (ev: Event) => (ev.stopPropagation(), onclick()) }, label);
    const runBtn = btn("▶", "Run cell (Shift+Enter)", "run-cell", () => this.hooks.run(this, false), "icon run");
    this.kindBtn = btn("", "", "toggle-kind", () => this.hooks.changeKind(this, this.kind === "code" ? "markdown" : "code"));
    const head = h(
      "div",
      { class: "cell-head" },
      runBtn,
      this.kindEl,
      this.statusEl,
      this.durationEl,
      h("span", { class: "spacer" }),
      btn("↑", "Move cell up", "move-cell-up", () => this.hooks.move(this, -1)),
      btn("↓", "Move cell down", "move-cell-down", () => this.hooks.move(this, 1)),
      btn("+", "Insert cell below", "insert-cell-below", () => this.hooks.insert(this, "below")),
      this.kindBtn,
      btn("✕", "Delete cell", "delete-cell", () => this.hooks.remove(this), "icon danger"),
    );

    const editorHost = h("div", { class: "cell-editor", testid: "cell-editor" });
    this.mdEl = h("div", { class: "md-render", testid: "markdown-render" });
    this.mdEl.addEventListener("dblclick", () => this.edit());
    this.outputs = new OutputArea();

    this.el = h(
      "div",
      { class: "cell", testid: "cell", "data-cell-id": rec.id, "data-kind": rec.kind, "data-status": "idle", tabindex: "0", role: "group" },
      h("div", { class: "cell-gutter", "aria-hidden": "true" }, this.promptEl),
      h("div", { class: "cell-body" }, head, editorHost, this.mdEl, this.outputs.el),
    );
    this.el.addEventListener("keydown", (ev) => this.onCellKey(ev));
    this.el.addEventListener("focusin", () => this.hooks.selected(this));
    this.el.addEventListener("mousedown", () => this.hooks.selected(this));

    this.editor = createEditor(editorHost, {
      doc: rec.source,
      kind: rec.kind,
      onChange: () => this.hooks.sourceChanged(this),
      onRun: (advance) => this.hooks.run(this, advance),
      onEscape: () => this.leaveEditor(),
      onFocus: () => {
        this.el.classList.add("editing");
        this.editing = true;
      },
      onBlur: () => {
        this.el.classList.remove("editing");
        this.editing = false;
        if (this.kind === "markdown") this.mdEl.replaceChildren(renderMarkdown(this.source()));
      },
      words: () => this.hooks.words(),
      onEdge: (dir) => this.hooks.neighbour(this, dir, true),
    });

    this.applyKind();
    this.setStatus(rec.status ?? "idle", null);
    this.setExecutionCount(this.executionCount);
    this.outputs.restore(rec.outputs ?? [], this.executionCount);
    if (this.kind === "markdown") this.renderMd();
  }

  source(): string {
    return this.editor.source();
  }

  setStatus(status: CellStatus, durationMs: number | null): void {
    this.status = status;
    this.statusEl.textContent = status;
    this.statusEl.dataset.status = status;
    this.el.dataset.status = status;
    if (this.ticker) {
      clearInterval(this.ticker);
      this.ticker = null;
    }
    if (status === "running") {
      this.startedAt = performance.now();
      this.durationEl.textContent = "";
      this.ticker = setInterval(() => {
        const ms = performance.now() - this.startedAt;
        if (ms > 1000) this.durationEl.textContent = formatDuration(ms);
      }, 250);
    } else if ((status === "done" || status === "error") && durationMs !== null && Number.isFinite(durationMs)) {
      this.durationEl.textContent = formatDuration(durationMs);
    } else if (status === "queued") {
      this.durationEl.textContent = "";
    }
  }

  setExecutionCount(n: number | null): void {
    this.executionCount = n;
    this.promptEl.textContent = this.kind === "code" ? `[${n ?? " "}]` : "";
    if (this.status === "queued" || this.status === "running") this.promptEl.textContent = this.kind === "code" ? "[*]" : "";
  }

  /** A queued/running cell shows [*] in the gutter. */
  markBusy(): void {
    if (this.kind === "code") this.promptEl.textContent = "[*]";
  }

  setKind(kind: CellKind): void {
    this.kind = kind;
    this.el.dataset.kind = kind;
    this.editor.setKind(kind);
    this.applyKind();
    if (kind === "markdown") {
      this.outputs.clear();
      this.renderMd();
    }
  }

  private applyKind(): void {
    this.kindEl.textContent = this.kind === "code" ? "py" : "md";
    const other = this.kind === "code" ? "Markdown" : "code";
    this.kindBtn.textContent = this.kind === "code" ? "M↓" : "py";
    this.kindBtn.title = `Change to a ${other} cell`;
    this.kindBtn.setAttribute("aria-label", this.kindBtn.title);
    this.setExecutionCount(this.executionCount);
  }

  /** Markdown: show the rendered text (leaves the editor). */
  renderMd(): void {
    this.mdEl.replaceChildren(renderMarkdown(this.source()));
    if (this.editing) this.focusCell();
  }

  /** Enter the editor (markdown cells switch to their source). */
  edit(where?: "start" | "end"): void {
    this.el.classList.add("editing");
    this.editing = true;
    this.editor.focus(where);
  }

  focusCell(): void {
    this.el.focus({ preventScroll: false });
  }

  private leaveEditor(): void {
    if (this.kind === "markdown") this.renderMd();
    this.focusCell();
  }

  markError(line: number | null): void {
    this.editor.markError(line);
  }

  markLink(line: number | null): void {
    this.editor.markLink(line);
    if (line !== null) this.el.scrollIntoView({ block: "nearest" });
  }

  private onCellKey(ev: KeyboardEvent): void {
    if (ev.target !== this.el) return; // keys inside the editor or buttons are theirs
    const mod = ev.ctrlKey || ev.metaKey;
    if (ev.key === "Enter" && ev.shiftKey) this.hooks.run(this, true);
    else if (ev.key === "Enter" && mod) this.hooks.run(this, false);
    else if (ev.key === "Enter") this.edit("end");
    else if (ev.key === "ArrowUp" || ev.key === "k") this.hooks.neighbour(this, -1, false);
    else if (ev.key === "ArrowDown" || ev.key === "j") this.hooks.neighbour(this, 1, false);
    else if (ev.key === "a") this.hooks.insert(this, "above");
    else if (ev.key === "b") this.hooks.insert(this, "below");
    else if (ev.key === "m" && this.kind !== "markdown") this.hooks.changeKind(this, "markdown");
    else if (ev.key === "y" && this.kind !== "code") this.hooks.changeKind(this, "code");
    else return;
    ev.preventDefault();
  }

  destroy(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.outputs.dispose();
    this.editor.destroy();
    this.el.remove();
  }
}

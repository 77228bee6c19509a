// The notebook's cells in order (data-testid `cells`): adding, deleting (with undo), moving and
// changing the kind of a cell through the REST API, the selected cell, keyboard moves between
// cells, and running: code cells go to the kernel one after another, each after a save.

import { api, type CellKind, type CellRecord } from "../api";
import { h, toast } from "../dom";
import type { AutoSaver } from "./autosave";
import { Cell, type CellHooks } from "./cell";
import { identifiers } from "./completions";

export interface CellListDeps {
  notebookId: string;
  saver: AutoSaver;
  /** Send a code cell to the kernel (resolves once it is queued). */
  execute(cellId: string, code: string): Promise<void>;
  /** A cell was deleted (and destroyed). */
  removed(cell: Cell): void;
}

export class CellList {
  readonly el: HTMLElement;
  private cells: Cell[] = [];
  private selected: Cell | null = null;
  private wordsCache: Set<string> | null = null;
  private runChain: Promise<void> = Promise.resolve();
  private hooks: CellHooks;

  constructor(private deps: CellListDeps) {
    this.el = h("div", { class: "cells", testid: "cells" });
    this.hooks = {
      run: (cell, advance) => void this.run(cell, advance),
      remove: (cell) => void this.remove(cell),
      move: (cell, delta) => void this.move(cell, delta),
      changeKind: (cell, kind) => void this.changeKind(cell, kind),
      sourceChanged: (cell) => {
        this.wordsCache = null;
        deps.saver.schedule(`cell:${cell.id}`, ({ keepalive }) => api.patchCell(deps.notebookId, cell.id, { source: cell.source() }, { keepalive }));
      },
      selected: (cell) => this.select(cell),
      neighbour: (cell, delta, edit) => {
        const next = this.cells[this.cells.indexOf(cell) + delta];
        if (!next) return false;
        if (edit) next.edit(delta > 0 ? "start" : "end");
        else next.focusCell();
        return true;
      },
      insert: (cell, where) => void this.add("code", this.cells.indexOf(cell) + (where === "below" ? 1 : 0), true),
      words: () => {
        if (!this.wordsCache) {
          this.wordsCache = new Set();
          for (const c of this.cells) identifiers(c.source(), this.wordsCache);
        }
        return this.wordsCache;
      },
    };
  }

  /** Show the notebook's saved cells. Keyboard users start in the notebook: a new notebook (one
   * empty cell) in its editor, any other on its first cell (Enter edits it). */
  load(records: readonly CellRecord[]): void {
    for (const rec of records) this.insert(rec, this.cells.length);
    const first = this.cells[0];
    if (!first) return;
    this.select(first);
    if (this.cells.length === 1 && first.source() === "") first.edit("end");
    else first.focusCell();
  }

  get length(): number {
    return this.cells.length;
  }

  byId(id: string): Cell | null {
    return this.cells.find((c) => c.id === id) ?? null;
  }

  /** The last code cell whose latest run had this execution count. */
  byExecutionCount(n: number): Cell | null {
    return [...this.cells].reverse().find((c) => c.kind === "code" && c.executionCount === n) ?? null;
  }

  private select(cell: Cell): void {
    if (this.selected === cell) return;
    this.selected?.el.classList.remove("selected");
    this.selected = cell;
    cell.el.classList.add("selected");
  }

  private insert(rec: CellRecord, index: number): Cell {
    const cell = new Cell(rec, this.hooks);
    const before = this.cells[index];
    this.cells.splice(index, 0, cell);
    if (before) this.el.insertBefore(cell.el, before.el);
    else this.el.append(cell.el);
    this.wordsCache = null;
    return cell;
  }

  /** Create a cell at `index` (clamped to the end) on the server, then show it. */
  async add(kind: CellKind, index: number, focus: boolean, source = ""): Promise<Cell | null> {
    try {
      const at = Math.min(index, this.cells.length);
      const rec = await api.addCell(this.deps.notebookId, kind, source, at);
      const cell = this.insert({ ...rec, outputs: rec.outputs ?? [], status: rec.status ?? "idle" }, Math.min(index, this.cells.length));
      if (focus) {
        this.select(cell);
        cell.edit("end");
        cell.el.scrollIntoView({ block: "nearest" });
      }
      return cell;
    } catch (err) {
      toast(`Could not add a cell: ${(err as Error).message}`);
      return null;
    }
  }

  /** Append an empty cell and start editing it. */
  append(kind: CellKind): void {
    void this.add(kind, this.cells.length, true);
  }

  private async remove(cell: Cell): Promise<void> {
    const index = this.cells.indexOf(cell);
    if (index < 0) return;
    const source = cell.source();
    const kind = cell.kind;
    this.deps.saver.cancel(`cell:${cell.id}`);
    try {
      await api.deleteCell(this.deps.notebookId, cell.id);
    } catch (err) {
      toast(`Could not delete the cell: ${(err as Error).message}`);
      return;
    }
    this.cells.splice(index, 1);
    cell.destroy();
    this.deps.removed(cell);
    if (this.selected === cell) this.selected = null;
    this.wordsCache = null;
    const neighbour = this.cells[index] ?? this.cells[index - 1];
    if (neighbour) neighbour.focusCell();
    toast("Cell deleted", { label: "Undo", run: () => void this.add(kind, index, true, source) }, 7000);
  }

  private async move(cell: Cell, delta: -1 | 1): Promise<void> {
    const from = this.cells.indexOf(cell);
    const to = from + delta;
    if (from < 0 || to < 0 || to >= this.cells.length) return;
    this.cells.splice(from, 1);
    this.cells.splice(to, 0, cell);
    const after = this.cells[to + 1];
    if (after) this.el.insertBefore(cell.el, after.el);
    else this.el.append(cell.el);
    cell.focusCell();
    try {
      await api.moveCell(this.deps.notebookId, cell.id, to);
    } catch (err) {
      toast(`Could not move the cell: ${(err as Error).message}`);
    }
  }

  private async changeKind(cell: Cell, kind: CellKind): Promise<void> {
    try {
      await this.deps.saver.flush().catch(() => {});
      await api.patchCell(this.deps.notebookId, cell.id, { kind });
      cell.setKind(kind);
    } catch (err) {
      toast(`Could not change the cell: ${(err as Error).message}`);
    }
  }

  // ---- running ----------------------------------------------------------------------------------
  /** Run a cell (markdown renders); `advance` moves on to the next cell, adding one at the end. */
  run(cell: Cell, advance: boolean): Promise<void> {
    if (cell.kind === "markdown") {
      cell.renderMd();
      cell.setStatus("done", null);
    } else {
      cell.outputs.clear();
      cell.markError(null);
      cell.setStatus("queued", null);
      cell.markBusy();
      const code = cell.source();
      this.runChain = this.runChain.then(() => this.submit(cell, code));
    }
    if (advance) void this.advanceFrom(cell);
    return this.runChain;
  }

  async runAll(): Promise<void> {
    for (const cell of [...this.cells]) {
      if (cell.kind === "code") void this.run(cell, false);
      else cell.renderMd();
    }
    await this.runChain;
  }

  private async submit(cell: Cell, code: string): Promise<void> {
    await this.deps.saver.flush().catch(() => {}); // a failed save must not stop the run; the indicator says so
    try {
      await this.deps.execute(cell.id, code);
    } catch (err) {
      cell.outputs.error("Not run", (err as Error).message, [], null);
      cell.setStatus("error", null);
      cell.setExecutionCount(cell.executionCount);
    }
  }

  private async advanceFrom(cell: Cell): Promise<void> {
    const next = this.cells[this.cells.indexOf(cell) + 1];
    if (next) {
      this.select(next);
      next.edit("end");
      next.el.scrollIntoView({ block: "nearest" });
    } else {
      await this.add("code", this.cells.length, true);
    }
  }

  destroy(): void {
    for (const c of this.cells) c.destroy();
  }
}

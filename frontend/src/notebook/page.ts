// The notebook page (/notebooks/<id>): title, toolbar, cells on the left; the graph panel and the
// metrics panel on the right. Owns the cell list, the socket session and autosave, and routes the
// session's events to the cells.

import { ApiError, api, type CellKind, type CellRecord, type NotebookRecord } from "../api";
import { mountGraphPanel } from "../graph/panel";
import { mountMetricsPanel } from "../metrics/panel";
import { openSession } from "../session";
import type { EditorLink, NotebookSession } from "../types";
import { AutoSaver, type SaveState } from "./autosave";
import { Cell, type CellHooks } from "./cell";
import { identifiers } from "./completions";
import { clear, h, toast } from "./dom";
import { createToolbar } from "./toolbar";
import { topBar } from "./topbar";

const SPLIT_KEY = "gradlab-split";

export function mountNotebookPage(root: HTMLElement, notebookId: string, navigate: (path: string) => void): () => void {
  let disposed = false;
  let teardown: (() => void) | null = null;
  const crumb = h("span", { class: "crumb-title" }, "");
  root.append(topBar(navigate, crumb));
  const body = h("div", { class: "center-msg" }, "Loading notebook…");
  root.append(body);

  api
    .getNotebook(notebookId)
    .then((nb) => {
      if (disposed) return;
      body.remove();
      teardown = buildPage(root, nb, crumb);
    })
    .catch((err: Error) => {
      if (disposed) return;
      clear(body);
      const missing = err instanceof ApiError && err.status === 404;
      body.append(
        h("h1", {}, missing ? "Notebook not found" : "Could not open the notebook"),
        h("p", {}, missing ? "It does not exist, or it is not yours." : err.message),
        h("p", {}, h("a", { href: "/", onclick: (ev: Event) => (ev.preventDefault(), navigate("/")) }, "Back to your notebooks")),
      );
      document.title = "Not found · Gradlab";
    });

  return () => {
    disposed = true;
    teardown?.();
  };
}

function buildPage(root: HTMLElement, nb: NotebookRecord, crumb: HTMLElement): () => void {
  const notebookId = nb.id;
  const cleanups: (() => void)[] = [];
  const cells: Cell[] = [];
  let selected: Cell | null = null;
  let wordsCache: Set<string> | null = null;
  let linked: Cell | null = null;

  // ---- header: title and save state -------------------------------------------------------------
  const setTitleText = (t: string) => {
    crumb.textContent = t;
    document.title = `${t} · Gradlab`;
  };
  setTitleText(nb.title);
  const saveState = h("span", { class: "save-state", testid: "save-state", role: "status", "aria-live": "polite" }, "saved");
  const saver = new AutoSaver((state: SaveState, error: string | null) => {
    saveState.textContent = state === "saving" ? "saving…" : state === "failed" ? "save failed" : state === "unsaved" ? "unsaved changes" : "saved";
    saveState.classList.toggle("failed", state === "failed");
    saveState.title = error ? `Could not save: ${error}` : "";
  });
  const titleInput = h("input", { type: "text", class: "nb-title", value: nb.title, maxlength: "200", "aria-label": "Notebook title", testid: "notebook-title", spellcheck: "false" });
  titleInput.addEventListener("input", () => {
    const title = titleInput.value.trim();
    if (!title) return;
    setTitleText(title);
    saver.schedule("title", ({ keepalive }) => api.renameNotebook(notebookId, title, { keepalive }));
  });
  titleInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === "Escape") {
      ev.preventDefault();
      titleInput.blur();
      void saver.flush().catch(() => {});
    }
  });
  titleInput.addEventListener("blur", () => {
    if (!titleInput.value.trim()) titleInput.value = crumb.textContent ?? "";
  });

  // ---- session ----------------------------------------------------------------------------------
  const session: NotebookSession = openSession(notebookId);
  const toolbar = createToolbar({
    runAll: () => void runAll(),
    addCell: (kind) => void addCell(kind, cells.length, true),
    interrupt: () => session.interrupt().catch((e: Error) => toast(`Interrupt failed: ${e.message}`)),
    restart: () => {
      toolbar.setKernelStatus("restarting", null);
      session.restart().catch((e: Error) => toast(`Restart failed: ${e.message}`));
    },
    exportUrl: api.exportUrl(notebookId),
  });

  const banner = h("div", { class: "kernel-banner", role: "alert" });
  const cellsEl = h("div", { class: "cells", testid: "cells" });
  const endBar = h(
    "div",
    { class: "cells-end" },
    h("button", { type: "button", onclick: () => void addCell("code", cells.length, true), testid: "add-cell-end" }, "+ Code cell"),
    h("button", { type: "button", onclick: () => void addCell("markdown", cells.length, true), testid: "add-markdown-end" }, "+ Text cell"),
  );
  const left = h("div", { class: "nb-left" }, h("div", { class: "nb-header" }, titleInput, saveState, toolbar.status), toolbar.el, banner, cellsEl, endBar);
  const graphSection = h("section", { id: "graph-panel", "aria-label": "Autograd graph" });
  const metricsSection = h("section", { id: "metrics-panel", "aria-label": "Metrics" });
  const side = h("aside", { class: "nb-side" }, graphSection, metricsSection);
  const splitter = h("button", { type: "button", class: "nb-splitter", "aria-label": "Resize panels (arrow keys)", title: "Drag to resize", testid: "panel-splitter" });
  const page = h("main", { class: "nb-page", testid: "notebook", "data-notebook-id": notebookId }, left, splitter, side);
  root.append(page);
  setupSplitter(page, splitter);

  // ---- cells ------------------------------------------------------------------------------------
  const hooks: CellHooks = {
    run: (cell, advance) => void run(cell, advance),
    remove: (cell) => void removeCell(cell),
    move: (cell, delta) => void moveCell(cell, delta),
    changeKind: (cell, kind) => void changeKind(cell, kind),
    sourceChanged: (cell) => {
      wordsCache = null;
      saver.schedule(`cell:${cell.id}`, ({ keepalive }) => api.patchCell(notebookId, cell.id, { source: cell.source() }, { keepalive }));
    },
    selected: (cell) => select(cell),
    neighbour: (cell, delta, edit) => {
      const next = cells[cells.indexOf(cell) + delta];
      if (!next) return false;
      if (edit) next.edit(delta > 0 ? "start" : "end");
      else next.focusCell();
      return true;
    },
    insert: (cell, where) => void addCell("code", cells.indexOf(cell) + (where === "below" ? 1 : 0), true),
    words: () => {
      if (!wordsCache) {
        wordsCache = new Set();
        for (const c of cells) identifiers(c.source(), wordsCache);
      }
      return wordsCache;
    },
  };

  function select(cell: Cell) {
    if (selected === cell) return;
    selected?.el.classList.remove("selected");
    selected = cell;
    cell.el.classList.add("selected");
  }

  function makeCell(rec: CellRecord, index: number): Cell {
    const cell = new Cell(rec, hooks);
    const before = cells[index];
    cells.splice(index, 0, cell);
    if (before) cellsEl.insertBefore(cell.el, before.el);
    else cellsEl.append(cell.el);
    wordsCache = null;
    return cell;
  }

  for (const rec of nb.cells) makeCell(rec, cells.length);
  // keyboard users start in the notebook: a new (one empty cell) notebook in its editor, any other
  // on its first cell (Enter edits it)
  if (cells.length) {
    const first = cells[0];
    select(first);
    if (cells.length === 1 && first.source() === "") first.edit("end");
    else first.focusCell();
  }

  const byId = (id: string) => cells.find((c) => c.id === id) ?? null;

  async function addCell(kind: CellKind, index: number, focus: boolean, source = ""): Promise<Cell | null> {
    try {
      const rec = await api.addCell(notebookId, kind, source, Math.min(index, cells.length));
      const cell = makeCell({ ...rec, outputs: rec.outputs ?? [], status: rec.status ?? "idle" }, Math.min(index, cells.length));
      if (focus) {
        select(cell);
        cell.edit("end");
        cell.el.scrollIntoView({ block: "nearest" });
      }
      return cell;
    } catch (err) {
      toast(`Could not add a cell: ${(err as Error).message}`);
      return null;
    }
  }

  async function removeCell(cell: Cell) {
    const index = cells.indexOf(cell);
    if (index < 0) return;
    const source = cell.source();
    const kind = cell.kind;
    saver.cancel(`cell:${cell.id}`);
    try {
      await api.deleteCell(notebookId, cell.id);
    } catch (err) {
      toast(`Could not delete the cell: ${(err as Error).message}`);
      return;
    }
    cells.splice(index, 1);
    cell.destroy();
    if (linked === cell) linked = null;
    if (selected === cell) selected = null;
    wordsCache = null;
    const neighbour = cells[index] ?? cells[index - 1];
    if (neighbour) neighbour.focusCell();
    toast("Cell deleted", { label: "Undo", run: () => void addCell(kind, index, true, source) }, 7000);
  }

  async function moveCell(cell: Cell, delta: -1 | 1) {
    const from = cells.indexOf(cell);
    const to = from + delta;
    if (from < 0 || to < 0 || to >= cells.length) return;
    cells.splice(from, 1);
    cells.splice(to, 0, cell);
    const after = cells[to + 1];
    if (after) cellsEl.insertBefore(cell.el, after.el);
    else cellsEl.append(cell.el);
    cell.focusCell();
    try {
      await api.moveCell(notebookId, cell.id, to);
    } catch (err) {
      toast(`Could not move the cell: ${(err as Error).message}`);
    }
  }

  async function changeKind(cell: Cell, kind: CellKind) {
    try {
      await saver.flush().catch(() => {});
      await api.patchCell(notebookId, cell.id, { kind });
      cell.setKind(kind);
    } catch (err) {
      toast(`Could not change the cell: ${(err as Error).message}`);
    }
  }

  // ---- running ----------------------------------------------------------------------------------
  let runChain: Promise<void> = Promise.resolve();

  function run(cell: Cell, advance: boolean): Promise<void> {
    if (cell.kind === "markdown") {
      cell.renderMd();
      cell.setStatus("done", null);
    } else {
      cell.outputs.clear();
      cell.markError(null);
      cell.setStatus("queued", null);
      cell.markBusy();
      const code = cell.source();
      runChain = runChain.then(() => submit(cell, code));
    }
    if (advance) void advanceFrom(cell);
    return runChain;
  }

  async function submit(cell: Cell, code: string): Promise<void> {
    await saver.flush().catch(() => {}); // a failed save must not stop the run; the indicator says so
    try {
      await session.execute(cell.id, code);
    } catch (err) {
      cell.outputs.error("Not run", (err as Error).message, [], null);
      cell.setStatus("error", null);
      cell.setExecutionCount(cell.executionCount);
    }
  }

  async function advanceFrom(cell: Cell) {
    const next = cells[cells.indexOf(cell) + 1];
    if (next) {
      select(next);
      next.edit("end");
      next.el.scrollIntoView({ block: "nearest" });
    } else {
      await addCell("code", cells.length, true);
    }
  }

  async function runAll() {
    for (const cell of [...cells]) {
      if (cell.kind === "code") void run(cell, false);
      else cell.renderMd();
    }
    await runChain;
  }

  // ---- session events ---------------------------------------------------------------------------
  const off: (() => void)[] = [];
  const showBanner = (text: string | null, withRestart = false) => {
    clear(banner);
    if (!text) return;
    const box = h("div", { class: "banner warn" }, text);
    if (withRestart) {
      box.append(" ", h("button", { type: "button", onclick: () => toolbar.el.querySelector<HTMLButtonElement>("[data-testid=restart-kernel]")?.click() }, "Restart kernel"));
    }
    banner.append(box);
  };

  off.push(
    session.on("connection", ({ connected }) => {
      if (!connected) toolbar.setKernelStatus("disconnected", "the connection to the server was lost; reconnecting…");
      else toolbar.setKernelStatus("connecting", null);
    }),
    session.on("kernel_status", ({ status, reason }) => {
      toolbar.setKernelStatus(status, reason);
      if (status === "dead") showBanner(`The kernel stopped${reason ? `: ${reason}` : "."} Run a cell or restart to start a new one.`, true);
      else showBanner(null);
    }),
    session.on("device", ({ device }) => toolbar.setDevice(device)),
    session.on("cell_status", ({ cellId, status, durationMs, executionCount }) => {
      const cell = byId(cellId);
      if (!cell) return;
      if (status === "queued" && cell.status !== "queued") {
        // queued by another tab of this notebook: start afresh here too
        cell.outputs.clear();
        cell.markError(null);
      }
      cell.setStatus(status, durationMs);
      if (executionCount !== null) cell.setExecutionCount(executionCount);
      else if (status === "queued" || status === "running") cell.markBusy();
      else cell.setExecutionCount(cell.executionCount);
    }),
    session.on("stream", ({ cellId, name, text }) => byId(cellId)?.outputs.stream(name, text)),
    session.on("result", ({ cellId, data, executionCount }) => {
      const cell = byId(cellId);
      if (!cell) return;
      cell.outputs.result(data, executionCount);
      if (executionCount !== null) cell.executionCount = executionCount;
    }),
    session.on("cell_error", ({ cellId, ename, evalue, traceback, line }) => {
      const cell = byId(cellId);
      if (!cell) return;
      cell.outputs.error(ename, evalue, traceback, line);
      cell.markError(line);
    }),
    session.on("notice", ({ cellId, text }) => {
      const cell = cellId ? byId(cellId) : null;
      if (cell) cell.outputs.notice(text);
      else toast(text);
    }),
    session.on("error", ({ reason, event }) => {
      if (reason === "notebook not found") showBanner("This notebook no longer exists (it was deleted, or it is not yours).");
      else toast(`Server refused ${event ?? "a request"}: ${reason}`);
    }),
  );

  // ---- the side panels --------------------------------------------------------------------------
  const editorLink: EditorLink = {
    highlightLine(executionCount, line) {
      const target = executionCount === null ? null : [...cells].reverse().find((c) => c.kind === "code" && c.executionCount === executionCount) ?? null;
      if (linked && linked !== target) linked.markLink(null);
      linked = target;
      if (target) target.markLink(line);
    },
  };
  const panels: { dispose(): void }[] = [];
  try {
    panels.push(mountGraphPanel(graphSection, session, editorLink));
  } catch (err) {
    graphSection.append(h("div", { class: "banner error" }, `The graph panel failed to start: ${(err as Error).message}`));
  }
  try {
    panels.push(mountMetricsPanel(metricsSection, session));
  } catch (err) {
    metricsSection.append(h("div", { class: "banner error" }, `The metrics panel failed to start: ${(err as Error).message}`));
  }

  // ---- page keys and leaving --------------------------------------------------------------------
  const onKey = (ev: KeyboardEvent) => {
    if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "s") {
      ev.preventDefault();
      void saver.flush().catch(() => {});
    }
  };
  const onHide = () => {
    if (saver.pending) void saver.flush({ keepalive: true }).catch(() => {});
  };
  const onVisibility = () => {
    if (document.visibilityState === "hidden") onHide();
  };
  document.addEventListener("keydown", onKey);
  window.addEventListener("pagehide", onHide);
  document.addEventListener("visibilitychange", onVisibility);
  cleanups.push(() => {
    document.removeEventListener("keydown", onKey);
    window.removeEventListener("pagehide", onHide);
    document.removeEventListener("visibilitychange", onVisibility);
  });

  if (cells.length) select(cells[0]);

  return () => {
    void saver.flush({ keepalive: true }).catch(() => {});
    for (const o of off) o();
    for (const p of panels) {
      try {
        p.dispose();
      } catch {
        /* a panel's own problem */
      }
    }
    session.close();
    for (const c of cells) c.destroy();
    for (const fn of cleanups) fn();
  };
}

/** The draggable divider between cells and panels; the width is remembered. */
function setupSplitter(page: HTMLElement, splitter: HTMLElement): void {
  const apply = (pct: number) => {
    const clamped = Math.max(28, Math.min(75, pct));
    page.style.setProperty("--left-w", `${clamped}%`);
    return clamped;
  };
  let current = 52;
  try {
    const saved = Number(localStorage.getItem(SPLIT_KEY));
    if (saved) current = apply(saved);
  } catch {
    /* no storage */
  }
  const save = () => {
    try {
      localStorage.setItem(SPLIT_KEY, String(Math.round(current)));
    } catch {
      /* no storage */
    }
    window.dispatchEvent(new Event("resize"));
  };
  splitter.addEventListener("pointerdown", (ev) => {
    ev.preventDefault();
    splitter.setPointerCapture(ev.pointerId);
    const rect = page.getBoundingClientRect();
    const move = (e: PointerEvent) => {
      current = apply(((e.clientX - rect.left) / rect.width) * 100);
    };
    const up = () => {
      splitter.removeEventListener("pointermove", move);
      splitter.removeEventListener("pointerup", up);
      save();
    };
    splitter.addEventListener("pointermove", move);
    splitter.addEventListener("pointerup", up);
  });
  splitter.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowLeft" || ev.key === "ArrowRight") {
      ev.preventDefault();
      current = apply(current + (ev.key === "ArrowLeft" ? -3 : 3));
      save();
    }
  });
}

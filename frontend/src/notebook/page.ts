// The notebook page (/notebooks/<id>): title, toolbar, cells on the left; the graph panel and the
// metrics panel on the right. Owns the socket session and autosave, wires the cell list
// (cells.ts) to the toolbar, and routes the session's events to the cells.

import { ApiError, api, type NotebookRecord } from "../api";
import { clear, h, toast } from "../dom";
import { mountGraphPanel } from "../graph/panel";
import { mountMetricsPanel } from "../metrics/panel";
import { openSession } from "../session";
import type { EditorLink, NotebookSession } from "../types";
import { AutoSaver, type SaveState } from "./autosave";
import type { Cell } from "./cell";
import { CellList } from "./cells";
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

  // ---- session, cells, toolbar ------------------------------------------------------------------
  const session: NotebookSession = openSession(notebookId);
  const cells = new CellList({
    notebookId,
    saver,
    execute: (cellId, code) => session.execute(cellId, code),
    removed: (cell) => {
      if (linked === cell) linked = null;
    },
  });
  const toolbar = createToolbar({
    runAll: () => void cells.runAll(),
    addCell: (kind) => cells.append(kind),
    interrupt: () => session.interrupt().catch((e: Error) => toast(`Interrupt failed: ${e.message}`)),
    restart: () => {
      toolbar.setKernelStatus("restarting", null);
      session.restart().catch((e: Error) => toast(`Restart failed: ${e.message}`));
    },
    exportUrl: api.exportUrl(notebookId),
  });

  const banner = h("div", { class: "kernel-banner", role: "alert" });
  const endBar = h(
    "div",
    { class: "cells-end" },
    h("button", { type: "button", onclick: () => cells.append("code"), testid: "add-cell-end" }, "+ Code cell"),
    h("button", { type: "button", onclick: () => cells.append("markdown"), testid: "add-markdown-end" }, "+ Text cell"),
  );
  const left = h("div", { class: "nb-left" }, h("div", { class: "nb-header" }, titleInput, saveState, toolbar.status), toolbar.el, banner, cells.el, endBar);
  const graphSection = h("section", { id: "graph-panel", "aria-label": "Autograd graph" });
  const metricsSection = h("section", { id: "metrics-panel", "aria-label": "Metrics" });
  const side = h("aside", { class: "nb-side" }, graphSection, metricsSection);
  const splitter = h("button", { type: "button", class: "nb-splitter", "aria-label": "Resize panels (arrow keys)", title: "Drag to resize", testid: "panel-splitter" });
  const page = h("main", { class: "nb-page", testid: "notebook", "data-notebook-id": notebookId }, left, splitter, side);
  root.append(page);
  setupSplitter(page, splitter);
  cells.load(nb.cells);

  // ---- session events ---------------------------------------------------------------------------
  const showBanner = (text: string | null, withRestart = false) => {
    clear(banner);
    if (!text) return;
    const box = h("div", { class: "banner warn" }, text);
    if (withRestart) {
      box.append(" ", h("button", { type: "button", onclick: () => toolbar.el.querySelector<HTMLButtonElement>("[data-testid=restart-kernel]")?.click() }, "Restart kernel"));
    }
    banner.append(box);
  };

  const off = [
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
      const cell = cells.byId(cellId);
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
    session.on("stream", ({ cellId, name, text }) => cells.byId(cellId)?.outputs.stream(name, text)),
    session.on("result", ({ cellId, data, executionCount }) => {
      const cell = cells.byId(cellId);
      if (!cell) return;
      cell.outputs.result(data, executionCount);
      if (executionCount !== null) cell.executionCount = executionCount;
    }),
    session.on("cell_error", ({ cellId, ename, evalue, traceback, line }) => {
      const cell = cells.byId(cellId);
      if (!cell) return;
      cell.outputs.error(ename, evalue, traceback, line);
      cell.markError(line);
    }),
    session.on("notice", ({ cellId, text }) => {
      const cell = cellId ? cells.byId(cellId) : null;
      if (cell) cell.outputs.notice(text);
      else toast(text);
    }),
    session.on("error", ({ reason, event }) => {
      if (reason === "notebook not found") showBanner("This notebook no longer exists (it was deleted, or it is not yours).");
      else toast(`Server refused ${event ?? "a request"}: ${reason}`);
    }),
  ];

  // ---- the side panels --------------------------------------------------------------------------
  const editorLink: EditorLink = {
    highlightLine(executionCount, line) {
      const target = executionCount === null ? null : cells.byExecutionCount(executionCount);
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
    cells.destroy();
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

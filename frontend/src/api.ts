// REST client for backend/api.py. Every call is same-origin (the session cookie goes along);
// failures throw ApiError with the server's `{"error": reason}` text.

import type { CellOutput, CellStatus } from "./types";

export type CellKind = "code" | "markdown";

export interface NotebookSummary {
  id: string;
  title: string;
  created: string | null;
  updated: string | null;
  device: string;
  cell_count: number;
}

export interface CellRecord {
  id: string;
  position: number;
  kind: CellKind;
  source: string;
  outputs: CellOutput[];
  execution_count: number | null;
  status: CellStatus;
}

export interface NotebookRecord extends NotebookSummary {
  cells: CellRecord[];
}

export interface Starter {
  name: string;
  title: string;
  description: string;
  cells: number;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

async function call<T>(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let resp: Response;
  try {
    resp = await fetch(path, { method, headers, body: payload, credentials: "same-origin", ...init });
  } catch {
    throw new ApiError("cannot reach the server", 0);
  }
  const text = await resp.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    const reason =
      data && typeof data === "object" && typeof (data as { error?: unknown }).error === "string"
        ? (data as { error: string }).error
        : `${resp.status} ${resp.statusText}`;
    throw new ApiError(reason, resp.status);
  }
  return data as T;
}

const enc = encodeURIComponent;

export const api = {
  listNotebooks: () => call<{ notebooks: NotebookSummary[] }>("GET", "/api/notebooks").then((r) => r.notebooks ?? []),
  createNotebook: (title?: string, cells?: { kind: CellKind; source: string }[]) =>
    call<NotebookRecord>("POST", "/api/notebooks", { ...(title !== undefined ? { title } : {}), ...(cells ? { cells } : {}) }),
  getNotebook: (id: string) => call<NotebookRecord>("GET", `/api/notebooks/${enc(id)}`),
  renameNotebook: (id: string, title: string, opts: { keepalive?: boolean } = {}) =>
    call<NotebookSummary>("PATCH", `/api/notebooks/${enc(id)}`, { title }, { keepalive: opts.keepalive }),
  setDevice: (id: string, device: "auto" | "cpu" | "cuda") => call<NotebookSummary>("PATCH", `/api/notebooks/${enc(id)}`, { device }),
  deleteNotebook: (id: string) => call<{ deleted: string }>("DELETE", `/api/notebooks/${enc(id)}`),
  duplicateNotebook: (id: string) => call<NotebookRecord>("POST", `/api/notebooks/${enc(id)}/duplicate`),

  addCell: (id: string, kind: CellKind = "code", source = "", index?: number) =>
    call<CellRecord>("POST", `/api/notebooks/${enc(id)}/cells`, { kind, source, ...(index !== undefined ? { index } : {}) }),
  patchCell: (id: string, cellId: string, change: { source?: string; kind?: CellKind }, opts: { keepalive?: boolean } = {}) =>
    call<CellRecord>("PATCH", `/api/notebooks/${enc(id)}/cells/${enc(cellId)}`, change, { keepalive: opts.keepalive }),
  deleteCell: (id: string, cellId: string) => call<{ deleted: string }>("DELETE", `/api/notebooks/${enc(id)}/cells/${enc(cellId)}`),
  moveCell: (id: string, cellId: string, index: number) =>
    call<{ order: string[] }>("POST", `/api/notebooks/${enc(id)}/cells/${enc(cellId)}/move`, { index }),

  exportUrl: (id: string) => `/api/notebooks/${enc(id)}/export.ipynb`,
  importNotebook: (file: File) => {
    const form = new FormData();
    form.append("file", file, file.name);
    return call<NotebookRecord>("POST", "/api/notebooks/import", form);
  },

  listStarters: () => call<{ starters: Starter[] }>("GET", "/api/starters").then((r) => r.starters ?? []),
  createFromStarter: (name: string) => call<NotebookRecord>("POST", `/api/starters/${enc(name)}`),
};

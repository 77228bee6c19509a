// NotebookSession over socket.io-client: one socket per open notebook page. The socket carries the
// session cookie (same origin), joins the notebook on every (re)connect, decodes each inbound
// message with protocol.ts (malformed ones are dropped), reassembles graphs and traces, and pairs
// get_value / check_grad requests with their answers by request_id.

import { io, type Socket } from "socket.io-client";
import {
  GraphAssembler,
  TraceAssembler,
  ackFailure,
  decodeCellError,
  decodeCellStatus,
  decodeDevice,
  decodeError,
  decodeGradCheck,
  decodeKernelStatus,
  decodeMetrics,
  decodeNodeValue,
  decodeNotice,
  decodeResult,
  decodeStream,
  notebookOf,
} from "./protocol";
import type { ClientEvents, ServerEvents } from "./generated/protocol";
import type { GradCheck, NodeValue, NotebookSession, SessionEvents, Unsubscribe } from "./types";

type Listener<K extends keyof SessionEvents> = (payload: SessionEvents[K]) => void;

interface PendingRequest<T> {
  resolve(v: T): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const ACK_TIMEOUT_MS = 15000;
const VALUE_TIMEOUT_MS = 30000;
const GRADCHECK_TIMEOUT_MS = 120000;

let requestCounter = 0;
function newRequestId(): string {
  requestCounter = (requestCounter + 1) % 1e9;
  return `r${Date.now().toString(36)}${requestCounter.toString(36)}`;
}

export interface SessionOptions {
  /** Socket.IO URL; default: the page's origin. */
  url?: string;
  /** Called for inbound messages that were dropped as malformed (for debugging). */
  onDropped?: (event: string, payload: unknown) => void;
}

export class SocketSession implements NotebookSession {
  readonly notebookId: string;
  private socket: Socket;
  private listeners = new Map<keyof SessionEvents, Set<(p: never) => void>>();
  private graphs = new GraphAssembler();
  private traces = new TraceAssembler();
  private values = new Map<string, PendingRequest<NodeValue>>();
  private checks = new Map<string, PendingRequest<GradCheck>>();
  private joined = false;
  private joinWaiters: { resolve(): void; reject(e: Error): void }[] = [];
  private joining = false;
  private closed = false;
  private onDropped: (event: string, payload: unknown) => void;

  constructor(notebookId: string, opts: SessionOptions = {}) {
    this.notebookId = notebookId;
    this.onDropped = opts.onDropped ?? (() => {});
    const options = {
      path: "/socket.io/",
      withCredentials: true,
      transports: ["websocket", "polling"],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
    };
    this.socket = opts.url ? io(opts.url, options) : io(options);
    this.wire();
  }

  // ---- events -------------------------------------------------------------------------------
  on<K extends keyof SessionEvents>(event: K, fn: Listener<K>): Unsubscribe {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(fn as (p: never) => void);
    return () => {
      set!.delete(fn as (p: never) => void);
    };
  }

  private emitLocal<K extends keyof SessionEvents>(event: K, payload: SessionEvents[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as Listener<K>)(payload);
      } catch (err) {
        // One broken panel must not silence the others.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }

  private wire(): void {
    const s = this.socket;
    s.on("connect", () => {
      this.emitLocal("connection", { connected: true });
      this.join();
    });
    s.on("disconnect", () => {
      this.joined = false;
      this.graphs.reset();
      this.traces.reset();
      this.rejectPending("the connection to the server was lost"); // the server forgets them too
      this.emitLocal("connection", { connected: false });
    });
    s.on("connect_error", () => {
      this.emitLocal("connection", { connected: false });
    });

    // Simple events: decode, check the notebook, forward.
    const simple = <K extends keyof SessionEvents>(event: keyof ServerEvents, local: K, decode: (m: unknown) => SessionEvents[K] | null) => {
      s.on(event, (m: unknown) => {
        if (!this.mine(m)) return;
        const d = decode(m);
        if (d === null) this.onDropped(event, m);
        else this.emitLocal(local, d);
      });
    };
    simple("kernel_status", "kernel_status", decodeKernelStatus);
    simple("device", "device", decodeDevice);
    simple("cell_status", "cell_status", decodeCellStatus);
    simple("stream", "stream", decodeStream);
    simple("result", "result", decodeResult);
    simple("cell_error", "cell_error", decodeCellError);
    simple("notice", "notice", decodeNotice);
    simple("metrics", "metrics", decodeMetrics);

    s.on("error", (m: unknown) => {
      const nb = notebookOf(m);
      if (nb !== null && nb !== this.notebookId) return;
      const d = decodeError(m);
      if (d === null) return this.onDropped("error", m);
      this.emitLocal("error", d);
    });

    s.on("graph_chunk", (m: unknown) => {
      if (this.mine(m) && !this.graphs.chunk(m)) this.onDropped("graph_chunk", m);
    });
    s.on("graph", (m: unknown) => {
      if (!this.mine(m)) return;
      const done = this.graphs.finish(m);
      if (done === null) return this.onDropped("graph", m);
      if (done.missingChunks > 0) {
        this.emitLocal("notice", {
          cellId: done.value.cellId,
          text: `The graph arrived incomplete (${done.missingChunks} part(s) lost); run the cell again to see all of it.`,
        });
      }
      this.emitLocal("graph", done.value);
    });
    s.on("backward_trace_chunk", (m: unknown) => {
      if (this.mine(m) && !this.traces.chunk(m)) this.onDropped("backward_trace_chunk", m);
    });
    s.on("backward_trace", (m: unknown) => {
      if (!this.mine(m)) return;
      const done = this.traces.finish(m);
      if (done === null) return this.onDropped("backward_trace", m);
      this.emitLocal("backward_trace", done.value);
    });

    s.on("node_value", (m: unknown) => {
      if (!this.mine(m)) return;
      const d = decodeNodeValue(m);
      if (d === null) return this.onDropped("node_value", m);
      this.settle(this.values, d.requestId, d.value);
    });
    s.on("grad_check", (m: unknown) => {
      if (!this.mine(m)) return;
      const d = decodeGradCheck(m);
      if (d === null) return this.onDropped("grad_check", m);
      this.settle(this.checks, d.requestId, d.value);
    });
  }

  /** True when the message is about this notebook (messages that name none are accepted). */
  private mine(m: unknown): boolean {
    const nb = notebookOf(m);
    return nb === null || nb === this.notebookId;
  }

  private join(): void {
    if (this.joining) return;
    this.joining = true;
    this.socket
      .timeout(ACK_TIMEOUT_MS)
      .emitWithAck("join", { notebook_id: this.notebookId })
      .then((ack: unknown) => {
        this.joining = false;
        const reason = ackFailure(ack);
        if (reason !== null) {
          // refused (e.g. the kernel could not start): whoever waits hears why; the next
          // request tries to join again
          this.emitLocal("error", { reason, event: "join" });
          for (const w of this.joinWaiters.splice(0)) w.reject(new Error(reason));
          return;
        }
        this.joined = true;
        for (const w of this.joinWaiters.splice(0)) w.resolve();
      })
      .catch(() => {
        // No ack in time: the socket is probably reconnecting; "connect" (or the next request) joins again.
        this.joining = false;
      });
  }

  private whenJoined(): Promise<void> {
    if (this.closed) return Promise.reject(new Error("session closed"));
    if (this.joined) return Promise.resolve();
    if (this.socket.connected) this.join(); // a join that failed or timed out is retried here
    return new Promise((resolve, reject) => this.joinWaiters.push({ resolve, reject }));
  }

  /** Emit a client event once joined; resolves on an ok ack, rejects with the ack's reason. */
  private async send(event: keyof ClientEvents, payload: Record<string, unknown>): Promise<void> {
    await this.whenJoined();
    let ack: unknown;
    try {
      ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, { notebook_id: this.notebookId, ...payload });
    } catch {
      throw new Error(`${event}: no answer from the server`);
    }
    const reason = ackFailure(ack);
    if (reason !== null) throw new Error(reason);
  }

  private request<T>(table: Map<string, PendingRequest<T>>, event: keyof ClientEvents, payload: Record<string, unknown>, timeoutMs: number): Promise<T> {
    const requestId = newRequestId();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        table.delete(requestId);
        reject(new Error(`${event}: no answer within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      table.set(requestId, { resolve, reject, timer });
      this.send(event, { ...payload, request_id: requestId }).catch((err: Error) => {
        const p = table.get(requestId);
        if (!p) return;
        clearTimeout(p.timer);
        table.delete(requestId);
        reject(err);
      });
    });
  }

  private settle<T>(table: Map<string, PendingRequest<T>>, requestId: string, value: T): void {
    const p = table.get(requestId);
    if (!p) return;
    clearTimeout(p.timer);
    table.delete(requestId);
    p.resolve(value);
  }

  // ---- NotebookSession ----------------------------------------------------------------------
  execute(cellId: string, code: string): Promise<void> {
    return this.send("execute", { cell_id: cellId, code });
  }

  interrupt(): Promise<void> {
    return this.send("interrupt", {});
  }

  restart(): Promise<void> {
    return this.send("restart", {});
  }

  getValue(nodeId: number, which: "value" | "grad"): Promise<NodeValue> {
    return this.request(this.values, "get_value", { node_id: nodeId, which }, VALUE_TIMEOUT_MS);
  }

  checkGrad(nodeId: number): Promise<GradCheck> {
    return this.request(this.checks, "check_grad", { node_id: nodeId }, GRADCHECK_TIMEOUT_MS);
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  private rejectPending(why: string): void {
    for (const table of [this.values, this.checks] as Map<string, PendingRequest<unknown>>[]) {
      for (const p of table.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(why));
      }
      table.clear();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.socket.connected) this.socket.emit("leave", { notebook_id: this.notebookId });
    this.socket.removeAllListeners();
    this.socket.disconnect();
    this.rejectPending("session closed");
    for (const w of this.joinWaiters.splice(0)) w.reject(new Error("session closed"));
    this.listeners.clear();
  }
}

export function openSession(notebookId: string, opts?: SessionOptions): SocketSession {
  return new SocketSession(notebookId, opts);
}

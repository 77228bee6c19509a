// Runs graph layouts in the layout worker (layout.worker.ts) or, where there is none, on this
// thread. Each request gets its own promise; the view ignores answers it no longer wants.
import { layoutGraph, type LayoutInput, type LayoutOutput } from "./layout";

export class LayoutRunner {
  private worker: Worker | null = null;
  private seq = 0;
  private pending = new Map<number, (o: LayoutOutput) => void>();

  constructor() {
    if (typeof Worker === "undefined") return;
    try {
      this.worker = new Worker(new URL("./layout.worker.ts", import.meta.url), { type: "module" });
      this.worker.onmessage = (ev: MessageEvent<{ id: number; output?: LayoutOutput; error?: string }>) => {
        const cb = this.pending.get(ev.data.id);
        this.pending.delete(ev.data.id);
        if (cb && ev.data.output) cb(ev.data.output);
      };
      // the worker failed to load or crashed: lay out on this thread from now on
      this.worker.onerror = () => this.dispose();
    } catch {
      this.worker = null;
    }
  }

  run(input: LayoutInput): Promise<LayoutOutput> {
    const id = ++this.seq;
    if (!this.worker) return Promise.resolve(layoutGraph(input));
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker!.postMessage({ id, input });
    });
  }

  dispose(): void {
    this.worker?.terminate();
    this.worker = null;
    this.pending.clear();
  }
}

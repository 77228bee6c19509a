// Forward replay: the drawn items appear in creation order (edges once both ends are shown), in
// about three seconds whatever the size; the drawing returns to normal shortly after.
import type { GraphRenderer } from "./render";

export class ForwardReplay {
  private timer: number | null = null;
  private disposed = false;

  constructor(private drawing: GraphRenderer) {}

  start(): void {
    this.stop();
    const drawing = this.drawing;
    const items = [...drawing.items.values()].sort((a, b) => a.item.order - b.item.order);
    if (!items.length) return;
    drawing.svg.classList.add("gv-replay");
    const edges = drawing.view?.edges ?? [];
    const edgesAt = new Map<string, string[]>();
    for (const e of edges) {
      for (const k of [e.src, e.dst]) {
        const l = edgesAt.get(k) ?? [];
        l.push(e.key);
        edgesAt.set(k, l);
      }
    }
    const edgeByKey = new Map(edges.map((e) => [e.key, e]));
    const shown = new Set<string>();
    const perItem = Math.max(8, Math.min(300, 3000 / items.length));
    const t0 = performance.now();
    let i = 0;
    const frame = () => {
      if (this.disposed) return;
      const upto = Math.min(items.length, Math.floor((performance.now() - t0) / perItem) + 1);
      for (; i < upto; i++) {
        items[i].el.classList.add("gv-shown");
        shown.add(items[i].item.key);
        for (const k of edgesAt.get(items[i].item.key) ?? []) {
          const e = edgeByKey.get(k)!;
          if (shown.has(e.src) && shown.has(e.dst)) drawing.edgeEls.get(k)?.classList.add("gv-shown");
        }
      }
      if (i < items.length) this.timer = requestAnimationFrame(frame);
      else this.timer = window.setTimeout(() => this.stop(), 600) as unknown as number;
    };
    this.timer = requestAnimationFrame(frame);
  }

  stop(): void {
    if (this.timer !== null) {
      cancelAnimationFrame(this.timer);
      clearTimeout(this.timer);
      this.timer = null;
    }
    const svg = this.drawing.svg;
    svg.classList.remove("gv-replay");
    for (const el of svg.querySelectorAll(".gv-shown")) el.classList.remove("gv-shown");
  }

  dispose(): void {
    this.disposed = true;
    this.stop();
  }
}

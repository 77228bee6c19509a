// Pan and zoom of the drawing: drag to pan, wheel to zoom about the pointer, fit, centring. Big
// drawings are culled to what is on screen and drop their text while moving (level of detail).
import { CULL_MIN, type Drawn, type GraphRenderer } from "./render";

export class Viewport {
  private tx = 0;
  private ty = 0;
  private scale = 1;
  private dragging: { x: number; y: number; tx: number; ty: number; moved: boolean; id: number } | null = null;
  private dragEnded = false;
  private movingTimer: ReturnType<typeof setTimeout> | null = null;

  /** `host` gets `data-zoom`; the drawing's SVG gets the pointer handlers. */
  constructor(
    private host: HTMLElement,
    private drawing: GraphRenderer,
  ) {
    this.wire();
  }

  /** The visible size of the SVG (a default while it is not laid out). */
  private size(): { W: number; H: number } {
    const r = this.drawing.svg.getBoundingClientRect();
    return { W: r.width || 600, H: r.height || 400 };
  }

  private apply(): void {
    const svg = this.drawing.svg;
    this.drawing.stage.setAttribute("transform", `translate(${this.tx.toFixed(1)},${this.ty.toFixed(1)}) scale(${this.scale.toFixed(4)})`);
    // level of detail: SVG text is what makes big drawings slow, so drop it when too small to read
    svg.classList.toggle("gv-far", this.scale < 0.5);
    svg.classList.toggle("gv-tiny", this.scale < 0.28);
    this.host.setAttribute("data-zoom", this.scale.toFixed(3));
    this.cull();
    if (this.drawing.items.size > CULL_MIN) {
      // while panning/zooming a big drawing, leave text out; it comes back when the motion stops
      svg.classList.add("gv-moving");
      if (this.movingTimer !== null) clearTimeout(this.movingTimer);
      this.movingTimer = setTimeout(() => {
        this.movingTimer = null;
        svg.classList.remove("gv-moving");
      }, 200);
    }
  }

  /** Big drawings: take what lies outside the visible area out of rendering (display none). */
  private cull(): void {
    if (this.drawing.items.size <= CULL_MIN) return;
    const { W, H } = this.size();
    const m = 80 / this.scale;
    const x0 = -this.tx / this.scale - m;
    const y0 = -this.ty / this.scale - m;
    const x1 = (W - this.tx) / this.scale + m;
    const y1 = (H - this.ty) / this.scale + m;
    for (const d of this.drawing.items.values()) {
      const hide = d.x > x1 || d.x + d.w < x0 || d.y > y1 || d.y + d.h < y0;
      if (hide === d.hidden) continue;
      d.hidden = hide;
      d.el.style.display = hide ? "none" : "";
    }
    for (const e of this.drawing.edges) {
      const hide = e.x0 > x1 || e.x1 < x0 || e.y0 > y1 || e.y1 < y0;
      if (hide === e.hidden) continue;
      e.hidden = hide;
      e.el.style.display = hide ? "none" : "";
    }
  }

  zoomBy(f: number, cx?: number, cy?: number): void {
    const { W, H } = this.size();
    const px = cx ?? W / 2;
    const py = cy ?? H / 2;
    const s = Math.min(4, Math.max(0.02, this.scale * f));
    const k = s / this.scale;
    this.tx = px - (px - this.tx) * k;
    this.ty = py - (py - this.ty) * k;
    this.scale = s;
    this.apply();
  }

  /** Show the whole drawing; `initial` (a new graph): a huge one starts readable at its output end. */
  fit(initial = false): void {
    const out = this.drawing.layout;
    const { W, H } = this.size();
    if (!out || out.width <= 0) {
      this.tx = 0;
      this.ty = 0;
      this.scale = 1;
    } else {
      this.scale = Math.max(0.02, Math.min(1.4, (W - 16) / out.width, (H - 16) / out.height));
      this.tx = (W - out.width * this.scale) / 2;
      this.ty = (H - out.height * this.scale) / 2;
      // first view of a graph that would only fit as unreadable specks: readable size, showing
      // the output end (where backward starts); Fit shows everything
      if (initial && this.scale < 0.3) {
        this.scale = 0.6;
        const out0 = this.drawing.view?.items.find((it) => it.cls === "output");
        const d = out0 ? this.drawing.items.get(out0.key) : undefined;
        this.tx = W - out.width * this.scale - 8;
        this.ty = d ? H / 2 - (d.y + d.h / 2) * this.scale : Math.max(8, (H - out.height * this.scale) / 2);
      }
    }
    this.apply();
  }

  /** Centre on `d`, zooming in first when the drawing is too small to read. */
  centerOn(d: Drawn): void {
    if (this.scale < 0.6) this.scale = 0.9;
    this.centre(d);
  }

  /** Pan (no zoom change) so that `d` is in view. */
  ensureVisible(d: Drawn): void {
    const { W, H } = this.size();
    const sx = d.x * this.scale + this.tx;
    const sy = d.y * this.scale + this.ty;
    if (sx < 0 || sy < 0 || sx + d.w * this.scale > W || sy + d.h * this.scale > H) this.centre(d);
  }

  private centre(d: Drawn): void {
    const { W, H } = this.size();
    this.tx = W / 2 - (d.x + d.w / 2) * this.scale;
    this.ty = H / 2 - (d.y + d.h / 2) * this.scale;
    this.apply();
  }

  /** True once for the click that ends a drag (that click must not select anything). */
  takeDragClick(): boolean {
    const ended = this.dragEnded;
    this.dragEnded = false;
    return ended;
  }

  private wire(): void {
    const svg = this.drawing.svg;
    svg.addEventListener(
      "wheel",
      (ev) => {
        ev.preventDefault();
        const r = svg.getBoundingClientRect();
        this.zoomBy(Math.exp(-ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0015)), ev.clientX - r.left, ev.clientY - r.top);
      },
      { passive: false },
    );
    svg.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      this.dragging = { x: ev.clientX, y: ev.clientY, tx: this.tx, ty: this.ty, moved: false, id: ev.pointerId };
    });
    svg.addEventListener("pointermove", (ev) => {
      const dr = this.dragging;
      if (!dr || dr.id !== ev.pointerId) return;
      const dx = ev.clientX - dr.x;
      const dy = ev.clientY - dr.y;
      if (!dr.moved && Math.abs(dx) + Math.abs(dy) > 4) {
        dr.moved = true;
        try {
          svg.setPointerCapture(ev.pointerId);
        } catch {
          /* not capturable */
        }
        svg.classList.add("gv-panning");
      }
      if (dr.moved) {
        this.tx = dr.tx + dx;
        this.ty = dr.ty + dy;
        this.apply();
      }
    });
    const end = (ev: PointerEvent) => {
      const dr = this.dragging;
      if (!dr || dr.id !== ev.pointerId) return;
      this.dragging = null;
      svg.classList.remove("gv-panning");
      if (dr.moved) {
        this.dragEnded = true;
        // a click follows pointerup only when something was clicked; clear the flag soon after
        setTimeout(() => (this.dragEnded = false), 0);
      }
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
  }

  dispose(): void {
    if (this.movingTimer !== null) clearTimeout(this.movingTimer);
  }
}

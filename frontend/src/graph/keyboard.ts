// Keyboard use of the drawing: Enter / Space activate the focused item, the arrow keys move the
// focus along edges (left / right) and within a rank (up / down); + and - zoom.
import type { Drawn, GraphRenderer } from "./render";

export interface KeyActions {
  activate(d: Drawn): void;
  /** Move the focus to `d` and bring it into view. */
  focus(d: Drawn): void;
  zoomBy(f: number): void;
}

export function onGraphKey(ev: KeyboardEvent, drawing: GraphRenderer, act: KeyActions): void {
  const d = drawing.itemAt(ev.target);
  if (!d) {
    if (ev.key === "+" || ev.key === "=") act.zoomBy(1.25);
    else if (ev.key === "-") act.zoomBy(1 / 1.25);
    return;
  }
  let to: Drawn | null = null;
  switch (ev.key) {
    case "Enter":
    case " ":
      ev.preventDefault();
      act.activate(d);
      return;
    case "ArrowRight":
      to = neighbour(drawing, d, "succ");
      break;
    case "ArrowLeft":
      to = neighbour(drawing, d, "pred");
      break;
    case "ArrowUp":
      to = sameRank(drawing, d, -1);
      break;
    case "ArrowDown":
      to = sameRank(drawing, d, 1);
      break;
    default:
      return;
  }
  ev.preventDefault();
  if (to) act.focus(to);
}

/** The successor (or predecessor) of `d` closest to its height. */
function neighbour(drawing: GraphRenderer, d: Drawn, dir: "succ" | "pred"): Drawn | null {
  let best: Drawn | null = null;
  for (const e of drawing.view?.edges ?? []) {
    const k = dir === "succ" ? (e.src === d.item.key ? e.dst : null) : e.dst === d.item.key ? e.src : null;
    if (k === null) continue;
    const c = drawing.items.get(k);
    if (c && (!best || Math.abs(c.y - d.y) < Math.abs(best.y - d.y))) best = c;
  }
  return best;
}

/** The nearest item above (dir -1) or below (dir 1) `d` in its rank. */
function sameRank(drawing: GraphRenderer, d: Drawn, dir: 1 | -1): Drawn | null {
  let best: Drawn | null = null;
  for (const c of drawing.items.values()) {
    if (c.rank !== d.rank || c === d) continue;
    const dy = (c.y - d.y) * dir;
    if (dy > 0 && (!best || dy < (best.y - d.y) * dir)) best = c;
  }
  return best;
}

// Controls and step card of the backprop stepper (the state machine is stepper.ts).
import { h } from "../dom";
import type { BackwardTrace, GraphNode } from "../types";
import { fmtGrad, fmtNum } from "./format";
import { shapeText } from "./model";
import { ruleFor } from "./rules";
import { Stepper } from "./stepper";

const SPEEDS: [string, number][] = [
  ["0.5×", 1400],
  ["1×", 700],
  ["2×", 350],
  ["4×", 150],
  ["16×", 40],
];

export class StepperBar {
  readonly el: HTMLElement;
  stepper: Stepper | null = null;
  private passes: BackwardTrace[] = [];
  private byId = new Map<number, GraphNode>();
  private onChange: () => void;
  private passSel: HTMLSelectElement;
  private passWrap: HTMLElement;
  private pos: HTMLElement;
  private playBtn: HTMLButtonElement;
  private speedSel: HTMLSelectElement;
  private btns: HTMLButtonElement[] = [];
  private card: HTMLElement;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(host: HTMLElement, onChange: () => void) {
    this.onChange = onChange;
    this.el = h("section", { class: "gs", "aria-label": "Backprop stepper" });
    this.passSel = h("select", { testid: "backward-pass", "aria-label": "Backward pass", onchange: () => this.usePass(Number(this.passSel.value)) });
    this.passWrap = h("label", { class: "gs-pass" }, "pass ", this.passSel);
    const btn = (label: string, title: string, testid: string, fn: () => void) => {
      const b = h("button", { class: "gv-btn", type: "button", title, "aria-label": title, testid, onclick: fn }, label);
      this.btns.push(b);
      return b;
    };
    const reset = btn("↺ Reset", "Reset to before the first step", "backward-reset", () => this.act((s) => s.reset()));
    const prev = btn("◀", "Previous step", "backward-prev", () => this.act((s) => s.prev()));
    this.playBtn = btn("▶ Play", "Play / pause", "backward-play", () => this.togglePlay());
    const next = btn("Step ▶", "Next backward step", "backward-step", () => this.act((s) => s.next()));
    const end = btn("End", "Apply every step", "backward-end", () => this.act((s) => s.toEnd()));
    this.speedSel = h("select", {
      class: "gs-speed",
      testid: "backward-speed",
      "aria-label": "Play speed",
      onchange: () => {
        if (this.timer !== null) this.startTimer();
      },
    });
    SPEEDS.forEach(([label, ms], i) => this.speedSel.append(h("option", { value: String(ms), selected: i === 1 }, label)));
    this.pos = h("span", { class: "gs-pos", testid: "backward-position", "aria-live": "polite" }, "0 / 0");
    const bar = h("div", { class: "gs-bar" }, h("span", { class: "gs-title" }, "Backward"), this.passWrap, reset, prev, this.playBtn, next, end, this.speedSel, this.pos);
    this.card = h("div", { class: "gs-card", testid: "step-card" });
    this.el.append(bar, this.card);
    host.append(this.el);
    this.passWrap.hidden = true;
    this.render();
  }

  /** Passes of the current graph's cell; keeps the chosen pass only if it is still offered. */
  setPasses(passes: BackwardTrace[], nodes: readonly GraphNode[]): void {
    const hadChoice = this.passes.length > 0 && this.passSel.value !== "" && Number(this.passSel.value) !== this.passes.length - 1;
    const prevSel = Number(this.passSel.value);
    this.passes = passes;
    this.byId = new Map(nodes.map((n) => [n.id, n]));
    this.passSel.textContent = "";
    passes.forEach((p, i) => this.passSel.append(h("option", { value: String(i) }, `#${p.passIndex + 1} (${p.steps.length} steps)`)));
    this.passWrap.hidden = passes.length <= 1;
    const idx = hadChoice && prevSel < passes.length ? prevSel : passes.length - 1;
    this.usePass(idx, nodes);
  }

  private usePass(i: number, nodes?: readonly GraphNode[]): void {
    this.stopTimer();
    const p = i >= 0 ? this.passes[i] : undefined;
    if (i >= 0) this.passSel.value = String(i);
    this.stepper = p ? new Stepper(p, nodes ?? [...this.byId.values()]) : null;
    this.render();
    this.onChange();
  }

  private act(f: (s: Stepper) => unknown): void {
    const s = this.stepper;
    if (!s) return;
    f(s);
    if (s.isPlaying && s.atEnd) s.pause();
    if (!s.isPlaying) this.stopTimer();
    this.render();
    this.onChange();
  }

  jumpToNode(id: number): boolean {
    const s = this.stepper;
    if (!s) return false;
    const ok = s.jumpToNode(id);
    if (ok) {
      s.pause();
      this.stopTimer();
      this.render();
      this.onChange();
    }
    return ok;
  }

  togglePlay(): void {
    const s = this.stepper;
    if (!s) return;
    const playing = s.togglePlay();
    if (playing) {
      this.startTimer();
      // the first step right away, so Play reacts at once
      s.tick();
      if (!s.isPlaying) this.stopTimer();
    } else this.stopTimer();
    this.render();
    this.onChange();
  }

  private startTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = setInterval(() => {
      const s = this.stepper;
      if (!s) return this.stopTimer();
      s.tick();
      if (!s.isPlaying) this.stopTimer();
      this.render();
      this.onChange();
    }, Number(this.speedSel.value) || 700);
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.stepper?.isPlaying) this.stepper.pause();
  }

  private name(id: number | null | undefined): string {
    if (id === null || id === undefined) return "?";
    const n = this.byId.get(id);
    if (!n) return `#${id}`;
    return n.kind === "leaf" || n.op === "leaf" ? `${n.name || "leaf"} (#${id})` : `${n.op} #${id}`;
  }

  render(): void {
    const s = this.stepper;
    this.pos.textContent = s ? s.label : "0 / 0";
    this.playBtn.textContent = s?.isPlaying ? "⏸ Pause" : "▶ Play";
    this.playBtn.setAttribute("aria-pressed", String(!!s?.isPlaying));
    for (const b of this.btns) b.disabled = !s || s.n === 0;
    const card = this.card;
    card.textContent = "";
    if (!s || s.n === 0) {
      card.append(h("div", { class: "gs-muted" }, this.passes.length ? "This backward pass recorded no steps." : "No backward pass in the last cell — call .backward() on a result to step through backpropagation here."));
      return;
    }
    const cur = s.current();
    if (!cur) {
      card.append(h("div", { class: "gs-muted" }, `${s.n} backward steps recorded. Press Step to send the gradient back one node at a time (double-click a node to step to it).`));
      return;
    }
    const node = cur.node !== null && cur.node !== undefined ? this.byId.get(cur.node) : undefined;
    const isAcc = cur.op === "AccumulateGrad";
    const head = h(
      "div",
      { class: "gs-head" },
      h("span", { class: "gs-stepno" }, `step ${s.position} / ${s.n}`),
      h("strong", { class: "gs-op" }, cur.op),
      h("span", { class: "gs-node" }, isAcc ? `into leaf ${this.name(cur.leaf ?? cur.node)}` : `node #${cur.node}${node?.module ? ` · ${node.module}` : ""}${node?.line ? ` · line ${node.line}` : ""}`),
    );
    card.append(head);
    // the engine's own rule for this node's class travels with the graph; the table is a fallback
    const rule = node?.rule ?? ruleFor(cur.op, node?.inputs.length ?? 1);
    const dl = h("dl", { class: "gs-dl" });
    const add = (k: string, v: HTMLElement | string) => dl.append(h("dt", {}, k), h("dd", {}, v));
    add("forward", rule.forward);
    add("incoming grad", (cur.grads_in ?? []).map((g) => fmtGrad(g)).join(", ") || "none");
    const ruleEl = h("div", { class: "gs-rule" });
    for (const l of rule.lines) ruleEl.append(h("div", {}, l));
    add("local rule", ruleEl);
    if (isAcc) {
      const leaf = cur.leaf ?? cur.node;
      const gs = leaf !== null && leaf !== undefined ? s.gradState(leaf) : null;
      if (gs) {
        if (gs.contributions.length > 1) {
          add(
            "arrived via",
            gs.contributions.map((c) => `${fmtGrad(c.grad)} from ${this.name(c.from)}`).join(" + ") + (gs.arrived !== null ? ` = ${fmtNum(gs.arrived)}` : ""),
          );
        }
        const accs = gs.accumulations;
        const v = gs.grad !== null ? (accs.length > 1 ? `${accs.map((a) => fmtGrad(a.grad)).join(" + ")} = ${fmtNum(gs.grad)}` : fmtNum(gs.grad)) : fmtGrad(accs[accs.length - 1]?.grad);
        add(".grad now", h("span", { class: "gs-leafgrad", testid: "step-leaf-grad" }, `${this.name(leaf)}.grad = ${v}`));
      }
    } else {
      const outs = h("div", { class: "gs-outs" });
      (cur.grads_out ?? []).forEach((g, i) => {
        const to = node?.inputs[i];
        outs.append(h("div", { class: g ? null : "gs-muted" }, `→ input ${i}${to !== null && to !== undefined ? ` ${this.name(to)}` : " (needs no grad)"}: ${fmtGrad(g)}`));
      });
      if (!(cur.grads_out ?? []).length) outs.textContent = "none";
      add("outgoing grads", outs);
      if (node && node.out_shapes?.[0]) add("output shape", shapeText(node.out_shapes[0]));
    }
    card.append(dl);
  }

  dispose(): void {
    this.stopTimer();
    this.el.remove();
  }
}

// The graph panel: autograd graph view, backward stepper and node inspector, wired to a session.
import { h } from "../dom";
import type { BackwardTrace, EditorLink, Graph, NotebookSession } from "../types";
import "./graph.css";
import { Inspector } from "./inspector";
import { passesFor } from "./stepper";
import { StepperBar } from "./stepper-ui";
import { GraphView } from "./view";

export interface GraphPanelOptions {
  /** Draw Plotly heatmaps for 2-D values (default true; tests turn it off). */
  heatmaps?: boolean;
}

export function mountGraphPanel(
  root: HTMLElement,
  session: NotebookSession,
  link: EditorLink,
  options: GraphPanelOptions = {},
): { dispose(): void } {
  root.textContent = "";
  root.classList.add("gp");
  let graph: Graph | null = null;
  let traces: BackwardTrace[] = [];
  let device = "cpu";

  const top = h("div", { class: "gp-top" });
  const bottom = h("div", { class: "gp-bottom" });
  root.append(top, bottom);

  const view = new GraphView(top, {
    onSelect: (id) => inspector.show(id),
    onJump: (id) => {
      stepper.jumpToNode(id);
    },
    onHover: (n) => {
      try {
        if (n) link.highlightLine(n.cell, n.line);
        else link.highlightLine(null, null);
      } catch {
        /* the editor side is optional */
      }
    },
  });

  const stepper = new StepperBar(bottom, () => {
    const s = stepper.stepper;
    if (s) {
      view.applyStates(s.states(), s.activeEdges());
      const cur = s.current();
      if (cur && cur.node !== null && cur.node !== undefined) view.ensureNodeVisible(cur.node);
    } else view.applyStates(new Map(), []);
    inspector.refreshStepping();
  });

  const inspector = new Inspector(bottom, session, {
    node: (id) => view.node(id),
    stepper: () => stepper.stepper,
    device: () => device,
    onJump: (id) => {
      stepper.jumpToNode(id);
    },
    heatmaps: options.heatmaps,
  });

  const offs = [
    session.on("graph", (g) => {
      graph = g;
      traces = [];
      view.setGraph(g);
      stepper.setPasses([], g.nodes);
      inspector.onGraph();
    }),
    session.on("backward_trace", (t) => {
      if (!graph) return;
      traces.push(t);
      const passes = passesFor(traces, graph.cellId, graph.seq);
      if (passes.length) stepper.setPasses(passes, graph.nodes);
    }),
    session.on("device", (d) => {
      device = d.device;
    }),
  ];

  return {
    dispose() {
      for (const off of offs) off();
      stepper.dispose();
      inspector.dispose();
      view.dispose();
      root.classList.remove("gp");
      root.textContent = "";
    },
  };
}

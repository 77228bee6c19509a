// The examples gallery: the server's starter notebooks (/api/starters); "Open" makes the user a
// copy and opens it.

import { api, type Starter } from "../api";
import { clear, h, toast } from "../dom";

export function renderGallery(host: HTMLElement, navigate: (path: string) => void): void {
  clear(host);
  host.append(h("p", { class: "meta" }, "Loading examples…"));
  api
    .listStarters()
    .then((starters) => {
      clear(host);
      if (!starters.length) {
        host.append(h("p", { class: "meta" }, "No examples on this server."));
        return;
      }
      for (const s of starters) host.append(card(s, navigate));
    })
    .catch((err: Error) => {
      clear(host);
      host.append(h("div", { class: "banner error" }, `Could not load the examples: ${err.message}`));
    });
}

function card(s: Starter, navigate: (path: string) => void): HTMLElement {
  const open = h("button", { type: "button", class: "primary", testid: "open-starter", "data-starter": s.name }, "Open a copy");
  open.addEventListener("click", async () => {
    open.disabled = true;
    try {
      const nb = await api.createFromStarter(s.name);
      navigate(`/notebooks/${encodeURIComponent(nb.id)}`);
    } catch (err) {
      open.disabled = false;
      toast(`Could not open “${s.title}”: ${(err as Error).message}`);
    }
  });
  return h(
    "article",
    { class: "starter", testid: "starter" },
    h("h3", {}, s.title),
    h("p", {}, s.description),
    h("div", { class: "row" }, h("span", { class: "meta" }, `${s.cells} cells`), open),
  );
}

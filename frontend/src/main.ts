// Entry point: a small history-API router. `/` is the notebook list, `/notebooks/<id>` a
// notebook; in-app links navigate with history.pushState, Back/Forward re-render.

import "./styles.css";
import { mountListPage } from "./notebook/list";
import { mountNotebookPage } from "./notebook/page";
import { initTheme, topBar } from "./notebook/topbar";
import { h } from "./dom";

initTheme();

const app = document.getElementById("app")!;
let unmount: (() => void) | null = null;

function route(path: string): void {
  unmount?.();
  unmount = null;
  app.replaceChildren();
  window.scrollTo(0, 0);
  const nb = /^\/notebooks\/([^/]+)\/?$/.exec(path);
  if (path === "/" || path === "") {
    unmount = mountListPage(app, navigate);
  } else if (nb) {
    unmount = mountNotebookPage(app, decodeURIComponent(nb[1]), navigate);
  } else {
    document.title = "Not found · Gradlab";
    app.append(
      topBar(navigate),
      h("div", { class: "center-msg" }, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "/", "data-link": "" }, "Back to your notebooks"))),
    );
    app.querySelector(".center-msg a")?.addEventListener("click", (ev) => {
      ev.preventDefault();
      navigate("/");
    });
  }
}

export function navigate(path: string): void {
  if (path !== location.pathname) history.pushState(null, "", path);
  route(path);
}

window.addEventListener("popstate", () => route(location.pathname));
route(location.pathname);

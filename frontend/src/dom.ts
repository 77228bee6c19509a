// Small DOM helpers used across the app: HTML and SVG element creation without innerHTML, a
// confirm dialog, toasts, relative times.

const SVG_NS = "http://www.w3.org/2000/svg";

type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
type Child = Node | string | null | undefined | false;

/** Create an element. Attributes whose name starts with "on" are listeners; `testid` sets
 * data-testid; `class` sets className; booleans toggle the attribute; null/undefined are skipped. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    } else if (key === "class") {
      el.className = String(value);
    } else if (key === "testid") {
      el.dataset.testid = String(value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, ...children);
  return el;
}

/** Create an SVG element with the given attributes. */
export function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const key in attrs) el.setAttribute(key, String(attrs[key]));
  return el;
}

/** Append children; strings become text nodes (empty ones are skipped, like null and false). */
export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false || c === "") continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** A modal confirmation (a <dialog>); resolves true when confirmed. */
export function confirmDialog(title: string, message: string, confirmLabel = "Delete", danger = true): Promise<boolean> {
  return new Promise((resolve) => {
    const ok = h("button", { class: danger ? "danger solid" : "primary", type: "button", testid: "confirm-ok" }, confirmLabel);
    const cancel = h("button", { type: "button", testid: "confirm-cancel" }, "Cancel");
    const dlg = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      h("p", {}, message),
      h("div", { class: "row" }, cancel, ok),
    );
    let answer = false;
    ok.addEventListener("click", () => {
      answer = true;
      dlg.close();
    });
    cancel.addEventListener("click", () => dlg.close());
    dlg.addEventListener("close", () => {
      dlg.remove();
      resolve(answer);
    });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

let toastHost: HTMLElement | null = null;

/** A short message at the bottom of the page, optionally with one action (e.g. Undo). */
export function toast(text: string, action?: { label: string; run: () => void }, ms = 5000): void {
  if (!toastHost || !toastHost.isConnected) {
    toastHost = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toastHost);
  }
  const el = h("div", { class: "toast" }, h("span", {}, text));
  if (action) {
    el.append(
      h("button", {
        type: "button",
        onclick: () => {
          el.remove();
          action.run();
        },
      }, action.label),
    );
  }
  toastHost.append(el);
  setTimeout(() => el.remove(), ms);
}

/** "3 minutes ago" style time for an ISO date. */
export function relativeTime(iso: string | null): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 45) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const hr = Math.round(m / 60);
  if (hr < 24) return `${hr} h ago`;
  const d = Math.round(hr / 24);
  if (d < 30) return `${d} day${d === 1 ? "" : "s"} ago`;
  return new Date(t).toLocaleDateString();
}

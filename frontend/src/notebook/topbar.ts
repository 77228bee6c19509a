// The top bar (Gradlab name, way back to the list, breadcrumbs, theme toggle) and the theme:
// light/dark on html[data-theme], chosen by the user (localStorage "gradlab-theme") or, until
// they choose, following prefers-color-scheme. A change dispatches `gradlab-theme` on window
// ({detail: {theme}}) so canvases and charts can recolour.

import { h } from "../dom";

export type Theme = "light" | "dark";
const KEY = "gradlab-theme";

function stored(): Theme | null {
  try {
    const v = localStorage.getItem(KEY);
    return v === "light" || v === "dark" ? v : null;
  } catch {
    return null;
  }
}

function systemTheme(): Theme {
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function currentTheme(): Theme {
  return document.documentElement.dataset.theme === "dark" ? "dark" : "light";
}

function apply(theme: Theme): void {
  if (document.documentElement.dataset.theme === theme) return;
  document.documentElement.dataset.theme = theme;
  window.dispatchEvent(new CustomEvent("gradlab-theme", { detail: { theme } }));
}

/** Apply the stored or system theme and follow system changes while the user has not chosen. */
export function initTheme(): void {
  document.documentElement.dataset.theme = stored() ?? systemTheme();
  window.matchMedia?.("(prefers-color-scheme: dark)").addEventListener?.("change", () => {
    if (stored() === null) apply(systemTheme());
  });
}

export function setTheme(theme: Theme): void {
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  apply(theme);
}

function themeButton(): HTMLButtonElement {
  const btn = h("button", { type: "button", class: "icon", testid: "theme-toggle" });
  const label = () => {
    const dark = currentTheme() === "dark";
    btn.textContent = dark ? "☀" : "☾";
    btn.title = dark ? "Switch to light theme" : "Switch to dark theme";
    btn.setAttribute("aria-label", btn.title);
  };
  label();
  btn.addEventListener("click", () => {
    setTheme(currentTheme() === "dark" ? "light" : "dark");
    label();
  });
  const onTheme = () => {
    if (!btn.isConnected) window.removeEventListener("gradlab-theme", onTheme);
    else label();
  };
  window.addEventListener("gradlab-theme", onTheme);
  return btn;
}

/** The bar; `crumbs` are extra nodes after the brand (e.g. the notebook's title). */
export function topBar(navigate: (path: string) => void, ...crumbs: Node[]): HTMLElement {
  const brand = h("a", { class: "brand", href: "/", "data-link": "" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Gradlab");
  const nav = h("nav", { class: "crumbs", "aria-label": "Breadcrumb" });
  if (crumbs.length) {
    nav.append(h("a", { href: "/", "data-link": "", testid: "back-to-list" }, "Notebooks"));
    for (const c of crumbs) nav.append(h("span", { "aria-hidden": "true" }, "/"), c);
  }
  const bar = h("header", { class: "topbar" }, brand, nav, h("span", { class: "spacer" }), themeButton());
  bar.addEventListener("click", (ev) => {
    const a = (ev.target as Element).closest("a[data-link]");
    if (a && !(ev as MouseEvent).ctrlKey && !(ev as MouseEvent).metaKey && !(ev as MouseEvent).shiftKey) {
      ev.preventDefault();
      navigate(a.getAttribute("href") ?? "/");
    }
  });
  return bar;
}

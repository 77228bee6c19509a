// The notebook list page (/): the user's notebooks with open, rename, duplicate, export and delete;
// new notebook; import of an .ipynb file; the examples gallery.

import { api, type NotebookSummary } from "../api";
import { clear, confirmDialog, h, relativeTime, toast } from "../dom";
import { renderGallery } from "./gallery";
import { topBar } from "./topbar";

export function mountListPage(root: HTMLElement, navigate: (path: string) => void): () => void {
  document.title = "Notebooks · Gradlab";
  const list = h("ul", { class: "nb-list", testid: "notebook-list", "aria-label": "Your notebooks" });
  const status = h("div", { role: "status", "aria-live": "polite" });

  const newBtn = h("button", { type: "button", class: "primary", testid: "new-notebook" }, "+ New notebook");
  newBtn.addEventListener("click", async () => {
    newBtn.disabled = true;
    try {
      const nb = await api.createNotebook(undefined, [{ kind: "code", source: "" }]);
      navigate(`/notebooks/${encodeURIComponent(nb.id)}`);
    } catch (err) {
      newBtn.disabled = false;
      showError(`Could not create a notebook: ${(err as Error).message}`);
    }
  });

  const fileInput = h("input", { type: "file", accept: ".ipynb,application/x-ipynb+json,application/json", class: "visually-hidden", id: "import-file", testid: "import-notebook" });
  const importLabel = h("label", { class: "btn", for: "import-file", tabindex: "0", role: "button" }, "Import .ipynb");
  importLabel.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      fileInput.click();
    }
  });
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files?.[0];
    fileInput.value = "";
    if (!file) return;
    try {
      const nb = await api.importNotebook(file);
      toast(`Imported “${nb.title}”`);
      navigate(`/notebooks/${encodeURIComponent(nb.id)}`);
    } catch (err) {
      showError(`Could not import ${file.name}: ${(err as Error).message}`);
    }
  });

  const gallery = h("div", { class: "gallery", testid: "starter-gallery" });
  const page = h(
    "main",
    { class: "list-page" },
    h("div", { class: "list-head" }, h("h1", {}, "Your notebooks"), h("span", { class: "spacer" }), importLabel, fileInput, newBtn),
    status,
    list,
    h("h2", {}, "Examples"),
    gallery,
  );
  root.append(topBar(navigate), page);

  function showError(text: string) {
    clear(status);
    status.append(h("div", { class: "banner error" }, text));
  }

  async function refresh() {
    let notebooks: NotebookSummary[];
    try {
      notebooks = await api.listNotebooks();
    } catch (err) {
      showError(`Could not load your notebooks: ${(err as Error).message}`);
      return;
    }
    clear(list);
    if (!notebooks.length) {
      list.append(h("li", { class: "empty" }, "No notebooks yet. Create one, import an .ipynb, or open an example below."));
      return;
    }
    for (const nb of notebooks) list.append(row(nb));
  }

  function row(nb: NotebookSummary): HTMLElement {
    const href = `/notebooks/${encodeURIComponent(nb.id)}`;
    const link = h("a", { class: "nb-open", href, testid: "notebook-link", "data-notebook-id": nb.id }, nb.title);
    link.addEventListener("click", (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
      ev.preventDefault();
      navigate(href);
    });
    const meta = h("span", { class: "meta" }, `${nb.cell_count} cell${nb.cell_count === 1 ? "" : "s"} · edited ${relativeTime(nb.updated)}`);
    const main = h("div", { class: "nb-main" }, link, meta);

    const rename = h("button", { type: "button", class: "icon", title: "Rename", "aria-label": `Rename ${nb.title}`, testid: "rename-notebook" }, "Rename");
    rename.addEventListener("click", () => startRename(nb, link));
    const dup = h("button", { type: "button", class: "icon", title: "Duplicate", "aria-label": `Duplicate ${nb.title}`, testid: "duplicate-notebook" }, "Duplicate");
    dup.addEventListener("click", async () => {
      try {
        const copy = await api.duplicateNotebook(nb.id);
        toast(`Created “${copy.title}”`);
        await refresh();
      } catch (err) {
        showError(`Could not duplicate: ${(err as Error).message}`);
      }
    });
    const exp = h("a", { class: "btn icon", href: api.exportUrl(nb.id), download: "", title: "Download as .ipynb", testid: "export-notebook" }, "Export");
    const del = h("button", { type: "button", class: "icon danger", title: "Delete", "aria-label": `Delete ${nb.title}`, testid: "delete-notebook" }, "Delete");
    del.addEventListener("click", async () => {
      const yes = await confirmDialog("Delete notebook?", `“${nb.title}” and all its cells will be deleted. This cannot be undone.`);
      if (!yes) return;
      try {
        await api.deleteNotebook(nb.id);
        toast(`Deleted “${nb.title}”`);
        await refresh();
      } catch (err) {
        showError(`Could not delete: ${(err as Error).message}`);
      }
    });
    return h("li", { testid: "notebook-item", "data-notebook-id": nb.id }, main, h("div", { class: "actions" }, rename, dup, exp, del));
  }

  function startRename(nb: NotebookSummary, link: HTMLElement) {
    const input = h("input", { type: "text", value: nb.title, maxlength: "200", "aria-label": "New title", testid: "rename-input" });
    link.replaceWith(input);
    input.focus();
    input.select();
    let done = false;
    const finish = async (save: boolean) => {
      if (done) return;
      done = true;
      const title = input.value.trim();
      if (save && title && title !== nb.title) {
        try {
          const updated = await api.renameNotebook(nb.id, title);
          nb.title = updated.title ?? title;
          link.textContent = nb.title;
        } catch (err) {
          showError(`Could not rename: ${(err as Error).message}`);
        }
      }
      input.replaceWith(link);
      link.focus();
    };
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") finish(true);
      else if (ev.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true));
  }

  renderGallery(gallery, navigate);
  void refresh();
  return () => {};
}

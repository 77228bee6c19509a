"""Page helpers for the end-to-end tests, written against the data-testid contract of
/work/shared/DESIGN.md ("UI hooks") and visible text only."""
import re

from playwright.sync_api import Locator, Page, expect

KERNEL_START_MS = 60_000  # a cold kernel in bubblewrap on a loaded 2-core machine
CELL_MS = 60_000

_POINTS_JS = """() => {
  // points drawn in the metrics chart(s): per Plotly graph div, its longest trace
  let n = 0;
  for (const el of document.querySelectorAll('[data-testid=metrics-chart]')) {
    const gds = el.matches('.js-plotly-plot') ? [el] : [...el.querySelectorAll('.js-plotly-plot')];
    for (const gd of gds) {
      let m = 0;
      for (const t of (gd.data || [])) m = Math.max(m, ((t.y || t.x) || []).length);
      n += m;
    }
  }
  return n;
}"""

_EDITOR_TEXT_JS = """el => [...el.querySelectorAll('.cm-line')].map(l => l.textContent).join('\\n')"""

_PASTE_JS = """(el, text) => {
  const dt = new DataTransfer();
  dt.setData('text/plain', text);
  el.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
}"""


def number(n):
    """A regex for the number ``n`` as an inspector may print it: 42, 42., 42.0, 42.0000."""
    return re.compile(rf"(?<![\d.]){n}(\.0*)?(?![\d])")


class App:
    def __init__(self, page: Page, url: str):
        self.page = page
        self.url = url

    # ---- locators ---------------------------------------------------------------------------
    def tid(self, name, root=None) -> Locator:
        return (root or self.page).get_by_test_id(name)

    @property
    def cells(self) -> Locator:
        return self.tid("notebook").get_by_test_id("cell")

    def cell(self, i) -> Locator:
        return self.cells.nth(i)

    def nodes(self, op=None, state=None) -> Locator:
        sel = "[data-testid=graph-node]"
        if op is not None:
            sel += f'[data-op="{op}"]'
        if state is not None:
            sel += f'[data-state="{state}"]'
        return self.tid("graph-view").locator(sel)

    def node(self, node_id) -> Locator:
        return self.tid("graph-view").locator(f'[data-testid=graph-node][data-node-id="{node_id}"]')

    def leaf(self, name) -> Locator:
        """The leaf node whose label shows the variable ``name`` as a word."""
        return self.nodes(op="leaf").filter(has_text=re.compile(rf"(?<![\w.]){re.escape(name)}(?![\w.])"))

    # ---- pages ------------------------------------------------------------------------------
    def open_list(self):
        self.page.goto(self.url + "/")
        expect(self.tid("notebook-list")).to_be_visible()

    def notebook_id(self):
        m = re.search(r"/notebooks/([^/?#]+)", self.page.url)
        assert m, f"not on a notebook page: {self.page.url}"
        return m.group(1)

    def new_notebook(self, wait_kernel=True):
        """From the list, ``new-notebook``; returns the new notebook's id (from its URL)."""
        self.open_list()
        self.tid("new-notebook").click()
        expect(self.tid("notebook")).to_be_visible()
        expect(self.page).to_have_url(re.compile(r"/notebooks/[^/?#]+"))
        expect(self.cells.first).to_be_visible()
        if wait_kernel:
            self.wait_kernel_idle()
        return self.notebook_id()

    def wait_kernel_idle(self, timeout=KERNEL_START_MS):
        expect(self.tid("kernel-status")).to_have_text(re.compile(r"\bidle\b", re.I), timeout=timeout)

    # ---- cells ------------------------------------------------------------------------------
    def editor(self, cell) -> Locator:
        return self.tid("cell-editor", cell).locator(".cm-content")

    def editor_text(self, cell):
        return self.editor(cell).evaluate(_EDITOR_TEXT_JS)

    def set_code(self, cell, code):
        """Replace the cell's source with ``code`` as a paste (no auto-indent, no completion)."""
        ed = self.editor(cell)
        ed.click()
        self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.press("Delete")
        ed.evaluate(_PASTE_JS, code)
        expect(ed).to_be_focused()
        got = self.editor_text(cell)
        assert got == code, f"the editor holds {got!r}, expected {code!r}"

    def type_code(self, cell, code):
        """Click the editor and type ``code`` key by key (one line: no auto-indent to fight)."""
        self.editor(cell).click()
        self.page.keyboard.type(code)

    def run(self, cell, status="done", timeout=CELL_MS):
        self.tid("run-cell", cell).click()
        expect(self.tid("cell-status", cell)).to_have_text(status, timeout=timeout)

    def run_code(self, cell, code, status="done", timeout=CELL_MS):
        self.set_code(cell, code)
        self.run(cell, status, timeout)

    def add_cell(self):
        n = self.cells.count()
        self.tid("add-cell").click()
        expect(self.cells).to_have_count(n + 1)
        return self.cell(n)

    def confirm_if_asked(self, wait_ms=2_000):
        """Accept an in-page confirmation (a ``<dialog>``) if one opens within ``wait_ms``;
        window.confirm() dialogs are accepted by the page fixture."""
        ok = self.page.locator("dialog[open]").locator(
            "[data-testid=confirm-ok], button:text-matches('^(ok|yes|restart|confirm)', 'i')").first
        try:
            ok.wait_for(state="visible", timeout=wait_ms)
        except Exception:  # noqa: BLE001 - nothing asked
            return False
        ok.click()
        return True

    # ---- metrics ----------------------------------------------------------------------------
    def metric_points(self):
        return self.page.evaluate(_POINTS_JS)

    def wait_metric_points(self, at_least, timeout=30_000):
        self.page.wait_for_function(f"() => ({_POINTS_JS})() >= {int(at_least)}", timeout=timeout)

    # ---- export / import (no data-testid in the contract: visible text, then file inputs) --
    def export_control(self, root=None) -> Locator:
        """The control that downloads a notebook as .ipynb, inside ``root`` (default: the page)."""
        root = root or self.page
        by_id = root.locator("[data-testid=export-notebook], a[href$='export.ipynb']")
        named = re.compile(r"export|download|\.ipynb", re.I)
        return (by_id.or_(root.get_by_role("button", name=named))
                .or_(root.get_by_role("link", name=named))).first

    def import_input(self) -> Locator:
        return self.page.locator("input[type=file]").first

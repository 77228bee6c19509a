"""The playground in a real browser: Debian's Chromium against the real server and real kernels.

Written against the data-testid contract of DESIGN.md ("UI hooks") and visible text.  Where the
contract is silent (export/import controls) the tests look for visible text and the file input;
see docs/frontend.md.
"""
import json
import re
import time

import nbformat
import pytest
from playwright.sync_api import expect

from gradlab_ui import CELL_MS, number

WXB = ("import torch\n"
       "x = torch.tensor(3.0, requires_grad=True)\n"
       "w = torch.tensor(2.0, requires_grad=True)\n"
       "b = torch.tensor(1.0, requires_grad=True)\n"
       "y = w*x + b\n"
       "z = y**2\n"
       "z.backward()")

MULTIPATH = ("import torch\n"
             "a = torch.tensor(2.0, requires_grad=True)\n"
             "b = torch.tensor(1.0, requires_grad=True)\n"
             "x = 2*a + 3*b\n"
             "y = 5*a*a + 3*b*b*b\n"
             "z = 2*x + 3*y\n"
             "z.backward()")

TRAIN = """import time
import torch
from torch.utils.tensorboard import SummaryWriter
torch.manual_seed(0)
model = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
x = torch.randn(64, 4)
y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1
writer = SummaryWriter()
for step in range(300):
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    writer.add_scalar('loss', loss.item(), step)
    time.sleep(0.02)
writer.close()
print('trained', round(loss.item(), 4))"""


def position(k, n):
    return re.compile(rf"^\s*{k}\s*/\s*{n}\s*$")


# a) ------------------------------------------------------------------------------------------
def test_open_app_and_new_notebook(app):
    app.page.goto(app.url + "/")
    expect(app.tid("notebook-list")).to_be_visible()
    app.tid("new-notebook").click()
    expect(app.tid("notebook")).to_be_visible()
    expect(app.page).to_have_url(re.compile(r"/notebooks/[^/?#]+$"))
    expect(app.cells.first).to_be_visible()
    expect(app.tid("cell-editor", app.cell(0))).to_be_visible()
    expect(app.tid("cell-editor", app.cell(0)).locator(".cm-editor")).to_be_visible()
    expect(app.tid("run-cell", app.cell(0))).to_have_count(1)
    app.wait_kernel_idle()
    expect(app.tid("device-indicator")).to_have_text(re.compile(r"\bcpu\b", re.I))


# b) ------------------------------------------------------------------------------------------
def test_run_cell_and_shift_enter(app):
    app.new_notebook()
    cell = app.cell(0)
    app.type_code(cell, "print(1 + 1)")
    assert app.editor_text(cell) == "print(1 + 1)"
    expect(app.tid("cell-status", cell)).to_have_text("idle")
    app.tid("run-cell", cell).click()
    expect(app.tid("cell-status", cell)).to_have_text("done", timeout=CELL_MS)
    expect(app.tid("cell-output", cell)).to_contain_text("2")

    # Shift+Enter runs the cell and moves to a new cell below: what we type next lands there
    n = app.cells.count()
    app.editor(cell).click()
    app.page.keyboard.press("Shift+Enter")
    expect(app.cells).to_have_count(n + 1)
    app.page.keyboard.type("print(3 * 7)")
    second = app.cell(n)
    assert app.editor_text(second) == "print(3 * 7)"
    assert app.editor_text(cell) == "print(1 + 1)"
    app.page.keyboard.press("Shift+Enter")
    expect(app.tid("cell-status", second)).to_have_text("done", timeout=CELL_MS)
    expect(app.tid("cell-output", second)).to_contain_text("21")
    expect(app.tid("cell-output", cell)).to_contain_text("2")


# c) ------------------------------------------------------------------------------------------
def test_graph_step_backward_and_inspect(app):
    app.new_notebook()
    cell = app.cell(0)
    app.run_code(cell, WXB)
    graph = app.tid("graph-view")
    expect(graph).to_be_visible()
    expect(app.nodes()).to_have_count(6)
    for op, count in (("MulBackward0", 1), ("AddBackward0", 1), ("PowBackward0", 1), ("leaf", 3)):
        expect(app.nodes(op=op)).to_have_count(count)
    expect(graph.get_by_test_id("graph-edge")).to_have_count(5)
    for name in ("w", "b", "x"):
        expect(app.leaf(name)).to_have_count(1)

    pos = app.tid("backward-position")
    expect(pos).to_have_text(position(0, 6))
    expect(app.nodes(state="active")).to_have_count(0)

    # PyTorch's order: PowBackward0, AddBackward0, b, MulBackward0, w, x
    expected = [("PowBackward0", None), ("AddBackward0", None), ("leaf", "b"),
                ("MulBackward0", None), ("leaf", "w"), ("leaf", "x")]
    seen = []
    for k, (op, name) in enumerate(expected, start=1):
        app.tid("backward-step").click()
        expect(pos).to_have_text(position(k, 6))
        target = app.leaf(name) if name else app.nodes(op=op)
        if k < 6:
            expect(target).to_have_attribute("data-state", "active")
            expect(app.nodes(state="active")).to_have_count(1)
        else:  # the last step's node may be shown active or already done
            expect(target).to_have_attribute("data-state", re.compile(r"^(active|done)$"))
        seen.append(target.get_attribute("data-node-id"))
        if k == 1:  # the step card shows the engine's own rule for the node
            expect(app.tid("step-card")).to_contain_text("grad_self = grad * exponent * self**(exponent - 1)")
        for earlier in seen[:-1]:
            expect(app.node(earlier)).to_have_attribute("data-state", "done")
    assert len(set(seen)) == 6, f"each step should activate a different node: {seen}"
    expect(app.nodes(state="idle")).to_have_count(0)

    inspector = app.tid("node-inspector")
    for name, grad in (("w", 42), ("b", 14), ("x", 28)):  # 14*3, 2*7, 14*2: exact in float32
        app.leaf(name).click()
        expect(inspector).to_contain_text(number(grad))


# d) ------------------------------------------------------------------------------------------
def test_multipath_gradient_accumulates(app):
    app.new_notebook()
    cell = app.cell(0)
    app.run_code(cell, MULTIPATH)
    expect(app.nodes(op="leaf").first).to_be_visible()
    pos = app.tid("backward-position")
    expect(pos).to_have_text(re.compile(r"^\s*0\s*/\s*\d+\s*$"))
    n = int(pos.inner_text().split("/")[1])
    assert n >= 10, f"the multi-path graph should take at least 10 backward steps, not {n}"
    for k in range(1, n + 1):
        app.tid("backward-step").click()
        expect(pos).to_have_text(position(k, n))
    app.tid("backward-step").click()  # past the end: stays there
    expect(pos).to_have_text(position(n, n))
    leaf_a = app.leaf("a")
    expect(leaf_a).to_have_count(1)
    leaf_a.click()
    expect(app.tid("node-inspector")).to_contain_text(number(64))  # 2*2 + 3*5*2*2: exact in float32


# e) ------------------------------------------------------------------------------------------
def test_metrics_chart_streams_while_training(app):
    app.new_notebook()
    cell = app.cell(0)
    app.set_code(cell, TRAIN)
    status = app.tid("cell-status", cell)
    app.tid("run-cell", cell).click()
    expect(status).to_have_text("running", timeout=CELL_MS)
    expect(app.tid("metrics-chart")).to_be_visible()
    app.wait_metric_points(1, timeout=30_000)
    first = app.metric_points()
    expect(status).to_have_text("running", timeout=1_000)
    # then see more points arrive while the cell is still running (polled, no fixed sleep)
    deadline, second = time.monotonic() + 20, first
    while time.monotonic() < deadline:
        second = app.metric_points()
        still_running = status.inner_text().strip() == "running"
        if second > first and still_running:
            break
        assert still_running, f"the cell ended before the chart grew past {first} points"
        time.sleep(0.05)
    assert 0 < first < second < 300, f"the chart should grow while the cell runs: {first} then {second} points"
    expect(status).to_have_text("done", timeout=CELL_MS)
    expect(app.tid("cell-output", cell)).to_contain_text("trained")
    app.wait_metric_points(300, timeout=10_000)
    assert app.metric_points() == 300


# f) ------------------------------------------------------------------------------------------
def test_interrupt_running_cell(app):
    app.new_notebook()
    cell = app.cell(0)
    app.set_code(cell, "while True: pass")
    app.tid("run-cell", cell).click()
    status = app.tid("cell-status", cell)
    expect(status).to_have_text("running", timeout=CELL_MS)
    app.tid("interrupt-kernel").click()  # at once: an interrupt before the code begins is held for it
    expect(status).to_have_text("error", timeout=30_000)
    expect(app.tid("cell-output", cell)).to_contain_text("KeyboardInterrupt")
    app.wait_kernel_idle()
    app.run_code(cell, "print('still alive')")
    expect(app.tid("cell-output", cell)).to_contain_text("still alive")


# g) ------------------------------------------------------------------------------------------
_RECORD_KERNEL_STATUS = """() => {
  window.__kernelStatuses = [];
  const rec = () => {
    const el = document.querySelector('[data-testid=kernel-status]');
    const t = el ? el.textContent.trim().toLowerCase() : '';
    const a = window.__kernelStatuses;
    if (a[a.length - 1] !== t) a.push(t);
  };
  rec();
  new MutationObserver(rec).observe(document.body,
    {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def test_restart_kernel_forgets_state(app):
    app.new_notebook()
    cell = app.cell(0)
    app.run_code(cell, "secret_value = 41\nprint(secret_value + 1)")
    expect(app.tid("cell-output", cell)).to_contain_text("42")
    app.page.evaluate(_RECORD_KERNEL_STATUS)
    app.tid("restart-kernel").click()
    app.confirm_if_asked()
    app.page.wait_for_function(
        """() => { const a = window.__kernelStatuses;
                   const i = a.findIndex(t => /restarting/.test(t));
                   return i >= 0 && a.slice(i + 1).some(t => /\\bidle\\b/.test(t)); }""",
        timeout=60_000)
    app.wait_kernel_idle()
    second = app.add_cell()
    app.run_code(second, "print(secret_value)", status="error")
    expect(app.tid("cell-output", second)).to_contain_text("NameError")


# h) ------------------------------------------------------------------------------------------
def test_reload_keeps_notebook(app):
    nb = app.new_notebook()
    first = app.cell(0)
    app.run_code(first, "a = 6 * 7\nprint(a)")
    expect(app.tid("cell-output", first)).to_contain_text("42")
    second = app.add_cell()
    app.run_code(second, "print('hello ' + 'gradlab')")
    expect(app.tid("cell-output", second)).to_contain_text("hello gradlab")

    # autosave: the server has both sources (and outputs) before we reload
    deadline = time.monotonic() + 15
    while True:
        body = app.page.request.get(f"{app.url}/api/notebooks/{nb}").json()
        sources = [c.get("source") for c in body.get("cells", [])]
        if sources == ["a = 6 * 7\nprint(a)", "print('hello ' + 'gradlab')"]:
            break
        assert time.monotonic() < deadline, f"sources not saved: {sources}"
        time.sleep(0.25)

    app.page.reload()
    expect(app.tid("notebook")).to_be_visible()
    expect(app.cells).to_have_count(2)
    assert app.editor_text(app.cell(0)) == "a = 6 * 7\nprint(a)"
    assert app.editor_text(app.cell(1)) == "print('hello ' + 'gradlab')"
    expect(app.tid("cell-output", app.cell(0))).to_contain_text("42")
    expect(app.tid("cell-output", app.cell(1))).to_contain_text("hello gradlab")
    expect(app.tid("cell-status", app.cell(0))).to_have_text(re.compile(r"^(done|idle)$"))


# i) ------------------------------------------------------------------------------------------
def test_export_and_import_ipynb(app, tmp_path):
    app.new_notebook()
    cell = app.cell(0)
    app.run_code(cell, "print('exported ' + str(40 + 2))")
    expect(app.tid("cell-output", cell)).to_contain_text("exported 42")

    # export from the notebook list (this test's identity owns this one notebook)
    app.open_list()
    control = app.export_control(app.tid("notebook-list"))
    expect(control).to_be_visible()
    with app.page.expect_download() as dl:
        control.click()
    path = tmp_path / (dl.value.suggested_filename or "export.ipynb")
    dl.value.save_as(path)
    assert path.name.endswith(".ipynb"), path.name
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and code[0].source == "print('exported ' + str(40 + 2))"
    assert any("exported 42" in o.get("text", "") for o in code[0].outputs), code[0].outputs

    # import: a notebook of our own through the UI's file input
    imp = nbformat.v4.new_notebook()
    imp.metadata["gradlab"] = {"title": "Imported by e2e"}
    imp.cells = [nbformat.v4.new_markdown_cell("# Imported heading"),
                 nbformat.v4.new_code_cell("print('imported-cell-one')"),
                 nbformat.v4.new_code_cell("imported_two = 2")]
    src = tmp_path / "imported-by-e2e.ipynb"
    src.write_text(json.dumps(imp))
    app.import_input().set_input_files(str(src))
    opened = app.tid("notebook").or_(app.tid("notebook-list").get_by_text("Imported by e2e"))
    expect(opened.first).to_be_visible()
    if not app.tid("notebook").is_visible():
        app.tid("notebook-list").get_by_text("Imported by e2e").first.click()
    expect(app.tid("notebook")).to_be_visible()
    expect(app.cells).to_have_count(3)
    expect(app.tid("notebook")).to_contain_text("Imported heading")
    expect(app.cells.filter(has_text="print('imported-cell-one')")).to_have_count(1)
    expect(app.cells.filter(has_text="imported_two = 2")).to_have_count(1)


# autosave across a server outage ------------------------------------------------------------
def _outage_noise(line):
    """What the browser logs by itself while the server is down (failed requests, socket retries)."""
    return any(s in line for s in ("ERR_CONNECTION_REFUSED", "Failed to load resource", "WebSocket connection",
                                   "ERR_EMPTY_RESPONSE", "ERR_CONNECTION_RESET", "xhr poll error"))


def test_autosave_retries_until_the_server_is_back(app, e2e_server, request):
    nb = app.new_notebook()
    cell = app.cell(0)

    def saved_source():
        try:
            body = app.page.request.get(f"{app.url}/api/notebooks/{nb}", timeout=5000).json()
        except Exception:  # noqa: BLE001 - the server is down
            return None
        return body["cells"][0]["source"]

    def wait_saved(text, seconds):
        deadline = time.monotonic() + seconds
        while saved_source() != text:
            assert time.monotonic() < deadline, f"not saved within {seconds} s: {saved_source()!r}"
            time.sleep(0.25)

    app.set_code(cell, "before = 1")
    wait_saved("before = 1", 15)
    e2e_server.kill9()
    app.set_code(cell, "typed = 'while the server was down'")
    expect(app.tid("save-state")).to_have_text("save failed", timeout=15_000)
    e2e_server.start()
    # no keystroke after this: the retry (every <= 8 s) stores the edit
    wait_saved("typed = 'while the server was down'", 15)
    expect(app.tid("save-state")).to_have_text("saved", timeout=15_000)
    watch = request.node._e2e_console  # the outage's own network errors are expected; nothing else
    watch.errors[:] = [e for e in watch.errors if not _outage_noise(e)]

"""Storage: Repo over a temporary SQLite database, ipynb conversion, migrations, starters."""
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import text

from backend.storage import NotFound, Repo, ValidationError
from backend.storage import starters
from backend.storage.db import latest_version, make_engine, migrate
from backend.storage.repo import TooLarge

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path):
    return Repo.from_url(f"sqlite:///{tmp_path / 't.db'}", max_code_bytes=1000, max_cells=50)


def shape(nb):
    return [(c["kind"], c["source"], c["outputs"], c["execution_count"]) for c in nb["cells"]]


def sources(repo, owner, nb_id):
    return [c["source"] for c in repo.get_notebook(owner, nb_id)["cells"]]


def test_sqlite_runs_in_wal_mode(repo):
    with repo.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_create_get_list(repo):
    nb = repo.create_notebook("alice", "  My   notebook ", [{"kind": "code", "source": "x = 1"},
                                                          {"kind": "markdown", "source": "# T"}])
    assert nb["title"] == "My notebook"
    assert len(nb["id"]) == 11 and nb["device"] == "auto"
    assert [(c["position"], c["kind"], c["source"], c["status"]) for c in nb["cells"]] == [
        (0, "code", "x = 1", "idle"), (1, "markdown", "# T", "idle")]
    assert repo.get_notebook("alice", nb["id"]) == nb
    other = repo.create_notebook("alice")
    assert other["title"] == "Untitled notebook" and other["cells"] == []
    listed = repo.list_notebooks("alice")
    assert [n["id"] for n in listed] == [other["id"], nb["id"]]       # most recently updated first
    assert [n["cell_count"] for n in listed] == [0, 2]
    assert repo.list_notebooks("bob") == []


def test_other_owner_sees_nothing(repo):
    nb = repo.create_notebook("alice", "secret", [{"kind": "code", "source": "1"}])
    cell = nb["cells"][0]["id"]
    calls = [
        lambda: repo.get_notebook("bob", nb["id"]),
        lambda: repo.rename("bob", nb["id"], "mine"),
        lambda: repo.delete("bob", nb["id"]),
        lambda: repo.duplicate("bob", nb["id"]),
        lambda: repo.add_cell("bob", nb["id"]),
        lambda: repo.update_cell("bob", nb["id"], cell, source="hacked"),
        lambda: repo.delete_cell("bob", nb["id"], cell),
        lambda: repo.move_cell("bob", nb["id"], cell, 0),
        lambda: repo.export_ipynb("bob", nb["id"]),
        lambda: repo.get_notebook("alice", "no-such-id"),
        lambda: repo.get_notebook(None, nb["id"]),
    ]
    for call in calls:
        with pytest.raises(NotFound, match="notebook not found"):
            call()
    assert repo.get_notebook("alice", nb["id"])["cells"][0]["source"] == "1"
    assert repo.owns("alice", nb["id"]) and not repo.owns("bob", nb["id"])


def test_cells_add_update_move_delete(repo):
    nb = repo.create_notebook("a", "n")
    ids = [repo.add_cell("a", nb["id"], "code", f"c{i}")["id"] for i in range(4)]
    first = repo.add_cell("a", nb["id"], "markdown", "top", index=0)
    assert first["position"] == 0
    assert sources(repo, "a", nb["id"]) == ["top", "c0", "c1", "c2", "c3"]
    assert repo.move_cell("a", nb["id"], ids[3], 1) == [first["id"], ids[3], ids[0], ids[1], ids[2]]
    assert sources(repo, "a", nb["id"]) == ["top", "c3", "c0", "c1", "c2"]
    repo.move_cell("a", nb["id"], first["id"], 4)
    assert sources(repo, "a", nb["id"]) == ["c3", "c0", "c1", "c2", "top"]
    repo.delete_cell("a", nb["id"], ids[0])
    got = repo.get_notebook("a", nb["id"])["cells"]
    assert [c["source"] for c in got] == ["c3", "c1", "c2", "top"]
    assert [c["position"] for c in got] == [0, 1, 2, 3]
    c = repo.update_cell("a", nb["id"], ids[1], source="print(2)")
    assert c["source"] == "print(2)" and c["kind"] == "code"
    with pytest.raises(ValidationError, match="index must be between 0 and 4"):
        repo.add_cell("a", nb["id"], index=5)
    with pytest.raises(ValidationError, match="index must be between 0 and 3"):
        repo.move_cell("a", nb["id"], ids[1], 4)
    with pytest.raises(ValidationError, match="kind must be one of code, markdown"):
        repo.add_cell("a", nb["id"], kind="raw")
    with pytest.raises(NotFound, match="cell not found"):
        repo.update_cell("a", nb["id"], "nope", source="x")
    with pytest.raises(TooLarge, match="1001 bytes; the limit is 1000"):
        repo.update_cell("a", nb["id"], ids[1], source="x" * 1001)


def test_outputs_and_status(repo):
    nb = repo.create_notebook("a", "n", [{"kind": "code", "source": "print(1)"}])
    cid = nb["cells"][0]["id"]
    out = [{"output_type": "stream", "name": "stdout", "text": ["1", "\n"]}]
    c = repo.set_cell_outputs(nb["id"], cid, out, execution_count=3, status="done")
    assert c["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    assert (c["execution_count"], c["status"]) == (3, "done")
    repo.append_cell_outputs(nb["id"], cid, [{"output_type": "stream", "name": "stdout", "text": "2\n"}])
    assert repo.get_cell("a", nb["id"], cid)["outputs"][0]["text"] == "1\n2\n"
    repo.set_cell_status(nb["id"], cid, "queued")
    assert repo.reset_busy_cells(nb["id"]) == 1
    assert repo.get_cell("a", nb["id"], cid)["status"] == "idle"
    # a run a server stop cut short keeps its output, ends in error and says so
    repo.set_cell_status(nb["id"], cid, "running")
    assert repo.reset_busy_cells(nb["id"]) == 1
    cut = repo.get_cell("a", nb["id"], cid)
    assert cut["status"] == "error" and cut["outputs"][0]["text"] == "1\n2\n"
    assert cut["outputs"][-1]["ename"] == "RunInterrupted"
    assert repo.reset_busy_cells(nb["id"]) == 0
    with pytest.raises(NotFound):
        repo.set_cell_outputs(nb["id"], "gone", [])
    with pytest.raises(ValidationError):
        repo.set_cell_outputs(nb["id"], cid, [], status="exploded")
    # markdown cells have no outputs
    c = repo.update_cell("a", nb["id"], cid, kind="markdown")
    assert c["outputs"] == [] and c["execution_count"] is None


def test_duplicate_rename_delete(repo):
    nb = repo.create_notebook("a", "orig", [{"kind": "code", "source": "x"}])
    repo.set_cell_outputs(nb["id"], nb["cells"][0]["id"], [{"output_type": "stream", "name": "stdout", "text": "x"}],
                          execution_count=1, status="done")
    dup = repo.duplicate("a", nb["id"])
    assert dup["id"] != nb["id"] and dup["title"] == "orig (copy)"
    assert shape(dup) == shape(repo.get_notebook("a", nb["id"]))
    assert dup["cells"][0]["id"] != nb["cells"][0]["id"]
    assert repo.rename("a", nb["id"], "renamed")["title"] == "renamed"
    with pytest.raises(ValidationError, match="title must not be empty"):
        repo.rename("a", nb["id"], "   ")
    repo.delete("a", nb["id"])
    with pytest.raises(NotFound):
        repo.get_notebook("a", nb["id"])
    with repo.engine.connect() as conn:  # its cells went with it
        assert conn.execute(text("SELECT count(*) FROM cells WHERE notebook_id = :n"), {"n": nb["id"]}).scalar() == 0
    assert [n["id"] for n in repo.list_notebooks("a")] == [dup["id"]]


def test_concurrent_adds_keep_positions_dense(repo):
    nb = repo.create_notebook("a", "n")
    errors = []

    def worker(k):
        try:
            for i in range(5):
                repo.add_cell("a", nb["id"], "code", f"{k}-{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    cells = repo.get_notebook("a", nb["id"])["cells"]
    assert len(cells) == 20 and [c["position"] for c in cells] == list(range(20))


SAMPLE_OUTPUTS = [
    {"output_type": "stream", "name": "stdout", "text": "loss 0.25\n"},
    {"output_type": "stream", "name": "stderr", "text": "warning\n"},
    {"output_type": "execute_result", "data": {"text/plain": "tensor(42.)"}, "metadata": {}, "execution_count": 7},
    {"output_type": "display_data", "data": {"text/html": "<b>hi</b>", "application/json": {"a": [1, 2]}},
     "metadata": {}},
    {"output_type": "error", "ename": "RuntimeError", "evalue": "shapes (2,3) and (4,5)",
     "traceback": ["Traceback (most recent call last):", "RuntimeError: shapes (2,3) and (4,5)"]},
    {"output_type": "graph", "nodes": 12, "steps": 30},          # a playground-only output
]


def test_ipynb_export_validates_and_round_trips(repo):
    nb = repo.create_notebook("a", "Round trip", [{"kind": "markdown", "source": "# Title\n\ntext"},
                                                  {"kind": "code", "source": "import torch\nx = torch.ones(2)"},
                                                  {"kind": "code", "source": ""}])
    repo.set_cell_outputs(nb["id"], nb["cells"][1]["id"], SAMPLE_OUTPUTS, execution_count=7, status="error")
    text_ = repo.export_ipynb("a", nb["id"])
    parsed = nbformat.reads(text_, as_version=4)
    nbformat.validate(parsed)
    assert parsed.nbformat == 4 and parsed.metadata.kernelspec.name == "python3"
    assert [c.cell_type for c in parsed.cells] == ["markdown", "code", "code"]
    assert [o.output_type for o in parsed.cells[1].outputs] == [
        "stream", "stream", "execute_result", "display_data", "error", "display_data"]
    assert parsed.cells[1].execution_count == 7
    back = repo.import_ipynb("b", text_.encode())
    assert back["title"] == "Round trip"
    assert shape(back) == shape(repo.get_notebook("a", nb["id"]))
    assert back["cells"][1]["outputs"] == SAMPLE_OUTPUTS


def test_import_jupyter_file_with_lists_and_raw_cells(repo):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(["a = 1\n", "a"], execution_count=1, outputs=[
        nbformat.v4.new_output("execute_result", data={"text/plain": ["1"]}, execution_count=1)]),
        nbformat.v4.new_raw_cell("raw text")]
    got = repo.import_ipynb("a", nbformat.writes(nb).encode(), filename="Lesson 1.ipynb")
    assert got["title"] == "Lesson 1"
    assert [(c["kind"], c["source"]) for c in got["cells"]] == [("code", "a = 1\na"), ("markdown", "raw text")]
    assert got["cells"][0]["outputs"][0]["data"] == {"text/plain": "1"}


@pytest.mark.parametrize("data, reason", [
    (b"", "the file is empty"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b"{not json", "invalid JSON"),
    (b"[1, 2]", "no 'cells' list"),
    (b'{"cells": [], "metadata": {}, "nbformat": "four"}', "'nbformat' must be 3 or 4"),
    (b'{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "invalid notebook"),
])
def test_import_malformed_says_why(repo, data, reason):
    with pytest.raises(ValidationError, match=reason):
        repo.import_ipynb("a", data)
    assert repo.list_notebooks("a") == []


def test_migrations_run_in_order_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = make_engine(url)
    assert migrate(engine) == (0, latest_version())
    assert migrate(engine) == (latest_version(), latest_version())
    Repo(engine).create_notebook("a", "kept")
    ran = []

    def to_next(conn):
        ran.append("1->2")
        conn.execute(text("ALTER TABLE notebooks ADD COLUMN note TEXT DEFAULT 'x'"))

    def to_third(conn):
        ran.append("2->3")
        conn.execute(text("UPDATE notebooks SET note = 'migrated'"))

    assert migrate(engine, [to_next, to_third]) == (1, 3)
    assert ran == ["1->2", "2->3"]
    assert migrate(engine, [to_next, to_third]) == (3, 3) and ran == ["1->2", "2->3"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM schema_version")).scalar() == 3
        assert conn.execute(text("SELECT title, note FROM notebooks")).all() == [("kept", "migrated")]
    with pytest.raises(RuntimeError, match="newer than this server"):
        migrate(engine)


def test_starter_catalog():
    cat = starters.catalog()
    assert [s["title"] for s in cat] == ["Tensor basics", "Autograd by hand", "An MLP on digits", "A CNN on digits",
                                         "Optimizers compared", "Decision boundary in 2-D"]
    for s in cat:
        full = starters.get(s["name"])
        assert full["cells"][0]["kind"] == "markdown"
        assert any(c["kind"] == "code" for c in full["cells"])
    assert starters.get("nope") is None


RUN_STARTERS = textwrap.dedent('''
    import io, json, sys, time, types, contextlib, traceback
    import engine.compat
    engine.compat.install()
    # the kernel provides torch.utils.tensorboard (streams to the metrics panel); a recorder here
    tb = types.ModuleType("torch.utils.tensorboard")
    LOG = []
    class SummaryWriter:
        def __init__(self, *a, **k): pass
        def add_scalar(self, tag, value, global_step=None): LOG.append((tag, float(value)))
        def add_scalars(self, main_tag, values, global_step=None):
            LOG.append((main_tag, {k: float(v) for k, v in values.items()}))
        def flush(self): pass
        def close(self): pass
    tb.SummaryWriter = SummaryWriter
    sys.modules["torch.utils.tensorboard"] = tb
    from backend.storage import starters
    report = {}
    for s in starters.catalog():
        ns, out, t0 = {"__name__": "__main__"}, io.StringIO(), time.time()
        LOG.clear()
        err = None
        for i, cell in enumerate(starters.get(s["name"])["cells"]):
            if cell["kind"] != "code":
                continue
            try:
                with contextlib.redirect_stdout(out):
                    exec(compile(cell["source"], f"<{s['name']} cell {i}>", "exec"), ns)
            except BaseException:
                err = traceback.format_exc()
                break
        report[s["name"]] = {"error": err, "stdout": out.getvalue(), "scalars": len(LOG),
                             "seconds": round(time.time() - t0, 2)}
    print(json.dumps(report))
''')


def test_every_starter_runs_on_the_engine():
    r = subprocess.run([sys.executable, "-c", RUN_STARTERS], cwd=REPO_ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(report) == {s["name"] for s in starters.catalog()}
    for name, res in report.items():
        assert res["error"] is None, f"{name} failed:\n{res['error']}"
    assert "dz/dw = tensor(42.)" in report["autograd-by-hand"]["stdout"]
    assert "dz/db = tensor(14.)" in report["autograd-by-hand"]["stdout"]
    assert "dz/dx = tensor(28.)" in report["autograd-by-hand"]["stdout"]
    assert "dz/da at a=2: tensor(64.)" in report["autograd-by-hand"]["stdout"]
    assert report["optimizers-compared"]["scalars"] == 200
    assert report["mlp-digits"]["scalars"] > 0
    assert "held-out accuracy" in report["cnn-digits"]["stdout"]
    assert sum(res["seconds"] for res in report.values()) < 60


def test_schema_compiles_for_postgresql():
    """Portable types only: the DDL compiles for PostgreSQL (no server needed)."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable
    from backend.storage.models import Base
    ddl = "\n".join(str(CreateTable(t).compile(dialect=postgresql.dialect())) for t in Base.metadata.sorted_tables)
    assert "JSON" in ddl and "TIMESTAMP WITH TIME ZONE" in ddl and "ON DELETE CASCADE" in ddl

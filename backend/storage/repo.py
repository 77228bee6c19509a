"""``Repo``: every read and write of notebooks and cells.  Thread-safe: each call opens its own
session and commits before it returns (so a saved edit survives a crash of the server).

Results are plain JSON-ready dicts, never ORM objects:

* notebook summary: ``{"id", "title", "created", "updated", "device", "cell_count"}``
* notebook: the summary plus ``"cells": [cell, ...]`` in order
* cell: ``{"id", "position", "kind", "source", "outputs", "execution_count", "status"}``

Every call that takes an ``owner`` raises ``NotFound("notebook not found")`` for a notebook that
does not exist *or* belongs to someone else (the two are indistinguishable on purpose).
``set_cell_outputs`` / ``append_cell_outputs`` / ``set_cell_status`` are server-side (kernel results)
and take no owner.
"""
import datetime as _dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from . import ipynb
from .db import make_engine, migrate
from .models import CELL_KINDS, CELL_STATUSES, NOTEBOOK_DEVICES, Cell, Notebook, new_cell_id, new_notebook_id, utcnow

DEFAULT_TITLE = "Untitled notebook"
# Appended to a cell whose run a server stop cut short (its output so far was saved while it ran).
RUN_CUT_OUTPUT = {"output_type": "error", "ename": "RunInterrupted",
                  "evalue": "the server stopped while this cell was running; the output above is what it had "
                            "shown by then. Run the cell again.",
                  "traceback": []}
MAX_TITLE = 200


class StorageError(Exception):
    status = 400


class NotFound(StorageError, LookupError):
    status = 404


class ValidationError(StorageError, ValueError):
    status = 400


class TooLarge(ValidationError):
    status = 413


def _iso(t):
    if t is None:
        return None
    if t.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        t = t.replace(tzinfo=_dt.timezone.utc)
    return t.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _cell_dict(c):
    return {"id": c.id, "position": c.position, "kind": c.kind, "source": c.source,
            "outputs": list(c.outputs or []), "execution_count": c.execution_count, "status": c.status}


def _summary(nb, cell_count):
    return {"id": nb.id, "title": nb.title, "created": _iso(nb.created), "updated": _iso(nb.updated),
            "device": nb.device, "cell_count": cell_count}


def _nb_dict(nb):
    d = _summary(nb, len(nb.cells))
    d["cells"] = [_cell_dict(c) for c in sorted(nb.cells, key=lambda c: (c.position, c.id))]
    return d


class Repo:
    def __init__(self, engine, max_code_bytes=100_000, max_cells=1000):
        self.engine = engine
        self.max_code_bytes = max_code_bytes
        self.max_cells = max_cells

    @classmethod
    def from_url(cls, url, **kw):
        engine = make_engine(url)
        migrate(engine)
        return cls(engine, **kw)

    # ---- helpers -------------------------------------------------------------------------------
    def _session(self):
        return Session(self.engine, expire_on_commit=False)

    def _owned(self, s, owner, notebook_id, lock=False, cells=False):
        q = select(Notebook).where(Notebook.id == str(notebook_id), Notebook.owner == str(owner))
        if cells:
            q = q.options(selectinload(Notebook.cells))
        if lock:
            q = q.with_for_update()
        nb = s.execute(q).scalar_one_or_none() if owner is not None and notebook_id is not None else None
        if nb is None:
            raise NotFound("notebook not found")
        return nb

    def _cell(self, s, notebook_id, cell_id):
        c = s.execute(select(Cell).where(Cell.id == str(cell_id), Cell.notebook_id == notebook_id)).scalar_one_or_none()
        if c is None:
            raise NotFound("cell not found")
        return c

    def _check_source(self, kind, source):
        if not isinstance(source, str):
            raise ValidationError("source must be a string")
        n = len(source.encode("utf-8", "surrogatepass"))
        if n > self.max_code_bytes:
            raise TooLarge(f"cell source is {n} bytes; the limit is {self.max_code_bytes} bytes")

    @staticmethod
    def _check_kind(kind):
        if kind not in CELL_KINDS:
            raise ValidationError(f"cell kind must be one of {', '.join(CELL_KINDS)}, not {kind!r}")

    @staticmethod
    def _clean_title(title):
        if title is None:
            return DEFAULT_TITLE
        if not isinstance(title, str):
            raise ValidationError("title must be a string")
        title = " ".join(title.split())
        if not title:
            raise ValidationError("title must not be empty")
        if len(title) > MAX_TITLE:
            raise ValidationError(f"title is {len(title)} characters; the limit is {MAX_TITLE}")
        return title

    def _new_cells(self, cells):
        """Validated Cell rows from dicts ``{"kind", "source", "outputs"?, "execution_count"?, "status"?}``."""
        cells = list(cells or [])
        if len(cells) > self.max_cells:
            raise TooLarge(f"{len(cells)} cells; the limit is {self.max_cells} per notebook")
        rows = []
        for i, c in enumerate(cells):
            kind = c.get("kind", "code")
            source = c.get("source", "")
            self._check_kind(kind)
            self._check_source(kind, source)
            status = c.get("status") or "idle"
            if status in ("queued", "running"):
                status = "idle"
            rows.append(Cell(id=new_cell_id(), position=i, kind=kind, source=source,
                             outputs=ipynb.normalize_outputs(c.get("outputs") or []) if kind == "code" else [],
                             execution_count=c.get("execution_count") if kind == "code" else None,
                             status=status if status in CELL_STATUSES else "idle"))
        return rows

    # ---- notebooks -----------------------------------------------------------------------------
    def list_notebooks(self, owner):
        with self._session() as s:
            counts = (select(Cell.notebook_id, func.count(Cell.id).label("n")).group_by(Cell.notebook_id).subquery())
            rows = s.execute(select(Notebook, func.coalesce(counts.c.n, 0))
                             .outerjoin(counts, counts.c.notebook_id == Notebook.id)
                             .where(Notebook.owner == str(owner))
                             .order_by(Notebook.updated.desc(), Notebook.id)).all()
            return [_summary(nb, n) for nb, n in rows]

    def create_notebook(self, owner, title=None, cells=None, device="auto"):
        if not owner:
            raise ValidationError("no owner")
        title = self._clean_title(title)
        if device not in NOTEBOOK_DEVICES:
            raise ValidationError(f"device must be one of {', '.join(NOTEBOOK_DEVICES)}")
        rows = self._new_cells(cells)
        with self._session() as s, s.begin():
            now = utcnow()
            nb = Notebook(id=new_notebook_id(), owner=str(owner), title=title, created=now, updated=now,
                          device=device)
            nb.cells = rows
            s.add(nb)
            s.flush()
            return _nb_dict(nb)

    def get_notebook(self, owner, notebook_id):
        with self._session() as s:
            return _nb_dict(self._owned(s, owner, notebook_id, cells=True))

    def owns(self, owner, notebook_id):
        """True if ``notebook_id`` exists and belongs to ``owner``."""
        with self._session() as s:
            try:
                self._owned(s, owner, notebook_id)
                return True
            except NotFound:
                return False

    def update_notebook(self, owner, notebook_id, title=None, device=None):
        with self._session() as s, s.begin():
            nb = self._owned(s, owner, notebook_id, lock=True)
            if title is not None:
                nb.title = self._clean_title(title)
            if device is not None:
                if device not in NOTEBOOK_DEVICES:
                    raise ValidationError(f"device must be one of {', '.join(NOTEBOOK_DEVICES)}")
                nb.device = device
            nb.updated = utcnow()
            s.flush()
            return _nb_dict(nb)

    def rename(self, owner, notebook_id, title):
        return self.update_notebook(owner, notebook_id, title=title)

    def delete(self, owner, notebook_id):
        with self._session() as s, s.begin():
            nb = self._owned(s, owner, notebook_id, lock=True)
            s.execute(Cell.__table__.delete().where(Cell.notebook_id == nb.id))
            s.delete(nb)

    def duplicate(self, owner, notebook_id, title=None):
        src = self.get_notebook(owner, notebook_id)
        if title is None:
            title = (src["title"] + " (copy)")[:MAX_TITLE]
        return self.create_notebook(owner, title, src["cells"], device=src["device"])

    # ---- cells ---------------------------------------------------------------------------------
    def get_cell(self, owner, notebook_id, cell_id):
        with self._session() as s:
            nb = self._owned(s, owner, notebook_id)
            return _cell_dict(self._cell(s, nb.id, cell_id))

    def add_cell(self, owner, notebook_id, kind="code", source="", index=None):
        self._check_kind(kind)
        self._check_source(kind, source)
        with self._session() as s, s.begin():
            nb = self._owned(s, owner, notebook_id, lock=True)
            n = s.execute(select(func.count(Cell.id)).where(Cell.notebook_id == nb.id)).scalar_one()
            if n >= self.max_cells:
                raise TooLarge(f"a notebook holds at most {self.max_cells} cells")
            if index is None:
                index = n
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= n:
                raise ValidationError(f"index must be between 0 and {n}, not {index!r}")
            self._renumber(s, nb.id)
            s.execute(update(Cell).where(Cell.notebook_id == nb.id, Cell.position >= index)
                      .values(position=Cell.position + 1))
            cell = Cell(id=new_cell_id(), notebook_id=nb.id, position=index, kind=kind, source=source,
                        outputs=[], execution_count=None, status="idle")
            s.add(cell)
            nb.updated = utcnow()
            s.flush()
            return _cell_dict(cell)

    def update_cell(self, owner, notebook_id, cell_id, source=None, kind=None):
        with self._session() as s, s.begin():
            nb = self._owned(s, owner, notebook_id, lock=True)
            cell = self._cell(s, nb.id, cell_id)
            if kind is not None:
                self._check_kind(kind)
                if kind != cell.kind:
                    cell.kind = kind
                    if kind == "markdown":
                        cell.outputs, cell.execution_count, cell.status = [], None, "idle"
            if source is not None:
                self._check_source(cell.kind, source)
                cell.source = source
            nb.updated = utcnow()
            s.flush()
            return _cell_dict(cell)

    def delete_cell(self, owner, notebook_id, cell_id):
        with self._session() as s, s.begin():
            nb = self._owned(s, owner, notebook_id, lock=True)
            cell = self._cell(s, nb.id, cell_id)
            s.delete(cell)
            s.flush()
            self._renumber(s, nb.id)
            nb.updated = utcnow()

    def move_cell(self, owner, notebook_id, cell_id, new_index):
        with self._session() as s, s.begin():
            nb = self._owned(s, owner, notebook_id, lock=True)
            cells = self._ordered(s, nb.id)
            ids = [c.id for c in cells]
            if cell_id not in ids:
                raise NotFound("cell not found")
            if not isinstance(new_index, int) or isinstance(new_index, bool) or not 0 <= new_index < len(ids):
                raise ValidationError(f"index must be between 0 and {len(ids) - 1}, not {new_index!r}")
            cell = cells.pop(ids.index(cell_id))
            cells.insert(new_index, cell)
            for i, c in enumerate(cells):
                c.position = i
            nb.updated = utcnow()
            s.flush()
            return [c.id for c in cells]

    @staticmethod
    def _ordered(s, notebook_id):
        return list(s.execute(select(Cell).where(Cell.notebook_id == notebook_id)
                              .order_by(Cell.position, Cell.id)).scalars())

    def _renumber(self, s, notebook_id):
        for i, c in enumerate(self._ordered(s, notebook_id)):
            if c.position != i:
                c.position = i
        s.flush()

    # ---- kernel results (server-side, no owner) ------------------------------------------------
    def set_cell_outputs(self, notebook_id, cell_id, outputs, execution_count=None, status=None):
        """Replace a cell's outputs (``outputs=None`` leaves them); set ``execution_count`` and
        ``status`` when given.  Raises NotFound if the cell is gone (deleted while running)."""
        if status is not None and status not in CELL_STATUSES:
            raise ValidationError(f"status must be one of {', '.join(CELL_STATUSES)}")
        norm = ipynb.normalize_outputs(outputs) if outputs is not None else None
        with self._session() as s, s.begin():
            cell = self._cell(s, str(notebook_id), cell_id)
            if norm is not None:
                cell.outputs = norm
            if execution_count is not None:
                cell.execution_count = int(execution_count)
            if status is not None:
                cell.status = status
            s.flush()
            return _cell_dict(cell)

    def append_cell_outputs(self, notebook_id, cell_id, outputs):
        """Add outputs after the existing ones (adjacent stream text of one name is merged)."""
        norm = ipynb.normalize_outputs(outputs)
        with self._session() as s, s.begin():
            cell = self._cell(s, str(notebook_id), cell_id)
            cell.outputs = ipynb.merge_streams(list(cell.outputs or []) + norm)
            s.flush()
            return _cell_dict(cell)

    def set_cell_status(self, notebook_id, cell_id, status):
        return self.set_cell_outputs(notebook_id, cell_id, None, status=status)

    def reset_busy_cells(self, notebook_id=None):
        """After a server stop: cells left ``queued`` become ``idle``; cells left ``running`` keep
        the output saved while they ran, end in ``error`` and say that their run was cut.  Returns
        how many cells changed."""
        with self._session() as s, s.begin():
            q = select(Cell).where(Cell.status.in_(("queued", "running")))
            if notebook_id is not None:
                q = q.where(Cell.notebook_id == str(notebook_id))
            cells = list(s.scalars(q))
            for cell in cells:
                if cell.status == "running":
                    cell.outputs = list(cell.outputs or []) + [RUN_CUT_OUTPUT]
                    cell.status = "error"
                else:
                    cell.status = "idle"
            return len(cells)

    # ---- ipynb ---------------------------------------------------------------------------------
    def export_ipynb(self, owner, notebook_id):
        return ipynb.to_ipynb(self.get_notebook(owner, notebook_id))

    def import_ipynb(self, owner, data, filename=None):
        try:
            title, cells = ipynb.from_ipynb(data, filename=filename)
        except ipynb.IpynbError as exc:
            raise ValidationError(str(exc)) from None
        return self.create_notebook(owner, title, cells)

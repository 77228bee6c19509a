"""REST API under ``/api``: notebooks, cells, ipynb export/import, starters.  JSON in and out;
bodies are validated with pydantic; errors are ``{"error": reason}`` with 400 (bad input),
404 (no such notebook *for this owner*), 413 (too large).  Every write commits before the reply."""
import json

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError as PydanticError
from typing import Literal, Optional
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .identity import current_owner
from .storage import starters
from .storage.repo import MAX_TITLE, StorageError

bp = Blueprint("api", __name__, url_prefix="/api")

Kind = Literal["code", "markdown"]
Device = Literal["auto", "cpu", "cuda"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CellIn(_Body):
    kind: Kind = "code"
    source: str = ""


class NotebookCreate(_Body):
    title: Optional[str] = Field(default=None, max_length=MAX_TITLE)
    cells: Optional[list[CellIn]] = None


class NotebookPatch(_Body):
    title: Optional[str] = Field(default=None, max_length=MAX_TITLE)
    device: Optional[Device] = None


class CellCreate(_Body):
    kind: Kind = "code"
    source: str = ""
    index: Optional[int] = Field(default=None, ge=0)


class CellPatch(_Body):
    source: Optional[str] = None
    kind: Optional[Kind] = None


class CellMove(_Body):
    index: int = Field(ge=0)


class ApiError(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def _repo():
    return current_app.extensions["repo"]


def _owner():
    owner = current_owner()
    if owner is None:  # before_request gives every request one; only a broken session gets here
        raise ApiError("no identity cookie", 401)
    return owner


def _describe(exc):
    parts = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e.get("loc", ())) or "body"
        msg = e.get("msg", "invalid")
        if e.get("type") == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{loc}: {msg}")
    return "invalid request: " + "; ".join(parts)


def _body(model):
    if request.content_length is not None and request.content_length > current_app.config["MAX_CONTENT_LENGTH"]:
        raise RequestEntityTooLarge()
    raw = request.get_data(cache=True)
    if not raw.strip():
        data = {}
    else:
        if request.mimetype != "application/json":
            raise ApiError("request body must be JSON (Content-Type: application/json)", 415)
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(f"invalid JSON: {exc}") from None
        except RecursionError:
            raise ApiError("invalid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError("request body must be a JSON object")
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        raise ApiError(_describe(exc)) from None
    except RecursionError:  # a deeply nested value where a model takes any JSON
        raise ApiError("invalid request: nested too deeply") from None


@bp.errorhandler(ApiError)
def _api_error(exc):
    return jsonify(error=str(exc)), exc.status


@bp.errorhandler(StorageError)
def _storage_error(exc):
    return jsonify(error=str(exc)), exc.status


@bp.errorhandler(HTTPException)
def _http_error(exc):
    if isinstance(exc, RequestEntityTooLarge):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return jsonify(error=f"request body too large (limit {limit} bytes)"), 413
    return jsonify(error=exc.description or exc.name), exc.code


# ---- identity ---------------------------------------------------------------------------------
@bp.get("/me")
def me():
    return jsonify(owner=_owner())


# ---- notebooks --------------------------------------------------------------------------------
@bp.get("/notebooks")
def list_notebooks():
    return jsonify(notebooks=_repo().list_notebooks(_owner()))


@bp.post("/notebooks")
def create_notebook():
    body = _body(NotebookCreate)
    cells = [c.model_dump() for c in body.cells] if body.cells is not None else None
    nb = _repo().create_notebook(_owner(), body.title, cells)
    return jsonify(nb), 201


@bp.get("/notebooks/<notebook_id>")
def get_notebook(notebook_id):
    return jsonify(_repo().get_notebook(_owner(), notebook_id))


@bp.patch("/notebooks/<notebook_id>")
def patch_notebook(notebook_id):
    body = _body(NotebookPatch)
    if body.title is None and body.device is None:
        raise ApiError("nothing to change: give title and/or device")
    return jsonify(_repo().update_notebook(_owner(), notebook_id, title=body.title, device=body.device))


@bp.delete("/notebooks/<notebook_id>")
def delete_notebook(notebook_id):
    owner = _owner()
    _repo().delete(owner, notebook_id)
    kernels = current_app.extensions.get("kernels")
    if kernels is not None and kernels.started:
        try:
            kernels.shutdown(notebook_id)
        except Exception:  # noqa: BLE001 - the notebook is gone either way
            current_app.logger.exception("shutting down the kernel of deleted notebook %s", notebook_id)
    return jsonify(deleted=notebook_id)


@bp.post("/notebooks/<notebook_id>/duplicate")
def duplicate_notebook(notebook_id):
    return jsonify(_repo().duplicate(_owner(), notebook_id)), 201


# ---- cells ------------------------------------------------------------------------------------
@bp.post("/notebooks/<notebook_id>/cells")
def add_cell(notebook_id):
    body = _body(CellCreate)
    return jsonify(_repo().add_cell(_owner(), notebook_id, body.kind, body.source, body.index)), 201


@bp.patch("/notebooks/<notebook_id>/cells/<cell_id>")
def patch_cell(notebook_id, cell_id):
    body = _body(CellPatch)
    if body.source is None and body.kind is None:
        raise ApiError("nothing to change: give source and/or kind")
    return jsonify(_repo().update_cell(_owner(), notebook_id, cell_id, source=body.source, kind=body.kind))


@bp.delete("/notebooks/<notebook_id>/cells/<cell_id>")
def delete_cell(notebook_id, cell_id):
    _repo().delete_cell(_owner(), notebook_id, cell_id)
    return jsonify(deleted=cell_id)


@bp.post("/notebooks/<notebook_id>/cells/<cell_id>/move")
def move_cell(notebook_id, cell_id):
    body = _body(CellMove)
    order = _repo().move_cell(_owner(), notebook_id, cell_id, body.index)
    return jsonify(order=order)


# ---- ipynb ------------------------------------------------------------------------------------
def _filename(title):
    safe = "".join(ch if ch.isalnum() or ch in " -_." else "_" for ch in title).strip(" .") or "notebook"
    return safe[:100] + ".ipynb"


@bp.get("/notebooks/<notebook_id>/export.ipynb")
def export_ipynb(notebook_id):
    owner = _owner()
    repo = _repo()
    text = repo.export_ipynb(owner, notebook_id)
    title = json.loads(text)["metadata"]["gradlab"]["title"]
    resp = current_app.response_class(text, mimetype="application/x-ipynb+json")
    resp.headers["Content-Disposition"] = f'attachment; filename="{_filename(title)}"'
    return resp


@bp.post("/notebooks/import")
def import_ipynb():
    if request.content_length is not None and request.content_length > current_app.config["MAX_CONTENT_LENGTH"]:
        raise RequestEntityTooLarge()
    filename = None
    if request.mimetype == "multipart/form-data":
        f = request.files.get("file")
        if f is None:
            raise ApiError("multipart upload must have a 'file' field")
        filename = f.filename
        data = f.read(current_app.config["MAX_CONTENT_LENGTH"] + 1)
    else:
        data = request.get_data(cache=False)
        filename = request.args.get("filename")
    if not data:
        raise ApiError("not a notebook: the upload is empty")
    return jsonify(_repo().import_ipynb(_owner(), data, filename=filename)), 201


# ---- starters ---------------------------------------------------------------------------------
@bp.get("/starters")
def list_starters():
    return jsonify(starters=starters.catalog())


@bp.post("/starters/<name>")
def create_from_starter(name):
    starter = starters.get(name)
    if starter is None:
        raise ApiError("starter not found", 404)
    nb = _repo().create_notebook(_owner(), starter["title"], starter["cells"])
    return jsonify(nb), 201

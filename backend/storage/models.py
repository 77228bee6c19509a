"""Tables.  Portable column types only (SQLite and PostgreSQL)."""
import datetime as _dt
import secrets
import uuid

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

CELL_KINDS = ("code", "markdown")
CELL_STATUSES = ("idle", "queued", "running", "done", "error")
NOTEBOOK_DEVICES = ("auto", "cpu", "cuda")


def utcnow():
    return _dt.datetime.now(_dt.timezone.utc)


def new_notebook_id():
    """Short, URL-safe, unguessable (64 random bits)."""
    return secrets.token_urlsafe(8)


def new_cell_id():
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    pass


class SchemaVersion(Base):
    __tablename__ = "schema_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)   # always 1: a single row
    version: Mapped[int] = mapped_column(Integer, nullable=False)


class Notebook(Base):
    __tablename__ = "notebooks"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_notebook_id)
    owner: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    created: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated: Mapped[_dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    device: Mapped[str] = mapped_column(String(8), nullable=False, default="auto")
    cells: Mapped[list["Cell"]] = relationship(back_populates="notebook", order_by="Cell.position",
                                               cascade="all, delete-orphan", passive_deletes=True)

    __table_args__ = (Index("ix_notebooks_owner_updated", "owner", "updated"),)


class Cell(Base):
    __tablename__ = "cells"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_cell_id)
    notebook_id: Mapped[str] = mapped_column(String(32), ForeignKey("notebooks.id", ondelete="CASCADE"),
                                             nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="code")
    source: Mapped[str] = mapped_column(Text, nullable=False, default="")
    outputs: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    execution_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="idle")
    notebook: Mapped[Notebook] = relationship(back_populates="cells")

    __table_args__ = (Index("ix_cells_notebook_position", "notebook_id", "position"),)

"""Notebook storage: SQLAlchemy models, schema migrations, the thread-safe ``Repo``, ipynb
conversion and the starter notebooks."""
from .repo import NotFound, Repo, StorageError, ValidationError  # noqa: F401

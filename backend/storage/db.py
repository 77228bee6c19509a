"""Database engine and schema migrations.

SQLite (the default) runs in WAL mode with ``synchronous=NORMAL``: a committed transaction is in
the WAL file before ``commit()`` returns, so killing the server (even ``kill -9``) loses nothing
that was committed; only a power cut can lose the last transactions.  PostgreSQL is used when
``DATABASE_URL`` says so.

Migrations: ``schema_version`` holds one row with the schema's version.  ``MIGRATIONS[i]`` is a
function ``(connection) -> None`` that upgrades version ``i + 1`` to ``i + 2`` (version 1 is the
first schema).  A fresh database gets the current tables from the models and is stamped with
``LATEST``; an older one runs the missing migrations, in order, in one transaction.  To change
the schema: change the models AND append a migration that brings an existing database there.
"""
import logging

from sqlalchemy import create_engine, event, inspect, select, text

from .models import Base, SchemaVersion

log = logging.getLogger(__name__)

MIGRATIONS = [
    # e.g. lambda conn: conn.execute(text("ALTER TABLE notebooks ADD COLUMN tags TEXT")),   # 1 -> 2
]


def latest_version(migrations=None):
    return 1 + len(MIGRATIONS if migrations is None else migrations)


def make_engine(url):
    """An Engine for ``url``; SQLite gets WAL, ``synchronous=NORMAL``, foreign keys and a busy
    timeout on every connection."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def migrate(engine, migrations=None):
    """Bring the schema to the latest version; returns ``(from_version, to_version)``."""
    migrations = MIGRATIONS if migrations is None else migrations
    latest = latest_version(migrations)
    with engine.begin() as conn:
        tables = set(inspect(conn).get_table_names())
        if "schema_version" not in tables:
            if "notebooks" in tables:
                raise RuntimeError("database has notebook tables but no schema_version: not a Gradlab database?")
            Base.metadata.create_all(conn)
            conn.execute(SchemaVersion.__table__.insert().values(id=1, version=latest))
            log.info("created database schema version %d", latest)
            return 0, latest
        current = conn.execute(select(SchemaVersion.version).where(SchemaVersion.id == 1)).scalar_one()
        if current > latest:
            raise RuntimeError(f"database schema version {current} is newer than this server ({latest}); "
                               "upgrade the server")
        for v in range(current, latest):
            log.info("migrating database schema %d -> %d", v, v + 1)
            migrations[v - 1](conn)
        if current != latest:
            conn.execute(SchemaVersion.__table__.update().where(SchemaVersion.id == 1).values(version=latest))
        return current, latest


def check(engine):
    """Raise if the database does not answer."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))

"""Engines for the store: SQLite tuned for many processes, PostgreSQL as is.

SQLite runs in WAL mode with a busy timeout so the receiver, Dagster and Streamlit can read and write
the same file at once; foreign keys are switched on because SQLite leaves them off by default.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

import orjson

from pipelines import settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _tune_sqlite(dbapi_connection, _record) -> None:
    # Hand transaction control to SQLAlchemy's "begin" hook below instead of pysqlite's own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def json_dumps(value) -> str:
    """orjson for JSON columns: several times faster than json.dumps on batch upserts."""
    return orjson.dumps(value, default=str).decode()


def make_engine(url: str | None = None, **kwargs) -> sa.Engine:
    """A new engine for `url` (default: the configured store). Callers own its lifetime."""
    url = url or settings.database_url()
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, **kwargs
        )
        sa.event.listen(engine, "connect", _tune_sqlite)
        # pysqlite's own transaction handling defers BEGIN; take the write lock up front instead so two
        # writers queue on busy_timeout rather than failing with "database is locked" on upgrade.
        sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


@lru_cache(maxsize=8)
def _shared_engine(url: str) -> sa.Engine:
    return make_engine(url)


def connect(url: str | None = None) -> sa.Engine:
    """The process-wide engine for `url`, created and migrated once."""
    from pipelines.store.migrate import upgrade

    url = url or settings.database_url()
    engine = _shared_engine(url)
    upgrade(engine)
    return engine


def is_sqlite(engine: sa.Engine) -> bool:
    return engine.dialect.name == "sqlite"

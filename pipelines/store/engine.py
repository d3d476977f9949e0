"""Engines for the store: SQLite tuned for many processes, PostgreSQL as is.

SQLite runs in WAL mode with a busy timeout so the receiver, Dagster and Streamlit can read and write
the same file at once; foreign keys are switched on because SQLite leaves them off by default.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from pipelines import settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _tune_sqlite(dbapi_connection, _record) -> None:
    # Hand transaction control to SQLAlchemy's "begin" hook below instead of pysqlite's own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # FULL: a commit is on disk before we acknowledge it, even across a power loss. Group commit in the
    # receiver and batch ingest keep this to one fsync per batch (about 0.3 ms here).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_sqlite(conn: sa.Connection) -> None:
    # Writers take the write lock up front (IMMEDIATE), so two that read then write queue on
    # busy_timeout instead of failing with "database is locked" when upgrading. Readers (see `reader`)
    # begin DEFERRED: in WAL mode they then take no lock at all.
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    if mode not in ("IMMEDIATE", "DEFERRED"):
        raise ValueError(f"sqlite_begin must be IMMEDIATE or DEFERRED, not {mode!r}")
    conn.exec_driver_sql(f"BEGIN {mode}")


class StoreEncodingError(RuntimeError):
    """The PostgreSQL database does not store text as UTF-8, so Crossdock cannot use it."""


def _connect_utf8_only(dialect, _record, cargs, cparams):
    """Open a PostgreSQL connection, refusing a database whose encoding is not UTF8. On SQL_ASCII the
    driver hands text back as bytes (the server never checked what it stored), and SQLAlchemy's first
    query fails with a TypeError deep inside it: an operator gets a clear message instead. Reading the
    encoding costs nothing: the server reports it when the connection opens."""
    connection = dialect.connect(*cargs, **cparams)
    encoding = connection.info.parameter_status("server_encoding")
    if encoding is not None and encoding.upper() not in ("UTF8", "UTF-8"):
        database = connection.info.dbname
        connection.close()
        raise StoreEncodingError(
            f"the PostgreSQL database {database!r} is encoded {encoding}; Crossdock needs UTF8: create it with "
            f"CREATE DATABASE {database} ENCODING 'UTF8' TEMPLATE template0 (or restore a dump into such a database)"
        )
    return connection


def reader(engine: sa.Engine) -> sa.Engine:
    """The same store for read-only work (pages, reports, lookups, health, sensors). On SQLite its
    transactions take no lock, so a long report never holds up webhook intake and never waits for it;
    elsewhere it is the engine itself. Anything that writes must use the engine, not its reader."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(sqlite_begin="DEFERRED")


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
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, **kwargs)
        sa.event.listen(engine, "connect", _tune_sqlite)
        sa.event.listen(engine, "begin", _begin_sqlite)
        return engine
    engine = sa.create_engine(url, pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        sa.event.listen(engine, "do_connect", _connect_utf8_only)
    return engine


@lru_cache(maxsize=8)
def _shared_engine(url: str) -> sa.Engine:
    return make_engine(url)


_checked: set[str] = set()  # URLs whose schema this process has checked


def connect(url: str | None = None) -> sa.Engine:
    """The process-wide engine for `url`, created and migrated once, its schema checked once."""
    from pipelines.store.migrate import check_schema, upgrade

    url = url or settings.database_url()
    engine = _shared_engine(url)
    upgrade(engine)
    if url not in _checked:
        check_schema(engine, engine.url.render_as_string(hide_password=True))
        _checked.add(url)
    return engine


def is_sqlite(engine: sa.Engine) -> bool:
    return engine.dialect.name == "sqlite"

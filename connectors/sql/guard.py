"""What keeps Crossdock's statements in the client's database within their job.

- The extraction query (each pull pass, and Test connection) runs in a read-only transaction, so a
  query that tries to change something fails instead: PostgreSQL `SET TRANSACTION READ ONLY`,
  MariaDB/MySQL `SET TRANSACTION READ ONLY`, SQLite `PRAGMA query_only` (SQLite has no read-only
  transaction; the pragma refuses every write on that connection until it is turned off again).
- A write-back statement runs in its own transaction under a statement timeout, so a lock or a slow
  UPDATE cannot hold a pull (and the client's table) indefinitely: PostgreSQL `SET LOCAL
  statement_timeout`, MariaDB `SET STATEMENT max_statement_time = s FOR <the UPDATE>`, SQLite a
  progress handler that interrupts the statement past its deadline. MySQL (not MariaDB) has no timeout
  for an UPDATE: there the UPDATE waits at most `innodb_lock_wait_timeout` for a lock.

The pull's engine keeps its connections for the pull's passes, so whatever is set on a connection
(SQLite's pragma and handler, MariaDB's session timeout) is undone before it goes back to the pool.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


def _is_mariadb(conn: sa.Connection) -> bool:
    return bool(getattr(conn.dialect, "is_mariadb", False))


@contextmanager
def read_only(conn: sa.Connection, timeout: float | None = None) -> Iterator[str | None]:
    """Make the transaction about to start on `conn` read-only (and bounded by `timeout` seconds when
    given); yields a note when the dialect cannot, for the probe to show. Call before any statement."""
    dialect = conn.dialect.name
    note = None
    undo: list[str] = []
    raw = conn.connection.driver_connection
    if dialect == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        if timeout is not None:
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {math.ceil(timeout * 1000)}")
    elif dialect in ("mysql", "mariadb"):
        if timeout is not None:
            if _is_mariadb(conn):
                conn.exec_driver_sql(f"SET SESSION max_statement_time = {timeout:g}")
                undo.append("SET SESSION max_statement_time = DEFAULT")
            else:
                conn.exec_driver_sql(f"SET SESSION max_execution_time = {math.ceil(timeout * 1000)}")
                undo.append("SET SESSION max_execution_time = DEFAULT")
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    elif dialect == "sqlite":
        raw.execute("PRAGMA query_only = ON")
        if timeout is not None:
            _interrupt_after(raw, timeout)
    else:
        note = f"{dialect} transactions are not made read-only here; the probe's transaction is rolled back"
    try:
        yield note
    finally:
        _undo(conn, dialect, raw, undo)


def _undo(conn: sa.Connection, dialect: str, raw, statements: list[str]) -> None:
    """Give the connection back as it was; one that cannot be reset is discarded, not pooled."""
    try:
        if conn.in_transaction():
            conn.rollback()
        if dialect == "sqlite":
            raw.set_progress_handler(None, 0)
            raw.execute("PRAGMA query_only = OFF")
        for statement in statements:
            conn.exec_driver_sql(statement)
            conn.rollback()
    except Exception:  # noqa: BLE001 - whatever failed, this connection must not be reused as it is
        conn.invalidate()


def _interrupt_after(raw, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)


@contextmanager
def write_back_transaction(source: sa.Engine, timeout: float) -> Iterator[tuple[sa.Connection, str]]:
    """A transaction of its own for one write-back statement, under a statement timeout; yields the
    connection and the prefix to put before the UPDATE (MariaDB's per-statement timeout)."""
    with source.begin() as conn:
        dialect = conn.dialect.name
        raw = conn.connection.driver_connection
        prefix = ""
        if dialect == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {math.ceil(timeout * 1000)}")
        elif dialect in ("mysql", "mariadb"):
            if _is_mariadb(conn):
                prefix = f"SET STATEMENT max_statement_time = {timeout:g} FOR "
            else:
                conn.exec_driver_sql(f"SET SESSION innodb_lock_wait_timeout = {max(1, math.ceil(timeout))}")
        elif dialect == "sqlite":
            _interrupt_after(raw, timeout)
        try:
            yield conn, prefix
        finally:
            if dialect == "sqlite":
                raw.set_progress_handler(None, 0)

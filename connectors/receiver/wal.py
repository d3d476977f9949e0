"""SQLite write-ahead-log checkpoints off the acknowledgement path.

By default SQLite checkpoints inside the commit that crosses 1,000 WAL pages: that commit copies the
WAL into the database and fsyncs it, and every request in its batch (and every batch queued behind it)
waits, which is the receiver's worst latency. The receiver's writer connections therefore skip
automatic checkpoints, and a background task runs a PASSIVE checkpoint every second on another
connection: it copies what it can without blocking readers or writers, and the WAL is rewound when a
checkpoint has caught up. Other processes (Dagster, the admin app) keep SQLite's default.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa

from pipelines.store.engine import make_engine

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0


def writer_engine(store: sa.Engine) -> sa.Engine:
    """The group committer's engine: the store's, or for SQLite a twin whose connections never
    checkpoint inside a commit."""
    if store.dialect.name != "sqlite":
        return store
    engine = make_engine(store.url.render_as_string(hide_password=False), pool_size=2)
    sa.event.listen(engine, "connect", lambda dbapi_connection, _record: dbapi_connection.execute("PRAGMA wal_autocheckpoint=0"))
    return engine


async def checkpoint_forever(reader: sa.Engine) -> None:
    """Run until cancelled: a PASSIVE checkpoint every `INTERVAL_SECONDS`, in a thread."""
    while True:
        await asyncio.sleep(INTERVAL_SECONDS)
        try:
            await asyncio.to_thread(_checkpoint, reader)
        except sa.exc.SQLAlchemyError as exc:  # busy or locked: the next round catches up
            log.debug("WAL checkpoint skipped: %s", exc)


def _checkpoint(reader: sa.Engine) -> None:
    with reader.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

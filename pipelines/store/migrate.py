"""Schema migrations with Alembic, run programmatically so no process needs an `alembic.ini` on disk.

Every entry point calls `upgrade()` through `connect()`; it is cheap when the schema is current and
serialised across processes (an advisory lock on PostgreSQL, the write lock on SQLite).
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).with_name("migrations")
_ADVISORY_LOCK_KEY = 0x0C055D0C


def alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine) -> None:
    """Bring the store to the newest schema; a no-op when it already is."""
    head = head_revision()
    if current_revision(engine) == head:
        return
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
            conn.commit()
            try:
                if current_revision(engine) != head:
                    command.upgrade(alembic_config(engine), "head")
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_LOCK_KEY})
                conn.commit()
        return
    command.upgrade(alembic_config(engine), "head")

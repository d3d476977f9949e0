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
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


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


class StoreOutdated(RuntimeError):
    """The store is at the newest revision yet lacks tables or columns the code uses: it was made by
    an earlier development build, before the first release, when the schema is regenerated in place."""


def missing_schema(engine: sa.Engine) -> list[str]:
    """Tables (`name`) and columns (`table.column`) of `schema.py` that the store does not have."""
    from pipelines.store.schema import metadata

    inspector = sa.inspect(engine)
    present_tables = set(inspector.get_table_names())
    missing: list[str] = []
    for table in metadata.sorted_tables:
        if table.name not in present_tables:
            missing.append(table.name)
            continue
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        missing += [f"{table.name}.{column.name}" for column in table.columns if column.name not in columns]
    return missing


def check_schema(engine: sa.Engine, shown_url: str) -> None:
    """Raise `StoreOutdated` with what to do when the store does not have the schema the code uses."""
    missing = missing_schema(engine)
    if missing:
        listed = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise StoreOutdated(
            f"the store {shown_url} was made by an earlier development build (it lacks {listed}); until the "
            "first release the schema is regenerated, not migrated: move that store aside or delete it "
            "(make clean removes .crossdock), then start again"
        )

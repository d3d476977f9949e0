"""Schema migrations with Alembic, run programmatically so no process needs an `alembic.ini` on disk.

Every entry point calls `upgrade()` through `connect()`; it is cheap when the schema is current and
serialised across processes (an advisory lock on PostgreSQL, the write lock on SQLite).

Cheap means Alembic is not even imported then: it loads Mako and Pygments, half a second that every
command, page and service start would pay. Whether the store is current is two facts read without
it: the head revision, from the migration files' `revision`/`down_revision` lines, and the store's
`alembic_version` row.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_ADVISORY_LOCK_KEY = 0x0C055D0C
_REVISION = re.compile(r"^revision\s*=\s*['\"](\w+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(?:None|['\"](\w+)['\"])", re.MULTILINE)


def alembic_config(engine: sa.Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision: the one no other migration names as its `down_revision`."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found = _REVISION.search(text)
        if found:
            revisions.add(found.group(1))
        parent = _DOWN_REVISION.search(text)
        if parent and parent.group(1):
            parents.add(parent.group(1))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"expected one head revision in {MIGRATIONS}, found {sorted(heads) or 'none'}")
    return heads.pop()


def current_revision(engine: sa.Engine) -> str | None:
    """The store's revision (its `alembic_version` row), or None for an empty store."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


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
                    _upgrade_to_head(engine)
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_LOCK_KEY})
                conn.commit()
        return
    _upgrade_to_head(engine)


def _upgrade_to_head(engine: sa.Engine) -> None:
    from alembic import command

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

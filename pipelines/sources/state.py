"""Per-integration source state (`source_state`): API cursors, DB watermarks, the file-drop ledger.

Values are JSON text. A pull writes its new cursor in the same transaction as the ingest of the
records that justify it, so after a crash the cursor never points past what landed.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from pipelines.clock import utcnow
from pipelines.store.schema import source_state


def get_state(bind: sa.Engine | sa.Connection, integration_id: int, key: str) -> Any:
    """The stored value (decoded JSON), or None."""
    query = sa.select(source_state.c.value).where(source_state.c.integration_id == integration_id, source_state.c.key == key)
    if isinstance(bind, sa.Connection):
        raw = bind.execute(query).scalar()
    else:
        with bind.connect() as conn:
            raw = conn.execute(query).scalar()
    return None if raw is None else orjson.loads(raw)


def set_state(conn: sa.Connection, integration_id: int, key: str, value: Any) -> None:
    """Insert or replace one value inside the caller's transaction (portable: update, else insert)."""
    encoded = orjson.dumps(value, default=str).decode()
    changed = conn.execute(
        source_state.update()
        .where(source_state.c.integration_id == integration_id, source_state.c.key == key)
        .values(value=encoded, updated_at=utcnow())
    ).rowcount
    if not changed:
        conn.execute(source_state.insert().values(integration_id=integration_id, key=key, value=encoded, updated_at=utcnow()))


def states_with_prefix(bind: sa.Engine, integration_id: int, prefix: str) -> dict[str, Any]:
    """Every {key: value} whose key starts with `prefix` (the file-drop ledger)."""
    with bind.connect() as conn:
        rows = conn.execute(
            sa.select(source_state.c.key, source_state.c.value).where(
                source_state.c.integration_id == integration_id, source_state.c.key.startswith(prefix)
            )
        )
        return {row.key: orjson.loads(row.value) for row in rows}

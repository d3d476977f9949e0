"""Inbox rows written exactly as the receiver writes them in async ack mode (a plain Core insert).

Stands in for the receiver's intake in the processing tests and the async latency benchmark.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from pipelines.clock import utcnow
from pipelines.inbox import DONE, PENDING
from pipelines.store.binds import inserted_id
from pipelines.store.schema import inbox


def insert_pending(
    bind: sa.Engine | sa.Connection,
    integration_id: int,
    body: bytes | Any,
    *,
    delivery_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> int:
    """A verified, acknowledged webhook waiting for the processor; `body` is raw bytes or a JSON value."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    values = {
        "integration_id": integration_id,
        "received_at": utcnow(),
        "source_kind": "webhook",
        "delivery_id": delivery_id,
        "headers": headers or {"content-type": "application/json"},
        "body": raw,
        "verified": True,
        "status": PENDING,
        "attempts": 0,
    }
    if isinstance(bind, sa.Connection):
        return inserted_id(bind.execute(inbox.insert().values(**values)))
    with bind.begin() as conn:
        return inserted_id(conn.execute(inbox.insert().values(**values)))


def receive_sync(engine: sa.Engine, integration, records: list[Any]) -> tuple[int, int]:
    """A webhook the receiver ingests itself (sync ack mode): row and ingest in one transaction, the
    row written `done` with its sync run. Returns (inbox id, sync run id)."""
    from pipelines.ingest import ingest

    with engine.begin() as conn:
        inbox_id = insert_pending(conn, integration.id, records)
        result = ingest(conn, integration, records, source_kind="webhook", inbox_id=inbox_id)
        conn.execute(
            inbox.update()
            .where(inbox.c.id == inbox_id)
            .values(status=DONE, sync_run_id=result.sync_run_id, attempts=1, processed_at=utcnow())
        )
    return inbox_id, result.sync_run_id

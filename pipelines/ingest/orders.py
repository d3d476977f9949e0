"""Batch upsert of orders, idempotent on (integration, external_id).

One SELECT finds what exists (and its content hash), then one multi-row INSERT ... RETURNING for
new orders and one executemany UPDATE for changed ones. Unchanged orders are not written at all.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipelines.ingest.hashing import content_hash, normalise
from pipelines.ingest.result import RecordResult
from pipelines.store.schema import orders
from pipelines.targets import FIELDS

ORDER_COLUMNS = FIELDS["order"]
_CHUNK = 5_000  # bound parameters per IN (...): under SQLite's 32,766 and PostgreSQL's 65,535


def existing(conn: sa.Connection, integration_id: int, external_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """{external_id: (internal id, content hash)} for those already stored."""
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(external_ids), _CHUNK):
        chunk = external_ids[start : start + _CHUNK]
        rows = conn.execute(
            sa.select(orders.c.external_id, orders.c.id, orders.c.content_hash).where(
                orders.c.integration_id == integration_id, orders.c.external_id.in_(chunk)
            )
        )
        found.update({r.external_id: (r.id, r.content_hash) for r in rows})
    return found


def upsert_orders(
    conn: sa.Connection,
    integration_id: int,
    batch: list[tuple[int, dict[str, Any], dict[str, Any] | None]],
    now: datetime,
) -> list[RecordResult]:
    """Upsert (index, clean order, source record) triples whose external ids are unique in the batch."""
    known = existing(conn, integration_id, [order["external_id"] for _, order, _ in batch])
    results: list[RecordResult] = []
    inserts: list[dict[str, Any]] = []
    insert_results: list[RecordResult] = []
    updates: list[dict[str, Any]] = []
    for index, order, source in batch:
        clean = normalise(order)
        digest = content_hash(clean)
        external_id = order["external_id"]
        row = {column: clean.get(column) for column in ORDER_COLUMNS}
        current = known.get(external_id)
        if current is None:
            inserts.append(
                {**row, "integration_id": integration_id, "status": "pending", "content_hash": digest,
                 "source_record": source, "created_at": now, "updated_at": now}
            )
            result = RecordResult(index=index, status="created", external_id=external_id)
            insert_results.append(result)
        elif current[1] != digest:
            values = {**row, "content_hash": digest, "source_record": source, "updated_at": now}
            updates.append({"b_id": current[0], **{f"v_{k}": v for k, v in values.items()}})
            result = RecordResult(index=index, status="updated", external_id=external_id, internal_id=current[0])
        else:
            result = RecordResult(index=index, status="unchanged", external_id=external_id, internal_id=current[0])
        results.append(result)
    if inserts:
        # Matched back by external id (unique in the batch), so the database may return rows in any
        # order: that lets SQLite batch many rows per statement instead of one.
        returned = dict(
            conn.execute(orders.insert().returning(orders.c.external_id, orders.c.id), inserts).tuples().all()
        )
        for result in insert_results:
            result.internal_id = returned[result.external_id]
    if updates:
        # Bind names must differ from column names in an executemany UPDATE.
        columns = {c: sa.bindparam(f"v_{c}") for c in (*ORDER_COLUMNS, "content_hash", "source_record", "updated_at")}
        conn.execute(orders.update().where(orders.c.id == sa.bindparam("b_id")).values(**columns), updates)
    return results

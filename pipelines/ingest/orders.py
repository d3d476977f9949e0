"""Batch upsert of orders, idempotent on (integration, external_id).

One SELECT finds what exists (and its content hash), then one executemany INSERT for new orders
and one executemany UPDATE for changed ones (`pipelines.store.bulk`); unchanged orders are not written
at all. New internal ids are read back in one query: ingest holds the integration's write lock, so
this integration's rows above the previous highest id are exactly the ones just inserted.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipelines.clock import as_utc
from pipelines.ingest.hashing import content_hash
from pipelines.ingest.result import RecordResult
from pipelines.store.bulk import executemany
from pipelines.store.schema import orders
from pipelines.targets import FIELDS

ORDER_COLUMNS = FIELDS["order"]
# Bind names must differ from column names in an executemany UPDATE.
_UPDATE_BINDS = {c: f"v_{c}" for c in (*ORDER_COLUMNS, "content_hash", "source_record", "updated_at")}
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
    """Upsert (index, clean order, source record) triples whose external ids are unique in the batch.

    Clean orders are as `prepare` returns them: validated, with no None values."""
    known = existing(conn, integration_id, [order["external_id"] for _, order, _ in batch])
    results: list[RecordResult] = []
    inserts: list[dict[str, Any]] = []
    insert_results: list[RecordResult] = []
    updates: list[dict[str, Any]] = []
    empty_row = dict.fromkeys(ORDER_COLUMNS)
    for index, order, source in batch:
        if "scheduled_time" in order:  # the one datetime of an order: stored and hashed in UTC
            order = {**order, "scheduled_time": as_utc(order["scheduled_time"])}
        digest = content_hash(order)
        external_id = order["external_id"]
        current = known.get(external_id)
        if current is None:
            row = empty_row.copy()
            row.update(order)
            row.update(integration_id=integration_id, status="pending", content_hash=digest, source_record=source,
                       created_at=now, updated_at=now)
            inserts.append(row)
            result = RecordResult(index=index, status="created", external_id=external_id)
            insert_results.append(result)
        elif current[1] != digest:
            row = empty_row.copy()
            row.update(order)
            row.update(content_hash=digest, source_record=source, updated_at=now)
            updates.append({"b_id": current[0], **{_UPDATE_BINDS[k]: v for k, v in row.items()}})
            result = RecordResult(index=index, status="updated", external_id=external_id, internal_id=current[0])
        else:
            result = RecordResult(index=index, status="unchanged", external_id=external_id, internal_id=current[0])
        results.append(result)
    if inserts:
        highest_before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(orders.c.id), 0))).scalar_one()
        executemany(conn, orders.insert().inline(), inserts)
        # Only the primary-key range: adding `integration_id = ?` makes SQLite walk the integration's
        # whole (integration_id, external_id) index for every batch, quadratic over a large pull.
        assigned = {
            external_id: internal_id
            for external_id, internal_id, owner in conn.execute(
                sa.select(orders.c.external_id, orders.c.id, orders.c.integration_id).where(orders.c.id > highest_before)
            ).tuples()
            if owner == integration_id
        }
        for result in insert_results:
            result.internal_id = assigned[result.external_id]
    if updates:
        columns = {column: sa.bindparam(bind) for column, bind in _UPDATE_BINDS.items()}
        executemany(conn, orders.update().where(orders.c.id == sa.bindparam("b_id")).values(**columns), updates)
    return results

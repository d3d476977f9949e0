"""Batch upsert of orders, idempotent on (integration, external_id).

New orders go in with one executemany INSERT that skips keys already stored (ON CONFLICT DO
NOTHING); changed ones get one executemany UPDATE (`pipelines.store.bulk`); unchanged orders are not
written at all. Which orders already exist is found with one SELECT, either before the insert (a
batch that looks like re-sends) or after it, for the few keys the insert skipped (a batch that looks
new, such as a large first pull): either way every order costs one index probe, not two.

New internal ids are read back in one query: ingest holds the integration's write lock, so this
integration's rows above the previous highest id are exactly the ones just inserted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pipelines.clock import as_utc, iso
from pipelines.ingest.hashing import content_hash
from pipelines.ingest.result import RecordResult
from pipelines.store.bulk import executemany
from pipelines.store.schema import orders
from pipelines.targets import FIELDS
from pipelines.vocabulary import OrderStatus, RecordVerdict

ORDER_COLUMNS = FIELDS["order"]
# Bind names must differ from column names in an executemany UPDATE.
_UPDATE_BINDS = {c: f"v_{c}" for c in (*ORDER_COLUMNS, "content_hash", "source_record", "updated_at")}
_CHUNK = 5_000  # bound parameters per IN (...): under SQLite's 32,766 and PostgreSQL's 65,535
_PROBE_FROM = 256  # smaller batches just look every key up first
_PROBE_SAMPLE = 16
_INSERT_IGNORING_CONFLICTS: dict[str, Callable[[sa.Table], Any]] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


class OrderToStore(NamedTuple):
    """A validated order (as `fingerprint` returns it), its source record, and its place in the batch."""

    position: int
    order: dict[str, Any]
    digest: str
    source: dict[str, Any] | None


def fingerprint(order: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The order as stored (its one datetime in UTC) and the hash of that content. Pure, so pull
    sources compute it ahead, off the thread that writes."""
    for moment in ("scheduled_time", "source_updated_at"):
        if order.get(moment) is not None:
            order = {**order, moment: as_utc(order[moment])}
    return order, content_hash(order)


class Stored(NamedTuple):
    internal_id: int
    content_hash: str
    version: datetime | None  # the client's `source_updated_at` of what is stored


def existing(conn: sa.Connection, integration_id: int, external_ids: Sequence[str]) -> dict[str, Stored]:
    """{external_id: what is stored} for those already stored."""
    found: dict[str, Stored] = {}
    for start in range(0, len(external_ids), _CHUNK):
        chunk = external_ids[start : start + _CHUNK]
        rows = conn.execute(
            sa.select(orders.c.external_id, orders.c.id, orders.c.content_hash, orders.c.source_updated_at).where(
                orders.c.integration_id == integration_id, orders.c.external_id.in_(chunk)
            )
        )
        found.update({r.external_id: Stored(r.id, r.content_hash, as_utc(r.source_updated_at)) for r in rows})
    return found


def older(version: datetime | None, stored: datetime | None) -> bool:
    """True when an incoming `version` is older than the `stored` one (either unknown: not older)."""
    return version is not None and stored is not None and as_utc(version) < stored


def stale_reason(version: datetime, stored: datetime) -> list[dict[str, str]]:
    return [
        {
            "field": "source_updated_at",
            "message": f"stale: this version ({iso(as_utc(version))}) is older than the stored one ({iso(stored)}); not applied",
        }
    ]


_EMPTY_ROW = dict.fromkeys(ORDER_COLUMNS)


def _stored_row(order: dict[str, Any], **values: Any) -> dict[str, Any]:
    """Every order column (those the order leaves out as None, so a resend clears them) plus `values`."""
    row = _EMPTY_ROW.copy()
    row.update(order)
    row.update(values)
    return row


def _looks_new(conn: sa.Connection, integration_id: int, external_ids: Sequence[str]) -> bool:
    """True when a sample of the batch's keys is not stored yet: insert first, look up afterwards
    only what the insert skipped. Only a guess about speed; both orders of work give the same result."""
    if len(external_ids) < _PROBE_FROM or conn.dialect.name not in _INSERT_IGNORING_CONFLICTS:
        return False
    step = len(external_ids) // _PROBE_SAMPLE
    return not existing(conn, integration_id, external_ids[::step])


def upsert_orders(conn: sa.Connection, integration_id: int, batch: Sequence[OrderToStore], now: datetime) -> list[RecordResult]:
    """Upsert orders whose external ids are unique in the batch; one result per order, in batch order."""
    external_ids = [item.order["external_id"] for item in batch]
    known = {} if _looks_new(conn, integration_id, external_ids) else existing(conn, integration_id, external_ids)
    candidates = [item for item in batch if item.order["external_id"] not in known]
    assigned = _insert(conn, integration_id, candidates, now)
    skipped = [item.order["external_id"] for item in candidates if item.order["external_id"] not in assigned]
    if skipped:  # stored already: only an insert-first batch gets here
        known.update(existing(conn, integration_id, skipped))

    results: list[RecordResult] = []
    updates: list[dict[str, Any]] = []
    for index, order, digest, source in batch:
        external_id = order["external_id"]
        internal_id = assigned.get(external_id)
        if internal_id is not None:
            results.append(RecordResult(index=index, status=RecordVerdict.CREATED, external_id=external_id, internal_id=internal_id))
            continue
        internal_id, stored_digest, stored_version = known[external_id]
        if stored_version is not None and older(order.get("source_updated_at"), stored_version):
            results.append(
                RecordResult(
                    index=index,
                    status=RecordVerdict.STALE,
                    external_id=external_id,
                    internal_id=internal_id,
                    reasons=stale_reason(order["source_updated_at"], stored_version),
                )
            )
            continue
        if stored_digest == digest:
            results.append(RecordResult(index=index, status=RecordVerdict.UNCHANGED, external_id=external_id, internal_id=internal_id))
            continue
        row = _stored_row(order, content_hash=digest, source_record=source, updated_at=now)
        updates.append({"b_id": internal_id, **{_UPDATE_BINDS[k]: v for k, v in row.items()}})
        results.append(RecordResult(index=index, status=RecordVerdict.UPDATED, external_id=external_id, internal_id=internal_id))
    if updates:
        columns: dict[str, Any] = {column: sa.bindparam(bind) for column, bind in _UPDATE_BINDS.items()}
        executemany(conn, orders.update().where(orders.c.id == sa.bindparam("b_id")).values(**columns), updates)
    return results


def _insert(conn: sa.Connection, integration_id: int, items: Sequence[OrderToStore], now: datetime) -> dict[str, int]:
    """Insert `items` as new pending orders, skipping keys already stored where the store can;
    {external_id: internal id} of the rows this call inserted."""
    if not items:
        return {}
    rows = [
        _stored_row(
            order,
            integration_id=integration_id,
            status=OrderStatus.PENDING,
            content_hash=digest,
            source_record=source,
            created_at=now,
            updated_at=now,
        )
        for _, order, digest, source in items
    ]
    insert = _INSERT_IGNORING_CONFLICTS.get(conn.dialect.name)
    statement = (
        insert(orders).on_conflict_do_nothing(index_elements=[orders.c.integration_id, orders.c.external_id]) if insert else orders.insert()
    )
    highest_before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(orders.c.id), 0))).scalar_one()
    executemany(conn, statement.inline(), rows)
    # Only the primary-key range: adding `integration_id = ?` makes SQLite walk the integration's
    # whole (integration_id, external_id) index for every batch, quadratic over a large pull.
    return {
        external_id: internal_id
        for external_id, internal_id, owner in conn.execute(
            sa.select(orders.c.external_id, orders.c.id, orders.c.integration_id).where(orders.c.id > highest_before)
        ).tuples()
        if owner == integration_id
    }

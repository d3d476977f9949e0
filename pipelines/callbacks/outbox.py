"""The callback outbox: rows written with the status change, claimed by delivery passes, and settled.

Ordering per order: a row is due only when no earlier row of the same order is still `pending`, so
events reach a client in the order they happened. When an earlier row is dead-lettered (its retries
are spent) the next one goes ahead: the later event carries the order's newer state, and holding it
back behind a dead endpoint until a person acts would only make the client's view staler. The dead
row stays in the outbox for replay, which re-sends that older event on purpose.

Claims are leases: a pass moves `next_attempt_at` of what it claimed past the time it may take to
send it. A pass that dies mid-batch (Crossdock stopped) leaves its rows pending; they become due
again when the lease runs out, so nothing queued is lost. What a dead pass sent but had not yet
recorded is sent again with the same `webhook-id`, which Standard Webhooks receivers deduplicate.
Settling uses guarded updates (`status = 'pending'`), so a late or repeated result never revives a
row that was already settled elsewhere.

`next_attempt_at` of an order's later rows follows its head (held back while the head is claimed or
waiting for a retry, released when it settles). Ordering never depends on that: the due query checks
for an earlier pending row whatever the times say. It keeps the later rows out of the due range, so a
claim does not re-scan thousands of blocked rows.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipelines.callbacks.payload import payload_time
from pipelines.callbacks.schedule import Verdict, decide, succeeded
from pipelines.callbacks.targets import CallbackTarget
from pipelines.clock import as_utc
from pipelines.integrations.callback_settings import CallbackSettings
from pipelines.store.binds import Bind, connection, inserted_id
from pipelines.store.joins import integration_of, live
from pipelines.store.schema import callback_attempts, callback_outbox, integrations
from pipelines.vocabulary import AttemptVerdict, OutboxStatus


@dataclass(frozen=True)
class DueCallback:
    """A claimed outbox row, everything a sender needs besides its integration's target."""

    id: int
    integration_id: int
    order_id: int
    event: str
    webhook_id: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class AttemptResult:
    """One try at sending a callback, as the sender saw it (no secrets, a short response excerpt)."""

    callback: DueCallback
    attempted_at: datetime
    status_code: int | None
    latency_ms: float | None
    error: str | None = None
    response_excerpt: str | None = None
    retry_after: float | None = None  # seconds, from a 429/503 Retry-After


@dataclass(frozen=True)
class Settled:
    """An attempt and what became of its row."""

    result: AttemptResult
    verdict: Verdict


def new_webhook_id() -> str:
    """The Standard Webhooks message id: fixed when the row is written, identical on every retry."""
    return f"msg_{uuid.uuid4().hex}"


def enqueue(
    conn: sa.Connection,
    *,
    integration_id: int,
    order_id: int,
    event: str,
    payload: dict[str, Any],
    now: datetime,
    disabled_reason: str | None = None,
) -> tuple[int, str]:
    """Write one callback in the caller's transaction; (outbox id, webhook id). With callbacks
    disabled for the integration the row is kept as `disabled` (re-queued when they are resumed)."""
    webhook_id = new_webhook_id()
    outbox_id = inserted_id(
        conn.execute(
            callback_outbox.insert(),
            {
                "integration_id": integration_id,
                "order_id": order_id,
                "event": event,
                "payload": payload,
                "webhook_id": webhook_id,
                "status": OutboxStatus.DISABLED if disabled_reason else OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": disabled_reason,
                "created_at": now,
                "replay_count": 0,
            },
        )
    )
    return outbox_id, webhook_id


def due_query(now: datetime, limit: int, integration_ids: Sequence[int] | None = None) -> sa.Select:
    """Pending rows whose time has come, each the earliest pending row of its order, oldest first."""
    row = callback_outbox
    earlier = callback_outbox.alias("earlier")
    earlier_pending = (
        sa.select(earlier.c.id)
        .where(earlier.c.order_id == row.c.order_id, earlier.c.status == OutboxStatus.PENDING, earlier.c.id < row.c.id)
        .exists()
    )
    query = (
        sa.select(row)
        .join(*integration_of(row))
        .where(
            row.c.status == OutboxStatus.PENDING,
            row.c.next_attempt_at <= now,
            integrations.c.callbacks_disabled_reason.is_(None),
            live(),  # an archived integration's callbacks wait for a restore
            ~earlier_pending,
        )
        .order_by(row.c.next_attempt_at, row.c.id)
        .limit(limit)
    )
    if integration_ids is not None:
        query = query.where(row.c.integration_id.in_(list(integration_ids)))
    return query


def due_now(bind: Bind, now: datetime, *, cap: int = 10_000) -> tuple[int, datetime | None]:
    """(how many callbacks are due now, at most `cap`; when the next not-yet-due one is) — the
    sensor's cheap question before it launches a delivery run."""
    now = as_utc(now)
    with connection(bind) as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(due_query(now, cap).subquery())).scalar_one()
        upcoming = conn.execute(
            sa.select(sa.func.min(callback_outbox.c.next_attempt_at)).where(
                callback_outbox.c.status == OutboxStatus.PENDING, callback_outbox.c.next_attempt_at > now
            )
        ).scalar_one()
    return count, as_utc(upcoming)


def claim_due(
    engine: sa.Engine,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    integration_ids: Sequence[int] | None = None,
) -> list[DueCallback]:
    """Claim up to `limit` due callbacks for `lease`. Two passes never claim the same row: SQLite
    serialises writers (BEGIN IMMEDIATE); PostgreSQL locks the rows and skips ones another holds."""
    now = as_utc(now)
    query = due_query(now, limit, integration_ids)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(of=callback_outbox, skip_locked=True)
        rows = conn.execute(query).mappings().all()
        if not rows:
            return []
        # Lease the claimed rows, and hold their orders' later rows back to the same time: those
        # cannot go before their head anyway, and out of the due range they are not re-scanned by
        # every claim (with thousands of orders queued, that scan was most of a claim's cost).
        # (No range condition in WHERE: it would steer SQLite to the status/time index and a scan.)
        until = now + lease
        later = callback_outbox.c.next_attempt_at
        conn.execute(
            callback_outbox.update()
            .where(callback_outbox.c.status == OutboxStatus.PENDING, callback_outbox.c.order_id.in_({r["order_id"] for r in rows}))
            .values(next_attempt_at=sa.case((later < until, until), else_=later))
        )
    return [
        DueCallback(
            id=r["id"],
            integration_id=r["integration_id"],
            order_id=r["order_id"],
            event=r["event"],
            webhook_id=r["webhook_id"],
            payload=r["payload"],
            attempts=r["attempts"],
        )
        for r in rows
    ]


def gone_reason(name: str, when: datetime) -> str:
    return (
        f"410 Gone from the callback endpoint at {payload_time(when)}; fix its callback_url, then run `crossdock callbacks resume {name}`"
    )


def settle(
    engine: sa.Engine,
    results: Sequence[AttemptResult],
    *,
    targets: Mapping[int, CallbackTarget],
    now: datetime,
    rng: random.Random,
) -> list[Settled]:
    """Record a batch of attempts and move each row on (delivered / retry / dead / disabled), in one
    transaction: a handful of statements whatever the batch size."""
    if not results:
        return []
    now = as_utc(now)
    settled = [
        Settled(
            result,
            decide(
                status_code=result.status_code,
                error=result.error,
                retry_after=result.retry_after,
                attempts_made=result.callback.attempts + 1,
                settings=_settings(targets, result.callback.integration_id),
                now=now,
                rng=rng,
            ),
        )
        for result in results
    ]
    by_kind: dict[AttemptVerdict, list[dict[str, Any]]] = {kind: [] for kind in AttemptVerdict}
    for item in settled:
        result = item.result
        by_kind[item.verdict.kind].append(
            {
                "b_id": result.callback.id,
                "b_order": result.callback.order_id,
                "v_attempts": result.callback.attempts + 1,
                "v_code": result.status_code,
                "v_error": None if item.verdict.kind == AttemptVerdict.DELIVERED else failure_text(result),
                "v_at": item.verdict.next_attempt_at or result.attempted_at,
            }
        )
    row = callback_outbox
    common: dict[str, Any] = {
        "attempts": sa.bindparam("v_attempts"),
        "last_status_code": sa.bindparam("v_code"),
        "last_error": sa.bindparam("v_error"),
    }
    with engine.begin() as conn:
        conn.execute(
            callback_attempts.insert(),
            [
                {
                    "outbox_id": r.callback.id,
                    "attempted_at": r.attempted_at,
                    "status_code": r.status_code,
                    "latency_ms": r.latency_ms,
                    "error": r.error,
                    "response_excerpt": r.response_excerpt,
                    "succeeded": succeeded(r.status_code, r.error),
                }
                for r in results
            ],
        )
        if by_kind[AttemptVerdict.DELIVERED]:
            # A 2xx is the truth even if the row was meanwhile disabled by another row's 410.
            conn.execute(
                row.update()
                .where(row.c.id == sa.bindparam("b_id"), row.c.status != OutboxStatus.DELIVERED)
                .values(status=OutboxStatus.DELIVERED, delivered_at=sa.bindparam("v_at"), **common),
                by_kind[AttemptVerdict.DELIVERED],
            )
        pending = (row.c.id == sa.bindparam("b_id"), row.c.status == OutboxStatus.PENDING)
        if by_kind[AttemptVerdict.RETRY]:
            conn.execute(row.update().where(*pending).values(next_attempt_at=sa.bindparam("v_at"), **common), by_kind[AttemptVerdict.RETRY])
            # The order's later rows wait for this one's retry (see claim_due).
            retry_at: sa.BindParameter[Any] = sa.bindparam("v_at")
            conn.execute(
                row.update()
                .where(row.c.order_id == sa.bindparam("b_order"), row.c.status == OutboxStatus.PENDING, row.c.id > sa.bindparam("b_id"))
                .values(next_attempt_at=sa.case((row.c.next_attempt_at < retry_at, retry_at), else_=row.c.next_attempt_at)),
                [{"b_order": o["b_order"], "b_id": o["b_id"], "v_at": o["v_at"]} for o in by_kind[AttemptVerdict.RETRY]],
            )
        if by_kind[AttemptVerdict.DEAD]:
            conn.execute(row.update().where(*pending).values(status=OutboxStatus.DEAD, **common), by_kind[AttemptVerdict.DEAD])
        settled_orders = {o["b_order"] for kind in (AttemptVerdict.DELIVERED, AttemptVerdict.DEAD) for o in by_kind[kind]}
        if settled_orders:
            # The next row of each of these orders is its new head: due now.
            for chunk in _chunks(sorted(settled_orders)):
                conn.execute(
                    row.update()
                    .where(row.c.status == OutboxStatus.PENDING, row.c.order_id.in_(chunk))
                    .values(next_attempt_at=sa.case((row.c.next_attempt_at > now, now), else_=row.c.next_attempt_at))
                )
        if by_kind[AttemptVerdict.DISABLED]:
            conn.execute(row.update().where(*pending).values(status=OutboxStatus.DISABLED, **common), by_kind[AttemptVerdict.DISABLED])
            gone = {item.result.callback.integration_id for item in settled if item.verdict.kind == AttemptVerdict.DISABLED}
            for integration_id in sorted(gone):
                target = targets.get(integration_id)
                disable_integration(conn, integration_id, gone_reason(target.name if target else str(integration_id), now))
    return settled


def disable_integration(conn: sa.Connection, integration_id: int, reason: str) -> None:
    """Stop an integration's callbacks: the reason on the integration, its queued rows `disabled`."""
    conn.execute(
        integrations.update()
        .where(integrations.c.id == integration_id, integrations.c.callbacks_disabled_reason.is_(None))
        .values(callbacks_disabled_reason=reason)
    )
    conn.execute(
        callback_outbox.update()
        .where(callback_outbox.c.integration_id == integration_id, callback_outbox.c.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.DISABLED, last_error=reason)
    )


def failure_text(result: AttemptResult) -> str:
    """`last_error` of a failed try: the transport error, or the status with the start of the answer."""
    if result.error:
        return result.error
    excerpt = " ".join((result.response_excerpt or "").split())[:120]
    return f"HTTP {result.status_code}" + (f": {excerpt}" if excerpt else "")


def _settings(targets: Mapping[int, CallbackTarget], integration_id: int) -> CallbackSettings:
    target = targets.get(integration_id)
    return target.settings if target else CallbackSettings()


def _chunks(values: list[int], size: int = 5_000) -> list[list[int]]:
    """Bound parameters per IN (...) under SQLite's and PostgreSQL's limits."""
    return [values[start : start + size] for start in range(0, len(values), size)]

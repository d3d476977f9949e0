"""Reading the outbox for people: lists by integration and status, an order's callbacks with every
attempt, and a per-integration health summary (the Dagster check, the CLI and the admin app use it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipelines.clock import as_utc, with_utc_times
from pipelines.errors import OrderNotFound
from pipelines.integrations import get_integration
from pipelines.paging import Page, page_of
from pipelines.store.binds import Bind, connection
from pipelines.store.joins import integration_of, live
from pipelines.store.schema import callback_attempts, callback_outbox, integrations, orders
from pipelines.vocabulary import OutboxStatus

CALLBACK_STATUSES: tuple[OutboxStatus, ...] = tuple(OutboxStatus)
_CHUNK = 5_000


@dataclass(frozen=True)
class CallbackAttempt:
    """One try at delivering a callback: what came back, and the verdict decided when it was made."""

    id: int
    outbox_id: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: float | None
    error: str | None
    response_excerpt: str | None
    succeeded: bool


@dataclass(frozen=True)
class CallbackEntry:
    """A status change queued for a client's endpoint, as lists, an order's page and the API show it;
    `attempt_log` is filled where every attempt is asked for (an order's callbacks)."""

    id: int
    integration: str
    internal_id: int
    external_id: str
    event: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    webhook_id: str
    created_at: datetime
    delivered_at: datetime | None
    replay_count: int
    replayed_at: datetime | None
    replayed_by: str | None
    payload: dict[str, Any]
    attempt_log: tuple[CallbackAttempt, ...] = ()


def _entry(row: Any) -> CallbackEntry:
    return CallbackEntry(**with_utc_times(row))


def _listing() -> sa.Select:
    row = callback_outbox
    return (
        sa.select(
            row.c.id,
            integrations.c.name.label("integration"),
            row.c.order_id.label("internal_id"),
            orders.c.external_id,
            row.c.event,
            row.c.status,
            row.c.attempts,
            row.c.next_attempt_at,
            row.c.last_status_code,
            row.c.last_error,
            row.c.webhook_id,
            row.c.created_at,
            row.c.delivered_at,
            row.c.replay_count,
            row.c.replayed_at,
            row.c.replayed_by,
            row.c.payload,
        )
        .join(*integration_of(row))
        .join(orders, orders.c.id == row.c.order_id)
    )


def list_callbacks(
    bind: Bind,
    *,
    integration: str | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[CallbackEntry]:
    """Newest callbacks first (the first page of `page_callbacks`)."""
    return page_callbacks(bind, integration=integration, status=status, limit=limit).items


def page_callbacks(
    bind: Bind,
    *,
    integration: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 200,
) -> Page[CallbackEntry]:
    """Callbacks, newest first, a page at a time, optionally of one integration (by name) and/or in one
    status. Raises IntegrationNotFound for an unknown name, ValueError for an unknown status."""
    if status is not None and status not in CALLBACK_STATUSES:
        raise ValueError(f"unknown callback status {status!r}; use one of {', '.join(CALLBACK_STATUSES)}")
    query = _listing()
    with connection(bind) as conn:
        if integration is not None:
            query = query.where(callback_outbox.c.integration_id == get_integration(conn, integration).id)
        if status is not None:
            query = query.where(callback_outbox.c.status == status)
        return page_of(conn, query, callback_outbox.c.id, cursor=cursor, limit=limit, convert=_entry)


def get_callback(bind: Bind, outbox_id: int) -> CallbackEntry | None:
    with connection(bind) as conn:
        row = conn.execute(_listing().where(callback_outbox.c.id == outbox_id)).mappings().first()
    return None if row is None else _entry(row)


def attempts_for(bind: Bind, outbox_ids: Iterable[int]) -> dict[int, list[CallbackAttempt]]:
    """{outbox id: its attempts, oldest first}."""
    found: dict[int, list[CallbackAttempt]] = defaultdict(list)
    ids = list(outbox_ids)
    with connection(bind) as conn:
        for start in range(0, len(ids), _CHUNK):
            rows = conn.execute(
                sa.select(callback_attempts)
                .where(callback_attempts.c.outbox_id.in_(ids[start : start + _CHUNK]))
                .order_by(callback_attempts.c.id)
            ).mappings()
            for row in rows:
                found[row["outbox_id"]].append(CallbackAttempt(**with_utc_times(row)))
    return dict(found)


def order_callbacks(bind: Bind, internal_id: int) -> list[CallbackEntry]:
    """The order's callbacks in the order they were queued, each with its `attempt_log`."""
    with connection(bind) as conn:
        if conn.execute(sa.select(orders.c.id).where(orders.c.id == internal_id)).first() is None:
            raise OrderNotFound(f"no order with internal id {internal_id}")
        rows = [
            _entry(r)
            for r in conn.execute(_listing().where(callback_outbox.c.order_id == internal_id).order_by(callback_outbox.c.id)).mappings()
        ]
        log = attempts_for(conn, [r.id for r in rows])
    return [replace(r, attempt_log=tuple(log.get(r.id, []))) for r in rows]


@dataclass(frozen=True)
class CallbackHealth:
    """One integration's callbacks at a glance: counts by status, why they are stopped (a 410), and the
    latest attempt. `failing` = that attempt did not get a 2xx in time."""

    integration: str
    callback_url: str | None
    disabled_reason: str | None
    counts: dict[str, int]
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    failing: bool

    @property
    def last_result(self) -> str | None:
        """The latest attempt's answer as people read it: `HTTP 503`, or the error when nothing came back."""
        return f"HTTP {self.last_status_code}" if self.last_status_code else self.last_error


def callback_summary(bind: Bind) -> list[CallbackHealth]:
    """Per integration with callbacks configured or queued: counts by status, why callbacks are
    stopped (410), and the latest attempt. `failing` = that attempt did not get a 2xx in time."""
    row = callback_outbox
    with connection(bind) as conn:
        counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CALLBACK_STATUSES, 0))
        for integration_id, status, count in conn.execute(
            sa.select(row.c.integration_id, row.c.status, sa.func.count()).group_by(row.c.integration_id, row.c.status)
        ):
            counts[integration_id][status] = count
        latest_ids = (
            sa.select(sa.func.max(callback_attempts.c.id).label("id"))
            .join(row, row.c.id == callback_attempts.c.outbox_id)
            .group_by(row.c.integration_id)
            .subquery()
        )
        latest = {
            r["integration_id"]: r
            for r in conn.execute(
                sa.select(
                    row.c.integration_id,
                    callback_attempts.c.attempted_at,
                    callback_attempts.c.status_code,
                    callback_attempts.c.error,
                    callback_attempts.c.succeeded,
                )
                .join(row, row.c.id == callback_attempts.c.outbox_id)
                .where(callback_attempts.c.id.in_(sa.select(latest_ids.c.id)))
            ).mappings()
        }
        configured = (
            conn.execute(
                sa.select(integrations.c.id, integrations.c.name, integrations.c.config, integrations.c.callbacks_disabled_reason)
                .where(live())
                .order_by(integrations.c.name)
            )
            .mappings()
            .all()
        )
    summary = []
    for integration in configured:
        url = (integration["config"] or {}).get("callback_url")
        if not url and integration["id"] not in counts:
            continue
        last = latest.get(integration["id"])
        last_ok = None if last is None else bool(last["succeeded"])
        summary.append(
            CallbackHealth(
                integration=integration["name"],
                callback_url=url,
                disabled_reason=integration["callbacks_disabled_reason"],
                counts=dict(counts[integration["id"]]),
                last_attempt_at=as_utc(last["attempted_at"]) if last else None,
                last_status_code=last["status_code"] if last else None,
                last_error=last["error"] if last else None,
                failing=last_ok is False,
            )
        )
    return summary

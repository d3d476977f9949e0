"""Putting callbacks back in the queue by hand: one callback, an integration's dead letters, or every
callback stopped by a 410 once the client has a working endpoint again.

A re-queued row keeps its `webhook-id` and body (a receiver that already processed it deduplicates
it), restarts its retry schedule (`attempts` = 0; the attempt log keeps every earlier try), and
records who re-queued it. Per-order ordering applies among re-queued rows, but a replayed old event
may reach the client after newer ones that were delivered meanwhile: the payload's `timestamp` says
when it happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipelines.access import audit
from pipelines.access.audit import AuditAction
from pipelines.clock import as_utc, iso, utcnow
from pipelines.integrations import get_integration, get_integration_by_id
from pipelines.store.binds import Bind, transaction
from pipelines.store.schema import callback_outbox, integrations
from pipelines.vocabulary import OutboxStatus


class CallbackNotFound(LookupError):
    pass


class ReplayRejected(ValueError):
    """The callback cannot be re-queued now; the message says why and what to do."""


def _requeue_values(actor: str, now: datetime) -> dict[str, Any]:
    return {
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "replay_count": callback_outbox.c.replay_count + 1,
        "replayed_at": now,
        "replayed_by": actor,
    }


def _refuse_if_stopped(name: str, reason: str | None) -> None:
    if reason:
        raise ReplayRejected(f"callbacks to {name} are stopped ({reason}); resume them first")


@dataclass(frozen=True)
class Requeued:
    """A callback put back in the queue: the same webhook-id (so the client can deduplicate), sent next."""

    id: int
    webhook_id: str
    status: OutboxStatus
    next_attempt_at: datetime


def replay_callback(bind: Bind, outbox_id: int, *, actor: str, now: datetime | None = None) -> Requeued:
    """Re-queue one dead or disabled callback."""
    now = as_utc(now) or utcnow()
    with transaction(bind) as conn:
        row = conn.execute(sa.select(callback_outbox).where(callback_outbox.c.id == outbox_id).with_for_update()).mappings().first()
        if row is None:
            raise CallbackNotFound(f"no callback with id {outbox_id}")
        if row["status"] == OutboxStatus.PENDING:
            raise ReplayRejected(f"callback {outbox_id} is already queued (next attempt at {iso(row['next_attempt_at'])})")
        if row["status"] == OutboxStatus.DELIVERED:
            raise ReplayRejected(
                f"callback {outbox_id} was delivered at {iso(row['delivered_at'])}; only dead or disabled callbacks are replayed"
            )
        integration = get_integration_by_id(conn, row["integration_id"])
        _refuse_if_stopped(integration.name, integration.callbacks_disabled_reason)
        conn.execute(callback_outbox.update().where(callback_outbox.c.id == outbox_id).values(**_requeue_values(actor, now)))
        audit.record(conn, actor, AuditAction.REPLAYED, f"callback:{outbox_id}", {"integration": integration.name})
    return Requeued(outbox_id, row["webhook_id"], OutboxStatus.PENDING, now)


def replay_dead_callbacks(bind: Bind, integration_name: str, since: datetime | None, *, actor: str, now: datetime | None = None) -> int:
    """Re-queue the integration's dead letters queued at or after `since` (all when None); how many."""
    now = as_utc(now) or utcnow()
    with transaction(bind) as conn:
        integration = get_integration(conn, integration_name)
        _refuse_if_stopped(integration.name, integration.callbacks_disabled_reason)
        query = callback_outbox.update().where(
            callback_outbox.c.integration_id == integration.id, callback_outbox.c.status == OutboxStatus.DEAD
        )
        if since is not None:
            query = query.where(callback_outbox.c.created_at >= as_utc(since))
        count = conn.execute(query.values(**_requeue_values(actor, now))).rowcount
        audit.record(
            conn,
            actor,
            AuditAction.REPLAYED,
            f"integration:{integration.name}",
            {"callbacks": "dead", "since": iso(as_utc(since)) if since else None, "count": count},
        )
        return count


def resume_callbacks(bind: Bind, integration_name: str, *, actor: str, now: datetime | None = None) -> int:
    """Lift a 410 stop: clear the integration's reason and re-queue its disabled callbacks; how many."""
    now = as_utc(now) or utcnow()
    with transaction(bind) as conn:
        integration = get_integration(conn, integration_name)
        conn.execute(integrations.update().where(integrations.c.id == integration.id).values(callbacks_disabled_reason=None))
        count = conn.execute(
            callback_outbox.update()
            .where(callback_outbox.c.integration_id == integration.id, callback_outbox.c.status == OutboxStatus.DISABLED)
            .values(**_requeue_values(actor, now))
        ).rowcount
        audit.record(
            conn, actor, AuditAction.REPLAYED, f"integration:{integration.name}", {"callbacks": "resumed after a stop", "count": count}
        )
        return count

"""What a client may see of its own integration: the read-only status page behind its link token.

Recent deliveries (inbox rows: when, the answer given, records counted; rejected requests with their
reason), the sync runs that processed them (or polled the client's API or database), records rejected
with their reasons, staging attempts, and the callbacks sent to its endpoint with each attempt. Every
query is filtered by the one integration's id: the token opens that integration and nothing else.
Bodies and headers are not shown (they may carry other people's data or a provider's signature); what
was decided about them is.
"""

from __future__ import annotations

import hmac
import secrets as _random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipelines.clock import as_utc
from pipelines.integrations.model import Integration, StoredIntegration
from pipelines.integrations.repository import update_integration
from pipelines.store.schema import callback_attempts, callback_outbox, inbox, record_errors, sync_runs, test_deliveries

LIMIT = 50


def token_opens(config: Integration, token: str) -> bool:
    """Whether `token` is this integration's status link token (constant-time; no token, no page)."""
    stored = config.onboarding.status_token
    if stored is None or not token:
        return False
    return hmac.compare_digest(stored.get_secret_value().encode(), token.encode())


def new_status_token(engine: sa.Engine, name: str) -> tuple[StoredIntegration, str]:
    """Give the integration a fresh link token (the previous link stops working); returns it once."""
    token = _random.token_urlsafe(24)
    stored = update_integration(engine, name, {"onboarding": {"status_token": token}})
    return stored, token


def revoke_status_token(engine: sa.Engine, name: str) -> StoredIntegration:
    return update_integration(engine, name, {"onboarding": {"status_token": None}})


@dataclass(frozen=True)
class DeliveryLine:
    """One request the client sent: what we answered and what became of it."""

    id: int
    received_at: str | None
    delivery_id: str | None
    status: str
    answer: int | None
    verified: bool | None
    result: str


@dataclass(frozen=True)
class SyncLine:
    """One processing run of the integration's records, with its counts."""

    started_at: str | None
    source: str
    status: str
    received: int
    created: int
    updated: int
    unchanged: int
    errors: int
    reasons: str


@dataclass(frozen=True)
class RejectedLine:
    """One record that did not become an order or a sale, and why."""

    at: str | None
    delivery: int | None
    index: int | None
    external_id: str | None
    reasons: str


@dataclass(frozen=True)
class TestDeliveryLine:
    """One delivery to the staging URL: checked and answered, nothing stored."""

    id: int
    received_at: str | None
    answer: int | None
    verified: bool | None
    result: str


@dataclass(frozen=True)
class CallbackLine:
    """One attempt (or a callback not yet attempted) to deliver a status change to the client."""

    webhook_id: str | None
    event: str
    external_id: str | None
    callback_status: str
    attempted_at: str | None
    answer: int | None
    outcome: str
    latency_ms: float | None


@dataclass
class ClientStatus:
    """The client's status page: its recent activity, newest first, in five tables."""

    name: str
    stage: str
    deliveries: list[DeliveryLine] = field(default_factory=list)
    syncs: list[SyncLine] = field(default_factory=list)
    rejected_records: list[RejectedLine] = field(default_factory=list)
    test_deliveries: list[TestDeliveryLine] = field(default_factory=list)
    callbacks: list[CallbackLine] = field(default_factory=list)


def _when(value: datetime | None) -> str | None:
    value = as_utc(value)
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _answer_summary(response: dict[str, Any] | None) -> str:
    body = (response or {}).get("body") or {}
    if "total_received" in body:
        return (
            f"{body.get('total_received', 0)} received, {body.get('created', 0)} created, "
            f"{body.get('updated', 0)} updated, {body.get('errors', 0)} errors"
        )
    if body.get("ingested") is False:
        return str(body.get("reason") or "acknowledged, not ingested")
    return "accepted, processed after" if (response or {}).get("status_code") == 202 else ""


def client_status(bind: sa.Engine, stored: StoredIntegration, limit: int = LIMIT) -> ClientStatus:
    """The integration's recent activity as its client sees it (newest first)."""
    out = ClientStatus(name=stored.name, stage=stored.config.onboarding.stage)
    with bind.connect() as conn:
        for delivered in conn.execute(
            sa.select(
                inbox.c.id, inbox.c.received_at, inbox.c.status, inbox.c.verified, inbox.c.error, inbox.c.response, inbox.c.delivery_id
            )
            .where(inbox.c.integration_id == stored.id)
            .order_by(inbox.c.id.desc())
            .limit(limit)
        ):
            response = delivered.response or {}
            refused = delivered.error if delivered.error and delivered.error[:3].isdigit() else None
            code = response.get("status_code") or (int(refused[:3]) if refused else None)
            out.deliveries.append(
                DeliveryLine(
                    id=delivered.id,
                    received_at=_when(delivered.received_at),
                    delivery_id=delivered.delivery_id,
                    status=delivered.status,
                    answer=code,
                    verified=delivered.verified,
                    result=delivered.error if delivered.status == "rejected" else (_answer_summary(response) or delivered.error or ""),
                )
            )
        for run in conn.execute(
            sa.select(
                sync_runs.c.started_at,
                sync_runs.c.source_kind,
                sync_runs.c.status,
                sync_runs.c.total_received,
                sync_runs.c.created,
                sync_runs.c.updated,
                sync_runs.c.unchanged,
                sync_runs.c.errors,
                sync_runs.c.message,
            )
            .where(sync_runs.c.integration_id == stored.id)
            .order_by(sync_runs.c.id.desc())
            .limit(limit)
        ):
            out.syncs.append(
                SyncLine(
                    started_at=_when(run.started_at),
                    source=run.source_kind,
                    status=run.status,
                    received=run.total_received,
                    created=run.created,
                    updated=run.updated,
                    unchanged=run.unchanged,
                    errors=run.errors,
                    reasons=run.message or "",
                )
            )
        for rejected in conn.execute(
            sa.select(
                record_errors.c.created_at,
                record_errors.c.inbox_id,
                record_errors.c.record_index,
                record_errors.c.external_id,
                record_errors.c.reasons,
            )
            .where(record_errors.c.integration_id == stored.id)
            .order_by(record_errors.c.id.desc())
            .limit(limit)
        ):
            out.rejected_records.append(
                RejectedLine(
                    at=_when(rejected.created_at),
                    delivery=rejected.inbox_id,
                    index=rejected.record_index,
                    external_id=rejected.external_id,
                    reasons="; ".join(f"{r.get('field')}: {r.get('message')}" for r in rejected.reasons or []),
                )
            )
        for tried in conn.execute(
            sa.select(
                test_deliveries.c.id,
                test_deliveries.c.received_at,
                test_deliveries.c.status_code,
                test_deliveries.c.verified,
                test_deliveries.c.response,
                test_deliveries.c.error,
            )
            .where(test_deliveries.c.integration_id == stored.id)
            .order_by(test_deliveries.c.id.desc())
            .limit(limit)
        ):
            response = tried.response or {}
            out.test_deliveries.append(
                TestDeliveryLine(
                    id=tried.id,
                    received_at=_when(tried.received_at),
                    answer=tried.status_code,
                    verified=tried.verified,
                    result=tried.error
                    or (
                        f"{response.get('valid', 0)} valid, {response.get('errors', 0)} errors"
                        if "valid" in response
                        else str(response.get("reason", ""))
                    ),
                )
            )
        attempts = (
            sa.select(
                callback_outbox.c.id,
                callback_outbox.c.event,
                callback_outbox.c.status,
                callback_outbox.c.webhook_id,
                callback_outbox.c.payload,
                callback_attempts.c.attempted_at,
                callback_attempts.c.status_code,
                callback_attempts.c.error,
                callback_attempts.c.succeeded,
                callback_attempts.c.latency_ms,
            )
            .join(callback_attempts, callback_attempts.c.outbox_id == callback_outbox.c.id, isouter=True)
            .where(callback_outbox.c.integration_id == stored.id)
            .order_by(callback_outbox.c.id.desc(), callback_attempts.c.id.desc())
            .limit(limit)
        )
        for called in conn.execute(attempts):
            out.callbacks.append(
                CallbackLine(
                    webhook_id=called.webhook_id,
                    event=called.event,
                    external_id=(called.payload or {}).get("order", {}).get("external_id"),
                    callback_status=called.status,
                    attempted_at=_when(called.attempted_at),
                    answer=called.status_code,
                    outcome="" if called.attempted_at is None else ("ok" if called.succeeded else (called.error or "failed")),
                    latency_ms=None if called.latency_ms is None else round(called.latency_ms, 1),
                )
            )
    return out

"""Dead letters a person must look at: inbox payloads that could not be processed, callbacks that could
not be delivered, and the individual records that were rejected. Read-only listings with filters;
replaying them is the inbox's and the callback outbox's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipelines.callbacks.queries import CallbackAttempt, attempts_for, get_callback
from pipelines.clock import as_utc
from pipelines.secrets import mask
from pipelines.store.joins import integration_of
from pipelines.store.schema import callback_outbox, inbox, integrations, orders, record_errors
from pipelines.vocabulary import UNDELIVERABLE, InboxStatus

LIST_LIMIT = 500
CALLBACK_DEAD_STATUSES = tuple(sorted(UNDELIVERABLE))
# Request headers that carry credentials or signatures: shown masked, like every other secret.
_SENSITIVE_HEADER_WORDS = ("authorization", "api-key", "apikey", "secret", "signature", "token", "cookie", "hmac")


@dataclass(frozen=True)
class Filters:
    """What every list can be narrowed by: integration, words in the reason, a UTC time range."""

    integration: str | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class DeadInboxRow:
    """An inbox payload whose processing failed as a whole, as the dead-letter list shows it."""

    id: int
    integration: str
    received_at: datetime
    source_kind: str
    attempts: int
    error: str | None
    delivery_id: str | None
    size_bytes: int
    replay_count: int
    replayed_by: str | None
    body_start: str  # the first 160 bytes as text (a cut multi-byte character is replaced)


@dataclass(frozen=True)
class DeadCallbackRow:
    """A callback given up on (dead after the last retry, or disabled by a 410)."""

    id: int
    integration: str
    external_id: str
    internal_id: int
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class RejectedRecordRow:
    """One record a sync rejected; `reason` joins its `reasons` as `field: message; ...`."""

    id: int
    integration: str
    created_at: datetime
    sync_run_id: int | None
    inbox_id: int | None  # None: the record came from a pull, not a pushed payload
    record_index: int | None
    external_id: str | None
    reasons: list[dict[str, Any]]
    record: Any
    reason: str


@dataclass(frozen=True)
class InboxLetter:
    """One dead inbox payload in full, as a person reads it before replaying: body as text, headers masked."""

    id: int
    integration: str
    status: str
    source_kind: str
    attempts: int
    error: str | None
    delivery_id: str | None
    received_at: datetime
    processed_at: datetime | None
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class CallbackLetter:
    """One undelivered callback in full: what would be sent and every attempt so far, oldest first."""

    id: int
    integration: str
    event: str
    status: str
    payload: dict[str, Any]
    attempt_log: tuple[CallbackAttempt, ...]


def _like(text: str) -> str:
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _apply(query: sa.Select, filters: Filters, time_column: sa.Column, reason_column: sa.ColumnElement) -> sa.Select:
    if filters.integration:
        query = query.where(integrations.c.name == filters.integration)
    if filters.text and filters.text.strip():
        query = query.where(sa.func.lower(sa.func.coalesce(reason_column, "")).like(_like(filters.text), escape="\\"))
    if filters.since:
        query = query.where(time_column >= filters.since)
    if filters.until:
        query = query.where(time_column < filters.until)
    return query


def masked_headers(headers: dict[str, Any] | None) -> dict[str, Any]:
    """Headers as a person may see them: credentials and signatures masked."""
    out: dict[str, Any] = {}
    for name, value in (headers or {}).items():
        sensitive = any(word in name.lower() for word in _SENSITIVE_HEADER_WORDS)
        out[name] = mask(str(value)) if sensitive and value else value
    return out


def body_text(body: bytes) -> str:
    """A stored body for display: UTF-8 text, or a note about binary content."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return f"(binary body, {len(body):,} bytes, not UTF-8)"


def inbox_dead_letters(bind: sa.Engine, filters: Filters = Filters(), limit: int = LIST_LIMIT) -> list[DeadInboxRow]:
    """Inbox rows whose processing failed as a whole (status dead), newest first, with the reason."""
    query = (
        sa.select(
            inbox.c.id,
            integrations.c.name.label("integration"),
            inbox.c.received_at,
            inbox.c.source_kind,
            inbox.c.attempts,
            inbox.c.error,
            inbox.c.delivery_id,
            sa.func.length(inbox.c.body).label("size_bytes"),
            inbox.c.replay_count,
            inbox.c.replayed_by,
            sa.func.substr(inbox.c.body, 1, 160).label("body_start"),
        )
        .join(*integration_of(inbox))
        .where(inbox.c.status == InboxStatus.DEAD)
        .order_by(inbox.c.received_at.desc(), inbox.c.id.desc())
        .limit(limit)
    )
    query = _apply(query, filters, inbox.c.received_at, inbox.c.error)
    with bind.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        DeadInboxRow(
            **{
                **row,
                "received_at": as_utc(row["received_at"]),
                "size_bytes": row["size_bytes"] or 0,
                # A cut may split a multi-byte character: replace it rather than call the body binary.
                "body_start": bytes(row["body_start"] or b"").decode("utf-8", errors="replace"),
            }
        )
        for row in rows
    ]


def inbox_letter(bind: sa.Engine, inbox_id: int) -> InboxLetter | None:
    """One inbox row in full: body as text, headers masked."""
    with bind.connect() as conn:
        row = (
            conn.execute(
                sa.select(inbox, integrations.c.name.label("integration")).join(*integration_of(inbox)).where(inbox.c.id == inbox_id)
            )
            .mappings()
            .first()
        )
    if row is None:
        return None
    return InboxLetter(
        id=row["id"],
        integration=row["integration"],
        status=row["status"],
        source_kind=row["source_kind"],
        attempts=row["attempts"],
        error=row["error"],
        delivery_id=row["delivery_id"],
        received_at=as_utc(row["received_at"]),
        processed_at=as_utc(row["processed_at"]) if row["processed_at"] is not None else None,
        body=body_text(bytes(row["body"])),
        headers=masked_headers(row["headers"]),
    )


def callback_dead_letters(bind: sa.Engine, filters: Filters = Filters(), limit: int = LIST_LIMIT) -> list[DeadCallbackRow]:
    """Callbacks given up on (dead after the last retry, or disabled by a 410), newest first."""
    query = (
        sa.select(
            callback_outbox.c.id,
            integrations.c.name.label("integration"),
            orders.c.external_id,
            callback_outbox.c.order_id.label("internal_id"),
            callback_outbox.c.event,
            callback_outbox.c.status,
            callback_outbox.c.attempts,
            callback_outbox.c.last_status_code,
            callback_outbox.c.last_error,
            callback_outbox.c.created_at,
        )
        .join(*integration_of(callback_outbox))
        .join(orders, orders.c.id == callback_outbox.c.order_id)
        .where(callback_outbox.c.status.in_(CALLBACK_DEAD_STATUSES))
        .order_by(callback_outbox.c.created_at.desc(), callback_outbox.c.id.desc())
        .limit(limit)
    )
    query = _apply(query, filters, callback_outbox.c.created_at, callback_outbox.c.last_error)
    with bind.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [DeadCallbackRow(**{**row, "created_at": as_utc(row["created_at"])}) for row in rows]


def callback_letter(bind: sa.Engine, outbox_id: int) -> CallbackLetter | None:
    """One callback in full: its payload and every delivery attempt (the outbox's own queries)."""
    letter = get_callback(bind, outbox_id)
    if letter is None:
        return None
    attempts = attempts_for(bind, [outbox_id]).get(outbox_id, [])
    return CallbackLetter(
        id=letter.id,
        integration=letter.integration,
        event=letter.event,
        status=letter.status,
        payload=letter.payload,
        attempt_log=tuple(attempts),
    )


def rejected_records(bind: sa.Engine, filters: Filters = Filters(), limit: int = LIST_LIMIT) -> list[RejectedRecordRow]:
    """Individual records a sync rejected, with their reasons (the rest of their batch landed)."""
    reasons_text = sa.cast(record_errors.c.reasons, sa.Text)
    query = (
        sa.select(
            record_errors.c.id,
            integrations.c.name.label("integration"),
            record_errors.c.created_at,
            record_errors.c.sync_run_id,
            record_errors.c.inbox_id,
            record_errors.c.record_index,
            record_errors.c.external_id,
            record_errors.c.reasons,
            record_errors.c.record,
        )
        .join(*integration_of(record_errors))
        .order_by(record_errors.c.created_at.desc(), record_errors.c.id.desc())
        .limit(limit)
    )
    query = _apply(query, filters, record_errors.c.created_at, reasons_text)
    with bind.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        RejectedRecordRow(
            **{
                **row,
                "created_at": as_utc(row["created_at"]),
                "reasons": list(row["reasons"] or []),
                "reason": "; ".join(f"{r.get('field')}: {r.get('message')}" for r in row["reasons"] or []),
            }
        )
        for row in rows
    ]

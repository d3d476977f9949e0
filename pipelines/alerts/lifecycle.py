"""An alert's life, kept in the store so that every evaluator agrees and a restart changes nothing:

    (condition seen) → pending ──(held for_minutes)──→ open ──(condition gone)──→ resolved
                          └──(gone before that)──→ dropped, never notified

- opening queues one `fired` notification per channel; while open, a `reminder` every
  `renotify_minutes` (and at once when a counted condition grows: new dead letters), unless a person
  acknowledged it or snoozed it; when it ends, a `resolved` notification to the channels told it fired;
- an alert whose rule was turned off, or whose integration was disabled or deleted, is closed without
  a notification (nothing was resolved);
- `open_key` is unique: one live alert per key, and the outbox's unique (alert, channel, message, seq)
  makes a notification a row that exists once, whichever process queues it and however often.

Every step is an `alert_events` row: the alert's history (fired, notified where, acknowledged by whom...).
What people do (acknowledge, snooze, unsnooze) is also an audit log entry, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipelines.access import audit
from pipelines.access.audit import AuditAction
from pipelines.alerts.conditions import Condition
from pipelines.alerts.rules import RULES, RuleBook
from pipelines.clock import as_utc, utcnow, with_utc_times
from pipelines.store.binds import Bind, connection, inserted_id, transaction
from pipelines.store.schema import alert_channels, alert_events, alert_notifications, alerts, integrations

PENDING, OPEN, RESOLVED = "pending", "open", "resolved"
FIRED, REMINDER, RESOLVED_MESSAGE = "fired", "reminder", "resolved"
EVALUATOR = "dagster:alerts"
# Kinds where a growing count is news of its own ("3 new dead letters"): notified at once.
NOTIFY_ON_GROWTH = frozenset({"dead_letters"})


class AlertNotFound(LookupError):
    pass


@dataclass
class Transitions:
    """What one reconciliation changed, for the sensor's log and the Dagster UI."""

    fired: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    queued: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.fired or self.reminded or self.resolved or self.closed)

    def summary(self) -> str:
        parts = [
            f"{len(ids)} {label}"
            for label, ids in (
                ("fired", self.fired),
                ("reminded", self.reminded),
                ("resolved", self.resolved),
                ("closed", self.closed),
                ("pending", self.pending),
            )
            if ids
        ]
        return ", ".join(parts) or "nothing changed"


def record_event(
    conn: sa.Connection,
    alert_id: int,
    event: str,
    now: datetime,
    actor: str = EVALUATOR,
    detail: str | None = None,
    channel_id: int | None = None,
) -> None:
    conn.execute(alert_events.insert().values(alert_id=alert_id, at=now, event=event, actor=actor, channel_id=channel_id, detail=detail))


def enabled_channels(conn: sa.Connection) -> dict[int, str]:
    return dict(
        conn.execute(sa.select(alert_channels.c.id, alert_channels.c.name).where(alert_channels.c.enabled.is_(True))).tuples().all()
    )


def _queue(conn: sa.Connection, alert_id: int, channel_ids: Iterable[int], message: str, seq: int, now: datetime) -> int:
    """Outbox rows for `message`; a row that already exists (same alert, channel, message, seq) stays as it is."""
    queued = 0
    for channel_id in channel_ids:
        exists = conn.execute(
            sa.select(alert_notifications.c.id).where(
                alert_notifications.c.alert_id == alert_id,
                alert_notifications.c.channel_id == channel_id,
                alert_notifications.c.message == message,
                alert_notifications.c.seq == seq,
            )
        ).first()
        if exists is None:
            conn.execute(
                alert_notifications.insert().values(
                    alert_id=alert_id,
                    channel_id=channel_id,
                    message=message,
                    seq=seq,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            queued += 1
    return queued


def _channels_for(book: RuleBook, kind: str, integration_id: int | None, enabled: dict[int, str]) -> list[int]:
    wanted = book.rule(kind, integration_id).channels
    return sorted(enabled if not wanted else [c for c in wanted if c in enabled])


def _renotify_at(book: RuleBook, kind: str, integration_id: int | None, now: datetime) -> datetime | None:
    minutes = book.rule(kind, integration_id).value("renotify_minutes")
    return now + timedelta(minutes=minutes) if minutes > 0 else None


def reconcile(
    bind: Bind,
    book: RuleBook,
    conditions: list[Condition],
    evaluated: set[str],
    active_integrations: set[int] | None,
    now: datetime | None = None,
) -> Transitions:
    """Bring the alerts in line with what is wrong now, queueing the notifications that follows.
    `active_integrations`: ids of the active integrations (None when unknown: nothing is closed for it)."""
    now = now or utcnow()
    done = Transitions()
    with transaction(bind) as conn:
        enabled = enabled_channels(conn)
        live = {row.open_key: row for row in conn.execute(sa.select(alerts).where(alerts.c.open_key.is_not(None)))}
        for condition in conditions:
            row = live.pop(condition.key, None)
            if row is None:
                alert_id = inserted_id(
                    conn.execute(
                        alerts.insert().values(
                            key=condition.key,
                            open_key=condition.key,
                            kind=condition.kind,
                            integration_id=condition.integration_id,
                            subject=condition.subject,
                            status=PENDING,
                            summary=condition.summary,
                            details=_details(condition),
                            started_at=now,
                            last_seen_at=now,
                            notify_count=0,
                        )
                    )
                )
                started = now
                status = PENDING
            else:
                alert_id, started, status = row.id, as_utc(row.started_at), row.status
                conn.execute(
                    alerts.update()
                    .where(alerts.c.id == alert_id)
                    .values(summary=condition.summary, details=_details(condition), last_seen_at=now)
                )
            hold = timedelta(minutes=book.rule(condition.kind, condition.integration_id).value("for_minutes"))
            if status == PENDING:
                if now - started >= hold:
                    _fire(conn, book, alert_id, condition, enabled, now, done)
                else:
                    done.pending.append(alert_id)
                continue
            assert row is not None
            grew = (
                condition.kind in NOTIFY_ON_GROWTH
                and condition.count is not None
                and condition.count > int((row.details or {}).get("count") or 0)
            )
            due = row.next_notify_at is not None and now >= as_utc(row.next_notify_at)
            quiet = row.acknowledged_at is not None or (row.snoozed_until is not None and as_utc(row.snoozed_until) > now)
            if (due or grew) and not quiet:
                seq = row.notify_count + 1
                done.queued += _queue(
                    conn, alert_id, _channels_for(book, condition.kind, condition.integration_id, enabled), REMINDER, seq, now
                )
                conn.execute(
                    alerts.update()
                    .where(alerts.c.id == alert_id)
                    .values(notify_count=seq, next_notify_at=_renotify_at(book, condition.kind, condition.integration_id, now))
                )
                record_event(conn, alert_id, "reminded", now, detail=("grew: " if grew else "") + condition.summary)
                done.reminded.append(alert_id)
        for row in live.values():
            if row.kind not in evaluated:
                continue  # its facts could not be read this time: neither resolved nor closed
            why_closed = _closed_because(book, row, active_integrations)
            if row.status == PENDING:
                conn.execute(alert_events.delete().where(alert_events.c.alert_id == row.id))
                conn.execute(alerts.delete().where(alerts.c.id == row.id))  # never fired: no history to keep
                continue
            values: dict[str, Any] = {"status": RESOLVED, "open_key": None, "resolved_at": now, "next_notify_at": None}
            conn.execute(alerts.update().where(alerts.c.id == row.id).values(**values))
            if why_closed:
                record_event(conn, row.id, "closed", now, detail=why_closed)
                done.closed.append(row.id)
                continue
            told = (
                conn.execute(
                    sa.select(alert_notifications.c.channel_id).where(
                        alert_notifications.c.alert_id == row.id, alert_notifications.c.message == FIRED
                    )
                )
                .scalars()
                .all()
            )
            done.queued += _queue(conn, row.id, [c for c in told if c in enabled], RESOLVED_MESSAGE, 0, now)
            record_event(conn, row.id, "resolved", now, detail=f"the condition ended: {row.summary}")
            done.resolved.append(row.id)
    return done


def _details(condition: Condition) -> dict[str, Any]:
    return {**condition.details, **({"count": condition.count} if condition.count is not None else {})}


def _fire(
    conn: sa.Connection, book: RuleBook, alert_id: int, condition: Condition, enabled: dict[int, str], now: datetime, done: Transitions
) -> None:
    channels = _channels_for(book, condition.kind, condition.integration_id, enabled)
    conn.execute(
        alerts.update()
        .where(alerts.c.id == alert_id)
        .values(status=OPEN, fired_at=now, next_notify_at=_renotify_at(book, condition.kind, condition.integration_id, now))
    )
    done.queued += _queue(conn, alert_id, channels, FIRED, 0, now)
    where = ", ".join(enabled[c] for c in channels) or "no channel is set up: visible in the app only"
    record_event(conn, alert_id, "fired", now, detail=f"{condition.summary} (to {where})")
    done.fired.append(alert_id)


def _closed_because(book: RuleBook, row: Any, active: set[int] | None) -> str | None:
    if RULES.get(row.kind) is None:
        return "its rule no longer exists"
    if RULES[row.kind].scope == "integration":
        if row.integration_id is None:
            return "its integration was deleted"
        if active is not None and row.integration_id not in active:
            return "its integration was disabled"
    if not book.rule(row.kind, row.integration_id).enabled:
        return "its rule was turned off"
    return None


# -- people -----------------------------------------------------------------------------------------


def _live(conn: sa.Connection, alert_id: int) -> Any:
    row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return row


def _subject(alert_id: int) -> str:
    return f"alert:{alert_id}"


def _what(row: Any, **extra: Any) -> dict[str, Any]:
    """The audit entry's details: which alert it was, so the entry reads on its own."""
    return {"rule": row.kind, "about": row.subject, **{k: v for k, v in extra.items() if v is not None}}


def acknowledge(bind: Bind, alert_id: int, actor: str, note: str | None = None, now: datetime | None = None) -> None:
    """A person is on it: no more reminders (the 'resolved' notification still goes out)."""
    now = now or utcnow()
    with transaction(bind) as conn:
        row = _live(conn, alert_id)
        if row.status == RESOLVED:
            raise ValueError(f"alert {alert_id} is already resolved")
        conn.execute(alerts.update().where(alerts.c.id == alert_id).values(acknowledged_at=now, acknowledged_by=actor))
        record_event(conn, alert_id, "acknowledged", now, actor, note)
        audit.record(conn, actor, AuditAction.ALERT_ACKNOWLEDGED, _subject(alert_id), _what(row, note=note))


def snooze(bind: Bind, alert_id: int, minutes: float, actor: str, now: datetime | None = None) -> datetime:
    """No reminders until then; returns when the snooze ends."""
    now = now or utcnow()
    until = now + timedelta(minutes=minutes)
    with transaction(bind) as conn:
        row = _live(conn, alert_id)
        if row.status == RESOLVED:
            raise ValueError(f"alert {alert_id} is already resolved")
        conn.execute(alerts.update().where(alerts.c.id == alert_id).values(snoozed_until=until, snoozed_by=actor))
        record_event(conn, alert_id, "snoozed", now, actor, f"until {until:%Y-%m-%d %H:%M} UTC")
        audit.record(conn, actor, AuditAction.ALERT_SNOOZED, _subject(alert_id), _what(row, until=until.isoformat()))
    return until


def unsnooze(bind: Bind, alert_id: int, actor: str, now: datetime | None = None) -> None:
    now = now or utcnow()
    with transaction(bind) as conn:
        row = _live(conn, alert_id)
        conn.execute(alerts.update().where(alerts.c.id == alert_id).values(snoozed_until=None, snoozed_by=None))
        record_event(conn, alert_id, "unsnoozed", now, actor)
        audit.record(conn, actor, AuditAction.ALERT_UNSNOOZED, _subject(alert_id), _what(row))


# -- reading ----------------------------------------------------------------------------------------


def _alert_query() -> sa.Select:
    return sa.select(alerts, integrations.c.name.label("integration")).outerjoin(integrations, integrations.c.id == alerts.c.integration_id)


def _clean(row: Any) -> dict[str, Any]:
    return with_utc_times(row._mapping)


@dataclass(frozen=True)
class AlertView:
    """An alert as people follow it: what fired about whom, its state, and (in the history) where it was notified."""

    id: int
    key: str
    open_key: str | None
    kind: str
    integration_id: int | None
    integration: str | None
    subject: str
    status: str
    summary: str
    details: dict[str, Any] | None
    started_at: datetime
    fired_at: datetime | None
    last_seen_at: datetime
    resolved_at: datetime | None
    next_notify_at: datetime | None
    notify_count: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    snoozed_until: datetime | None
    snoozed_by: str | None
    notified: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertEvent:
    """One step of an alert's life: fired, notified, acknowledged, snoozed, resolved..."""

    at: datetime
    event: str
    actor: str | None
    detail: str | None
    channel: str | None


def live_alerts(bind: Bind) -> list[AlertView]:
    """Open and pending alerts, newest first."""
    with connection(bind) as conn:
        return [
            AlertView(**_clean(r))
            for r in conn.execute(
                _alert_query().where(alerts.c.open_key.is_not(None)).order_by(alerts.c.started_at.desc(), alerts.c.id.desc())
            )
        ]


def live_by_key(bind: Bind) -> dict[str, AlertView]:
    return {alert.key: alert for alert in live_alerts(bind)}


def alert_history(bind: Bind, *, since: datetime | None = None, kind: str | None = None, limit: int = 500) -> list[AlertView]:
    """Alerts that fired (open or resolved), newest first, with where they were notified."""
    query = _alert_query().where(alerts.c.status != PENDING)
    if since is not None:
        query = query.where(alerts.c.started_at >= since)
    if kind is not None:
        query = query.where(alerts.c.kind == kind)
    with connection(bind) as conn:
        rows = [_clean(r) for r in conn.execute(query.order_by(alerts.c.started_at.desc(), alerts.c.id.desc()).limit(limit))]
        ids = [row["id"] for row in rows]
        sent: dict[int, set[str]] = {}
        if ids:
            for alert_id, name in conn.execute(
                sa.select(alert_notifications.c.alert_id, alert_channels.c.name)
                .join(alert_channels, alert_channels.c.id == alert_notifications.c.channel_id)
                .where(alert_notifications.c.alert_id.in_(ids), alert_notifications.c.status == "sent")
            ):
                sent.setdefault(alert_id, set()).add(name)
    return [AlertView(**row, notified=tuple(sorted(sent.get(row["id"], ())))) for row in rows]


def alert_events_for(bind: Bind, alert_id: int) -> list[AlertEvent]:
    """An alert's history, oldest first: what happened, who did it, which channel."""
    query = (
        sa.select(
            alert_events.c.at, alert_events.c.event, alert_events.c.actor, alert_events.c.detail, alert_channels.c.name.label("channel")
        )
        .outerjoin(alert_channels, alert_channels.c.id == alert_events.c.channel_id)
        .where(alert_events.c.alert_id == alert_id)
        .order_by(alert_events.c.id)
    )
    with connection(bind) as conn:
        return [AlertEvent(**_clean(r)) for r in conn.execute(query)]

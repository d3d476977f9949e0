"""The notification outbox: what to send (an alert's message to one channel), claimed with a lease so
two senders never send the same row, settled after the send, retried on a backoff when a channel
fails. A failure is the channel's own: every row is claimed and sent on its own, so one channel down
never holds up another.

Delivery is at least once: a sender (a sensor tick) that dies after claiming a row, before or after
sending it but before settling it, leaves the row claimed, and a later pass sends it again once the
lease ends (LEASE_SECONDS). A clean stop or restart between ticks never sends anything twice: a row is
sent only while pending, and settled sent the moment it went out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipelines import settings
from pipelines.alerts.lifecycle import FIRED, RESOLVED, RESOLVED_MESSAGE, record_event
from pipelines.alerts.rules import RULES
from pipelines.clock import as_utc, iso, utcnow
from pipelines.store.binds import Bind, connection, transaction
from pipelines.store.schema import alert_channels, alert_notifications, alerts

LEASE_SECONDS = 60
RETRY_SECONDS = (15, 30, 60, 120, 300)
MAX_ATTEMPTS = len(RETRY_SECONDS) + 1
LABELS = {"fired": "FIRING", "reminder": "STILL FIRING", "resolved": "RESOLVED", "test": "TEST"}


def app_url(alert_id: int | None = None) -> str:
    """The admin app's Alerts page (the address the app binds, loopback unless opened up)."""
    host = settings.host()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown}:{settings.streamlit_port()}/alerts"
    return f"{base}?alert={alert_id}" if alert_id is not None else base


@dataclass(frozen=True)
class AlertMessage:
    """One message about one alert (or a channel test), everything a channel needs to render it."""

    message: str  # fired | reminder | resolved | test
    alert_id: int | None
    kind: str
    subject: str
    summary: str
    started_at: datetime
    resolved_at: datetime | None = None
    acknowledged_by: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    notification_id: int | None = None

    @property
    def rule_title(self) -> str:
        spec = RULES.get(self.kind)
        return spec.title if spec else self.kind

    @property
    def title(self) -> str:
        return f"[{LABELS.get(self.message, self.message.upper())}] {self.subject}: {self.rule_title}"

    @property
    def url(self) -> str:
        return app_url(self.alert_id)

    @property
    def event(self) -> str:
        return f"alert.{self.message}"

    @property
    def delivery_id(self) -> str:
        """Stable across retries of the same notification (a receiver's deduplication key)."""
        return f"alert_{self.notification_id}" if self.notification_id is not None else f"alert_test_{int(self.started_at.timestamp())}"

    def lines(self) -> list[str]:
        lines = [self.summary, f"Since {self.started_at:%Y-%m-%d %H:%M:%S} UTC"]
        if self.resolved_at is not None:
            minutes = (self.resolved_at - self.started_at).total_seconds() / 60
            lines.append(f"Resolved {self.resolved_at:%Y-%m-%d %H:%M:%S} UTC, after {minutes:.0f} min")
        if self.acknowledged_by:
            lines.append(f"Acknowledged by {self.acknowledged_by}")
        lines.append(f"Open in Crossdock: {self.url}")
        return lines

    def text(self) -> str:
        return "\n".join([self.title, "", *self.lines()])

    def payload(self) -> dict[str, Any]:
        """The generic webhook's JSON body."""
        return {
            "event": self.event,
            "timestamp": iso(utcnow()),
            "alert": {
                "id": self.alert_id,
                "rule": self.kind,
                "rule_title": self.rule_title,
                "subject": self.subject,
                "state": "resolved" if self.message == RESOLVED_MESSAGE else ("test" if self.message == "test" else "firing"),
                "summary": self.summary,
                "started_at": iso(self.started_at),
                "resolved_at": iso(self.resolved_at),
                "acknowledged_by": self.acknowledged_by,
                "details": self.details,
                "url": self.url,
            },
        }


def channel_test_message(channel_name: str, now: datetime | None = None) -> AlertMessage:
    return AlertMessage(
        "test",
        None,
        "test",
        channel_name,
        "A test from Crossdock: this channel works. Alerts will arrive here like this one.",
        now or utcnow(),
    )


@dataclass(frozen=True)
class Claimed:
    id: int
    channel_id: int
    attempts: int
    message: AlertMessage


def claim_due(bind: Bind, now: datetime | None = None, limit: int = 100) -> list[Claimed]:
    """Take due pending notifications (leased for LEASE_SECONDS); fired and reminder messages of an
    alert that has resolved meanwhile are dropped (the resolved message says it all)."""
    now = now or utcnow()
    with transaction(bind) as conn:
        rows = conn.execute(
            sa.select(
                alert_notifications.c.id,
                alert_notifications.c.channel_id,
                alert_notifications.c.attempts,
                alert_notifications.c.next_attempt_at,
                alert_notifications.c.message,
                alerts.c.id.label("alert_id"),
                alerts.c.kind,
                alerts.c.subject,
                alerts.c.summary,
                alerts.c.status,
                alerts.c.started_at,
                alerts.c.resolved_at,
                alerts.c.acknowledged_by,
                alerts.c.details,
            )
            .join(alerts, alerts.c.id == alert_notifications.c.alert_id)
            .join(alert_channels, alert_channels.c.id == alert_notifications.c.channel_id)
            .where(
                alert_notifications.c.status == "pending", alert_notifications.c.next_attempt_at <= now, alert_channels.c.enabled.is_(True)
            )
            .order_by(alert_notifications.c.id)
            .limit(limit)
        ).all()
        claimed = []
        for row in rows:
            if row.message != RESOLVED_MESSAGE and row.status == RESOLVED:
                conn.execute(
                    alert_notifications.update()
                    .where(alert_notifications.c.id == row.id)
                    .values(status="skipped", last_error="the alert resolved before this was sent")
                )
                continue
            if row.message == RESOLVED_MESSAGE and not _fired_was_sent(conn, row.alert_id, row.channel_id):
                conn.execute(
                    alert_notifications.update()
                    .where(alert_notifications.c.id == row.id)
                    .values(status="skipped", last_error="this channel was never told the alert fired")
                )
                continue
            taken = conn.execute(
                alert_notifications.update()
                .where(
                    alert_notifications.c.id == row.id,
                    alert_notifications.c.status == "pending",
                    alert_notifications.c.next_attempt_at == row.next_attempt_at,
                )
                .values(next_attempt_at=now + timedelta(seconds=LEASE_SECONDS), attempts=row.attempts + 1)
            ).rowcount
            if not taken:
                continue  # another sender got it first
            message = AlertMessage(
                row.message,
                row.alert_id,
                row.kind,
                row.subject,
                row.summary,
                as_utc(row.started_at),
                as_utc(row.resolved_at),
                row.acknowledged_by,
                dict(row.details or {}),
                row.id,
            )
            claimed.append(Claimed(row.id, row.channel_id, row.attempts + 1, message))
    return claimed


def _fired_was_sent(conn: sa.Connection, alert_id: int, channel_id: int) -> bool:
    """A "resolved" message only follows a "fired" one the channel received: an alert that ended before
    its first message went out (or whose first message never got through) ends quietly."""
    return (
        conn.execute(
            sa.select(alert_notifications.c.id).where(
                alert_notifications.c.alert_id == alert_id,
                alert_notifications.c.channel_id == channel_id,
                alert_notifications.c.message == FIRED,
                alert_notifications.c.status == "sent",
            )
        ).first()
        is not None
    )


def settle(bind: Bind, claimed: Claimed, error: str | None, where: str, now: datetime | None = None) -> None:
    """Record one send: sent (with where it went), or failed and retried later, or given up on."""
    now = now or utcnow()
    alert_id = claimed.message.alert_id
    assert alert_id is not None
    with transaction(bind) as conn:
        row = alert_notifications.c
        # A failure settles only a claim that is still this sender's: one whose lease ran out and that
        # another sender claimed again (attempts moved on) keeps that sender's lease.
        still_mine = (row.id == claimed.id, row.status == "pending", row.attempts == claimed.attempts)
        if error is None:
            conn.execute(alert_notifications.update().where(row.id == claimed.id).values(status="sent", sent_at=now, last_error=None))
            record_event(conn, alert_id, "notified", now, detail=f"{claimed.message.message}: {where}", channel_id=claimed.channel_id)
        elif not conn.execute(sa.select(row.id).where(*still_mine)).first():
            return
        elif claimed.attempts >= MAX_ATTEMPTS:
            conn.execute(alert_notifications.update().where(*still_mine).values(status="failed", last_error=error[:500]))
            record_event(
                conn,
                alert_id,
                "notify_failed",
                now,
                channel_id=claimed.channel_id,
                detail=f"{claimed.message.message}: gave up after {claimed.attempts} attempts: {error}",
            )
        else:
            wait = RETRY_SECONDS[min(claimed.attempts, len(RETRY_SECONDS)) - 1]
            conn.execute(
                alert_notifications.update()
                .where(*still_mine)
                .values(next_attempt_at=now + timedelta(seconds=wait), last_error=error[:500])
            )
            if claimed.attempts == 1:
                record_event(
                    conn,
                    alert_id,
                    "notify_failed",
                    now,
                    channel_id=claimed.channel_id,
                    detail=f"{claimed.message.message}: {error} (retrying)",
                )


def pending_count(bind: Bind) -> int:
    with connection(bind) as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(alert_notifications).where(alert_notifications.c.status == "pending")
            ).scalar_one()
        )


@dataclass(frozen=True)
class NotificationLine:
    """One message of an alert to one channel: its delivery status and attempts."""

    id: int
    channel: str
    message: str
    seq: int
    status: str
    attempts: int
    sent_at: datetime | None
    last_error: str | None


def notifications_for(bind: Bind, alert_id: int) -> list[NotificationLine]:
    """An alert's notifications: channel, message, status, attempts, when sent, last error."""
    query = (
        sa.select(
            alert_notifications.c.id,
            alert_channels.c.name.label("channel"),
            alert_notifications.c.message,
            alert_notifications.c.seq,
            alert_notifications.c.status,
            alert_notifications.c.attempts,
            alert_notifications.c.sent_at,
            alert_notifications.c.last_error,
        )
        .join(alert_channels, alert_channels.c.id == alert_notifications.c.channel_id)
        .where(alert_notifications.c.alert_id == alert_id)
        .order_by(alert_notifications.c.id)
    )
    with connection(bind) as conn:
        return [NotificationLine(**{**dict(r._mapping), "sent_at": as_utc(r.sent_at)}) for r in conn.execute(query)]

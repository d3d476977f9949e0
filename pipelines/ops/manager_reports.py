"""Managers' sync reports: who gets which (a recipient list per schedule, daily or weekly, through an
email channel), what period a run covers, the numbers (the Reports page's `period_report`, with each
integration's top rejection reasons and availability), and which periods were already sent.

A run names its period explicitly ("daily:2025-01-14"), so re-running a missed or failed one sends
exactly that period, and `report_deliveries` makes sending a period to a schedule happen once
(unless a person asks to resend it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parseaddr
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa

from pipelines.clock import as_utc, utcnow
from pipelines.ops.reports import COUNT_COLUMNS, error_reasons, period_report
from pipelines.store.binds import Bind, connection, inserted_id, transaction
from pipelines.store.schema import alert_channels, report_deliveries, report_schedules

Cadence = Literal["daily", "weekly"]
CADENCES: tuple[str, ...] = ("daily", "weekly")
TOP_REASONS = 3


class ReportError(ValueError):
    """A schedule or period that cannot be used; the message says why."""


@dataclass(frozen=True)
class Period:
    cadence: str
    start: datetime
    end: datetime  # exclusive

    @property
    def key(self) -> str:
        return f"{self.cadence}:{self.start:%Y-%m-%d}"

    @property
    def label(self) -> str:
        last = self.end - timedelta(days=1)
        if self.cadence == "daily":
            return f"{self.start:%Y-%m-%d}"
        return f"{self.start:%Y-%m-%d} to {last:%Y-%m-%d}"


def period_for(cadence: str, day: date | None = None, now: datetime | None = None) -> Period:
    """The period containing `day` (a day of a daily report; any day of a weekly one, Monday to Sunday),
    or, without `day`, the last whole one before `now`: yesterday, or last week."""
    if cadence not in CADENCES:
        raise ReportError(f"cadence must be daily or weekly, got {cadence!r}")
    if day is None:
        today = (now or utcnow()).date()
        day = today - timedelta(days=1 if cadence == "daily" else 7)
    first = day if cadence == "daily" else day - timedelta(days=day.weekday())
    start = datetime.combine(first, time.min, tzinfo=UTC)
    return Period(cadence, start, start + timedelta(days=1 if cadence == "daily" else 7))


@dataclass(frozen=True)
class ReportLine:
    """One integration's numbers for the period (or the TOTAL line): what the email, the PDF and the
    Reports page show."""

    integration: str
    received: int
    created: int
    updated: int
    unchanged: int
    errors: int
    error_rate_pct: float
    runs: int
    failed_runs: int
    callback_attempts: int
    callbacks_delivered: int
    callbacks_dead: int
    callback_p95_ms: float | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> ReportLine:
        p95 = row["callback_p95_ms"]
        return cls(
            integration=str(row["integration"]),
            **{name: int(row[name]) for name in COUNT_COLUMNS},
            error_rate_pct=float(row["error_rate_pct"]),
            callback_p95_ms=None if p95 is None or pd.isna(p95) else float(p95),
        )

    @property
    def availability(self) -> float | None:
        """Share of syncs that did not fail, in percent; none without syncs."""
        return None if self.runs == 0 else round(100.0 * (self.runs - self.failed_runs) / self.runs, 2)

    @property
    def callback_success(self) -> float | None:
        """Share of callback attempts that delivered, in percent; none without attempts."""
        return None if self.callback_attempts == 0 else round(100.0 * self.callbacks_delivered / self.callback_attempts, 2)


@dataclass
class ManagerReport:
    """The numbers of one report: the Reports page's table (TOTAL row last), top reasons per
    integration, and availability (share of syncs that did not fail)."""

    period: Period
    table: pd.DataFrame
    reasons: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    @property
    def rows(self) -> list[ReportLine]:
        return [ReportLine.of(row) for row in self.table.to_dict("records") if row["integration"] != "TOTAL"]

    @property
    def total(self) -> ReportLine:
        return ReportLine.of(self.table.iloc[-1].to_dict())

    def csv_frame(self) -> pd.DataFrame:
        frame = self.table.copy()
        lines = [ReportLine.of(row) for row in frame.to_dict("records")]
        frame["availability_pct"] = [line.availability for line in lines]
        frame["callback_success_pct"] = [line.callback_success for line in lines]
        frame["top_reasons"] = ["; ".join(f"{reason} ({n})" for reason, n in self.reasons.get(name, [])) for name in frame["integration"]]
        return frame


def build_report(engine: sa.Engine, period: Period) -> ManagerReport:
    table = period_report(engine, period.start, period.end)
    reasons: dict[str, list[tuple[str, int]]] = {}
    rejecting = [str(r["integration"]) for r in table.to_dict("records") if r["integration"] != "TOTAL" and r["errors"]]
    for name in rejecting:
        ranked = error_reasons(engine, period.start, period.end, [name], limit=TOP_REASONS)
        reasons[name] = [(str(row["reason"]), int(row["records"])) for row in ranked.to_dict("records")]
    return ManagerReport(period, table, reasons)


# -- schedules --------------------------------------------------------------------------------------


def _recipients(values: list[str]) -> list[str]:
    cleaned = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        _, address = parseaddr(value)
        if "@" not in address or " " in address:
            raise ReportError(f"recipients: {value!r} is not an email address")
        cleaned.append(value)
    if not cleaned:
        raise ReportError("recipients: at least one address")
    return cleaned


def save_schedule(
    bind: Bind,
    name: str,
    cadence: str,
    recipients: list[str],
    channel_id: int,
    *,
    actor: str,
    enabled: bool = True,
    schedule_id: int | None = None,
) -> int:
    name = name.strip()
    if not name or len(name) > 64:
        raise ReportError("name: 1 to 64 characters")
    if cadence not in CADENCES:
        raise ReportError("cadence: daily or weekly")
    values = {
        "name": name,
        "cadence": cadence,
        "recipients": _recipients(recipients),
        "channel_id": channel_id,
        "enabled": enabled,
        "updated_at": utcnow(),
        "updated_by": actor,
    }
    with transaction(bind) as conn:
        kind = conn.execute(sa.select(alert_channels.c.kind).where(alert_channels.c.id == channel_id)).scalar()
        if kind != "email":
            raise ReportError("channel: reports are sent by an email channel" if kind else f"channel: no channel {channel_id}")
        taken = conn.execute(sa.select(report_schedules.c.id).where(report_schedules.c.name == name)).scalar()
        if taken is not None and taken != schedule_id:
            raise ReportError(f"name: a schedule called {name!r} exists already")
        if schedule_id is None:
            return inserted_id(conn.execute(report_schedules.insert().values(created_at=values["updated_at"], **values)))
        conn.execute(report_schedules.update().where(report_schedules.c.id == schedule_id).values(**values))
        return schedule_id


def delete_schedule(bind: Bind, schedule_id: int) -> None:
    with transaction(bind) as conn:
        conn.execute(report_schedules.delete().where(report_schedules.c.id == schedule_id))


@dataclass(frozen=True)
class Schedule:
    """A managers' recipient list: who gets the report, how often, through which email channel."""

    id: int
    name: str
    cadence: str
    recipients: list[str]
    channel_id: int | None  # None: its channel was deleted; nothing is sent until one is chosen
    channel: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class SentReport:
    """One period's report as sent to one list (a resend updates who and when)."""

    id: int
    schedule_id: int
    schedule: str
    period: str
    sent_at: datetime
    recipients: list[str]
    sent_by: str


def list_schedules(bind: Bind, cadence: str | None = None, enabled_only: bool = False) -> list[Schedule]:
    query = (
        sa.select(report_schedules, alert_channels.c.name.label("channel"))
        .outerjoin(alert_channels, alert_channels.c.id == report_schedules.c.channel_id)
        .order_by(report_schedules.c.name)
    )
    if cadence is not None:
        query = query.where(report_schedules.c.cadence == cadence)
    if enabled_only:
        query = query.where(report_schedules.c.enabled.is_(True))
    with connection(bind) as conn:
        return [
            Schedule(**{**r._mapping, "created_at": as_utc(r.created_at), "updated_at": as_utc(r.updated_at)}) for r in conn.execute(query)
        ]


def already_sent(bind: Bind, schedule_id: int, period: Period) -> bool:
    with connection(bind) as conn:
        return (
            conn.execute(
                sa.select(report_deliveries.c.id).where(
                    report_deliveries.c.schedule_id == schedule_id, report_deliveries.c.period == period.key
                )
            ).first()
            is not None
        )


def record_sent(bind: Bind, schedule_id: int, period: Period, recipients: list[str], sent_by: str) -> None:
    """Note the period as sent (a resend updates the row: who and when)."""
    now = utcnow()
    with transaction(bind) as conn:
        where = (report_deliveries.c.schedule_id == schedule_id, report_deliveries.c.period == period.key)
        if conn.execute(report_deliveries.update().where(*where).values(sent_at=now, recipients=recipients, sent_by=sent_by)).rowcount == 0:
            conn.execute(
                report_deliveries.insert().values(
                    schedule_id=schedule_id, period=period.key, sent_at=now, recipients=recipients, sent_by=sent_by
                )
            )


def deliveries(bind: Bind, limit: int = 100) -> list[SentReport]:
    query = (
        sa.select(report_deliveries, report_schedules.c.name.label("schedule"))
        .join(report_schedules, report_schedules.c.id == report_deliveries.c.schedule_id)
        .order_by(report_deliveries.c.sent_at.desc())
        .limit(limit)
    )
    with connection(bind) as conn:
        return [SentReport(**{**r._mapping, "sent_at": as_utc(r.sent_at)}) for r in conn.execute(query)]

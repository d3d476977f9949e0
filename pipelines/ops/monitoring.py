"""Integration health as the Logitrack plan's sync dashboard shows it ("Monitoreo de Integraciones").

One call per panel, each a handful of grouped queries over the store (never one query per
integration), so the dashboard stays fast with hundreds of integrations. What is returned is data
(times, counts, typed problems); the seed's Spanish phrases ("hace 5 min", "+5 pedidos, 0 errores")
are the admin app's to write (`app.phrases`), so alerts, Dagster and the CLI share one neutral wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

import sqlalchemy as sa

from pipelines.clock import as_utc, utcnow
from pipelines.inbox import reporting as inbox_reporting
from pipelines.inbox.reporting import BACKLOG_MAX_AGE_SECONDS
from pipelines.store.joins import integration_of, live
from pipelines.store.schema import callback_outbox, integrations, sync_runs
from pipelines.vocabulary import OutboxStatus, SyncRunStatus

Status = Literal["active", "error", "disabled"]

# A pending inbox row older than this means the processor is not keeping up (or not running): the
# same threshold as the inbox's Dagster check, so the dashboard and Dagster agree.
BACKLOG_ALERT_AFTER = timedelta(seconds=BACKLOG_MAX_AGE_SECONDS)
# A polled integration is stale after this many missed intervals (plus a minute of slack).
STALE_AFTER_INTERVALS = 3


SpanUnit = Literal["min", "h", "days"]


def span(seconds: float) -> tuple[int, SpanUnit] | None:
    """A span rounded down the way people read it: None under a minute, else minutes below an hour,
    hours below two days, then days. The one rounding behind every wording (here and the app's)."""
    if seconds < 60:
        return None
    minutes = int(seconds // 60)
    if minutes < 60:
        return minutes, "min"
    hours = minutes // 60
    if hours < 48:
        return hours, "h"
    return hours // 24, "days"


def duration(seconds: float) -> str:
    """A span people read at a glance: 'under a minute', '5 min', '2 h', '3 days'."""
    rounded = span(seconds)
    return "under a minute" if rounded is None else f"{rounded[0]} {rounded[1]}"


def waiting_for(since: datetime, now: datetime | None = None) -> str:
    """How long something has been waiting: '12 min'."""
    return duration(((now or utcnow()) - as_utc(since)).total_seconds())


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def first_reason(reasons: list[dict[str, Any]] | None) -> str | None:
    """The commonest record error reason of a sync run (its `reasons`, ranked when ingest wrote them)."""
    if not reasons:
        return None
    return f"{reasons[0]['field']}: {reasons[0]['message']}"


class ProblemKind(StrEnum):
    """What kind of thing a "needs a person" line says is wrong: the alerts (pipelines.alerts) decide on
    this, never on the line's wording, so rewording a line cannot unlink it from its alert."""

    SYNC_FAILED = "sync_failed"
    REJECTED_REPEAT = "rejected_repeat"
    REJECTED = "rejected"
    DEAD_LETTERS = "dead_letters"
    CALLBACKS_UNDELIVERED = "callbacks_undelivered"
    CALLBACKS_STOPPED = "callbacks_stopped"
    STALE = "stale"


class Problem(str):
    """A "needs a person" line: the text people read, carrying its `kind` for the code that acts on it.
    A `str` so every place that shows or searches the line keeps working unchanged."""

    kind: ProblemKind

    def __new__(cls, kind: ProblemKind, text: str) -> Problem:
        line = super().__new__(cls, text)
        line.kind = kind
        return line


@dataclass(frozen=True)
class IntegrationHealth:
    """One line of the dashboard: what the integration is, whether it works, and why not."""

    id: int
    name: str
    type: str
    target: str
    is_active: bool
    last_sync_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None = None
    problems: tuple[Problem, ...] = ()

    @property
    def status(self) -> Status:
        if not self.is_active:
            return "disabled"
        return "error" if self.problems else "active"

    @property
    def needs_person(self) -> bool:
        return self.is_active and bool(self.problems)


@dataclass(frozen=True)
class SyncLine:
    """One of the latest syncs, with the seed's summary phrase."""

    id: int
    started_at: datetime
    integration: str
    target: str
    source_kind: str
    status: str
    total_received: int
    created: int
    updated: int
    unchanged: int
    errors: int
    message: str | None
    reasons: list[dict[str, Any]] | None = None

    @property
    def needs_person(self) -> bool:
        return self.status == SyncRunStatus.FAILED or self.errors > 0


@dataclass(frozen=True)
class Backlog:
    """Inbox and outbox work waiting, and the dead letters a person must look at."""

    inbox_pending: int = 0
    inbox_oldest_pending_at: datetime | None = None
    inbox_dead: int = 0
    callbacks_pending: int = 0
    callbacks_dead: int = 0
    callbacks_disabled: int = 0
    per_integration: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def dead_letters(self) -> int:
        return self.inbox_dead + self.callbacks_dead + self.callbacks_disabled

    def inbox_stuck(self, now: datetime | None = None) -> bool:
        """Pending rows waiting longer than BACKLOG_ALERT_AFTER: the processor needs a look."""
        if self.inbox_oldest_pending_at is None:
            return False
        return (now or utcnow()) - as_utc(self.inbox_oldest_pending_at) > BACKLOG_ALERT_AFTER


def _latest_runs(conn: sa.Connection, *conditions) -> dict[int, sa.Row]:
    """The newest sync run per integration (among runs matching `conditions`)."""
    ranked = (
        sa.select(
            sync_runs,
            sa.func.row_number()
            .over(partition_by=sync_runs.c.integration_id, order_by=(sync_runs.c.started_at.desc(), sync_runs.c.id.desc()))
            .label("rank"),
        )
        .where(*conditions)
        .subquery()
    )
    rows = conn.execute(sa.select(ranked).where(ranked.c.rank == 1))
    return {row.integration_id: row for row in rows}


def _grouped_counts(conn: sa.Connection, table: sa.Table, statuses: tuple[str, ...]) -> dict[tuple[int, str], int]:
    rows = conn.execute(
        sa.select(table.c.integration_id, table.c.status, sa.func.count())
        .where(table.c.status.in_(statuses))
        .group_by(table.c.integration_id, table.c.status)
    )
    return {(integration_id, status): count for integration_id, status, count in rows}


def _stale_problem(config: dict, last_sync_at: datetime | None, created_at: datetime, now: datetime) -> str | None:
    """Polled integrations (api, db) that stopped syncing: the seed's "hace 2hrs" in red."""
    interval = config.get("poll_interval_seconds")
    if not interval:
        return None
    allowed = timedelta(seconds=interval * STALE_AFTER_INTERVALS + 60)
    since = as_utc(last_sync_at) if last_sync_at else as_utc(created_at)
    if now - since <= allowed:
        return None
    if last_sync_at is None:
        return f"never synced (polls every {_plural(interval, 'second', 'seconds')})"
    return f"no sync for {waiting_for(last_sync_at, now)} (polls every {_plural(interval, 'second', 'seconds')})"


def rejected_repeat(details: dict[str, Any] | None) -> str | None:
    """The warning a db pull records on its last sync run when its query keeps returning rows it
    rejected (`connectors.sql.drain`): "stuck" when they hold back the rows behind them."""
    flag = (details or {}).get("rejected_repeat")
    if not isinstance(flag, dict) or not flag.get("message"):
        return None
    return f"{'stuck: ' if flag.get('blocking') else ''}{flag['message']}"


def integration_health(bind: sa.Engine, now: datetime | None = None) -> list[IntegrationHealth]:
    """Every integration with its status, time since last sync, last error and what needs a person."""
    now = now or utcnow()
    with bind.connect() as conn:
        rows = conn.execute(sa.select(integrations).where(live()).order_by(sa.func.lower(integrations.c.name))).all()
        latest = _latest_runs(conn)
        latest_bad = _latest_runs(conn, sa.or_(sync_runs.c.status == SyncRunStatus.FAILED, sync_runs.c.errors > 0))
        inbox_dead = {entry.integration: entry.dead for entry in inbox_reporting.backlog(conn)}
        callback_counts = _grouped_counts(conn, callback_outbox, (OutboxStatus.DEAD, OutboxStatus.DISABLED))
    health = []
    for row in rows:
        last = latest.get(row.id)
        bad = latest_bad.get(row.id)
        problems: list[Problem] = []
        repeat = rejected_repeat(last.details) if last is not None else None
        if last is not None and last.status == SyncRunStatus.FAILED:
            problems.append(Problem(ProblemKind.SYNC_FAILED, f"last sync failed: {last.message or 'no detail'}"))
        elif repeat:
            problems.append(Problem(ProblemKind.REJECTED_REPEAT, repeat))
        elif last is not None and last.errors:
            problems.append(
                Problem(
                    ProblemKind.REJECTED,
                    f"last sync rejected {_plural(last.errors, 'record', 'records')}: {first_reason(last.reasons) or 'see sync history'}",
                )
            )
        dead = inbox_dead.get(row.name, 0)
        if dead:
            problems.append(Problem(ProblemKind.DEAD_LETTERS, f"{_plural(dead, 'dead letter', 'dead letters')} in the inbox"))
        dead_callbacks = callback_counts.get((row.id, OutboxStatus.DEAD), 0) + callback_counts.get((row.id, OutboxStatus.DISABLED), 0)
        if dead_callbacks:
            problems.append(Problem(ProblemKind.CALLBACKS_UNDELIVERED, f"{_plural(dead_callbacks, 'callback', 'callbacks')} not delivered"))
        if row.callbacks_disabled_reason:
            problems.append(Problem(ProblemKind.CALLBACKS_STOPPED, f"callbacks stopped: {row.callbacks_disabled_reason}"))
        if row.is_active and row.type in ("api", "db"):
            stale = _stale_problem(row.config, last.started_at if last else None, row.created_at, now)
            if stale:
                problems.append(Problem(ProblemKind.STALE, stale))
        last_error = None
        if bad is not None:
            last_error = (bad.message if bad.status == SyncRunStatus.FAILED else first_reason(bad.reasons)) or "record errors"
        health.append(
            IntegrationHealth(
                id=row.id,
                name=row.name,
                type=row.type,
                target=row.target,
                is_active=row.is_active,
                last_sync_at=as_utc(last.started_at) if last else None,
                last_error=last_error,
                last_error_at=as_utc(bad.started_at) if bad is not None else None,
                problems=tuple(problems),
            )
        )
    return health


def latest_syncs(bind: sa.Engine, limit: int = 10, integration_id: int | None = None) -> list[SyncLine]:
    """The newest sync runs (of one integration, or all), newest first."""
    query = (
        sa.select(sync_runs, integrations.c.name, integrations.c.target)
        .join(*integration_of(sync_runs))
        .order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc())
        .limit(limit)
    )
    if integration_id is not None:
        query = query.where(sync_runs.c.integration_id == integration_id)
    with bind.connect() as conn:
        return [
            SyncLine(
                id=r.id,
                started_at=as_utc(r.started_at),
                integration=r.name,
                target=r.target,
                source_kind=r.source_kind,
                status=r.status,
                total_received=r.total_received,
                created=r.created,
                updated=r.updated,
                unchanged=r.unchanged,
                errors=r.errors,
                message=r.message,
                reasons=r.reasons,
            )
            for r in conn.execute(query)
        ]


def backlog(bind: sa.Engine) -> Backlog:
    """Inbox backlog (pending, oldest), dead letters (inbox and callbacks), per integration too."""
    with bind.connect() as conn:
        names = dict(conn.execute(sa.select(integrations.c.id, integrations.c.name).where(live())).tuples().all())
        inbox_entries = inbox_reporting.backlog(conn)
        callback_rows = conn.execute(
            sa.select(callback_outbox.c.integration_id, callback_outbox.c.status, sa.func.count())
            .where(callback_outbox.c.status.in_((OutboxStatus.PENDING, OutboxStatus.DEAD, OutboxStatus.DISABLED)))
            .group_by(callback_outbox.c.integration_id, callback_outbox.c.status)
        ).all()
    totals: dict[str, int] = {}
    per: dict[str, dict[str, int]] = {}
    oldest: datetime | None = None
    for entry in inbox_entries:
        for key, count in (("inbox_pending", entry.pending), ("inbox_dead", entry.dead)):
            if count:
                totals[key] = totals.get(key, 0) + count
                per.setdefault(entry.integration, {})[key] = count
        first = entry.oldest_pending_at
        if first is not None and (oldest is None or first < oldest):
            oldest = first
    for integration_id, status, count in callback_rows:
        key = f"callbacks_{status}"
        totals[key] = totals.get(key, 0) + count
        per.setdefault(names.get(integration_id, str(integration_id)), {})[key] = count
    return Backlog(
        inbox_pending=totals.get("inbox_pending", 0),
        inbox_oldest_pending_at=oldest,
        inbox_dead=totals.get("inbox_dead", 0),
        callbacks_pending=totals.get("callbacks_pending", 0),
        callbacks_dead=totals.get("callbacks_dead", 0),
        callbacks_disabled=totals.get("callbacks_disabled", 0),
        per_integration=per,
    )

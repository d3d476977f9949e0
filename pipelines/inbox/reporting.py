"""What the inbox tells operators: the receiver's own (sync-mode) ingestions, and per-integration health.

Framework-free queries; Dagster turns them into materializations and asset check results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipelines.clock import as_utc
from pipelines.inbox import DEAD, DONE, PENDING
from pipelines.inbox.processing import PROCESSED_BY
from pipelines.store.joins import integration_of, live
from pipelines.store.schema import inbox, integrations, sync_runs


@dataclass(frozen=True)
class InboxSyncRun:
    """A sync run that ingested an inbox row, with the counts the seed's response reports."""

    id: int
    inbox_id: int
    integration: str
    started_at: datetime
    finished_at: datetime | None
    total_received: int
    created: int
    updated: int
    unchanged: int
    errors: int
    message: str | None
    processed_by: str | None  # PROCESSED_BY for the Dagster processor; None for the receiver

    @property
    def duration_ms(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds() * 1000

    def counts(self) -> dict[str, int]:
        return {
            "received": self.total_received,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.errors,
        }


def inbox_sync_runs(conn: sa.Connection, *, after_id: int, started_before: datetime, limit: int) -> list[InboxSyncRun]:
    """Sync runs of `done` inbox rows with id > `after_id`, oldest first, that started before
    `started_before`.

    Why the time bound: sync run ids are handed out when a transaction inserts the row, not when it
    commits, so on PostgreSQL a lower id can become visible after a higher one. A cursor that only
    reads runs started a few seconds ago never steps over one still committing."""
    query = (
        sa.select(
            sync_runs.c.id,
            inbox.c.id.label("inbox_id"),
            integrations.c.name.label("integration"),
            sync_runs.c.started_at,
            sync_runs.c.finished_at,
            sync_runs.c.total_received,
            sync_runs.c.created,
            sync_runs.c.updated,
            sync_runs.c.unchanged,
            sync_runs.c.errors,
            sync_runs.c.message,
            sync_runs.c.details,
        )
        .join(inbox, inbox.c.sync_run_id == sync_runs.c.id)
        .join(*integration_of(sync_runs))
        .where(sync_runs.c.id > after_id, inbox.c.status == DONE, sync_runs.c.started_at < started_before)
        .order_by(sync_runs.c.id)
        .limit(limit)
    )
    return [
        InboxSyncRun(
            id=row.id,
            inbox_id=row.inbox_id,
            integration=row.integration,
            started_at=as_utc(row.started_at),
            finished_at=as_utc(row.finished_at),
            total_received=row.total_received,
            created=row.created,
            updated=row.updated,
            unchanged=row.unchanged,
            errors=row.errors,
            message=row.message,
            processed_by=_processed_by(row.details),
        )
        for row in conn.execute(query)
    ]


def _processed_by(details: Any) -> str | None:
    return details.get("processed_by") if isinstance(details, dict) else None


def by_receiver(run: InboxSyncRun) -> bool:
    """True when the receiver ingested the row itself (sync ack mode), not the Dagster processor."""
    return run.processed_by != PROCESSED_BY


@dataclass(frozen=True)
class IntegrationBacklog:
    """Per-integration health of the inbox: what waits, since when, and what died."""

    integration: str
    pending: int
    oldest_pending_at: datetime | None
    dead: int


def backlog(conn: sa.Connection) -> list[IntegrationBacklog]:
    """Pending and dead rows per integration, for the integrations that have any."""
    query = (
        sa.select(
            integrations.c.name,
            inbox.c.status,
            sa.func.count().label("n"),
            sa.func.min(inbox.c.received_at).label("oldest"),
        )
        .join(*integration_of(inbox))
        .where(inbox.c.status.in_([PENDING, DEAD]), live())
        .group_by(integrations.c.name, inbox.c.status)
        .order_by(integrations.c.name)
    )
    found: dict[str, dict[str, Any]] = {}
    for row in conn.execute(query):
        entry = found.setdefault(row.name, {"pending": 0, "oldest_pending_at": None, "dead": 0})
        if row.status == PENDING:
            entry.update(pending=row.n, oldest_pending_at=as_utc(row.oldest))
        else:
            entry["dead"] = row.n
    return [IntegrationBacklog(integration=name, **values) for name, values in found.items()]


# A row still pending this long means processing is not keeping up (or not running): the async
# latency target is 15 s, so four times that is a backlog, not a burst.
BACKLOG_MAX_AGE_SECONDS = 60


@dataclass(frozen=True)
class InboxHealth:
    """The verdict on the inbox: which integrations have dead letters, which have a stuck backlog."""

    dead: dict[str, int]  # integration -> dead rows
    stuck: dict[str, float]  # integration -> age in seconds of its oldest pending row
    pending: dict[str, int]  # integration -> pending rows

    @property
    def passed(self) -> bool:
        return not self.dead and not self.stuck

    def summary(self) -> str:
        parts = [f"{name}: {n} dead-lettered row(s)" for name, n in sorted(self.dead.items())]
        parts += [f"{name}: oldest pending row waiting {age:.0f} s" for name, age in sorted(self.stuck.items())]
        return "; ".join(parts) or "no dead letters, no backlog"

    def fingerprint(self) -> str:
        """Changes when the verdict changes (not when only ages or counts of the same problems move)."""
        return f"dead={','.join(sorted(self.dead))};stuck={','.join(sorted(self.stuck))}"


def inbox_health(conn: sa.Connection, now: datetime, *, max_age_seconds: float = BACKLOG_MAX_AGE_SECONDS) -> InboxHealth:
    entries = backlog(conn)
    ages = {e.integration: (now - e.oldest_pending_at).total_seconds() for e in entries if e.oldest_pending_at}
    return InboxHealth(
        dead={e.integration: e.dead for e in entries if e.dead},
        stuck={name: age for name, age in ages.items() if age > max_age_seconds},
        pending={e.integration: e.pending for e in entries if e.pending},
    )

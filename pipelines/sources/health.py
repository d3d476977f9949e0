"""How each pull integration is doing, from its sync runs: is it fresh (last successful sync within
twice its poll interval) and how often do its polls or records fail. Asset checks and dashboards
read this; it knows nothing of Dagster."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from pipelines.clock import as_utc
from pipelines.integrations import list_integrations
from pipelines.sources.schedule import poll_interval
from pipelines.store.schema import sync_runs
from pipelines.vocabulary import SyncRunStatus

STALE_FACTOR = 2
MAX_RECORD_ERROR_RATE = 0.05
MAX_FAILED_POLL_RATE = 0.25
ERROR_RATE_PERIOD = timedelta(hours=24)


@dataclass
class PullHealth:
    name: str
    interval: int
    last_success: datetime | None
    created_at: datetime
    polls: int
    failed_polls: int
    records: int
    record_errors: int
    last_failure: str | None

    def stale(self, now: datetime) -> bool:
        """Not synced within 2× the interval (a new integration gets that long for its first sync)."""
        reference = self.last_success or self.created_at
        return now - reference > timedelta(seconds=STALE_FACTOR * self.interval)

    @property
    def record_error_rate(self) -> float:
        return self.record_errors / self.records if self.records else 0.0

    @property
    def failed_poll_rate(self) -> float:
        return self.failed_polls / self.polls if self.polls else 0.0

    @property
    def erring(self) -> bool:
        return self.record_error_rate > MAX_RECORD_ERROR_RATE or self.failed_poll_rate > MAX_FAILED_POLL_RATE


def pull_health(engine: sa.Engine, kind: str, now: datetime) -> list[PullHealth]:
    """One entry per active integration of `kind` (api, db or file)."""
    wanted = [i for i in list_integrations(engine, active_only=True) if i.config.type == kind]
    since = now - ERROR_RATE_PERIOD
    out = []
    with engine.connect() as conn:
        for item in wanted:
            mine = sync_runs.c.integration_id == item.id
            last_ok = conn.execute(
                sa.select(sa.func.max(sync_runs.c.finished_at)).where(mine, sync_runs.c.status == SyncRunStatus.OK)
            ).scalar()
            recent = conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.sum(sa.case((sync_runs.c.status == SyncRunStatus.FAILED, 1), else_=0)),
                    sa.func.sum(sync_runs.c.total_received),
                    sa.func.sum(sync_runs.c.errors),
                ).where(mine, sync_runs.c.started_at >= since)
            ).one()
            failure = conn.execute(
                sa.select(sync_runs.c.message)
                .where(mine, sync_runs.c.status == SyncRunStatus.FAILED)
                .order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc())
                .limit(1)
            ).scalar()
            out.append(
                PullHealth(
                    name=item.name,
                    interval=poll_interval(item.config),
                    last_success=as_utc(last_ok),
                    created_at=item.created_at,
                    polls=recent[0] or 0,
                    failed_polls=int(recent[1] or 0),
                    records=int(recent[2] or 0),
                    record_errors=int(recent[3] or 0),
                    last_failure=failure,
                )
            )
    return out

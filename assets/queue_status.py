"""Is Dagster keeping up? What operators need when work waits: how many runs are queued and for how
long, per class of work (`assets/capacity.py`), which are running, and whether the daemon (which
launches queued runs and evaluates sensors) is alive. Read from the Dagster instance's storage, so
the admin app can show it whether or not Dagster's own UI is open.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg

from assets.capacity import QUEUE_TAG, RUNNING_STATUSES
from pipelines.ops.monitoring import duration

# Queued longer than this means the queue is behind (a run normally leaves it within seconds).
BEHIND_AFTER_SECONDS = 60.0
DAEMON_SILENT_AFTER_SECONDS = 60.0
CLASS_LABELS = {
    "inbox": "async webhooks",
    "callbacks": "callbacks",
    "scheduled_polls": "scheduled polls",
    "pull_partitions": "backfills",
    "other": "other runs",
}


@dataclass
class ClassLoad:
    queued: int = 0
    running: int = 0
    oldest_queued_seconds: float | None = None


@dataclass
class DagsterLoad:
    """The run queue and the daemon, as of one look."""

    queued: int = 0
    running: int = 0
    oldest_queued_seconds: float | None = None
    oldest_queued_job: str | None = None
    per_class: dict[str, ClassLoad] = field(default_factory=dict)
    daemon_silent_seconds: float | None = None  # None: the daemon's heartbeat is fresh
    failed_last_hour: int = 0

    @property
    def behind(self) -> bool:
        return (self.oldest_queued_seconds or 0) > BEHIND_AFTER_SECONDS or self.daemon_silent_seconds is not None

    def problems(self) -> list[str]:
        found = []
        if self.daemon_silent_seconds is not None:
            since = (
                "has never reported"
                if self.daemon_silent_seconds == float("inf")
                else f"has not reported for {duration(self.daemon_silent_seconds)}"
            )
            found.append(f"the Dagster daemon {since}: no sensor ticks and no queued run starts until it runs")
        if (self.oldest_queued_seconds or 0) > BEHIND_AFTER_SECONDS:
            waiting = ", ".join(
                f"{load.queued} {CLASS_LABELS.get(name, name)}" for name, load in sorted(self.per_class.items()) if load.queued
            )
            found.append(
                f"Dagster is behind: {self.queued} run(s) queued ({waiting}), the oldest "
                f"({self.oldest_queued_job}) for {duration(self.oldest_queued_seconds or 0)}"
            )
        return found


def _class_of(run: dg.DagsterRun) -> str:
    return run.tags.get(QUEUE_TAG) or ("pull_partitions" if "dagster/backfill" in run.tags else "other")


def dagster_load(instance: dg.DagsterInstance, now: float | None = None) -> DagsterLoad:
    now = time.time() if now is None else now
    load = DagsterLoad()
    queued = instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]), limit=1_000)
    for record in queued:
        run = record.dagster_run
        age = max(0.0, now - record.create_timestamp.timestamp())
        entry = load.per_class.setdefault(_class_of(run), ClassLoad())
        entry.queued += 1
        entry.oldest_queued_seconds = max(entry.oldest_queued_seconds or 0.0, age)
        if load.oldest_queued_seconds is None or age > load.oldest_queued_seconds:
            load.oldest_queued_seconds, load.oldest_queued_job = age, run.job_name
    load.queued = len(queued)
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=RUNNING_STATUSES), limit=1_000):
        load.per_class.setdefault(_class_of(run), ClassLoad()).running += 1
        load.running += 1
    heartbeats = instance.get_daemon_heartbeats()
    newest = max((beat.timestamp for beat in heartbeats.values()), default=None)
    if newest is None:
        load.daemon_silent_seconds = float("inf")
    elif now - newest > DAEMON_SILENT_AFTER_SECONDS:
        load.daemon_silent_seconds = now - newest
    load.failed_last_hour = instance.get_runs_count(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], updated_after=datetime.fromtimestamp(now - 3_600, tz=UTC))
    )
    return load

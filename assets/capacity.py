"""How Crossdock shares Dagster's run capacity: one table of work classes, read by the job
definitions (tags, pools, priorities), the instance file (pool limits, the total) and the sensors
(is a run of my class already queued or running?).

Why classes: on a 2-core machine every run is a process that takes seconds to start. Webhook
processing and callback delivery are latency work: they must never wait first-in first-out behind a
poll or an operator's backfill. Each class has its own Dagster pool (run granularity: a pool's limit
counts runs that hold one of its steps, however the run was launched, from a sensor, the UI or a
backfill), so pulls can never take the slots the latency work needs, and a priority tag so that
when slots free up, latency work is dequeued first. The total is the pools' sum plus one spare.

A sensor decides "busy" from the `crossdock/queue` tag its own job sets on every run, never from a
run's asset selection (a job run has none) and never from run keys.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

QUEUE_TAG = "crossdock/queue"


@dataclass(frozen=True)
class Pool:
    """A Dagster pool: at most `limit` runs holding one of its steps at once."""

    name: str
    limit: int
    description: str


@dataclass(frozen=True)
class WorkClass:
    """One kind of Dagster work: the tag its runs carry, the pool it draws slots from, and its
    priority in the queue (higher is dequeued first)."""

    queue: str
    pool: Pool
    priority: int

    def tags(self) -> dict[str, str]:
        """The tags every run of this class carries (set on its job)."""
        return {QUEUE_TAG: self.queue, "dagster/priority": str(self.priority)}


INBOX_POOL = Pool("crossdock_inbox", 1, "async webhooks: one inbox run at a time keeps each integration's rows in order")
CALLBACK_POOL = Pool("crossdock_callbacks", 1, "status callbacks: one delivery run, which sends to many endpoints at once")
PULL_POOL = Pool("crossdock_pulls", 2, "polls, DB pulls, file drops and operators' backfills of them")
POOLS: tuple[Pool, ...] = (INBOX_POOL, CALLBACK_POOL, PULL_POOL)

INBOX = WorkClass("inbox", INBOX_POOL, priority=10)
CALLBACKS = WorkClass("callbacks", CALLBACK_POOL, priority=10)
# The scheduled-poll worker holds one pull slot; backfill partitions share the rest (and this one
# between workers), and are dequeued after the worker.
SCHEDULED_POLLS = WorkClass("scheduled_polls", PULL_POOL, priority=5)
PULL_PARTITIONS = WorkClass("pull_partitions", PULL_POOL, priority=0)

# Room for one run outside every pool (a job an operator adds by hand, say), so it cannot take a
# slot the pools count on.
SPARE_RUNS = 1
MAX_CONCURRENT_RUNS = sum(pool.limit for pool in POOLS) + SPARE_RUNS

# A run in one of these holds (or is about to hold) a worker; with QUEUED, it is in flight.
RUNNING_STATUSES = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
IN_FLIGHT_STATUSES = [dg.DagsterRunStatus.QUEUED, *RUNNING_STATUSES]
FINISHED_STATUSES = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def pool_limits() -> dict[str, int]:
    return {pool.name: pool.limit for pool in POOLS}


def apply_pool_limits(instance: dg.DagsterInstance) -> None:
    """Write each class's pool limit into the instance (Dagster keeps pool limits in its storage,
    not in `dagster.yaml`); done by `crossdock up` and the test daemons before the daemon starts."""
    for pool, limit in pool_limits().items():
        instance.event_log_storage.set_concurrency_slots(pool, limit)


def run_in_flight(instance: dg.DagsterInstance, work: WorkClass) -> dg.DagsterRun | None:
    """A run of `work`'s class that is queued or running, if any (found by the class's tag)."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={QUEUE_TAG: work.queue}, statuses=IN_FLIGHT_STATUSES), limit=1)
    return runs[0] if runs else None


FIRST_RETRY_SECONDS = 10.0
LONGEST_RETRY_SECONDS = 300.0
_STREAK_LOOKBACK = 8  # 10 s doubled 5 times passes the 5 min cap: older failures change nothing


def retry_after_failures(failures: int) -> float:
    """Seconds to wait after `failures` consecutive failed runs of a class before launching another."""
    if failures <= 0:
        return 0.0
    return min(LONGEST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (failures - 1))


def failure_backoff(finished: Sequence[dg.RunRecord], now: float) -> tuple[int, float] | None:
    """(consecutive failures, seconds still to wait) when the newest finished runs failed and the
    wait since the last one is not over; None when a run may launch. `finished` is newest first."""
    failures = 0
    for record in finished:
        if record.dagster_run.status != dg.DagsterRunStatus.FAILURE:
            break
        failures += 1
    if not failures:
        return None
    ended = finished[0].end_time or finished[0].update_timestamp.timestamp()
    left = retry_after_failures(failures) - (now - ended)
    return (failures, left) if left > 0 else None


def launch_blocker(instance: dg.DagsterInstance, work: WorkClass) -> str | None:
    """Why a sensor must not launch a run of `work` now (one is queued or running, or the last runs
    failed and the backoff is not over), or None. The same rule for every class's sensor."""
    in_flight = run_in_flight(instance, work)
    if in_flight is not None:
        return f"run {in_flight.run_id} ({in_flight.status.value}) is already on it"
    finished = instance.get_run_records(
        filters=dg.RunsFilter(tags={QUEUE_TAG: work.queue}, statuses=FINISHED_STATUSES), limit=_STREAK_LOOKBACK
    )
    backoff = failure_backoff(finished, time.time())
    if backoff:
        failures, left = backoff
        return f"the last {failures} {work.queue} run(s) failed (newest: {finished[0].dagster_run.run_id}); the next starts in {left:.0f} s"
    return None

"""The scheduled-poll worker: one long-lived loop that starts every due poll (api, db, file) on a
small thread pool, for as long as polls keep falling due.

Why one worker rather than a Dagster run per poll: a run is a new process that spends seconds
importing the code before it does a poll of a few milliseconds; with a handful of integrations
polled every minute, process starts alone kept a 2-core machine busy and the run queue grew without
bound. Here a poll costs a thread, and the process start is paid once per worker run.

Fairness: the most overdue integration goes first; a slow one holds one thread, never the others;
an integration is never polled twice at once (in this worker, and across processes through the
pull lease, which `pull` takes). A failed poll is recorded (a failed sync run) and retried one
interval later, like any other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from connectors.pull import pull
from pipelines.clock import utcnow
from pipelines.integrations import list_integrations
from pipelines.sources import PullError, PullReport
from pipelines.sources.lease import PullBusy
from pipelines.sources.schedule import DuePoll, due_polls, last_poll_starts, mark_poll_started, seconds_until_next_poll

log = logging.getLogger("crossdock.polls")


@dataclass
class PollOutcome:
    """One finished poll: its report, or why it failed (`busy` when another pull held the lease)."""

    name: str
    kind: str
    report: PullReport | None = None
    error: str | None = None
    busy: bool = False
    seconds: float = 0.0


@dataclass
class WorkerReport:
    outcomes: list[PollOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, what: str) -> int:
        if what == "ok":
            return sum(o.report is not None for o in self.outcomes)
        if what == "failed":
            return sum(o.error is not None and not o.busy for o in self.outcomes)
        return sum(o.busy for o in self.outcomes)


def follow_polls(
    engine: sa.Engine,
    *,
    holder: str,
    workers: int = 4,
    budget_seconds: float = 900.0,
    linger_seconds: float = 120.0,
    tick_seconds: float = 1.0,
    on_poll: Callable[[PollOutcome], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> WorkerReport:
    """Start due polls until `budget_seconds` have passed (then let the running ones finish), or until
    nothing runs and no poll falls due within `linger_seconds`. `on_poll` hears of each finished poll,
    on the calling thread."""
    started = time.monotonic()
    report = WorkerReport()
    running: dict[Future, DuePoll] = {}

    def poll_one(due: DuePoll) -> PollOutcome:
        began = time.monotonic()
        try:
            result = pull(engine, due.integration, holder=holder)
            return PollOutcome(due.name, due.kind, report=result, seconds=time.monotonic() - began)
        except PullBusy as exc:
            return PollOutcome(due.name, due.kind, error=str(exc), busy=True, seconds=time.monotonic() - began)
        except PullError as exc:
            return PollOutcome(due.name, due.kind, error=str(exc), seconds=time.monotonic() - began)
        except Exception as exc:
            log.exception("poll of %s failed unexpectedly", due.name)
            return PollOutcome(due.name, due.kind, error=f"unexpected {type(exc).__name__}", seconds=time.monotonic() - began)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
        while True:
            accepting = time.monotonic() - started < budget_seconds
            wait_hint = tick_seconds
            if accepting and len(running) < workers:
                now = clock()
                integrations = list_integrations(engine, active_only=True)
                last = last_poll_starts(engine)
                busy = {due.name for due in running.values()}
                for due in due_polls(integrations, now, last, busy)[: workers - len(running)]:
                    mark_poll_started(engine, due.integration.id, now)
                    running[pool.submit(poll_one, due)] = due
                if not running:
                    upcoming = seconds_until_next_poll(integrations, clock(), last_poll_starts(engine))
                    if upcoming is None or upcoming > linger_seconds:
                        break
                    wait_hint = min(tick_seconds, max(upcoming, 0.05))
            elif not accepting and not running:
                break
            if running:
                done, _ = wait(running, timeout=wait_hint, return_when=FIRST_COMPLETED)
                for future in done:
                    running.pop(future)
                    outcome = future.result()
                    report.outcomes.append(outcome)
                    if on_poll is not None:
                        on_poll(outcome)
            else:
                time.sleep(wait_hint)
    report.seconds = time.monotonic() - started
    return report

"""Dagster's default run launcher, plus the health check that run monitoring needs.

Why: the default launcher starts each run as a process of the code server but cannot tell the
monitoring daemon whether that process is still alive, so a run whose process was killed (OOM, a
`kill -9`, a crashed code server) stayed STARTED forever and held one of the few run slots until
someone cancelled it by hand. Every run process logs its pid when it starts ("Started process for
run (pid: N)"); this launcher looks that process up. Gone, a zombie, or a newer process that
reused the pid means the worker is dead, and run monitoring marks the run failed, which frees its
slot for the next run.

Only valid where runs execute on the daemon's machine, which is what the default launcher does.
Loaded by `dagster.yaml` (`assets/instance.py`), so it imports nothing of the code location.
"""

from __future__ import annotations

import psutil
from dagster import DagsterEventType, DagsterRun, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

# A run process starts before it logs its pid; anything created later than this after that log
# is another process that reused the pid.
PID_CLOCK_SLACK_SECONDS = 2.0


class LocalRunLauncher(DefaultRunLauncher):
    """`DefaultRunLauncher` whose run workers run monitoring can check."""

    def __init__(self, inst_data=None):
        super().__init__(inst_data=inst_data)
        self._workers: dict[str, tuple[int, float]] = {}  # run id -> (pid, when it logged it)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        worker = self._worker_of(run.run_id)
        if worker is None:
            # Not logged yet: the start timeout of run monitoring covers a process that never comes up.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "the run process has not reported its pid yet")
        pid, logged_at = worker
        return worker_health(pid, logged_at)

    def _worker_of(self, run_id: str) -> tuple[int, float] | None:
        if run_id not in self._workers:
            records = self._instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT).records
            for record in records:
                entry = record.event_log_entry
                pid = run_worker_pid(entry.dagster_event)
                if pid is not None:
                    self._workers[run_id] = (pid, entry.timestamp)
                    break
            else:
                return None
        if len(self._workers) > 1_000:  # the daemon lives for weeks; forget the oldest runs
            for stale in list(self._workers)[:500]:
                del self._workers[stale]
        return self._workers[run_id]


def run_worker_pid(event) -> int | None:
    """The pid in a run's "Started process for run (pid: N)" engine event (its `pid` metadata)."""
    if event is None or not event.message or not event.message.startswith("Started process for run"):
        return None
    entry = (event.engine_event_data.metadata or {}).get("pid") if event.engine_event_data else None
    try:
        return int(entry.value) if entry is not None else None
    except (TypeError, ValueError):
        return None


def worker_health(pid: int, logged_at: float) -> CheckRunHealthResult:
    """RUNNING while process `pid`, started no later than `logged_at`, is alive; FAILED otherwise."""
    try:
        process = psutil.Process(pid)
        created = process.create_time()
        status = process.status()
    except psutil.NoSuchProcess:
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run process {pid} is gone (killed or crashed)")
    except psutil.Error as exc:  # access denied and the like: we cannot tell, so do not fail the run
        return CheckRunHealthResult(WorkerStatus.UNKNOWN, f"run process {pid} cannot be inspected: {type(exc).__name__}")
    if status == psutil.STATUS_ZOMBIE:
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run process {pid} exited without finishing the run")
    if created > logged_at + PID_CLOCK_SLACK_SECONDS:
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run process {pid} is gone (its pid now belongs to another process)")
    return CheckRunHealthResult(WorkerStatus.RUNNING)

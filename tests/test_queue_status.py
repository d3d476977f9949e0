"""What the dashboard says about Dagster's queue: runs queued and running per kind of work, the oldest
queued run and its age, and plain words when Dagster is behind or its daemon is silent."""

from __future__ import annotations

import time

import dagster as dg
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._daemon.types import DaemonHeartbeat

from assets.definitions import defs
from assets.queue_status import BEHIND_AFTER_SECONDS, dagster_load


def _origin(job_name: str) -> RemoteJobOrigin:
    """Where a queued run comes from (the daemon needs it; queued runs must have one)."""
    repository = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("crossdock"), "__repository__")
    return RemoteJobOrigin(repository_origin=repository, job_name=job_name)


def _run(instance: dg.DagsterInstance, job_name: str, status: dg.DagsterRunStatus, tags: dict | None = None) -> dg.DagsterRun:
    if tags is None:
        tags = dict(defs.resolve_job_def(job_name).tags)
    return instance.add_run(dg.DagsterRun(job_name=job_name, status=status, tags=tags, remote_job_origin=_origin(job_name)))


def test_load_per_kind_of_work_and_the_oldest_queued_run():
    with dg.instance_for_test() as instance:
        _run(instance, "inbox_processing_job", dg.DagsterRunStatus.STARTED)
        _run(instance, "scheduled_polls_job", dg.DagsterRunStatus.QUEUED)
        _run(instance, "__ASSET_JOB", dg.DagsterRunStatus.QUEUED, tags={"dagster/backfill": "abcd"})
        instance.add_daemon_heartbeat(DaemonHeartbeat(time.time(), "SENSOR", None, None))
        now = time.time()
        fresh = dagster_load(instance, now)
        later = dagster_load(instance, now + BEHIND_AFTER_SECONDS + 30)
    assert (fresh.queued, fresh.running) == (2, 1)
    assert {name: (load.queued, load.running) for name, load in fresh.per_class.items()} == {
        "inbox": (0, 1),
        "scheduled_polls": (1, 0),
        "pull_partitions": (1, 0),
    }
    assert fresh.problems() == [] and not fresh.behind
    assert later.behind and later.oldest_queued_job in ("scheduled_polls_job", "__ASSET_JOB")
    [silent, behind] = later.problems()
    assert silent.startswith("the Dagster daemon has not reported for")
    assert behind.startswith("Dagster is behind: 2 run(s) queued (1 backfills, 1 scheduled polls), the oldest")


def test_a_daemon_that_never_ran_is_said_plainly():
    with dg.instance_for_test() as instance:
        load = dagster_load(instance)
    assert load.behind and load.problems() == [
        "the Dagster daemon has never reported: no sensor ticks and no queued run starts until it runs"
    ]

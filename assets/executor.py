"""Where pull steps execute: in the run's own process (the default, one machine), or on Celery
workers (`CROSSDOCK_DAGSTER_EXECUTOR=celery`), Dagster's own distributed executor (dagster-celery):
each step of a backfill partition or one-off pull is a task on the broker, taken by whichever
worker, on whichever machine, is free.

Why only pulls: they are the work that grows with the number of integrations and days; inbox
processing and callback delivery are latency work, and a trip through a broker would cost them
more than the step itself, so their jobs stay in-process (their executors are set on the jobs).

The broker and backend URLs reach Dagster as environment-variable references when they are set,
so a password in them is never written into a run's configuration, the UI or the event log.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster_celery import celery_executor

from pipelines import settings

EXECUTOR_NAME = "crossdock_celery"


def _source(field: str, value: str) -> Any:
    """`{"env": VAR}` when the variable is set (the value stays out of run config), else the default."""
    return {"env": settings.variable(field)} if getattr(settings.current(), field) is not None else value


def celery_config() -> dict[str, Any]:
    """The celery executor's configuration from the settings."""
    queue = settings.celery_queue()
    return {
        "broker": _source("celery_broker_url", settings.celery_broker_url()),
        "backend": _source("celery_backend_url", settings.celery_backend_url()),
        # One task at a time per worker process: a long pull never sits prefetched behind another.
        "config_source": {"task_default_queue": queue, "worker_prefetch_multiplier": 1},
    }


def celery_app_args() -> dict[str, Any]:
    """The worker app's arguments: the same broker, backend and queue as the executor, resolved."""
    from dagster_celery.executor import CeleryExecutor

    config = celery_config()
    return CeleryExecutor.for_cli(
        broker=settings.celery_broker_url(), backend=settings.celery_backend_url(), config_source=config["config_source"]
    ).app_args()


def distributed() -> bool:
    return settings.dagster_executor() == "celery"


def pull_executor() -> dg.ExecutorDefinition:
    """The executor of the pull jobs (and of assets materialized from the UI), per the settings."""
    if distributed():
        return celery_executor.configured(celery_config(), name=EXECUTOR_NAME)
    return dg.in_process_executor

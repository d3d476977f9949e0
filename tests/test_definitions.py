"""The Dagster code location loads as the webserver and the daemon load it, and keeps the capacity
rule: every job's runs carry a work class and every asset a run computes draws from a Crossdock pool,
so nothing can bypass the slots reserved for webhooks and callbacks."""

from __future__ import annotations

import dagster as dg

from assets.capacity import POOLS, QUEUE_TAG
from assets.definitions import defs


def test_the_definitions_load():
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    assert {job.name for job in repository.get_all_jobs() if not job.name.startswith("__")} == {
        "inbox_processing_job",
        "deliver_callbacks",
        "scheduled_polls_job",
        "api_pull_job",
        "db_pull_job",
        "file_pull_job",
        "manager_reports_job",
    }
    assert {sensor.name for sensor in repository.sensor_defs} == {
        "inbox_sensor",
        "sync_run_reporter",
        "inbox_health_sensor",
        "callbacks_due",
        "pull_poll",
        "pull_health_checks",
        "integration_partitions",
        "alerts",
        "archive_retention",
    }


def test_every_job_has_a_work_class_and_every_computed_asset_a_pool():
    pools = {pool.name for pool in POOLS}
    repository = defs.get_repository_def()
    for job in repository.get_all_jobs():
        if job.name.startswith("__"):
            continue
        assert job.tags.get(QUEUE_TAG), f"{job.name} has no {QUEUE_TAG} tag"
    executable = [assets for assets in defs.assets if isinstance(assets, dg.AssetsDefinition) and assets.is_executable]
    assert executable
    for assets in executable:
        assert assets.op.pool in pools, f"{assets.key.to_user_string()} is in no Crossdock pool"

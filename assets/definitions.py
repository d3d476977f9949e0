"""The Dagster code location (`workspace.yaml` loads `assets.definitions`): every part's definitions merged,
with the store resource bound once. With the Celery executor selected, assets materialized from the
UI (asset backfills included) run on the Celery workers too; jobs that set their own executor keep it."""

from __future__ import annotations

import dagster as dg

from assets import alerts, archive_retention, callbacks, inbox_processing, manager_reports, partitions, pull_sources
from assets.executor import distributed, pull_executor
from assets.resources import StoreResource

defs = dg.Definitions.merge(
    partitions.defs,
    inbox_processing.defs,
    pull_sources.defs,
    callbacks.defs,
    alerts.defs,
    archive_retention.defs,
    manager_reports.defs,
    dg.Definitions(
        resources={"store": StoreResource(database_url=dg.EnvVar("CROSSDOCK_DATABASE_URL"))},
        executor=pull_executor() if distributed() else None,
    ),
)

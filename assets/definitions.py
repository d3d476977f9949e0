"""The Dagster code location (`workspace.yaml` loads `assets.definitions`): every part's definitions merged,
with the store resource bound once."""
from __future__ import annotations

import dagster as dg

from assets import alerts, callbacks, inbox_processing, manager_reports, partitions, pull_sources
from assets.resources import StoreResource

defs = dg.Definitions.merge(
    partitions.defs,
    inbox_processing.defs,
    pull_sources.defs,
    callbacks.defs,
    alerts.defs,
    manager_reports.defs,
    dg.Definitions(resources={"store": StoreResource(database_url=dg.EnvVar("CROSSDOCK_DATABASE_URL"))}),
)

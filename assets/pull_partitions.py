"""Partitions of the pull assets: which integration × which UTC day.

Each pull kind has its own dynamic dimension (`api_integration`, `db_integration`,
`file_integration`) so an asset's partition grid and backfill dialog offer only the integrations it
can pull; the shared `integration` partitions (assets/partitions.py) still list every integration.
The daily dimension is what an operator backfills: one partition re-pulls that day's window.
"""
from __future__ import annotations

import dagster as dg

from assets.resources import StoreResource
from pipelines.integrations import list_integrations
from pipelines.sources.schedule import PULL_TYPES

BACKFILL_START = "2024-01-01"

integration_dimension = {kind: dg.DynamicPartitionsDefinition(name=f"{kind}_integration") for kind in PULL_TYPES}
# end_offset=1: today is a partition too, the one scheduled polls materialize.
pull_days = dg.DailyPartitionsDefinition(start_date=BACKFILL_START, end_offset=1)
pull_partitions = {
    kind: dg.MultiPartitionsDefinition({"integration": integration_dimension[kind], "date": pull_days})
    for kind in PULL_TYPES
}


def partition_requests(instance: dg.DagsterInstance, wanted: dict[str, set[str]]) -> list:
    """Add/delete requests bringing each kind's dynamic partitions to `wanted` ({kind: names})."""
    requests = []
    for kind in PULL_TYPES:
        dimension = integration_dimension[kind]
        existing = set(instance.get_dynamic_partitions(dimension.name))
        names = wanted.get(kind, set())
        if names - existing:
            requests.append(dimension.build_add_request(sorted(names - existing)))
        if existing - names:
            requests.append(dimension.build_delete_request(sorted(existing - names)))
    return requests


def wanted_partitions(store: StoreResource) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = {kind: set() for kind in PULL_TYPES}
    for integration in list_integrations(store.engine()):
        if integration.config.type in wanted:
            wanted[integration.config.type].add(integration.name)
    return wanted


@dg.sensor(
    name="pull_integration_partitions",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps one api/db/file_integration partition per pull integration in the store.",
)
def pull_partitions_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
    return dg.SensorResult(dynamic_partitions_requests=partition_requests(context.instance, wanted_partitions(store)))

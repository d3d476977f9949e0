"""Partitions shared by Crossdock's assets: one dynamic partition per integration, so the asset
catalog shows counts per integration and operators can backfill one integration at a time."""
from __future__ import annotations

import dagster as dg

from assets.resources import StoreResource
from pipelines.integrations import list_integrations

integration_partitions = dg.DynamicPartitionsDefinition(name="integration")


@dg.sensor(
    name="integration_partitions",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps one `integration` partition per integration in the store (added, renamed, deleted).",
)
def integration_partitions_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
    wanted = {integration.name for integration in list_integrations(store.engine())}
    existing = set(context.instance.get_dynamic_partitions(integration_partitions.name))
    requests = []
    if wanted - existing:
        requests.append(integration_partitions.build_add_request(sorted(wanted - existing)))
    if existing - wanted:
        requests.append(integration_partitions.build_delete_request(sorted(existing - wanted)))
    return dg.SensorResult(dynamic_partitions_requests=requests)


defs = dg.Definitions(sensors=[integration_partitions_sensor])

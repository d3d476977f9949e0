"""Dynamic partitions named after integrations, and the one sensor that keeps them in step with the store.

- `integration`: every integration, so the asset catalog shows counts per integration
  (webhook ingestions, deliveries);
- `api_integration`, `db_integration`, `file_integration`: only the integrations each pull asset can
  pull, so its partition grid and backfill dialog offer nothing else (assets/pull_partitions.py
  combines them with the day).
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from assets.resources import StoreResource
from pipelines.integrations import StoredIntegration, list_integrations
from pipelines.sources.schedule import PULL_TYPES

integration_partitions = dg.DynamicPartitionsDefinition(name="integration")
integration_dimension = {kind: dg.DynamicPartitionsDefinition(name=f"{kind}_integration") for kind in PULL_TYPES}

# Each dynamic definition, and which integrations belong in it.
_MEMBERSHIP: list[tuple[dg.DynamicPartitionsDefinition, Callable[[StoredIntegration], bool]]] = [
    (integration_partitions, lambda integration: True),
    *[(dimension, lambda integration, kind=kind: integration.config.type == kind) for kind, dimension in integration_dimension.items()],
]


def partition_requests(instance: dg.DagsterInstance, integrations: list[StoredIntegration]) -> list:
    """Add/delete requests bringing every dynamic definition to the integrations that belong in it."""
    requests = []
    for definition, belongs in _MEMBERSHIP:
        wanted = {integration.name for integration in integrations if belongs(integration)}
        existing = set(instance.get_dynamic_partitions(definition.name))
        if wanted - existing:
            requests.append(definition.build_add_request(sorted(wanted - existing)))
        if existing - wanted:
            requests.append(definition.build_delete_request(sorted(existing - wanted)))
    return requests


@dg.sensor(
    name="integration_partitions",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps the integration partitions (all, and per pull kind) in step with the store: added, renamed, deleted.",
)
def integration_partitions_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
    return dg.SensorResult(dynamic_partitions_requests=partition_requests(context.instance, list_integrations(store.engine())))


defs = dg.Definitions(sensors=[integration_partitions_sensor])

"""The integration partitions follow the store: Dagster's own sensor test context, a real store."""

from __future__ import annotations

import dagster as dg

from assets.definitions import defs
from assets.partitions import integration_partitions, integration_partitions_sensor
from assets.resources import StoreResource
from pipelines.integrations import ApiIntegration, WebhookIntegration, archive_integration, create_integration


def _tick(instance: dg.DagsterInstance, url: str) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, resources={"store": StoreResource(database_url=url)})
    result = integration_partitions_sensor(context)
    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    return result


def test_partitions_are_added_and_removed_with_integrations(store):
    url = store.url.render_as_string(hide_password=False)
    with dg.instance_for_test() as instance:
        create_integration(store, WebhookIntegration(name="cliente_abc"))
        create_integration(store, ApiIntegration(name="ClienteXYZ", endpoint="https://x.example/orders"))
        _tick(instance, url)
        assert sorted(instance.get_dynamic_partitions(integration_partitions.name)) == ["ClienteXYZ", "cliente_abc"]
        archive_integration(store, "ClienteXYZ")  # an archived integration has no partition
        _tick(instance, url)
        assert instance.get_dynamic_partitions(integration_partitions.name) == ["cliente_abc"]
        assert _tick(instance, url).dynamic_partitions_requests == []  # nothing to do: nothing requested


def test_the_code_location_loads():
    assert defs.resolve_sensor_def("integration_partitions").name == "integration_partitions"

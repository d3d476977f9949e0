"""Callback delivery in Dagster: the sensor, the delivery asset's metadata, the health check."""
from __future__ import annotations

import dagster as dg

from assets.callbacks import callback_deliveries, callback_endpoints_healthy, callbacks_due_sensor, deliver_callbacks_job
from assets.definitions import defs
from assets.resources import StoreResource
from pipelines.orders.status import change_status
from tests.callback_helpers import make_integration, order_records
from tests.callback_sink import CallbackSink, Reply


def _url(store) -> str:
    return store.url.render_as_string(hide_password=False)


def _tick(instance: dg.DagsterInstance, store):
    context = dg.build_sensor_context(instance=instance, resources={"store": StoreResource(database_url=_url(store))})
    return callbacks_due_sensor(context)


def test_the_sensor_launches_one_run_when_callbacks_are_due(store):
    _, ids = make_integration(store, "https://api.cliente.com/cb")
    with dg.instance_for_test() as instance:
        skipped = _tick(instance, store)
        assert isinstance(skipped, dg.SkipReason) and skipped.skip_message == "no callbacks due"
        change_status(store, ids["PED-001"], "assigned", actor="cli")
        request = _tick(instance, store)
        assert isinstance(request, dg.RunRequest) and request.run_key.startswith("callbacks-")
        # While a delivery run is in progress, the sensor waits for it instead of piling up runs.
        instance.add_run(dg.DagsterRun(job_name=deliver_callbacks_job.name, status=dg.DagsterRunStatus.STARTED))
        busy = _tick(instance, store)
        assert isinstance(busy, dg.SkipReason) and "still in progress" in busy.skip_message


def test_the_delivery_asset_records_counts_per_integration_and_the_check_flags_trouble(store):
    sink = CallbackSink()
    with sink.serve() as url:
        _, good = make_integration(store, url, name="cliente_abc", orders=order_records(3))
        _, bad = make_integration(store, url, name="cliente_xyz", orders=order_records(2, "XYZ"),
                                  callbacks={"retry_schedule_seconds": []})
        sink.plan_for("XYZ-001", Reply(500))
        sink.plan_for("XYZ-002", Reply(410))
        for order in good.values():
            change_status(store, order, "assigned", actor="cli")
        for order in bad.values():
            change_status(store, order, "assigned", actor="cli")
        result = dg.materialize(
            [callback_deliveries, callback_endpoints_healthy],
            resources={"store": StoreResource(database_url=_url(store))},
        )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("callback_deliveries")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert (meta["delivered"], meta["dead"], meta["disabled"]) == (3, 1, 1)
    assert (meta["cliente_abc/delivered"], meta["cliente_xyz/dead"], meta["cliente_xyz/disabled"]) == (3, 1, 1)
    table = {r.data["integration"]: r.data for r in meta["per_integration"].records}
    assert table["cliente_abc"]["delivered"] == 3 and table["cliente_abc"]["latency_p95_ms"] > 0

    (check,) = result.get_asset_check_evaluations()
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    flagged = {r.data["integration"]: r.data["problems"] for r in check.metadata["integrations"].value.records}
    assert list(flagged) == ["cliente_xyz"]
    assert "stopped: 410 Gone from the callback endpoint at " in flagged["cliente_xyz"]
    assert "1 dead letter(s) to replay" in flagged["cliente_xyz"]


def test_the_code_location_has_the_callback_definitions():
    assert defs.resolve_sensor_def("callbacks_due").name == "callbacks_due"
    assert defs.resolve_job_def("deliver_callbacks").name == "deliver_callbacks"

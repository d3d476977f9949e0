"""Callback delivery in Dagster: the sensor (launches ahead of a retry, never beside a run in flight),
the delivery asset's metadata, the health check."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from assets.callbacks import (
    LAUNCH_LEAD_SECONDS,
    callback_deliveries,
    callback_endpoints_healthy,
    callbacks_due_sensor,
    deliver_callbacks_job,
)
from assets.capacity import CALLBACK_POOL, QUEUE_TAG
from assets.definitions import defs
from assets.resources import StoreResource
from pipelines.clock import utcnow
from pipelines.orders.status import change_status
from pipelines.store.schema import callback_outbox
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
        # While a delivery run is in progress (found by the tag its job sets), the sensor waits for it.
        running = instance.add_run(
            dg.DagsterRun(job_name=deliver_callbacks_job.name, status=dg.DagsterRunStatus.STARTED, tags=dict(deliver_callbacks_job.tags))
        )
        busy = _tick(instance, store)
        assert isinstance(busy, dg.SkipReason) and running.run_id in busy.skip_message
        instance.report_run_canceled(running)
        # A retry a minute away launches nothing yet; one within the lead launches a run now, so the run
        # is up when the retry falls due.
        with store.begin() as conn:
            conn.execute(callback_outbox.update().values(next_attempt_at=utcnow() + timedelta(seconds=60)))
        assert isinstance(_tick(instance, store), dg.SkipReason)
        with store.begin() as conn:
            conn.execute(callback_outbox.update().values(next_attempt_at=utcnow() + timedelta(seconds=LAUNCH_LEAD_SECONDS - 3)))
        assert isinstance(_tick(instance, store), dg.RunRequest)


def test_the_delivery_asset_records_counts_per_integration_and_the_check_flags_trouble(store):
    sink = CallbackSink()
    with sink.serve() as url:
        _, good = make_integration(store, url, name="cliente_abc", orders=order_records(3))
        _, bad = make_integration(store, url, name="cliente_xyz", orders=order_records(2, "XYZ"), callbacks={"retry_schedule_seconds": []})
        sink.plan_for("XYZ-001", Reply(500))
        sink.plan_for("XYZ-002", Reply(410))
        for order in good.values():
            change_status(store, order, "assigned", actor="cli")
        for order in bad.values():
            change_status(store, order, "assigned", actor="cli")
        result = dg.materialize(
            [callback_deliveries, callback_endpoints_healthy],
            resources={"store": StoreResource(database_url=_url(store))},
            run_config={"ops": {"callback_deliveries": {"config": {"idle_seconds": 0}}}},
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
    job = defs.resolve_job_def("deliver_callbacks")
    assert job.tags[QUEUE_TAG] == "callbacks" and int(job.tags["dagster/priority"]) > 0
    assert job.executor_def is dg.in_process_executor and callback_deliveries.op.pool == CALLBACK_POOL.name

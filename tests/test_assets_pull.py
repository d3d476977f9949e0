"""The pull assets in Dagster: the poll sensor (Dagster's sensor test context), the scheduled-poll
worker and a three-day backfill executed in-process against a real loopback API, materialization
metadata, failures, and the freshness and error-rate checks (and the sensor that reports them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa

from assets.capacity import PULL_POOL, QUEUE_TAG
from assets.definitions import defs
from assets.partitions import integration_dimension, integration_partitions_sensor
from assets.pull_assets import PULL_JOBS, api_pull
from assets.pull_checks import error_rate_fields, freshness_fields, pull_checks_sensor
from assets.pull_worker import pull_poll_sensor, scheduled_polls, scheduled_polls_job
from assets.resources import StoreResource
from pipelines.clock import utcnow
from pipelines.integrations import (
    ApiIntegration,
    DbIntegration,
    FileIntegration,
    WebhookIntegration,
    create_integration,
    get_integration,
    parse_integration,
    set_active,
)
from pipelines.sources.schedule import due_polls, last_poll_starts, mark_poll_started, seconds_until_next_poll
from pipelines.store.schema import orders, sync_runs
from tests.conftest import load_example
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api

WINDOWED = {
    "pagination": "page",
    "records_path": "data",
    "cursor_field": "updated_at",
    "cursor_param": "updated_since",
    "window_start_param": "updated_since",
    "window_end_param": "updated_until",
}


def _url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _api_integration(engine, base_url: str, name: str = "ClienteXYZ", **changes):
    document = load_example("api_polling_integration.json")
    document.update({"name": name, "endpoint": f"{base_url}/orders?status=pending", "api": WINDOWED, **changes})
    return create_integration(engine, parse_integration(document))


def _key(name: str, day: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"integration": name, "date": day})


def test_the_code_location_has_the_pull_assets_jobs_sensors_and_checks():
    for job in ("api_pull_job", "db_pull_job", "file_pull_job", "scheduled_polls_job"):
        assert defs.resolve_job_def(job).name == job
    for sensor in ("pull_poll", "pull_health_checks"):
        assert defs.resolve_sensor_def(sensor).name == sensor
    checks = defs.resolve_asset_graph().asset_check_keys
    assert dg.AssetCheckKey(dg.AssetKey("api_pull"), "freshness") in checks
    assert dg.AssetCheckKey(dg.AssetKey("db_pull"), "error_rate") in checks
    # Backfill partitions and the poll worker draw from one pool, whichever way they are launched.
    assert {job.tags[QUEUE_TAG] for job in PULL_JOBS.values()} == {"pull_partitions"}
    assert scheduled_polls_job.tags[QUEUE_TAG] == "scheduled_polls"
    assert api_pull.op.pool == scheduled_polls.op.pool == PULL_POOL.name


def test_due_polls_follow_each_interval_most_overdue_first_and_skip_busy_inactive_and_webhook(sqlite_store):
    api = create_integration(sqlite_store, ApiIntegration(name="api5", endpoint="https://x.example/o", poll_interval_seconds=300))
    files = create_integration(sqlite_store, FileIntegration(name="files"))
    create_integration(sqlite_store, WebhookIntegration(name="hook"))
    create_integration(sqlite_store, DbIntegration(name="off", is_active=False))
    everyone = [api, files, get_integration(sqlite_store, "hook"), get_integration(sqlite_store, "off")]
    t = datetime(2024, 1, 15, 12, 0, 50, tzinfo=UTC)
    assert [p.name for p in due_polls(everyone, t, {})] == ["api5", "files"]  # never polled: due, 300 s before 60 s
    mark_poll_started(sqlite_store, api.id, t)
    mark_poll_started(sqlite_store, files.id, t)
    started = last_poll_starts(sqlite_store)
    assert started == {api.id: t.timestamp(), files.id: t.timestamp()}
    assert due_polls(everyone, t + timedelta(seconds=10), started) == []
    assert seconds_until_next_poll(everyone, t + timedelta(seconds=10), started) == 50
    assert [p.name for p in due_polls(everyone, t + timedelta(seconds=60), started)] == ["files"]  # 60 s vs 300 s
    late = due_polls(everyone, t + timedelta(seconds=400), started)
    assert [(p.name, p.overdue_seconds) for p in late] == [("files", 340), ("api5", 100)]
    assert [p.name for p in due_polls(everyone, t + timedelta(seconds=400), started, busy={"files"})] == ["api5"]
    assert seconds_until_next_poll([get_integration(sqlite_store, "hook")], t, started) is None


def _sensor(sensor, instance, engine, cursor=None):
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources={"store": StoreResource(database_url=_url(engine))}))


def _queued_run(instance: dg.DagsterInstance, job_name: str) -> None:
    """A run of `job_name` waiting to start, with the job's own tags (as the daemon creates it)."""
    job = defs.resolve_job_def(job_name)
    return instance.create_run_for_job(job, tags=dict(job.tags))


def test_poll_sensor_launches_one_worker_when_a_poll_is_due_and_none_is_in_flight(sqlite_store):
    api = create_integration(sqlite_store, ApiIntegration(name="api_a", endpoint="https://x.example/o"))
    create_integration(sqlite_store, WebhookIntegration(name="hook_a"))
    with dg.instance_for_test() as instance:
        first = _sensor(pull_poll_sensor, instance, sqlite_store)
        [request] = first.run_requests
        assert request.run_key == "polls-1" and first.cursor == "1"
        # The worker the sensor launched is queued: the sensor sees it by the tag its job sets.
        waiting = _queued_run(instance, scheduled_polls_job.name)
        queued = _sensor(pull_poll_sensor, instance, sqlite_store, first.cursor)
        assert isinstance(queued, dg.SkipReason) and waiting.run_id in queued.skip_message
        # A backfill of the same pool does not stop the scheduled polls.
        for run in instance.get_runs():
            instance.report_run_canceled(run)
        _queued_run(instance, PULL_JOBS["api"].name)
        assert _sensor(pull_poll_sensor, instance, sqlite_store, first.cursor).run_requests[0].run_key == "polls-2"
        # Polled a moment ago: nothing is due for five minutes, so nothing launches.
        mark_poll_started(sqlite_store, api.id, utcnow())
        idle = _sensor(pull_poll_sensor, instance, sqlite_store, first.cursor)
        assert isinstance(idle, dg.SkipReason) and "next poll due in" in idle.skip_message


def test_the_poll_worker_polls_every_due_integration_and_reports_each_on_its_partition(sqlite_store):
    good = ClientApi(seed_orders(7), style="page")
    refusing = ClientApi(seed_orders(3), style="page")
    refusing.faults = [401] * 5
    with serve_client_api(good) as base_url, serve_client_api(refusing) as refusing_url, dg.instance_for_test() as instance:
        _api_integration(sqlite_store, base_url)
        _api_integration(sqlite_store, refusing_url, name="Refusing")
        resources = {"store": StoreResource(database_url=_url(sqlite_store))}
        config = {"ops": {"scheduled_polls": {"config": {"budget_seconds": 5, "linger_seconds": 0}}}}
        result = dg.materialize([scheduled_polls], instance=instance, resources=resources, run_config=config)
        [summary] = [m.metadata for m in result.asset_materializations_for_node("scheduled_polls") if m.asset_key == scheduled_polls.key]
        assert (summary["polls"].value, summary["succeeded"].value, summary["failed"].value) == (2, 1, 1)
        event = instance.get_latest_materialization_event(dg.AssetKey("api_pull"))
        today = datetime.now(UTC).date().isoformat()
        assert event.asset_materialization.partition == _key("ClienteXYZ", today)
        metadata = event.asset_materialization.metadata
        assert (metadata["created"].value, metadata["mode"].value) == (7, "incremental")
        assert metadata["cursor_after"].value == good.orders[-1]["updated_at"]
        # Both polls were started now: neither is due again within its interval.
        assert (
            due_polls([get_integration(sqlite_store, n) for n in ("ClienteXYZ", "Refusing")], utcnow(), last_poll_starts(sqlite_store))
            == []
        )
    with sqlite_store.connect() as conn:
        statuses = dict(conn.execute(sa.select(sync_runs.c.integration_id, sync_runs.c.status)).all())
    assert sorted(statuses.values()) == ["failed", "ok"]


def test_partition_sensor_keeps_each_kind_in_step(sqlite_store):
    create_integration(sqlite_store, ApiIntegration(name="api_b", endpoint="https://x.example/o"))
    with dg.instance_for_test() as instance:
        resources = {"store": StoreResource(database_url=_url(sqlite_store))}
        instance.add_dynamic_partitions("api_integration", ["renamed_away"])
        result = integration_partitions_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        changes = {(type(r).__name__, r.partitions_def_name): r.partition_keys for r in result.dynamic_partitions_requests}
        assert changes == {
            ("AddDynamicPartitionsRequest", "integration"): ["api_b"],
            ("AddDynamicPartitionsRequest", "api_integration"): ["api_b"],
            ("DeleteDynamicPartitionsRequest", "api_integration"): ["renamed_away"],
        }


def test_backfilling_three_days_repulls_exactly_those_windows(store):
    api = ClientApi(seed_orders(24 * 6, start=datetime(2024, 1, 14, tzinfo=UTC), step=timedelta(hours=1)), style="page")
    with serve_client_api(api) as base_url, dg.instance_for_test() as instance:
        _api_integration(store, base_url)
        instance.add_dynamic_partitions(integration_dimension["api"].name, ["ClienteXYZ"])
        resources = {"store": StoreResource(database_url=_url(store))}
        days = ["2024-01-15", "2024-01-16", "2024-01-17"]
        for day in days:  # a multi-run backfill: one run per partition, as the UI launches it
            assert dg.materialize([api_pull], partition_key=_key("ClienteXYZ", day), instance=instance, resources=resources).success
        windows = [(r["query"]["updated_since"], r["query"]["updated_until"]) for r in api.requests]
        assert windows == [(f"{d}T00:00:00Z", f"{(datetime.fromisoformat(d) + timedelta(days=1)).date()}T00:00:00Z") for d in days]
        with store.connect() as conn:
            landed = sorted(conn.execute(sa.select(orders.c.external_id)).scalars())
        assert landed == [f"ORD-{i:05d}" for i in range(24, 96)]  # exactly the 15th to the 17th
        event = instance.get_latest_materialization_event(dg.AssetKey("api_pull"))
        metadata = event.asset_materialization.metadata
        assert metadata["created"].value == 24 and metadata["pages"].value == 1 and metadata["mode"].value == "window"
        assert "duration_ms" in metadata and metadata["window"].value.startswith("[2024-01-17T00:00:00Z")
        # Running the same backfill again is idempotent: everything unchanged.
        assert dg.materialize([api_pull], partition_key=_key("ClienteXYZ", "2024-01-16"), instance=instance, resources=resources).success
        metadata = instance.get_latest_materialization_event(dg.AssetKey("api_pull")).asset_materialization.metadata
        assert (metadata["created"].value, metadata["unchanged"].value) == (0, 24)


def test_a_partition_run_fails_with_the_poll_error(sqlite_store):
    api = ClientApi(seed_orders(7), style="page")
    with serve_client_api(api) as base_url, dg.instance_for_test() as instance:
        _api_integration(sqlite_store, base_url)
        instance.add_dynamic_partitions("api_integration", ["ClienteXYZ"])
        resources = {"store": StoreResource(database_url=_url(sqlite_store))}
        today = datetime.now(UTC).date().isoformat()
        api.faults = [401]
        failed = dg.materialize(
            [api_pull], partition_key=_key("ClienteXYZ", today), instance=instance, resources=resources, raise_on_error=False
        )
        assert not failed.success
        failure = next(e for e in failed.all_events if e.is_step_failure)
        assert "HTTP 401" in failure.step_failure_data.user_failure_data.description
    with sqlite_store.connect() as conn:
        assert conn.execute(sa.select(sync_runs.c.status).order_by(sync_runs.c.id.desc()).limit(1)).scalar() == "failed"


def test_freshness_and_error_rate_checks_and_the_sensor_that_reports_them(sqlite_store):
    api = ClientApi(seed_orders(3) + [{"order_number": "BAD", "customer": {}, "status": "pending", "updated_at": "2024-01-15T00:00:00Z"}])
    with serve_client_api(api) as base_url:
        integration = _api_integration(sqlite_store, base_url, api={"pagination": "none"})
        assert freshness_fields(sqlite_store, "api")["passed"]  # just created: it has 2× the interval for its first sync
        from connectors.pull import pull

        pull(sqlite_store, "ClienteXYZ")
    assert freshness_fields(sqlite_store, "api")["passed"]
    rate = error_rate_fields(sqlite_store, "api")
    assert not rate["passed"] and "1/4 records invalid" in rate["metadata"]["integrations"].value
    with dg.instance_for_test() as instance:
        first = _sensor(pull_checks_sensor, instance, sqlite_store)
        reported = {(e.asset_key.path[0], e.check_name): e.passed for e in first.asset_events}
        assert len(reported) == 6 and reported[("api_pull", "error_rate")] is False
        assert isinstance(_sensor(pull_checks_sensor, instance, sqlite_store, first.cursor), dg.SkipReason)  # unchanged
        old = datetime.now(UTC) - timedelta(hours=1)
        with sqlite_store.begin() as conn:
            conn.execute(sync_runs.update().where(sync_runs.c.integration_id == integration.id).values(finished_at=old, started_at=old))
        changed = _sensor(pull_checks_sensor, instance, sqlite_store, first.cursor)
        assert [(e.check_name, e.passed) for e in changed.asset_events] == [("freshness", False)]
        assert "STALE ClienteXYZ" in changed.asset_events[0].metadata["integrations"].value
    set_active(sqlite_store, "ClienteXYZ", False)
    assert freshness_fields(sqlite_store, "api")["passed"]  # a disabled integration is not expected to sync

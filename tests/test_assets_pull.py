"""The pull assets in Dagster: the poll sensor (Dagster's sensor test context), a three-day backfill
of one integration executed in-process against a real loopback API, materialization metadata, failures,
and the freshness and error-rate checks."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg
import sqlalchemy as sa

from assets.definitions import defs
from assets.pull_assets import api_pull
from assets.pull_checks import error_rate_check, freshness_check
from assets.partitions import integration_dimension, integration_partitions_sensor
from assets.pull_sensor import pull_poll_sensor
from assets.resources import StoreResource
from pipelines.integrations import Integration, create_integration, get_integration, set_active
from pipelines.sources.schedule import due_polls
from pipelines.store.schema import orders, sync_runs
from tests.conftest import load_example
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api

WINDOWED = {"pagination": "page", "records_path": "data", "cursor_field": "updated_at", "cursor_param": "updated_since",
            "window_start_param": "updated_since", "window_end_param": "updated_until"}


def _url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _api_integration(engine, base_url: str, name: str = "ClienteXYZ", **changes):
    document = load_example("api_polling_integration.json")
    document.update({"name": name, "endpoint": f"{base_url}/orders?status=pending", "api": WINDOWED, **changes})
    return create_integration(engine, Integration.model_validate(document))


def _key(name: str, day: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"integration": name, "date": day})


def test_the_code_location_has_the_pull_assets_jobs_sensors_and_checks():
    for job in ("api_pull_job", "db_pull_job", "file_pull_job", "pull_health_checks"):
        assert defs.resolve_job_def(job).name == job
    assert defs.resolve_sensor_def("pull_poll").name == "pull_poll"
    checks = defs.resolve_asset_graph().asset_check_keys
    assert dg.AssetCheckKey(dg.AssetKey("api_pull"), "freshness") in checks
    assert dg.AssetCheckKey(dg.AssetKey("db_pull"), "error_rate") in checks


def test_due_polls_follow_each_interval_and_skip_busy_inactive_and_webhook(sqlite_store):
    api = create_integration(sqlite_store, Integration(name="api5", type="api", endpoint="https://x.example/o", poll_interval_seconds=300))
    create_integration(sqlite_store, Integration(name="files", type="file"))
    create_integration(sqlite_store, Integration(name="hook", type="webhook"))
    create_integration(sqlite_store, Integration(name="off", type="db", is_active=False))
    everyone = [api, get_integration(sqlite_store, "files"), get_integration(sqlite_store, "hook"), get_integration(sqlite_store, "off")]
    t = datetime(2024, 1, 15, 12, 0, 50, tzinfo=timezone.utc)
    first = {p.name: p.run_key for p in due_polls(everyone, t)}
    assert set(first) == {"api5", "files"}  # never polled: due at once; webhook and disabled never
    launched = {"api5": t.timestamp(), "files": t.timestamp()}
    # 10 s later a new minute has begun, but neither interval has elapsed since the launch.
    assert due_polls(everyone, t + timedelta(seconds=10), last_launched=launched) == []
    minute_later = due_polls(everyone, t + timedelta(seconds=60), last_launched=launched)
    assert [p.name for p in minute_later] == ["files"] and minute_later[0].run_key != first["files"]  # 60 s vs 300 s
    five_later = {p.name: p.run_key for p in due_polls(everyone, t + timedelta(seconds=300), last_launched=launched)}
    assert set(five_later) == {"api5", "files"} and five_later["api5"] != first["api5"]
    # The same tick evaluated twice (e.g. the cursor was lost) yields the same run keys: launched once.
    assert {p.name: p.run_key for p in due_polls(everyone, t)} == first
    assert [p.name for p in due_polls(everyone, t, busy={"api5"})] == ["files"]


def test_poll_sensor_requests_one_incremental_run_per_due_integration(sqlite_store):
    create_integration(sqlite_store, Integration(name="api_a", type="api", endpoint="https://x.example/o"))
    create_integration(sqlite_store, Integration(name="db_a", type="db", db={"url": "sqlite:///c.db", "query": "SELECT 1"}))
    create_integration(sqlite_store, Integration(name="hook_a", type="webhook"))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"store": StoreResource(database_url=_url(sqlite_store))})
        result = pull_poll_sensor(context)
        requests = {r.partition_key.keys_by_dimension["integration"]: r for r in result.run_requests}
        assert set(requests) == {"api_a", "db_a"}
        api_request = requests["api_a"]
        assert api_request.job_name == "api_pull_job" and api_request.run_key.startswith("poll:api_a:300:")
        assert api_request.partition_key.keys_by_dimension["date"] == datetime.now(timezone.utc).date().isoformat()
        assert api_request.run_config["ops"]["api_pull"]["config"]["mode"] == "incremental"
        added = {r.partitions_def_name: r.partition_keys for r in result.dynamic_partitions_requests}
        assert added == {"api_integration": ["api_a"], "db_integration": ["db_a"]}
        # The next tick, within the interval, launches nothing: the cursor remembers the launches.
        again = pull_poll_sensor(dg.build_sensor_context(
            instance=instance, cursor=result.cursor, resources={"store": StoreResource(database_url=_url(sqlite_store))}
        ))
        assert again.run_requests == []


def test_partition_sensor_keeps_each_kind_in_step(sqlite_store):
    create_integration(sqlite_store, Integration(name="api_b", type="api", endpoint="https://x.example/o"))
    with dg.instance_for_test() as instance:
        resources = {"store": StoreResource(database_url=_url(sqlite_store))}
        instance.add_dynamic_partitions("api_integration", ["renamed_away"])
        result = integration_partitions_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        changes = {(type(r).__name__, r.partitions_def_name): r.partition_keys for r in result.dynamic_partitions_requests}
        assert changes == {("AddDynamicPartitionsRequest", "integration"): ["api_b"],
                           ("AddDynamicPartitionsRequest", "api_integration"): ["api_b"],
                           ("DeleteDynamicPartitionsRequest", "api_integration"): ["renamed_away"]}


def test_backfilling_three_days_repulls_exactly_those_windows(store):
    api = ClientApi(seed_orders(24 * 6, start=datetime(2024, 1, 14, tzinfo=timezone.utc), step=timedelta(hours=1)), style="page")
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


def test_a_scheduled_poll_runs_incrementally_and_a_failure_fails_the_run(sqlite_store):
    api = ClientApi(seed_orders(7), style="page")
    with serve_client_api(api) as base_url, dg.instance_for_test() as instance:
        _api_integration(sqlite_store, base_url)
        instance.add_dynamic_partitions("api_integration", ["ClienteXYZ"])
        resources = {"store": StoreResource(database_url=_url(sqlite_store))}
        today = datetime.now(timezone.utc).date().isoformat()
        config = {"ops": {"api_pull": {"config": {"mode": "incremental"}}}}
        result = dg.materialize([api_pull], partition_key=_key("ClienteXYZ", today), instance=instance,
                                resources=resources, run_config=config)
        metadata = result.asset_materializations_for_node("api_pull")[0].metadata
        assert (metadata["created"].value, metadata["mode"].value) == (7, "incremental")
        assert metadata["cursor_after"].value == api.orders[-1]["updated_at"]
        api.faults = [401]
        failed = dg.materialize([api_pull], partition_key=_key("ClienteXYZ", today), instance=instance,
                                resources=resources, run_config=config, raise_on_error=False)
        assert not failed.success
        failure = next(e for e in failed.all_events if e.is_step_failure)
        assert "HTTP 401" in failure.step_failure_data.user_failure_data.description
    with sqlite_store.connect() as conn:
        assert conn.execute(sa.select(sync_runs.c.status).order_by(sync_runs.c.id.desc()).limit(1)).scalar() == "failed"


def test_freshness_and_error_rate_checks(sqlite_store):
    resources = StoreResource(database_url=_url(sqlite_store))
    api = ClientApi(seed_orders(3) + [{"order_number": "BAD", "customer": {}, "status": "pending", "updated_at": "2024-01-15T00:00:00Z"}])
    with serve_client_api(api) as base_url:
        integration = _api_integration(sqlite_store, base_url, api={"pagination": "none"})
        fresh_new = freshness_check("api")(store=resources)
        assert fresh_new.passed  # just created: it has 2× the interval for its first sync
        from connectors.pull import pull

        pull(sqlite_store, "ClienteXYZ")
    assert freshness_check("api")(store=resources).passed
    rate = error_rate_check("api")(store=resources)
    assert not rate.passed and "1/4 records invalid" in rate.metadata["integrations"].value
    old = datetime.now(timezone.utc) - timedelta(hours=1)
    with sqlite_store.begin() as conn:
        conn.execute(sync_runs.update().where(sync_runs.c.integration_id == integration.id).values(finished_at=old, started_at=old))
    stale = freshness_check("api")(store=resources)
    assert not stale.passed and "STALE ClienteXYZ" in stale.metadata["integrations"].value
    set_active(sqlite_store, "ClienteXYZ", False)
    assert freshness_check("api")(store=resources).passed  # a disabled integration is not expected to sync

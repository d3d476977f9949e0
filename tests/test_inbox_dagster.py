"""The inbox in Dagster, with Dagster's own test tooling (sensor contexts, in-process runs on a test
instance) over a real store on SQLite and PostgreSQL. The tests play the daemon's part: they turn a
sensor's run request into a run and report a sensor's asset events to the instance."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from assets.capacity import INBOX_POOL, MAX_CONCURRENT_RUNS, POOLS, QUEUE_TAG, failure_backoff, retry_after_failures
from assets.definitions import defs
from assets.inbox_processing import inbox_processing, inbox_processing_job, inbox_sensor
from assets.inbox_reporting import build_sync_run_reporter, inbox_health_sensor
from assets.instance import prepare_instance, write_dagster_yaml
from assets.partitions import integration_partitions
from assets.resources import StoreResource
from pipelines.clock import utcnow
from pipelines.inbox import DEAD, DONE, PENDING
from pipelines.inbox.processing import replay
from pipelines.ingest.sales import register_identifiers
from pipelines.integrations import WebhookIntegration, create_integration
from pipelines.store.engine import make_engine
from pipelines.store.identity import store_id
from pipelines.store.migrate import upgrade
from pipelines.store.schema import customers, identifiers, inbox, sync_runs
from tests.conftest import EXAMPLES
from tests.inbox_rows import insert_pending, receive_sync

INGESTIONS = dg.AssetKey("webhook_ingestions")
SEED_CODE = "a1b2c3d4-e5f6-7890-1234-567890abcdef"


def order(i: int) -> dict:
    return {"external_id": f"PED-{i}", "client_name": f"Cliente {i}", "address": "Zona 10, Guatemala"}


def url_of(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, engine: sa.Engine, cursor: str | None = None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"store": StoreResource(database_url=url_of(engine))})
    return sensor(context)


# Runs launched by the daemon linger for new rows; these runs return as soon as the inbox is empty.
NO_LINGER = {"ops": {"inbox_processing": {"config": {"linger_seconds": 0}}}}


def run_request(instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """What the daemon does with a sensor's run request, in this process."""
    job = defs.resolve_job_def(inbox_processing_job.name)
    return job.execute_in_process(run_config=NO_LINGER, instance=instance, tags={**request.tags, "dagster/run_key": request.run_key})


def report(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    """What the daemon does with a sensor's asset events."""
    for event in result.asset_events:
        instance.report_runless_asset_event(event)


def statuses(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(inbox.c.status).order_by(inbox.c.id)).scalars())


def latest_by_partition(instance: dg.DagsterInstance) -> dict[str, dict]:
    records = instance.fetch_materializations(INGESTIONS, limit=100).records  # newest first
    found: dict[str, dict] = {}
    for record in records:
        event = record.asset_materialization
        found.setdefault(event.partition, {k: v.value for k, v in event.metadata.items()})
    return found


def async_integration(engine, name: str):
    return create_integration(engine, WebhookIntegration(name=name, webhook={"ack_mode": "async"}))


def test_one_run_processes_a_micro_batch_and_records_counts_per_integration(store):
    abc, otro = async_integration(store, "cliente_abc"), async_integration(store, "otro")
    for i in range(3):
        insert_pending(store, abc.id, order(i))
    insert_pending(store, otro.id, [order(10), order(11)])
    insert_pending(store, otro.id, b"not json")
    with dg.instance_for_test() as instance:
        first = tick(inbox_sensor, instance, store)
        assert [r.run_key for r in first.run_requests] == ["inbox-1"]  # five rows, one run
        assert tick(inbox_sensor, instance, store).run_requests[0].run_key == "inbox-1"  # a retried tick: same key

        run = run_request(instance, first.run_requests[0])

        assert run.success
        assert statuses(store) == [DONE, DONE, DONE, DONE, DEAD]
        batch = run.asset_materializations_for_node("inbox_processing")[-1].metadata
        assert {k: batch[k].value for k in ("rows", "received", "created", "errors", "dead")} == {
            "rows": 5,
            "received": 5,
            "created": 5,
            "errors": 0,
            "dead": 1,
        }
        assert "| otro | 2 | 2 | 2 |" in batch["per_integration"].value
        assert batch["duration_ms"].value > 0 and batch["run_seconds"].value >= 0
        per_integration = latest_by_partition(instance)
        assert per_integration["cliente_abc"]["created"] == 3 and per_integration["cliente_abc"]["rows"] == 3
        assert per_integration["otro"]["created"] == 2 and per_integration["otro"]["dead"] == 1
        assert per_integration["otro"]["error_reasons"].startswith("dead letter: body is not readable: malformed JSON")
        assert per_integration["otro"]["mode"] == "async (Dagster inbox processor)"
        assert set(instance.get_dynamic_partitions(integration_partitions.name)) == {"cliente_abc", "otro"}

        # Nothing pending any more: the next tick launches nothing, and a re-run would do nothing.
        assert isinstance(tick(inbox_sensor, instance, store, first.cursor), dg.SkipReason)
        again = run_request(instance, dg.RunRequest(run_key="inbox-manual"))
        assert again.asset_materializations_for_node("inbox_processing")[-1].metadata["rows"].value == 0
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sync_runs)).scalar_one() == 4


def test_ticks_never_launch_a_second_run_while_one_is_queued_or_running(store):
    abc = async_integration(store, "cliente_abc")
    job = defs.resolve_job_def(inbox_processing_job.name)
    insert_pending(store, abc.id, order(1))
    with dg.instance_for_test() as instance:
        first = tick(inbox_sensor, instance, store)
        assert first.cursor == "1"
        # The daemon turned the request into a run; more rows arrive before it starts, and while it runs.
        launched = instance.create_run_for_job(job, status=dg.DagsterRunStatus.NOT_STARTED, tags={**job.tags, "dagster/run_key": "inbox-1"})
        insert_pending(store, abc.id, order(2))
        waiting = tick(inbox_sensor, instance, store, first.cursor)
        assert isinstance(waiting, dg.SkipReason) and launched.run_id in waiting.skip_message
        instance.report_run_canceled(launched)
        running = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED, tags=dict(job.tags))
        assert isinstance(tick(inbox_sensor, instance, store, first.cursor), dg.SkipReason)

        # With no run in flight, whatever is pending (new rows, a failed run's, replayed) gets the next run.
        instance.report_run_canceled(running)
        second = tick(inbox_sensor, instance, store, first.cursor)
        assert [r.run_key for r in second.run_requests] == ["inbox-2"] and second.cursor == "2"


def test_failed_runs_back_off_doubling_up_to_five_minutes(store):
    assert [retry_after_failures(n) for n in range(8)] == [0, 10, 20, 40, 80, 160, 300, 300]
    abc = async_integration(store, "cliente_abc")
    job = defs.resolve_job_def(inbox_processing_job.name)
    insert_pending(store, abc.id, order(1))
    with dg.instance_for_test() as instance:
        for _ in range(2):  # two runs in a row crashed (say, the store was unreachable)
            instance.report_run_failed(instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED, tags=dict(job.tags)))
        waiting = tick(inbox_sensor, instance, store, "2")
        assert isinstance(waiting, dg.SkipReason)
        assert "the last 2 inbox run(s) failed" in waiting.skip_message and "the next starts in" in waiting.skip_message

        finished = instance.get_run_records(dg.RunsFilter(job_name=job.name), limit=8)  # newest first
        ended = finished[0].end_time
        assert failure_backoff(finished, ended + 5) == (2, 15.0)
        assert failure_backoff(finished, ended + 20) is None  # the 20 s wait after two failures is over

        # A run that succeeds (an operator's, here) ends the streak: new rows get a run straight away.
        assert run_request(instance, dg.RunRequest(run_key="inbox-manual")).success
        insert_pending(store, abc.id, order(2))
        assert [r.run_key for r in tick(inbox_sensor, instance, store, "2").run_requests] == ["inbox-3"]


def test_seed_004_sale_through_the_sensor_and_a_run(store):
    account = create_integration(store, WebhookIntegration(name="autentik_demo", target="sale", webhook={"ack_mode": "async"}))
    with store.begin() as conn:
        register_identifiers(conn, account.id, [{"code": SEED_CODE, "product_sku": "BOLSO-CUERO-01"}], utcnow())
    insert_pending(store, account.id, (EXAMPLES / "autentikapp_sale.json").read_bytes())
    with dg.instance_for_test() as instance:
        assert run_request(instance, tick(inbox_sensor, instance, store).run_requests[0]).success
        assert latest_by_partition(instance)["autentik_demo"]["created"] == 1
    with store.connect() as conn:
        customer = conn.execute(sa.select(customers).where(customers.c.national_id == "123456789")).one()
        assert conn.execute(sa.select(identifiers.c.customer_id).where(identifiers.c.code == SEED_CODE)).scalar_one() == customer.id


def test_sync_mode_ingestions_are_reported_once_each(store):
    abc = create_integration(store, WebhookIntegration(name="cliente_abc"))
    reporter = build_sync_run_reporter(settle_seconds=0)
    receive_sync(store, abc, [order(1)])
    _, second_run = receive_sync(store, abc, [order(1), order(2), {"client_name": "sin id"}])
    with dg.instance_for_test() as instance:
        settling = build_sync_run_reporter(settle_seconds=3600)
        assert _skipped(tick(settling, instance, store))  # started within the settle window

        first = tick(reporter, instance, store)
        assert len(first.asset_events) == 2 and json.loads(first.cursor) == {"store": store_id(store), "after": second_run}
        report(instance, first)
        shown = latest_by_partition(instance)["cliente_abc"]
        assert (shown["received"], shown["created"], shown["unchanged"], shown["errors"]) == (3, 1, 1, 1)
        assert shown["mode"] == "sync (receiver)" and "external_id" in shown["error_reasons"]
        assert instance.get_dynamic_partitions(integration_partitions.name) == ["cliente_abc"]

        assert _skipped(tick(reporter, instance, store, first.cursor))  # never twice

        # One more sync ingestion, and one row the Dagster processor ingested (reported by its run).
        receive_sync(store, abc, [order(3)])
        insert_pending(store, abc.id, order(4))
        run_request(instance, tick(inbox_sensor, instance, store).run_requests[0])
        later = tick(reporter, instance, store, first.cursor)
        assert [e.metadata["created"].value for e in later.asset_events] == [1]
        assert [e.metadata["mode"].value for e in later.asset_events] == ["sync (receiver)"]
        with store.connect() as conn:
            assert json.loads(later.cursor)["after"] == conn.execute(sa.select(sa.func.max(sync_runs.c.id))).scalar_one()
        assert len(instance.fetch_materializations(INGESTIONS, limit=100).records) == 3  # 2 reported + 1 by the run


def _skipped(result) -> bool:
    return isinstance(result, dg.SkipReason) or (not result.asset_events and result.skip_reason is not None)


def test_the_sync_run_reporter_starts_over_on_another_store(tmp_path, monkeypatch):
    """Its cursor counts runs in one store: pointed at another (a new CROSSDOCK_DATABASE_URL, or the
    file recreated), it reports that store's runs from its first instead of skipping as many."""
    old, new = (make_engine(f"sqlite:///{tmp_path / name}") for name in ("old.db", "new.db"))
    for engine in (old, new):
        upgrade(engine)
    reporter = build_sync_run_reporter(settle_seconds=0)
    old_hook = create_integration(old, WebhookIntegration(name="cliente_abc"))
    for i in range(5):
        receive_sync(old, old_hook, [order(i)])
    new_hook = create_integration(new, WebhookIntegration(name="cliente_abc"))
    receive_sync(new, new_hook, [order(100)])
    receive_sync(new, new_hook, [order(101)])
    with dg.instance_for_test() as instance:
        on_old = tick(reporter, instance, old)
        assert len(on_old.asset_events) == 5
        on_new = tick(reporter, instance, new, on_old.cursor)
        assert [e.metadata["sync_run_ids"].value for e in on_new.asset_events] == ["1", "2"]
        # A cursor from before stores were named (a bare id) still counts in the current store.
        assert len(tick(reporter, instance, old, "3").asset_events) == 2
    old.dispose()
    new.dispose()


def test_inbox_health_check_flags_dead_letters_and_clears_after_replay(store):
    abc = async_integration(store, "cliente_abc")
    insert_pending(store, abc.id, b"{broken")
    with dg.instance_for_test() as instance:
        run = run_request(instance, tick(inbox_sensor, instance, store).run_requests[0])
        [evaluation] = run.get_asset_check_evaluations()
        assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
        assert evaluation.metadata["dead_letters"].value == {"cliente_abc": 1}

        flagged = tick(inbox_health_sensor, instance, store)
        assert [e.passed for e in flagged.asset_events] == [False]
        assert isinstance(tick(inbox_health_sensor, instance, store, flagged.cursor), dg.SkipReason)

        with store.begin() as conn:
            conn.execute(inbox.update().values(body=json.dumps(order(1)).encode()))
        replay(store, actor="test", integration_id=abc.id)
        assert statuses(store) == [PENDING]
        run_request(instance, tick(inbox_sensor, instance, store).run_requests[0])
        cleared = tick(inbox_health_sensor, instance, store, flagged.cursor)
        assert [e.passed for e in cleared.asset_events] == [True]


def test_dagster_yaml_configures_a_queued_instance_with_pools_and_run_monitoring(tmp_path: Path):
    home = tmp_path / "dagster"
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    path = write_dagster_yaml(home, store_url)
    prepare_instance(home, store_url)
    with dg.DagsterInstance.from_config(str(path.parent)) as instance:
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == MAX_CONCURRENT_RUNS
        assert coordinator.dequeue_interval_seconds == 1
        assert instance.run_monitoring_enabled
        assert instance.run_launcher.supports_check_run_worker_health
        assert instance.get_concurrency_config().pool_config.pool_granularity.value == "run"
        limits = {pool.name: instance.event_log_storage.get_concurrency_info(pool.name).slot_count for pool in POOLS}
        assert limits == {pool.name: pool.limit for pool in POOLS}
    settings = path.read_text()
    assert "telemetry:\n  enabled: false" in settings and str(home / "storage") in settings


def test_the_code_location_has_the_inbox_parts():
    job = defs.resolve_job_def("inbox_processing_job")
    assert job.executor_def is dg.in_process_executor and job.tags[QUEUE_TAG] == "inbox"
    assert inbox_processing.op.pool == INBOX_POOL.name
    for name in ("inbox_sensor", "sync_run_reporter", "inbox_health_sensor", "integration_partitions"):
        assert defs.resolve_sensor_def(name).name == name
    assert dg.AssetCheckKey(dg.AssetKey("inbox_processing"), "inbox_health") in defs.resolve_asset_graph().asset_check_keys

"""Dagster on a distributed executor: with `CROSSDOCK_DAGSTER_EXECUTOR=celery`, a seven-day backfill
of one integration, launched as an operator launches it (`dagster job backfill`) and run by the real
daemon, has its steps executed by two separate Celery workers (broker RabbitMQ, results in Redis),
both of which Dagster's own event log shows at work; Dagster's storage is on PostgreSQL, as several
machines need. Each run of the test has its own Celery queue, so concurrent runs never take each
other's tasks."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from assets.executor import EXECUTOR_NAME, celery_config
from assets.instance import dagster_environment
from assets.partitions import integration_dimension
from crossdock.local_dagster import running_daemon, wait_until
from pipelines.clock import utcnow
from pipelines.integrations import create_integration, parse_integration
from pipelines.sources.schedule import mark_poll_started
from pipelines.store.engine import make_engine
from pipelines.store.migrate import upgrade
from pipelines.store.schema import orders
from tests.conftest import load_example
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api
from tests.processes import ROOT
from tests.services import postgres_schema, require_rabbitmq, require_redis

BIN = Path(sys.executable).parent
DAYS = [f"2024-01-{day}" for day in range(15, 22)]
WINDOWED = {
    "pagination": "page",
    "records_path": "data",
    "cursor_field": "updated_at",
    "cursor_param": "updated_since",
    "window_start_param": "updated_since",
    "window_end_param": "updated_until",
}


def test_the_executor_follows_the_setting_and_keeps_the_broker_password_out_of_run_config(monkeypatch):
    from assets.executor import pull_executor

    assert pull_executor() is dg.in_process_executor  # the default is unchanged
    monkeypatch.setenv("CROSSDOCK_DAGSTER_EXECUTOR", "celery")
    monkeypatch.setenv("CROSSDOCK_CELERY_QUEUE", "pulls-eu")
    assert pull_executor().name == EXECUTOR_NAME
    assert celery_config()["broker"] == "pyamqp://guest@127.0.0.1:5672//"  # nothing set: the default, no password
    monkeypatch.setenv("CROSSDOCK_CELERY_BROKER_URL", "amqp://crossdock:s3cret@mq:5672//")
    config = celery_config()
    assert config["broker"] == {"env": "CROSSDOCK_CELERY_BROKER_URL"} and "s3cret" not in repr(config)
    assert config["config_source"]["task_default_queue"] == "pulls-eu"


@pytest.fixture
def pg_store_url():
    with postgres_schema() as url:
        yield url
        schema = sa.make_url(url).query["options"].split("=", 1)[1] + "_dagster"
        admin = sa.create_engine(url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def _worker(name: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`celery -A assets.celery_worker worker`, one task at a time, on this test's queue only."""
    return subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "assets.celery_worker",
            "worker",
            "-Q",
            env["CROSSDOCK_CELERY_QUEUE"],
            "-n",
            name,
            "--pool",
            "solo",
            "--prefetch-multiplier",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_a_seven_day_backfill_runs_on_two_celery_workers(pg_store_url, tmp_path, monkeypatch):
    broker, backend = require_rabbitmq(), require_redis()
    queue = f"crossdock-test-{uuid.uuid4().hex[:12]}"
    dagster_home = tmp_path / "dagster"
    env = {
        **os.environ,
        "CROSSDOCK_HOME": str(tmp_path / "home"),
        "CROSSDOCK_DATABASE_URL": pg_store_url,
        "CROSSDOCK_DAGSTER_EXECUTOR": "celery",
        "CROSSDOCK_CELERY_QUEUE": queue,
        "CROSSDOCK_CELERY_BROKER_URL": broker,
        "CROSSDOCK_CELERY_BACKEND_URL": backend,
        "DAGSTER_HOME": str(dagster_home),
        **dagster_environment(pg_store_url),
    }
    engine = make_engine(pg_store_url)
    upgrade(engine)
    api = ClientApi(seed_orders(24 * 9, start=datetime(2024, 1, 14, tzinfo=UTC), step=timedelta(hours=1)), style="page")
    workers: list[subprocess.Popen] = []
    with serve_client_api(api) as base_url:
        document = load_example("api_polling_integration.json")
        document.update(
            {"name": "ClienteXYZ", "endpoint": f"{base_url}/orders?status=pending", "api": WINDOWED, "poll_interval_seconds": 7 * 86_400}
        )
        stored = create_integration(engine, parse_integration(document))
        mark_poll_started(engine, stored.id, utcnow())  # polled just now: only the backfill pulls during the test
        try:
            with running_daemon(dagster_home, env):
                for key, value in env.items():
                    monkeypatch.setenv(key, value)
                names = [f"pullworker1-{queue}@%h", f"pullworker2-{queue}@%h"]
                workers = [_worker(name, env, tmp_path / f"worker-{i}.log") for i, name in enumerate(names)]
                assert wait_until(
                    lambda: (
                        all(b"ready." in (tmp_path / f"worker-{i}.log").read_bytes() for i in range(2))
                        or any(w.poll() is not None for w in workers)
                    ),
                    120,
                    every_s=0.5,
                ), "workers did not start"
                assert all(w.poll() is None for w in workers), (tmp_path / "worker-0.log").read_text()[-3000:]
                with dg.DagsterInstance.get() as instance:
                    instance.add_dynamic_partitions(integration_dimension["api"].name, ["ClienteXYZ"])
                    partitions = ",".join(str(dg.MultiPartitionKey({"integration": "ClienteXYZ", "date": d})) for d in DAYS)
                    launched = subprocess.run(
                        [
                            str(BIN / "dagster"),
                            "job",
                            "backfill",
                            "-j",
                            "api_pull_job",
                            "--partitions",
                            partitions,
                            "-w",
                            str(dagster_home / "workspace.yaml"),
                            "--noprompt",
                        ],
                        cwd=ROOT,
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=300,
                    )
                    assert launched.returncode == 0, launched.stdout + launched.stderr

                    def finished() -> list[dg.DagsterRun] | None:
                        runs = instance.get_runs(dg.RunsFilter(job_name="api_pull_job"))
                        done = [run for run in runs if run.is_finished]
                        return runs if len(done) == len(DAYS) else None

                    assert wait_until(finished, 600, every_s=2) is not None, (dagster_home / "daemon.log").read_text()[-3000:]
                    runs = finished()
                    failed = [run.run_id for run in runs if run.status != dg.DagsterRunStatus.SUCCESS]
                    assert not failed, (tmp_path / "worker-0.log").read_text()[-3000:]
                    assert len({run.tags["dagster/backfill"] for run in runs}) == 1  # one backfill
                    executed_by = {}
                    for run in runs:
                        records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records
                        for record in records:
                            event = record.event_log_entry.dagster_event
                            metadata = event.engine_event_data.metadata if event and event.engine_event_data else {}
                            if "Celery worker" in metadata:
                                executed_by[run.tags["dagster/partition"]] = metadata["Celery worker"].value
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.terminate()
                worker.wait(timeout=60)
            _delete_queue(queue, broker)
    with engine.connect() as conn:
        landed = sorted(conn.execute(sa.select(orders.c.external_id)).scalars())
    engine.dispose()
    assert len(executed_by) == len(DAYS), executed_by  # every partition's step ran on a worker
    assert {worker.split("@")[0] for worker in executed_by.values()} == {f"pullworker1-{queue}", f"pullworker2-{queue}"}
    assert landed == [f"ORD-{i:05d}" for i in range(24, 24 * 8)]  # exactly the seven days
    windows = sorted(r["query"]["updated_since"][:10] for r in api.requests)
    assert windows == DAYS


def _delete_queue(queue: str, broker: str) -> None:
    from kombu import Connection

    with Connection(broker) as connection:
        connection.default_channel.queue_delete(queue)

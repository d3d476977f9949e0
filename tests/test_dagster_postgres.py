"""On PostgreSQL, Dagster's own storage (runs, events, schedules, sensor cursors) lives in the store's
database, in a schema of its own, with no password written to disk; a real daemon processes a
webhook end to end with both on the real server."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from assets.instance import DAGSTER_PG_URL_VARIABLE, dagster_environment, dagster_pg_url, prepare_instance, write_dagster_yaml
from crossdock.local_dagster import daemon_log_while_running, running_daemon, wait_until
from pipelines.inbox import DONE
from pipelines.integrations import WebhookIntegration, create_integration
from pipelines.store.engine import make_engine
from pipelines.store.migrate import upgrade
from pipelines.store.schema import inbox
from tests.inbox_rows import insert_pending
from tests.services import postgres_schema


@pytest.fixture
def pg_store_url(monkeypatch):
    with postgres_schema() as url:
        monkeypatch.setenv("CROSSDOCK_DATABASE_URL", url)
        yield url
        schema = sa.make_url(url).query["options"].split("=", 1)[1] + "_dagster"
        admin = sa.create_engine(url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def test_the_dagster_url_uses_psycopg2_and_a_schema_of_its_own():
    assert dagster_pg_url("sqlite:///x.db") is None
    assert (
        dagster_pg_url("postgresql+psycopg://crossdock:s3cret@db:5432/crossdock")
        == "postgresql+psycopg2://crossdock:s3cret@db:5432/crossdock?options=-csearch_path%3Ddagster"
    )
    assert (
        dagster_pg_url("postgresql+psycopg://u@h/db?options=-csearch_path%3Dacme&sslmode=require")
        == "postgresql+psycopg2://u@h/db?options=-csearch_path%3Dacme_dagster&sslmode=require"
    )


def test_dagster_storage_lives_in_the_store_database_and_no_password_is_written(pg_store_url, tmp_path, monkeypatch):
    home = tmp_path / "dagster"
    settings_file = write_dagster_yaml(home, pg_store_url)
    prepare_instance(home, pg_store_url)
    for key, value in dagster_environment(pg_store_url).items():
        monkeypatch.setenv(key, value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        run = instance.add_run(dg.DagsterRun(job_name="inbox_processing_job"))
        assert instance.get_run_by_id(run.run_id).job_name == "inbox_processing_job"
    written = settings_file.read_text()
    assert DAGSTER_PG_URL_VARIABLE in written and "postgresql" not in written and not (home / "storage").exists()
    store_schema = sa.make_url(pg_store_url).query["options"].split("=", 1)[1]
    engine = make_engine(pg_store_url)
    upgrade(engine)
    tables = {schema: set(sa.inspect(engine).get_table_names(schema=schema)) for schema in (store_schema, f"{store_schema}_dagster")}
    engine.dispose()
    assert {"runs", "event_logs", "jobs"} <= tables[f"{store_schema}_dagster"]
    assert "runs" not in tables[store_schema] and "inbox" in tables[store_schema]


def test_a_daemon_on_postgresql_processes_an_async_webhook(pg_store_url, tmp_path):
    engine = make_engine(pg_store_url)
    upgrade(engine)
    hook = create_integration(engine, WebhookIntegration(name="async_hook", webhook={"ack_mode": "async"}))
    insert_pending(engine, hook.id, {"external_id": "PG-1", "client_name": "Cliente", "address": "Zona 1"})
    dagster_home = tmp_path / "dagster"
    env = {"CROSSDOCK_HOME": str(tmp_path / "home"), "CROSSDOCK_DATABASE_URL": pg_store_url}

    def processed() -> bool:
        with engine.connect() as conn:
            return conn.execute(sa.select(inbox.c.status)).scalar_one() == DONE

    with running_daemon(dagster_home, env):
        taken = wait_until(processed, 180, every_s=0.5)
        assert taken is not None, (dagster_home / "daemon.log").read_text()[-3000:]
    engine.dispose()
    assert "Traceback" not in daemon_log_while_running((dagster_home / "daemon.log").read_text())

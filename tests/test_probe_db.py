"""Testing a db integration's connection against real databases (SQLite, PostgreSQL, MariaDB; a fresh
schema/database per test): the plan's query gives its first rows, mapped; the transaction is read-only
and rolled back; a query that runs too long is stopped; wrong queries, unreachable servers and unset
environment variables are reported with the reason and never the password."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from connectors.demo.client_db import SEED_QUERY, client_orders_table, demo_rows
from connectors.sql.probe import probe_db
from pipelines.integrations import DbIntegration, Integration
from tests.services import client_database

T0 = datetime(2024, 1, 15, 0, 30)
# Queries that run far longer than the probe's timeout on each database.
LONG_QUERIES = {
    "sqlite": "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1000000000) SELECT max(n) AS external_id FROM c",
    "postgres": "SELECT pg_sleep(60) AS external_id",
    "mariadb": "SELECT SLEEP(60) AS external_id",
}


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def client_db(request, tmp_path):
    """(kind, URL, engine) of a client database holding the plan's `orders` table with demo rows."""
    with client_database(request.param, tmp_path) as url:
        engine = sa.create_engine(url)
        table = client_orders_table(sa.MetaData())
        table.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), demo_rows(12, now=T0))
        yield request.param, url, engine
        engine.dispose()


def _config(url: str, **db) -> Integration:
    return DbIntegration(name="erp_cliente", db={"url": url, "query": SEED_QUERY, **db})


def test_the_seed_query_gives_its_first_rows_mapped(client_db):
    _, url, engine = client_db
    probe = probe_db(_config(url), limit=3)
    assert (probe.ok, probe.reachable, probe.status, probe.error) == (True, True, "connected", None)
    assert probe.records == 3 and "only the first 3 rows were read" in probe.notes
    with engine.connect() as conn:
        expected = conn.execute(sa.text(SEED_QUERY.rstrip(";"))).mappings().first()
    assert probe.first["external_id"] == expected["external_id"]
    assert probe.verdict.ok and probe.verdict.mapped["external_id"] == expected["external_id"]
    assert probe.verdict.mapped["address"] == expected["address"]


def test_the_query_cannot_write(client_db, tmp_path):
    kind, url, engine = client_db
    if kind == "sqlite":
        # SQLite functions cannot write, so the writing statement itself is tried: it is refused.
        probe = probe_db(_config(url, query="DELETE FROM orders RETURNING order_id AS external_id"))
        assert (probe.reachable, probe.ok) == (True, False) and probe.error.startswith("the query failed (")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE SEQUENCE probe_seq")
        probe = probe_db(
            _config(
                url, query="SELECT nextval(probe_seq) AS external_id" if kind == "mariadb" else "SELECT nextval('probe_seq') AS external_id"
            )
        )
        assert (probe.reachable, probe.ok) == (True, False)
        assert "read-only" in probe.error.lower().replace("read only", "read-only")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM orders")).scalar_one() == 12


def test_a_long_query_is_stopped_at_the_timeout(client_db):
    kind, url, _ = client_db
    probe = probe_db(_config(url, query=LONG_QUERIES[kind]), timeout=0.5)
    assert (probe.reachable, probe.ok) == (True, False)
    assert probe.error.startswith("the query failed (")
    assert any(word in probe.error.lower() for word in ("interrupt", "timeout", "max_statement_time"))


def test_a_wrong_query_is_reported_with_the_databases_reason(client_db):
    _, url, _ = client_db
    probe = probe_db(_config(url, query="SELECT order_id AS external_id FROM pedidos"))
    assert (probe.reachable, probe.ok) == (True, False)
    assert probe.error.startswith("the query failed (") and "pedidos" in probe.error


def test_an_unreachable_database_is_reported_without_the_password():
    config = _config("postgresql+psycopg://erp@127.0.0.1:1/erp", password="s3cret-pass-123")
    probe = probe_db(config, timeout=2)
    assert (probe.reachable, probe.ok) == (False, False)
    assert probe.source == "postgresql+psycopg://erp:***@127.0.0.1:1/erp"
    assert probe.error.startswith("the database is unreachable or refused the connection (postgresql+psycopg://erp:***@")
    assert "s3cret" not in repr(probe)


def test_environment_references_resolve_and_missing_ones_are_named(tmp_path, monkeypatch):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'erp.db'}")
    table = client_orders_table(sa.MetaData())
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), demo_rows(4, now=T0))
    engine.dispose()
    config = _config("sqlite:///${CLIENT_DB_DIR}/erp.db")
    assert probe_db(config).error == "db.url refers to environment variables that are not set: CLIENT_DB_DIR"
    monkeypatch.setenv("CLIENT_DB_DIR", str(tmp_path))
    probe = probe_db(config)
    assert probe.ok and probe.source == f"sqlite:///{tmp_path}/erp.db"


def test_connected_without_a_query_says_what_is_missing(tmp_path):
    probe = probe_db(DbIntegration(name="erp", db={"url": f"sqlite:///{tmp_path / 'erp.db'}"}))
    assert (probe.reachable, probe.ok, probe.status) == (True, False, "connected")
    assert probe.error == "connected, but db.query is not set: give the SELECT that produces the records"

"""Direct database extraction against real databases: the Logitrack plan's query and write-back on
SQLite, PostgreSQL and MariaDB (a fresh schema/database per test, so the table is `orders` verbatim),
watermarks, backfill windows, chunking, and credentials from the environment or encrypted secrets."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.demo.client_db import SEED_QUERY, SEED_WRITE_BACK, client_orders_table, demo_rows
from connectors.sql import pull_db
from pipelines.integrations import DbIntegration, create_integration
from pipelines.integrations.db_settings import DbSettings
from pipelines.sources import PullError, Window, get_state
from pipelines.store.schema import integrations, orders, record_errors
from tests.services import client_database

T0 = datetime(2024, 1, 15, 0, 30)


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def client_db(request, tmp_path):
    """(URL, engine, orders table) of a client database holding the plan's `orders` table."""
    with client_database(request.param, tmp_path) as url:
        engine = sa.create_engine(url)
        metadata = sa.MetaData()
        table = client_orders_table(metadata)
        metadata.create_all(engine)
        yield url, engine, table
        engine.dispose()


def _add(engine, table, rows) -> None:
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)


def _synced(engine, table) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(table.c.order_id).where(table.c.logitrack_synced.is_(True))).scalars())


def _moment(value: str) -> str:
    return value.replace(" ", "T").removesuffix(".000000")


def _db_integration(store, url: str, name: str = "erp_cliente", **db):
    settings = {"url": url, "query": SEED_QUERY, "write_back": SEED_WRITE_BACK, **db}
    return create_integration(store, DbIntegration(name=name, db=settings))


def test_seed_query_lands_rows_and_marks_exactly_those_that_landed(client_db, sqlite_store):
    url, engine, table = client_db
    rows = demo_rows(12, now=T0)
    _add(engine, table, rows)
    ready = {r["order_id"] for r in rows if r["status"] == "ready_to_ship"}
    invalid = {r["order_id"] for r in rows if not r["customer_name"]}
    assert invalid and invalid <= ready

    report = pull_db(sqlite_store, _db_integration(sqlite_store, url))

    assert report.counts["created"] == len(ready) - 1 and report.counts["errors"] == 1
    assert _synced(engine, table) == ready - invalid  # the invalid row and the not-ready ones stay unmarked
    assert report.read["marked"] == len(ready) - 1
    with sqlite_store.connect() as conn:
        stored = conn.execute(sa.select(orders.c.external_id, orders.c.latitude)).all()
        kept = conn.execute(sa.select(record_errors.c.external_id, record_errors.c.reasons)).one()
    assert {e for e, _ in stored} == ready - invalid
    assert any(latitude == 0 for _, latitude in stored)  # COALESCE(lat, 0) for orders without coordinates
    assert kept.external_id in invalid and kept.reasons[0]["field"] == "client_name"

    again = pull_db(sqlite_store, _db_integration(sqlite_store, url, name="erp_again"))
    assert (again.counts["total_received"], again.counts["errors"], again.read.get("marked", 0)) == (1, 1, 0)


def test_mariadb_limit_100_takes_the_oldest_first_then_the_rest(sqlite_store, tmp_path):
    with client_database("mariadb", tmp_path) as url:
        engine = sa.create_engine(url)
        table = client_orders_table(sa.MetaData())
        table.metadata.create_all(engine)
        rows = [{**row, "status": "ready_to_ship", "customer_name": row["customer_name"] or "Ana López"} for row in demo_rows(130, now=T0)]
        _add(engine, table, rows[::-1])  # inserted newest first: ORDER BY created_at must still win
        one_pass = _db_integration(sqlite_store, url, name="erp_one_pass", max_passes=1)
        first = pull_db(sqlite_store, one_pass)
        oldest = {r["order_id"] for r in sorted(rows, key=lambda r: r["created_at"])[:100]}
        assert first.counts["created"] == 100 and _synced(engine, table) == oldest and first.read["passes"] == 1
        second = pull_db(sqlite_store, _db_integration(sqlite_store, url))  # drains: the remaining 30, then stops
        assert second.counts["created"] == 30 and len(_synced(engine, table)) == 130 and second.read["passes"] == 1
        engine.dispose()


def test_watermark_streams_in_chunks_and_resumes(client_db, sqlite_store):
    url, engine, table = client_db
    _add(engine, table, [dict(r, customer_name=r["customer_name"] or "Ana") for r in demo_rows(23, now=T0)])
    query = "SELECT order_id AS external_id, customer_name AS client_name, delivery_address AS address, created_at FROM orders"
    integration = create_integration(
        sqlite_store,
        DbIntegration(name="erp_wm", db={"url": url, "query": query, "watermark_column": "created_at", "chunk_size": 5}),
    )
    first = pull_db(sqlite_store, integration)
    assert (first.counts["created"], first.read["chunks"], first.read["rows"]) == (23, 5, 23)
    newest = max(r["created_at"] for r in demo_rows(23, now=T0))
    assert _moment(first.cursor_after) == newest.isoformat()  # SQLite returns it as text, the others as datetime
    _add(engine, table, [{**demo_rows(1, now=T0)[0], "order_id": "ERP-NEW", "created_at": T0 + timedelta(hours=1)}])
    second = pull_db(sqlite_store, integration)
    assert (second.counts["created"], second.counts["unchanged"]) == (1, 1)  # the boundary row is read again
    assert _moment(get_state(sqlite_store, integration.id, "watermark")["value"]) == "2024-01-15T01:30:00"


def test_a_query_ending_in_a_comment_still_gets_its_watermark(client_db, sqlite_store):
    url, engine, table = client_db
    _add(engine, table, [dict(r, customer_name=r["customer_name"] or "Ana") for r in demo_rows(3, now=T0)])
    query = (
        "SELECT order_id AS external_id, customer_name AS client_name, delivery_address AS address, "
        "created_at FROM orders -- exported for Crossdock"
    )
    integration = create_integration(
        sqlite_store, DbIntegration(name="erp_commented", db={"url": url, "query": query, "watermark_column": "created_at"})
    )
    assert pull_db(sqlite_store, integration).counts["created"] == 3


def test_a_window_rereads_only_rows_inside_it(client_db, sqlite_store):
    url, engine, table = client_db
    base = demo_rows(1, now=T0)[0]
    days = [T0 + timedelta(days=d, hours=h) for d in range(3) for h in (0, 6, 12)]  # 15th, 16th, 17th
    _add(engine, table, [{**base, "order_id": f"W-{i}", "created_at": moment} for i, moment in enumerate(days)])
    query = "SELECT order_id AS external_id, customer_name AS client_name, delivery_address AS address, created_at FROM orders"
    integration = create_integration(
        sqlite_store, DbIntegration(name="erp_window", db={"url": url, "query": query, "watermark_column": "created_at"})
    )
    report = pull_db(sqlite_store, integration, window=Window.day("2024-01-16"))
    with sqlite_store.connect() as conn:
        landed = set(conn.execute(sa.select(orders.c.external_id)).scalars())
    assert landed == {"W-3", "W-4", "W-5"} and report.mode == "window"
    assert get_state(sqlite_store, integration.id, "watermark") is None  # a backfill never moves the watermark


def test_credentials_from_environment_variables_as_on_premise(sqlite_store, tmp_path, monkeypatch):
    with client_database("mariadb", tmp_path) as url:
        parsed = sa.make_url(url)
        engine = sa.create_engine(url)
        table = client_orders_table(sa.MetaData())
        table.metadata.create_all(engine)
        _add(engine, table, demo_rows(6, now=T0))
        for key, value in {
            "CLIENT_DB_HOST": parsed.host,
            "CLIENT_DB_PORT": str(parsed.port or 3306),
            "CLIENT_DB_USER": parsed.username,
            "CLIENT_DB_NAME": parsed.database,
            "CLIENT_DB_PASSWORD": "",
        }.items():
            monkeypatch.setenv(key, value)
        env_url = "mysql+pymysql://${CLIENT_DB_USER}@${CLIENT_DB_HOST}:${CLIENT_DB_PORT}/${CLIENT_DB_NAME}"
        integration = _db_integration(sqlite_store, env_url, password_env="CLIENT_DB_PASSWORD")
        assert pull_db(sqlite_store, integration).counts["created"] == 4  # 5 ready, one without a name
        monkeypatch.delenv("CLIENT_DB_HOST")
        with pytest.raises(PullError, match="not set: CLIENT_DB_HOST"):
            pull_db(sqlite_store, integration)
        engine.dispose()


def test_the_database_password_is_stored_encrypted_and_never_in_the_url(sqlite_store):
    create_integration(
        sqlite_store,
        DbIntegration(
            name="erp_pw",
            db={"url": "mysql+pymysql://logitrack_reader@10.0.0.5/erp", "password": "Zr!9-clave", "query": "SELECT 1"},
        ),
    )
    with sqlite_store.connect() as conn:
        row = conn.execute(sa.select(integrations.c.config, integrations.c.secrets)).one()
    assert row.config["db"]["password"] is None and "Zr!9-clave" not in row.secrets
    with pytest.raises(ValueError, match="not in the URL"):
        DbSettings(url="mysql+pymysql://logitrack_reader:Zr!9-clave@10.0.0.5/erp")


def test_write_back_must_name_the_ids(sqlite_store):
    with pytest.raises(ValueError, match=":ids"):
        DbSettings(url="sqlite:///x.db", query="SELECT 1", write_back="UPDATE orders SET logitrack_synced = TRUE")


def test_a_broken_query_and_an_unreachable_database_are_explained(sqlite_store, tmp_path):
    with client_database("postgres", tmp_path) as url:
        broken = _db_integration(sqlite_store, url, name="erp_broken")  # no orders table in this schema
        with pytest.raises(PullError) as caught:
            pull_db(sqlite_store, broken)
        assert "the query failed" in str(caught.value) and "orders" in str(caught.value)
    gone = _db_integration(sqlite_store, "postgresql+psycopg://nobody@127.0.0.1:1/none", name="erp_gone", timeout_seconds=2)
    with pytest.raises(PullError, match="unreachable"):
        pull_db(sqlite_store, gone)


def test_bind_parameters_in_the_query_are_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"must not use bind parameters \(:since\)"):
        DbSettings(url="sqlite:///x.db", query="SELECT * FROM orders WHERE created_at > :since")
    assert DbSettings(url="sqlite:///x.db", query="SELECT lat::text FROM orders").query == "SELECT lat::text FROM orders"

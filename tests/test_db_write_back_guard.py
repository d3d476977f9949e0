"""What Crossdock may do to a client's database (issue 13 §4), against real SQLite, PostgreSQL and MariaDB:

- a write-back (and `write_back_rejected`) is one UPDATE keyed by `IN :ids`, checked when the integration
  is saved: `DELETE FROM victim WHERE 1=1 OR id IN :ids`, two statements, an UPDATE without :ids or with
  `OR` are refused with a 422 that says what to change;
- the extraction query runs in a read-only transaction: a query that tries to write fails the pull and
  changes nothing;
- a write-back runs in its own transaction under `write_back_timeout_seconds`: one stuck behind a lock
  (or too slow) fails the pull with the reason instead of hanging it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
import requests
import sqlalchemy as sa

from connectors.demo.client_db import SEED_QUERY, SEED_WRITE_BACK, client_orders_table, demo_rows
from connectors.sql import pull_db
from pipelines import settings
from pipelines.integrations import DbIntegration, create_integration
from pipelines.integrations.db_settings import DbSettings
from pipelines.integrations.write_back_check import dialect_of
from pipelines.sources import PullError
from tests.receiver_helpers import running
from tests.services import client_database

T0 = datetime(2024, 1, 15, 0, 30)
# Keys unlike the server fixtures' names: these tests only parse, and need no server.
URLS = {"sqlite": "sqlite:///client.db", "pg": "postgresql+psycopg://reader@db/erp", "maria": "mysql+pymysql://reader@db/erp"}


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("DELETE FROM victim WHERE 1=1 OR id IN :ids", "must be an UPDATE, not DELETE"),
        ("UPDATE orders SET logitrack_synced = TRUE WHERE order_id IN :ids; DELETE FROM orders", "must be one statement, not 2"),
        ("UPDATE orders SET logitrack_synced = TRUE", "must use :ids"),
        ("UPDATE orders SET logitrack_synced = TRUE WHERE order_id = 'ERP-1'", "must use :ids"),
        ("UPDATE orders SET logitrack_synced = TRUE WHERE 1=1 OR order_id IN :ids", "must keep to the rows it is given"),
        ("UPDATE orders SET logitrack_synced = TRUE WHERE NOT order_id IN :ids", "must keep to the rows it is given"),
        ("UPDATE orders SET logitrack_synced = TRUE WHERE order_id NOT IN :ids", "must keep to the rows it is given"),
        ("UPDATE orders SET logitrack_synced = TRUE WHERE (status = 'x' OR order_id IN :ids)", "must keep to the rows"),
        (
            "WITH gone AS (DELETE FROM victim RETURNING id) UPDATE orders SET logitrack_synced = TRUE WHERE order_id IN :ids",
            "must not have a WITH clause",
        ),
        (
            "UPDATE orders SET logitrack_synced = (SELECT pg_terminate_backend(1)) WHERE order_id IN :ids",
            "calls pg_terminate_backend(), which is not a standard SQL function",
        ),
        ("UPDATE orders SET logitrack_synced = TRUE FROM victim WHERE order_id IN :ids", "must update one table"),
        ("INSERT INTO victim SELECT * FROM orders WHERE order_id IN :ids", "must be an UPDATE, not INSERT"),
        ("DROP TABLE orders", "must be an UPDATE, not DROP"),
        ("UPDATE orders SET logitrack_synced = WHERE order_id IN :ids", "is not valid SQL (line 1"),
        ("UPDATE orders SET WHERE order_id IN :ids", "must SET at least one column"),
    ],
)
@pytest.mark.parametrize("field", ["write_back", "write_back_rejected"])
def test_a_write_back_that_could_reach_other_rows_is_refused(statement, refusal, field):
    with pytest.raises(ValueError, match=f"{field} {refusal}".replace("(", r"\(").replace(")", r"\)")):
        DbSettings(url=URLS["pg"], query=SEED_QUERY, **{field: statement})


@pytest.mark.parametrize(
    ("kind", "statement"),
    [
        ("pg", SEED_WRITE_BACK),
        ("pg", "UPDATE orders SET logitrack_synced = TRUE, synced_at = NOW() WHERE status = 'ready_to_ship' AND (order_id IN :ids)"),
        ("maria", "UPDATE `orders` SET logitrack_synced = 1, synced_at = UTC_TIMESTAMP() WHERE order_id IN :ids LIMIT 1000"),
        ("sqlite", "UPDATE orders SET logitrack_synced = 1, synced_at = datetime('now') WHERE order_id IN :ids"),
        ("sqlite", "UPDATE orders SET logitrack_error = 1, note = COALESCE(note, '') || 'rejected' WHERE order_id IN :ids"),
    ],
)
def test_keyed_updates_are_accepted_in_each_dialect(kind, statement):
    assert DbSettings(url=URLS[kind], query=SEED_QUERY, write_back=statement).write_back == statement


def test_the_dialect_comes_from_the_url_scheme():
    assert [dialect_of(URLS[k]) for k in ("sqlite", "pg", "maria")] == ["sqlite", "postgres", "mysql"]
    assert dialect_of("${CLIENT_DB_URL}") is None and dialect_of("mssql+pyodbc://x") is None


def test_the_admin_api_refuses_a_destructive_write_back_with_422(sqlite_store):
    admin = {"Authorization": f"Bearer {settings.admin_token()}"}
    body = {
        "name": "erp_cliente",
        "type": "db",
        "db": {"url": "sqlite:///client.db", "query": SEED_QUERY, "write_back": "DELETE FROM victim WHERE 1=1 OR id IN :ids"},
    }
    with running(sqlite_store) as url:
        refused = requests.post(f"{url}/integrations", json=body, headers=admin)
        good = requests.post(f"{url}/integrations", json={**body, "db": {**body["db"], "write_back": SEED_WRITE_BACK}}, headers=admin)
        patched = requests.patch(
            f"{url}/integrations/erp_cliente",
            headers=admin,
            json={"db": {"write_back_rejected": "UPDATE orders SET logitrack_synced = TRUE"}},
        )
    assert refused.status_code == 422
    error = refused.json()["errors"][0]
    assert error["field"] == "db.write_back" and "must be an UPDATE, not DELETE" in error["message"]
    assert good.status_code == 201
    assert patched.status_code == 422 and patched.json()["errors"][0]["field"] == "db.write_back_rejected"
    assert "must use :ids" in patched.json()["errors"][0]["message"]


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def client_db(request, tmp_path):
    """(kind, URL, engine, orders table) of a client database holding 12 demo orders."""
    with client_database(request.param, tmp_path) as url:
        engine = sa.create_engine(url)
        table = client_orders_table(sa.MetaData())
        table.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), demo_rows(12, now=T0))
        yield request.param, url, engine, table
        engine.dispose()


def _snapshot(engine, table) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.order_id))]


# Queries that try to change the client database while returning records.
WRITING_QUERIES = {
    "sqlite": "DELETE FROM orders RETURNING order_id AS external_id, customer_name AS client_name, delivery_address AS address",
    # A SELECT can write through a function: a sequence's next value is the one every database has.
    "postgres": "SELECT CAST(nextval('crossdock_seq') AS TEXT) AS external_id, 'Ana' AS client_name, 'Zona 1' AS address",
    "mariadb": "SELECT CAST(NEXTVAL(crossdock_seq) AS CHAR) AS external_id, 'Ana' AS client_name, 'Zona 1' AS address",
}
NEXT_VALUE = {"postgres": "SELECT nextval('crossdock_seq')", "mariadb": "SELECT NEXTVAL(crossdock_seq)"}


def test_the_query_cannot_change_the_client_database(client_db, sqlite_store):
    kind, url, engine, table = client_db
    if kind != "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE SEQUENCE crossdock_seq")
    before = _snapshot(engine, table)
    integration = create_integration(
        sqlite_store, DbIntegration(name="erp_writer", db={"url": url, "query": WRITING_QUERIES[kind], "write_back": None})
    )

    with pytest.raises(PullError, match="refused the query|the query failed") as caught:
        pull_db(sqlite_store, integration)

    message = str(caught.value).lower().replace("read only", "read-only")
    assert "read-only" in message or "readonly" in message or "query_only" in message or "attempt to write" in message
    assert _snapshot(engine, table) == before
    if kind != "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql(NEXT_VALUE[kind]).scalar_one() == 1  # the pull never advanced it


def test_the_same_pull_engine_still_writes_back_after_its_read_only_reads(client_db, sqlite_store):
    kind, url, engine, table = client_db
    integration = create_integration(
        sqlite_store, DbIntegration(name="erp_cliente", db={"url": url, "query": SEED_QUERY, "write_back": SEED_WRITE_BACK})
    )
    report = pull_db(sqlite_store, integration)
    with engine.connect() as conn:
        synced = conn.execute(sa.select(sa.func.count()).where(table.c.logitrack_synced.is_(True))).scalar_one()
    assert report.read["marked"] == synced == report.counts["created"] > 0


# A write-back that runs far longer than its timeout on SQLite (no lock to wait for there: one process).
SLOW_SQLITE_WRITE_BACK = (
    "UPDATE orders SET logitrack_synced = (SELECT count(*) > 0 FROM (WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL "
    "SELECT n + 1 FROM c WHERE n < 1000000000) SELECT n FROM c)) WHERE order_id IN :ids"
)


def test_a_write_back_stuck_past_its_timeout_fails_the_pull(client_db, sqlite_store):
    kind, url, engine, table = client_db
    integration = create_integration(
        sqlite_store,
        DbIntegration(
            name="erp_cliente",
            db={
                "url": url,
                "query": SEED_QUERY,
                "write_back_timeout_seconds": 1,
                "write_back": SLOW_SQLITE_WRITE_BACK if kind == "sqlite" else SEED_WRITE_BACK,
            },
        ),
    )
    holder = threading.Event()
    release = threading.Event()

    def hold_the_rows() -> None:
        """Another client session keeps every order locked until the pull gave up."""
        with engine.begin() as conn:
            conn.execute(table.update().values(status=table.c.status))
            holder.set()
            release.wait(60)

    thread = threading.Thread(target=hold_the_rows) if kind != "sqlite" else None
    if thread:
        thread.start()
        assert holder.wait(10)
    started = time.monotonic()
    try:
        with pytest.raises(PullError, match="db.write_back failed; .* rows landed but are not marked"):
            pull_db(sqlite_store, integration)
        elapsed = time.monotonic() - started
    finally:
        release.set()
        if thread:
            thread.join(10)
    assert elapsed < 30  # bounded by the 1 s statement timeout, not the server's lock wait (50 s) or forever
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(table.c.logitrack_synced.is_(True))).scalar_one() == 0

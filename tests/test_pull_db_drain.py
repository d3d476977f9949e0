"""A db pull drains a LIMIT-style query, and rejected rows cannot block the rows behind them, against real
SQLite, PostgreSQL and MariaDB client databases (a fresh schema/database per test):

- the plan's `LIMIT 100` query with 1,234 waiting rows lands them all in one pull (13 passes);
- 100 invalid rows at the head no longer hold back 50 valid ones, with `write_back_rejected` and with a
  watermark (the LIMIT then applies after the watermark filter);
- without either, the pull stops as soon as the query returns only rows it already rejected, and records
  the `rejected_repeat` warning on its last sync run, where the dashboard reads it;
- `max_passes` stops a query whose write-back moves rows without ever taking them out of the result, and a
  write-back that changes nothing the query filters on stops the pull at its second pass.
"""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from connectors.demo.client_db import SEED_QUERY, SEED_WRITE_BACK, client_orders_table, demo_rows
from connectors.sql import pull_db
from connectors.sql.drain import query_shape
from connectors.sql.probe import probe_db
from pipelines.integrations import DbIntegration, create_integration
from pipelines.integrations.db_settings import DbSettings
from pipelines.sources import PullError, Window, get_state
from pipelines.store.schema import orders, record_errors, sync_runs
from tests.services import client_database

T0 = datetime(2024, 1, 15, 0, 30)
COLUMNS = (
    "SELECT order_id AS external_id, customer_name AS client_name, delivery_address AS address, "
    "COALESCE(lat, 0) AS latitude, COALESCE(lng, 0) AS longitude"
)
# The plan's query, leaving out the rows write_back_rejected marked.
QUERY_WITHOUT_REJECTED = (
    f"{COLUMNS} FROM orders WHERE status = 'ready_to_ship' AND logitrack_synced = FALSE "
    "AND logitrack_error = FALSE ORDER BY created_at LIMIT 100"
)
# The plan's query with its watermark column in the result.
QUERY_WITH_WATERMARK = (
    f"{COLUMNS}, created_at FROM orders WHERE status = 'ready_to_ship' AND logitrack_synced = FALSE ORDER BY created_at LIMIT 100"
)
WRITE_BACK_REJECTED = "UPDATE orders SET logitrack_error = TRUE WHERE order_id IN :ids"


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def client_db(request, tmp_path):
    """(URL, engine, orders table) of a client database: the plan's `orders` table plus `logitrack_error`."""
    with client_database(request.param, tmp_path) as url:
        engine = sa.create_engine(url)
        metadata = sa.MetaData()
        table = client_orders_table(metadata)
        table.append_column(sa.Column("logitrack_error", sa.Boolean, nullable=False, server_default=sa.false()))
        metadata.create_all(engine)
        yield url, engine, table
        engine.dispose()


def _ready(count: int, invalid_head: int = 0) -> list[dict]:
    """`count` orders ready to ship, oldest first; the oldest `invalid_head` have no customer name."""
    rows = sorted(demo_rows(count, now=T0), key=lambda r: r["created_at"])
    return [
        {**row, "status": "ready_to_ship", "customer_name": "" if i < invalid_head else (row["customer_name"] or "Ana López")}
        for i, row in enumerate(rows)
    ]


def _add(engine, table, rows) -> None:
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)


def _flagged(engine, table, column: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(table.c.order_id).where(table.c[column].is_(True))).scalars())


def _integration(store, url: str, name: str = "erp_cliente", **db):
    settings = {"url": url, "query": SEED_QUERY, "write_back": SEED_WRITE_BACK, **db}
    return create_integration(store, DbIntegration(name=name, db=settings))


def _landed(store) -> set[str]:
    with store.connect() as conn:
        return set(conn.execute(sa.select(orders.c.external_id)).scalars())


def _kept_errors(store) -> int:
    with store.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(record_errors)).scalar_one()


def _last_run_details(store, report) -> dict:
    with store.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(sync_runs.c.id))).scalar_one()
        assert newest == report.sync_run_ids[-1]  # the pull's summary is on the newest sync run
        return conn.execute(sa.select(sync_runs.c.details).where(sync_runs.c.id == newest)).scalar_one()


def test_the_seed_query_drains_1234_rows_in_one_pull(client_db, sqlite_store):
    url, engine, table = client_db
    rows = _ready(1_234)
    _add(engine, table, rows)

    integration = _integration(sqlite_store, url)
    report = pull_db(sqlite_store, integration)

    assert (report.counts["created"], report.counts["errors"], report.read["marked"]) == (1_234, 0, 1_234)
    assert (report.read["passes"], report.read["rows"]) == (13, 1_234)  # 12 full passes of 100, then 34
    assert _flagged(engine, table, "logitrack_synced") == {r["order_id"] for r in rows}
    assert _last_run_details(sqlite_store, report)["drain"] == {"passes": 13, "stopped": "short", "max_passes": 1_000}
    assert not report.warnings

    again = pull_db(sqlite_store, integration)
    assert (again.read["passes"], again.counts["total_received"]) == (1, 0)
    assert _last_run_details(sqlite_store, again)["drain"]["stopped"] == "empty"


def test_write_back_rejected_lets_valid_rows_past_invalid_ones(client_db, sqlite_store):
    url, engine, table = client_db
    rows = _ready(150, invalid_head=100)
    _add(engine, table, rows)
    integration = _integration(sqlite_store, url, query=QUERY_WITHOUT_REJECTED, write_back_rejected=WRITE_BACK_REJECTED)

    report = pull_db(sqlite_store, integration)

    valid, invalid = {r["order_id"] for r in rows[100:]}, {r["order_id"] for r in rows[:100]}
    assert (report.counts["created"], report.counts["errors"]) == (50, 100)
    assert (report.read["marked"], report.read["marked_rejected"], report.read["passes"]) == (50, 100, 2)
    assert _landed(sqlite_store) == valid and _flagged(engine, table, "logitrack_synced") == valid
    assert _flagged(engine, table, "logitrack_error") == invalid
    assert _kept_errors(sqlite_store) == 100  # kept with their reasons, once
    assert not report.warnings

    again = pull_db(sqlite_store, integration)
    assert again.counts["total_received"] == 0 and not again.warnings


def test_a_watermark_moves_past_invalid_rows(client_db, sqlite_store):
    url, engine, table = client_db
    rows = _ready(150, invalid_head=100)
    _add(engine, table, rows)
    integration = _integration(sqlite_store, url, query=QUERY_WITH_WATERMARK, watermark_column="created_at")

    report = pull_db(sqlite_store, integration)

    valid = {r["order_id"] for r in rows[100:]}
    assert (report.counts["created"], report.counts["errors"], report.read["passes"]) == (50, 100, 2)
    assert report.read["reread"] == 1  # the second pass starts at the first pass's last value (>=): read, not ingested
    assert _landed(sqlite_store) == valid and _flagged(engine, table, "logitrack_synced") == valid
    assert _kept_errors(sqlite_store) == 100
    stored = get_state(sqlite_store, integration.id, "watermark")["value"]
    assert stored.replace(" ", "T").removesuffix(".000000") == rows[-1]["created_at"].isoformat()
    assert not report.warnings

    again = pull_db(sqlite_store, integration)  # only the newest row is read again, at the watermark: no new error
    assert (again.counts["total_received"], again.counts["unchanged"], _kept_errors(sqlite_store)) == (0, 0, 100)
    assert not again.warnings


def test_rows_rejected_again_and_again_are_flagged_with_their_reason(client_db, sqlite_store):
    url, engine, table = client_db
    _add(engine, table, _ready(150, invalid_head=100))
    integration = _integration(sqlite_store, url)

    report = pull_db(sqlite_store, integration)

    # The second pass returned the same 100 rejected rows: not ingested again, and the drain stopped.
    assert (report.counts["total_received"], report.counts["errors"], report.read["passes"]) == (100, 100, 2)
    assert (report.read.get("marked", 0), report.read["reread"], _kept_errors(sqlite_store)) == (0, 100, 100)
    assert _landed(sqlite_store) == set()
    expected = "the query keeps returning the same 100 rejected rows and hold back the rows behind them (first reasons: client_name: "
    assert report.warnings[-1].startswith(expected)
    assert report.warnings[-1].endswith("(x100)): add db.write_back_rejected, a db.watermark_column, or fix the rows")
    details = _last_run_details(sqlite_store, report)
    flag = details["rejected_repeat"]
    assert (flag["rows"], flag["blocking"], flag["message"]) == (100, True, report.warnings[-1])
    assert flag["reasons"][0]["field"] == "client_name" and flag["reasons"][0]["count"] == 100
    assert len(flag["keys"]) == 10 and flag["keys"][0] == "ERP-1000"
    assert details["drain"]["stopped"] == "nothing_new" and details["warnings"] == report.warnings

    again = pull_db(sqlite_store, integration)  # still stuck, still flagged
    assert _last_run_details(sqlite_store, again)["rejected_repeat"]["rows"] == 100


def test_rejected_rows_seen_again_by_the_next_pull_are_flagged_without_blocking(client_db, sqlite_store):
    url, engine, table = client_db
    rows = _ready(5, invalid_head=1)
    _add(engine, table, rows)
    query = f"{COLUMNS} FROM orders WHERE status = 'ready_to_ship' AND logitrack_synced = FALSE"  # no LIMIT: one pass
    integration = _integration(sqlite_store, url, query=query)

    first = pull_db(sqlite_store, integration)
    assert (first.counts["created"], first.counts["errors"], first.read["passes"]) == (4, 1, 1) and not first.warnings
    second = pull_db(sqlite_store, integration)
    assert second.counts["errors"] == 1
    flag = _last_run_details(sqlite_store, second)["rejected_repeat"]
    assert (flag["rows"], flag["blocking"], flag["keys"]) == (1, False, [rows[0]["order_id"]])
    assert second.warnings == [flag["message"]] and "the same 1 rejected row (" in flag["message"]


def test_a_rejected_row_at_the_watermark_is_not_taken_again_by_the_next_pull(client_db, sqlite_store):
    url, engine, table = client_db
    rows = _ready(5)
    rows[-1]["customer_name"] = ""  # the newest row is invalid: the watermark stops on it
    _add(engine, table, rows)
    query = f"{COLUMNS}, created_at FROM orders"  # no LIMIT: one pass
    integration = _integration(sqlite_store, url, query=query, watermark_column="created_at", write_back=None)

    first = pull_db(sqlite_store, integration)
    assert (first.counts["created"], first.counts["errors"]) == (4, 1)
    second = pull_db(sqlite_store, integration)  # `>=` reads the newest row again: skipped, not a new error
    assert (second.counts["total_received"], second.read["reread"], _kept_errors(sqlite_store)) == (0, 1, 1)
    assert not second.warnings and second.sync_run_ids  # an empty pull is still a sync


def test_max_passes_stops_a_query_whose_write_back_takes_nothing_out(client_db, sqlite_store):
    url, engine, _ = client_db
    tickets = sa.Table(
        "tickets",
        sa.MetaData(),
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(64)),
        sa.Column("address", sa.String(64)),
        sa.Column("n", sa.Integer),
    )
    tickets.create(engine)
    _add(engine, tickets, [{"id": f"T-{i:02}", "name": "Ana", "address": "Zona 1", "n": 0} for i in range(25)])
    # The write-back moves each row to the back of the queue: every pass is full and different, forever.
    integration = _integration(
        sqlite_store,
        url,
        name="erp_queue",
        max_passes=7,
        query="SELECT id AS external_id, name AS client_name, address FROM tickets ORDER BY n, id LIMIT 10",
        write_back="UPDATE tickets SET n = n + 1 WHERE id IN :ids",
    )

    report = pull_db(sqlite_store, integration)

    assert (report.read["passes"], report.read["rows"], report.counts["created"]) == (7, 70, 25)
    assert report.warnings == ["stopped after db.max_passes = 7 passes; the rest waits for the next poll"]
    assert _last_run_details(sqlite_store, report)["drain"] == {"passes": 7, "stopped": "max_passes", "max_passes": 7}


def test_a_write_back_the_query_ignores_stops_at_the_second_pass(client_db, sqlite_store):
    url, engine, table = client_db
    _add(engine, table, _ready(250))
    query = f"{COLUMNS} FROM orders ORDER BY created_at LIMIT 100"  # does not filter on logitrack_synced

    report = pull_db(sqlite_store, _integration(sqlite_store, url, query=query))

    assert (report.read["passes"], report.read["reread"], report.counts["created"]) == (2, 100, 100)
    assert report.warnings == [
        "the query returned the same 100 rows again after db.write_back, so the pull stopped: the write-back must take "
        "the rows it marks out of the query's result (filter on the column it sets)"
    ]
    assert _last_run_details(sqlite_store, report)["drain"]["stopped"] == "nothing_new"


def test_a_backfill_window_drains_a_limited_query_by_its_watermark(client_db, sqlite_store):
    url, engine, table = client_db
    rows = _ready(40)  # two hours apart: 12 on 2024-01-14, the rest before
    _add(engine, table, rows)
    query = f"{COLUMNS}, created_at FROM orders ORDER BY created_at LIMIT 5"
    integration = _integration(sqlite_store, url, query=query, watermark_column="created_at", write_back=None)

    report = pull_db(sqlite_store, integration, window=Window.day("2024-01-14"))

    day = {r["order_id"] for r in rows if r["created_at"].date().isoformat() == "2024-01-14"}
    assert len(day) == 12 and _landed(sqlite_store) == day
    assert (report.read["passes"], report.counts["created"]) == (3, 12)  # 5; 1 read again + 4; 1 read again + 3
    assert get_state(sqlite_store, integration.id, "watermark") is None


def test_the_probe_keeps_the_querys_own_limit_under_a_watermark(client_db):
    url, engine, table = client_db
    _add(engine, table, _ready(6))
    config = DbIntegration(
        name="erp_probe",
        db={"url": url, "query": f"{COLUMNS}, created_at FROM orders ORDER BY created_at LIMIT 2", "watermark_column": "created_at"},
    )
    assert probe_db(config, limit=5).records == 2


def test_missing_columns_are_explained(sqlite_store, tmp_path):
    with client_database("sqlite", tmp_path) as url:
        engine = sa.create_engine(url)
        table = client_orders_table(sa.MetaData())
        table.metadata.create_all(engine)
        _add(engine, table, _ready(3))
        no_key = _integration(
            sqlite_store,
            url,
            name="erp_no_key",
            write_back=None,
            write_back_rejected=WRITE_BACK_REJECTED,
            query="SELECT customer_name AS client_name, delivery_address AS address FROM orders LIMIT 10",
        )
        with pytest.raises(PullError, match="db.key_column 'external_id' is not a column of the query's result"):
            pull_db(sqlite_store, no_key)
        no_watermark = _integration(
            sqlite_store,
            url,
            name="erp_no_watermark",
            write_back=None,
            watermark_column="updated_at",
            query=f"{COLUMNS} FROM orders ORDER BY created_at LIMIT 10",
        )
        with pytest.raises(PullError, match="updated_at"):
            pull_db(sqlite_store, no_watermark)
        engine.dispose()


@pytest.mark.parametrize(
    ("query", "body", "limit", "limited"),
    [
        ("SELECT a FROM t ORDER BY a LIMIT 100", "SELECT a FROM t ORDER BY a", 100, True),
        ("SELECT a FROM t\nLIMIT 100 -- the plan's page", "SELECT a FROM t -- the plan's page", 100, True),
        ("SELECT a FROM t ORDER BY a FETCH FIRST 50 ROWS ONLY", "SELECT a FROM t ORDER BY a", 50, True),
        ("SELECT a FROM t -- LIMIT 100", "SELECT a FROM t -- LIMIT 100", None, False),
        ("SELECT a FROM t LIMIT 100 OFFSET 10", "SELECT a FROM t LIMIT 100 OFFSET 10", None, True),
        ("SELECT TOP 100 a FROM t", "SELECT TOP 100 a FROM t", None, True),
        ("SELECT a FROM t WHERE a IN (SELECT b FROM u LIMIT 3)", "SELECT a FROM t WHERE a IN (SELECT b FROM u LIMIT 3)", None, True),
        ("SELECT a, limit_kg FROM t", "SELECT a, limit_kg FROM t", None, False),
    ],
)
def test_the_query_shape_reads_a_trailing_limit(query, body, limit, limited):
    shape = query_shape(query)
    assert (shape.body, shape.limit, shape.limited) == (body, limit, limited)


def test_write_back_rejected_must_name_the_ids():
    with pytest.raises(ValueError, match="write_back_rejected must use :ids"):
        DbSettings(url="sqlite:///x.db", query="SELECT 1", write_back_rejected="UPDATE orders SET logitrack_error = TRUE")
    assert DbSettings(url="sqlite:///x.db", query="SELECT 1").max_passes == 1_000

"""DB extraction: 1M rows from PostgreSQL into the store (SQLite), target ≥ 50k rows/s with peak RSS
≤ 300 MB, beside dlt's `sql_database` source (SQLAlchemy backend) reading the same table into DuckDB
in the same run (DESIGN.md §4 baseline: about 20k rows/s).

Each side runs in a fresh child process, so its peak RSS (getrusage) is its own, imports included.
The Crossdock side is the real `pull_db`: the query, watermark, chunked streaming, map, validate,
upsert and sync-run bookkeeping.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

N = int(os.environ.get("BENCH_DB_N", "1000000"))
POSTGRES_URL = os.environ.get("CROSSDOCK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET_RATE = 50_000
TARGET_RSS_MB = 300
QUERY = (
    "SELECT order_id AS external_id, customer_name AS client_name, delivery_address AS address, "
    "COALESCE(lat, 0) AS latitude, COALESCE(lng, 0) AS longitude, created_at FROM orders "
    "WHERE status = 'ready_to_ship'"
)


def _fill(url: str, n: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE orders (order_id varchar(32) PRIMARY KEY, customer_name varchar(255) NOT NULL, "
            "delivery_address varchar(255) NOT NULL, lat numeric(9,6), lng numeric(9,6), status varchar(32) NOT NULL, "
            "logitrack_synced boolean NOT NULL DEFAULT false, created_at timestamp NOT NULL)"
        )
        conn.execute(
            sa.text(
                "INSERT INTO orders SELECT 'ERP-' || g, 'Cliente ' || g, "
                "(g % 30 + 1) || 'a Avenida ' || (g % 20) || '-' || (g % 90) || ', Zona ' || (g % 25) || ', Guatemala', "
                "14.5 + (g % 1000) / 10000.0, -90.5 - (g % 1000) / 10000.0, 'ready_to_ship', false, "
                "timestamp '2024-01-01' + g * interval '1 second' FROM generate_series(1, :n) AS g"
            ),
            {"n": n},
        )
        conn.exec_driver_sql("CREATE INDEX ON orders (created_at)")
        conn.exec_driver_sql("ANALYZE orders")
    engine.dispose()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _crossdock_child(url: str, folder: str, out: multiprocessing.Queue) -> None:
    from connectors.sql import pull_db
    from pipelines.integrations import DbIntegration, create_integration
    from pipelines.store.engine import make_engine
    from pipelines.store.migrate import upgrade

    os.environ["CROSSDOCK_HOME"] = folder
    engine = make_engine(f"sqlite:///{Path(folder) / 'store.db'}")
    upgrade(engine)
    integration = create_integration(
        engine,
        DbIntegration(
            name="bench_db",
            db={"url": url, "query": QUERY, "watermark_column": "created_at"},
        ),
    )
    started = time.perf_counter()
    report = pull_db(engine, integration)
    elapsed = time.perf_counter() - started
    out.put({"seconds": elapsed, "created": report.counts["created"], "rows": report.read.get("rows", 0), "rss_mb": _peak_rss_mb()})


def _dlt_child(url: str, folder: str, out: multiprocessing.Queue) -> None:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt
    from dlt.sources.sql_database import sql_table

    table = sql_table(credentials=url, table="orders", backend="sqlalchemy", chunk_size=5_000)
    pipeline = dlt.pipeline(
        pipeline_name="bench_sql",
        pipelines_dir=str(Path(folder) / "dlt"),
        destination=dlt.destinations.duckdb(str(Path(folder) / "dlt.duckdb")),
        dataset_name="bench",
    )
    started = time.perf_counter()
    pipeline.run(table)
    elapsed = time.perf_counter() - started
    rows = pipeline.last_trace.last_normalize_info.row_counts.get("orders", 0)
    out.put({"seconds": elapsed, "rows": rows, "rss_mb": _peak_rss_mb()})


def _in_child(target, url: str, folder: str) -> dict:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    child = context.Process(target=target, args=(url, folder, out))
    child.start()
    result = out.get(timeout=3_600)
    child.join(timeout=60)
    return result


def run() -> list[dict]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = str(sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"}))
    try:
        _fill(url, N)
        with tempfile.TemporaryDirectory() as tmp:
            ours = _in_child(_crossdock_child, url, str(Path(tmp) / "crossdock"))
            theirs = _in_child(_dlt_child, url, str(Path(tmp) / "dlt"))
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
    assert ours["created"] == N, ours
    rate, their_rate = N / ours["seconds"], N / theirs["seconds"]
    baseline = (
        f"dlt sql_database (SQLAlchemy backend) -> DuckDB, same table, same run: {their_rate:,.0f} rows/s, "
        f"peak RSS {theirs['rss_mb']:.0f} MB"
    )
    return [
        {
            "name": f"DB extraction, {N:,} rows PostgreSQL -> store (SQLite), watermark + 5k-row chunks",
            "figure": round(rate),
            "unit": "rows/s",
            "target": f">= {TARGET_RATE:,} rows/s",
            "met": rate >= TARGET_RATE,
            "baseline": baseline,
        },
        {
            "name": "DB extraction peak RSS of the extracting process (imports included)",
            "figure": round(ours["rss_mb"]),
            "unit": "MB",
            "target": f"<= {TARGET_RSS_MB} MB",
            "met": ours["rss_mb"] <= TARGET_RSS_MB,
            "baseline": None,
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)

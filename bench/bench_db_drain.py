"""A LIMIT-style client query drains in one pull: seed 000's `... logitrack_synced = FALSE ORDER BY created_at
LIMIT 100` with its write-back, 1,234 waiting rows, on a SQLite file and on MariaDB (the plan's client
database). Target: all 1,234 land and are marked in ONE pull. Baseline: one pass per poll, as before,
took 13 polls, i.e. about 65 minutes at the default 300 s interval.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from connectors.demo.client_db import SEED_QUERY, SEED_WRITE_BACK, client_orders_table, demo_rows

N = 1_234
LIMIT = 100
POLL_SECONDS = 300
MARIADB_URL = os.environ.get("CROSSDOCK_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def _fill(url: str) -> None:
    engine = sa.create_engine(url)
    table = client_orders_table(sa.MetaData())
    table.metadata.create_all(engine)
    rows = [
        {**row, "status": "ready_to_ship", "customer_name": row["customer_name"] or "Ana López"}
        for row in demo_rows(N, now=datetime(2024, 1, 15, 0, 30))
    ]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    engine.dispose()


def _pull(url: str, folder: Path) -> dict:
    from connectors.sql import pull_db
    from pipelines.integrations import DbIntegration, create_integration
    from pipelines.store.engine import make_engine
    from pipelines.store.migrate import upgrade

    home = os.environ.get("CROSSDOCK_HOME")
    os.environ["CROSSDOCK_HOME"] = str(folder)  # the store's secret key lives there, not in the user's home
    try:
        store = make_engine(f"sqlite:///{folder / 'store.db'}")
        upgrade(store)
        integration = create_integration(
            store, DbIntegration(name="erp_cliente", db={"url": url, "query": SEED_QUERY, "write_back": SEED_WRITE_BACK})
        )
        started = time.perf_counter()
        report = pull_db(store, integration)
        seconds = time.perf_counter() - started
        store.dispose()
    finally:
        if home is None:
            os.environ.pop("CROSSDOCK_HOME", None)
        else:
            os.environ["CROSSDOCK_HOME"] = home
    return {
        "seconds": seconds,
        "created": report.counts["created"],
        "marked": report.read.get("marked", 0),
        "passes": report.read.get("passes", 0),
    }


def _row(kind: str, result: dict) -> dict:
    polls_before = -(-N // LIMIT)
    return {
        "name": f"seed 000 LIMIT {LIMIT} query, {N:,} waiting rows, {kind}: rows landed and marked in one pull "
        f"({result['passes']} passes, {result['seconds']:.2f} s)",
        "figure": result["marked"],
        "unit": "rows",
        "target": f"{N:,} in one pull",
        "met": result["created"] == result["marked"] == N,
        "baseline": f"one pass per poll: {polls_before} polls, about {polls_before * POLL_SECONDS // 60} min at {POLL_SECONDS} s",
    }


def run() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sqlite_url = f"sqlite:///{folder / 'client.db'}"
        _fill(sqlite_url)
        rows.append(_row("SQLite", _pull(sqlite_url, folder / "a")))
        name = f"bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(MARIADB_URL)
        try:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
        except sa.exc.OperationalError as exc:
            print(f"  MariaDB skipped: {exc.orig}")
            return rows
        try:
            url = str(sa.make_url(MARIADB_URL).set(database=name))
            _fill(url)
            rows.append(_row("MariaDB", _pull(url, folder / "b")))
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP DATABASE `{name}`")
            admin.dispose()
    return rows

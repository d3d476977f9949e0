"""A processor killed half-way, and a database that fails under it: nothing acknowledged is lost,
nothing is ingested twice. Real processes, real SIGKILL, real locks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy as sa

from pipelines.inbox import DEAD, DONE, PENDING
from pipelines.inbox.processing import MAX_TRANSIENT_ATTEMPTS, process_batch
from pipelines.integrations import WebhookIntegration, create_integration
from pipelines.store.engine import is_sqlite, make_engine
from pipelines.store.migrate import upgrade
from pipelines.store.schema import inbox, orders, sync_runs
from tests.inbox_rows import insert_pending
from tests.services import postgres_schema

# Commits the oldest row, then ingests the next one inside a transaction it never commits.
CHILD = """
import sys
from pipelines.inbox.processing import pending_ids, process_batch, process_row
from pipelines.store.engine import make_engine

engine = make_engine(sys.argv[1])
ids = pending_ids(engine, limit=10)
process_batch(engine, limit=1)
with engine.connect() as conn:
    conn.begin()
    outcome = process_row(conn, ids[1])
    print(f"ingested {outcome.inbox_id} {outcome.result.created}", flush=True)
    sys.stdin.readline()
"""


def _order(i: int) -> dict:
    return {"external_id": f"PED-{i}", "client_name": f"Cliente {i}", "address": "Zona 10, Guatemala"}


def _statuses(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(inbox.c.status).order_by(inbox.c.id)).scalars())


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def _wait_for_backend_gone(engine, application_name: str, deadline_s: float = 15.0) -> None:
    """PostgreSQL rolls back a dead client's transaction when its backend notices the closed socket;
    wait (bounded) for that backend to go, so its row lock is released."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with engine.connect() as conn:
            alive = conn.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"), {"n": application_name}
            ).scalar_one()
        if not alive:
            return
        time.sleep(0.05)
    pytest.fail(f"the killed processor's PostgreSQL backend {application_name} did not go away")


def test_a_processor_killed_mid_transaction_loses_and_doubles_nothing(store):
    integration = create_integration(store, WebhookIntegration(name="cliente_abc", webhook={"ack_mode": "async"}))
    ids = [insert_pending(store, integration.id, _order(i)) for i in range(3)]
    url = store.url
    application_name = f"crash_{uuid.uuid4().hex[:8]}"
    if not is_sqlite(store):
        url = url.update_query_dict({"application_name": application_name})
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url.render_as_string(hide_password=False)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == f"ingested {ids[1]} 1", line if line else child.stderr.read()
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    if not is_sqlite(store):
        _wait_for_backend_gone(store, application_name)

    # The committed row stays done; the one killed mid-transaction left no trace and is pending again.
    assert _statuses(store) == [DONE, PENDING, PENDING]
    assert _count(store, orders) == 1 and _count(store, sync_runs) == 1

    report = process_batch(store)
    assert [o.inbox_id for o in report.outcomes] == ids[1:]
    assert [o.result.created for o in report.outcomes] == [1, 1]
    assert _statuses(store) == [DONE, DONE, DONE]
    assert _count(store, orders) == 3 and _count(store, sync_runs) == 3
    with store.connect() as conn:
        run_ids = conn.execute(sa.select(inbox.c.sync_run_id)).scalars().all()
    assert len(set(run_ids)) == 3


def test_a_locked_database_stops_the_batch_and_keeps_the_row_pending(sqlite_store):
    integration = create_integration(sqlite_store, WebhookIntegration(name="cliente_abc"))
    inbox_id = insert_pending(sqlite_store, integration.id, _order(1))
    # A processor whose SQLite connection gives up on a lock after 50 ms, while another writer holds it.
    impatient = sa.create_engine(sqlite_store.url, connect_args={"timeout": 0.05})
    blocker = sqlite_store.connect()
    blocker.begin()  # BEGIN IMMEDIATE: the write lock
    try:
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            process_batch(impatient)
    finally:
        blocker.rollback()
        blocker.close()
        impatient.dispose()
    with sqlite_store.connect() as conn:
        stored = conn.execute(sa.select(inbox).where(inbox.c.id == inbox_id)).one()
    assert stored.status == PENDING and stored.sync_run_id is None
    assert _count(sqlite_store, sync_runs) == 0
    assert process_batch(sqlite_store).count(DONE) == 1


def test_a_row_failing_on_database_errors_is_retried_then_dead_lettered():
    """PostgreSQL gives up on a lock after 100 ms while another session holds the orders table: each
    run stops with the row pending and its attempt counted, until the last attempt dead-letters it."""
    with postgres_schema() as url:
        engine = make_engine(url)
        upgrade(engine)
        integration = create_integration(engine, WebhookIntegration(name="cliente_abc"))
        inbox_id = insert_pending(engine, integration.id, _order(1))
        parsed = sa.make_url(url)
        impatient = make_engine(
            parsed.update_query_dict({"options": parsed.query["options"] + " -clock_timeout=100"}).render_as_string(hide_password=False)
        )
        blocker = engine.connect()
        blocker.begin()
        blocker.execute(sa.text("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"))
        try:
            for attempt in range(1, MAX_TRANSIENT_ATTEMPTS + 1):
                with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                    process_batch(impatient)
                with engine.connect() as conn:
                    stored = conn.execute(sa.select(inbox).where(inbox.c.id == inbox_id)).one()
                assert stored.attempts == attempt
                if attempt < MAX_TRANSIENT_ATTEMPTS:
                    assert stored.status == PENDING and stored.error.startswith("database error, will retry: OperationalError")
            assert stored.status == DEAD
            assert stored.error.startswith(f"database error on {MAX_TRANSIENT_ATTEMPTS} attempts, gave up")
            assert _count(engine, sync_runs) == 0  # every failed attempt rolled back whole
        finally:
            blocker.rollback()
            blocker.close()
            impatient.dispose()
            engine.dispose()

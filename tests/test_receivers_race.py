"""Two receivers on one PostgreSQL store, as a production install runs them: deliveries raced across
both are answered like any duplicate and never fail a batch, unrelated requests in the same group
commit never pay for a conflict, and one receiver killed mid-flood loses nothing it acknowledged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import requests
import sqlalchemy as sa

from pipelines.inbox.intake import IncomingRequest, write_batch
from pipelines.store.engine import make_engine
from pipelines.store.migrate import upgrade
from pipelines.store.schema import inbox, orders
from tests.processes import crossdock, free_port, wait_for_http
from tests.receiver_helpers import integration
from tests.services import postgres_schema

KEY = {"Content-Type": "application/json", "X-API-Key": "secreto_compartido"}
RACED = 150


def _order(name: str) -> bytes:
    return json.dumps({"external_id": name, "client_name": "Cliente", "address": "Zona 1"}).encode()


def test_raced_deliveries_across_two_receivers_and_a_kill(tmp_path):
    with postgres_schema() as url:
        engine = make_engine(url)
        upgrade(engine)
        integration(engine)
        ports = [free_port(), free_port()]
        env = {"CROSSDOCK_DATABASE_URL": url, "CROSSDOCK_HOME": str(tmp_path / "home")}
        logs = [open(tmp_path / f"receiver-{i}.log", "wb") for i in range(2)]
        receivers = [
            crossdock("receiver", env={**env, "CROSSDOCK_PORT": str(port)}, stdout=log, stderr=subprocess.STDOUT)
            for port, log in zip(ports, logs, strict=True)
        ]
        try:
            for port, proc in zip(ports, receivers, strict=True):
                wait_for_http(f"http://127.0.0.1:{port}/health", proc, deadline_s=60)
            session = requests.Session()

            def send(port: int, body: bytes, delivery: str | None) -> tuple[str | None, int | None, dict]:
                headers = {**KEY, **({"Idempotency-Key": delivery} if delivery else {})}
                try:
                    answer = session.post(f"http://127.0.0.1:{port}/webhook/cliente_abc", data=body, headers=headers, timeout=30)
                except requests.ConnectionError:
                    return delivery, None, {}
                return delivery, answer.status_code, answer.json()

            jobs = []
            for i in range(RACED):
                body = _order(f"RACE-{i}")
                jobs += [(ports[0], body, f"d-{i}"), (ports[1], body, f"d-{i}")]  # the same delivery, to both at once
                jobs.append((ports[i % 2], _order(f"PLAIN-{i}"), None))  # an unrelated request beside them
            with ThreadPoolExecutor(max_workers=24) as pool:
                before_kill = list(pool.map(lambda job: send(*job), jobs))
                # One receiver dies mid-flood; what it acknowledged must all be there.
                kill_jobs = [(ports[1], _order(f"LATE-{i}"), f"late-{i}") for i in range(60)]
                futures = [pool.submit(send, *job) for job in kill_jobs]
                os.kill(receivers[1].pid, signal.SIGKILL)
                after_kill = [future.result() for future in futures]
        finally:
            for proc in receivers:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
            for log in logs:
                log.close()
        with engine.connect() as conn:
            stored = {row.delivery_id for row in conn.execute(sa.select(inbox.c.delivery_id).where(inbox.c.delivery_id.is_not(None)))}
            order_ids = list(conn.execute(sa.select(orders.c.external_id)).scalars())
        engine.dispose()
    codes = [code for _, code, _ in before_kill]
    assert set(codes) == {200}, sorted(set(codes))  # no 5xx: a raced duplicate never fails a batch
    for i in range(RACED):
        pair = [answer for delivery, _, answer in before_kill if delivery == f"d-{i}"]
        assert sorted(bool(a.get("duplicate")) for a in pair) == [False, True]
        assert pair[0]["inbox_id"] == pair[1]["inbox_id"]
    assert len(order_ids) == len(set(order_ids))  # nothing ingested twice
    assert {f"d-{i}" for i in range(RACED)} <= stored
    acknowledged = {delivery for delivery, code, _ in after_kill if code == 200}
    assert acknowledged <= stored  # nothing acknowledged was lost
    assert {code for _, code, _ in after_kill} <= {200, None}  # the killed one's in-flight requests fail, nothing else
    for path in (tmp_path / "receiver-0.log", tmp_path / "receiver-1.log"):
        assert b"RACE-" not in path.read_bytes()  # request bodies never reach the logs


def test_a_batch_meeting_rows_another_receiver_is_writing_waits_then_answers_them_as_duplicates():
    """The group commit's multi-row insert, raced for real: another receiver's transaction holds
    uncommitted rows for two of the batch's delivery ids, so our look for earlier deliveries cannot
    see them and our insert has to wait on them. Once they commit, those two are answered as
    duplicates of the other receiver's rows, and the rest of the batch (keyed, plain, ignored) is
    stored in the same transaction: no error, nothing lost, nothing twice."""
    with postgres_schema() as url:
        engine = make_engine(url)
        upgrade(engine)
        stored = integration(engine)
        body = _order("RACED")
        batch = [IncomingRequest(stored, body, {}, "async", delivery_id=f"d-{i}") for i in (5, 1, 4, 3, 2)]
        batch += [
            IncomingRequest(stored, _order("PLAIN"), {}, "async"),
            IncomingRequest(stored, b"{}", {}, "ignored", delivery_id="ping-1", error="a ping"),
        ]
        other = engine.connect()
        try:
            with other.begin():
                other_ids = {
                    delivery: other.execute(
                        inbox.insert()
                        .values(
                            integration_id=stored.id,
                            received_at=sa.func.now(),
                            source_kind="webhook",
                            delivery_id=delivery,
                            headers={},
                            body=body,
                            verified=True,
                            status="pending",
                            attempts=0,
                            response={"status_code": 202, "body": {"accepted": True, "status": "pending"}},
                        )
                        .returning(inbox.c.id)
                    ).scalar()
                    for delivery in ("d-2", "d-4")
                }
                other_pid = other.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                with ThreadPoolExecutor(max_workers=1) as pool:
                    writing = pool.submit(write_batch, engine, batch)
                    with engine.connect() as watch:
                        deadline = time.monotonic() + 30
                        while not watch.execute(
                            sa.text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"), {"pid": other_pid}
                        ).scalar():
                            assert not writing.done(), writing.result()
                            assert time.monotonic() < deadline, "the batch never waited on the other receiver's rows"
                            watch.rollback()
                    other.commit()  # the other receiver's rows become durable; ours stops waiting
                    outcomes = writing.result(timeout=30)
        finally:
            other.close()
        with engine.connect() as conn:
            rows = conn.execute(sa.select(inbox.c.id, inbox.c.delivery_id, inbox.c.status)).all()
        engine.dispose()
    answers = {entry.delivery_id: outcome for entry, outcome in zip(batch, outcomes, strict=True)}
    for delivery in ("d-2", "d-4"):
        assert answers[delivery].duplicate and answers[delivery].inbox_id == other_ids[delivery]
        assert answers[delivery].status_code == 202
    for delivery in ("d-1", "d-3", "d-5", None):
        assert not answers[delivery].duplicate and answers[delivery].status_code == 202
    assert answers["ping-1"].status_code == 200 and not answers["ping-1"].duplicate
    assert len(rows) == 7 and len({row.id for row in rows}) == 7
    by_delivery = {row.delivery_id: row for row in rows}
    for delivery in ("d-1", "d-3", "d-5", "ping-1"):
        assert by_delivery[delivery].id == answers[delivery].inbox_id
    assert by_delivery["ping-1"].status == "done"

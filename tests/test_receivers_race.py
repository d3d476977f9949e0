"""Two receivers on one PostgreSQL store, as a production install runs them: deliveries raced across
both are answered like any duplicate and never fail a batch, unrelated requests in the same group
commit never pay for a conflict, and one receiver killed mid-flood loses nothing it acknowledged."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

import requests
import sqlalchemy as sa

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
        receivers = [crossdock("receiver", env={**env, "CROSSDOCK_PORT": str(port)}, stdout=log, stderr=subprocess.STDOUT)
                     for port, log in zip(ports, logs, strict=True)]
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

"""Two stateless receivers on one PostgreSQL store behind a real load balancer (Debian's HAProxy,
configured as `bench/load_balancer.py` and `deploy/haproxy/haproxy.cfg` say): a flood of deliveries
each sent twice at once, raced across both receivers, and one receiver killed with SIGKILL
mid-flood. Nothing acknowledged is lost, nothing is stored twice, the only 5xx are the requests the
killed receiver was serving, and no request body reaches a log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from bench.load_balancer import SERVED_BY, haproxy, haproxy_binary
from pipelines.store.engine import make_engine
from pipelines.store.migrate import upgrade
from pipelines.store.schema import inbox, orders
from tests.processes import ROOT, crossdock, free_port, wait_for_http
from tests.receiver_helpers import integration
from tests.services import postgres_schema, unavailable

KEY = {"Content-Type": "application/json", "X-API-Key": "secreto_compartido"}
DELIVERIES = 200  # each sent twice at once: 400 requests, then more while one receiver dies
SENDERS = 16


def _order(name: str) -> bytes:
    return json.dumps({"external_id": name, "client_name": "Cliente", "address": "Zona 1"}).encode()


@pytest.fixture
def haproxy_installed() -> None:
    if haproxy_binary() is None:
        unavailable("haproxy is not installed (make haproxy installs Debian's package)")


def test_the_deployed_haproxy_configuration_is_valid(haproxy_installed):
    binary = haproxy_binary()
    checked = subprocess.run(
        [binary, "-c", "-f", str(ROOT / "deploy" / "haproxy" / "haproxy.cfg")], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_two_receivers_behind_haproxy_survive_races_and_a_kill(haproxy_installed, tmp_path):
    with postgres_schema() as url:
        engine = make_engine(url)
        upgrade(engine)
        integration(engine)
        ports, balancer = [free_port(), free_port()], free_port()
        env = {"CROSSDOCK_DATABASE_URL": url, "CROSSDOCK_HOME": str(tmp_path / "home")}
        logs = [open(tmp_path / f"receiver-{i}.log", "wb") for i in range(2)]
        receivers = [
            crossdock("receiver", env={**env, "CROSSDOCK_PORT": str(port)}, stdout=log, stderr=subprocess.STDOUT)
            for port, log in zip(ports, logs, strict=True)
        ]
        answers: list[tuple[str, int | None, str, dict]] = []  # (delivery, status, served by, body)
        lock = threading.Lock()
        try:
            for port, proc in zip(ports, receivers, strict=True):
                wait_for_http(f"http://127.0.0.1:{port}/health", proc, deadline_s=60)
            with haproxy(balancer, ports, log_path=tmp_path / "haproxy.log"):

                def send(body: bytes, delivery: str) -> None:
                    # One connection per request: on a kept-alive connection HAProxy answers a request
                    # whose receiver vanished by closing the connection silently (the sender's cue to
                    # retry) instead of with a 502, and does not log it, so it could not be traced.
                    try:
                        answer = requests.post(
                            f"http://127.0.0.1:{balancer}/webhook/cliente_abc",
                            data=body,
                            headers={**KEY, "Idempotency-Key": delivery},
                            timeout=60,
                        )
                        got = (
                            delivery,
                            answer.status_code,
                            answer.headers.get(SERVED_BY, ""),
                            answer.json() if answer.status_code < 500 else {},
                        )
                    except requests.ConnectionError:
                        got = (delivery, None, "", {})
                    with lock:
                        answers.append(got)

                jobs = []
                for i in range(DELIVERIES):
                    body = _order(f"RACE-{i}")
                    jobs += [(body, f"d-{i}"), (body, f"d-{i}")]  # the same delivery twice at once
                    jobs.append((_order(f"PLAIN-{i}"), f"p-{i}"))  # an unrelated delivery beside them
                with ThreadPoolExecutor(max_workers=SENDERS) as pool:
                    futures = [pool.submit(send, *job) for job in jobs]
                    assert _wait(lambda: len(answers) >= len(jobs) // 3), "the flood did not start"
                    os.kill(receivers[1].pid, signal.SIGKILL)  # mid-flood
                    killed_at = len(answers)
                    for future in futures:
                        future.result()
                # What failed in flight, the sender retries with the same delivery id.
                failed = [(delivery, code) for delivery, code, _, _ in answers if code is None or code >= 500]
                retried = [
                    requests.post(
                        f"http://127.0.0.1:{balancer}/webhook/cliente_abc",
                        data=_order(("RACE-" if d.startswith("d-") else "PLAIN-") + d.split("-", 1)[1]),
                        headers={**KEY, "Idempotency-Key": d},
                        timeout=60,
                    )
                    for d, _ in failed
                ]
        finally:
            for proc in receivers:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
            for log in logs:
                log.close()
        with engine.connect() as conn:
            deliveries = list(conn.execute(sa.select(inbox.c.delivery_id).where(inbox.c.delivery_id.is_not(None))).scalars())
            order_ids = list(conn.execute(sa.select(orders.c.external_id)).scalars())
        engine.dispose()

    served_by = {served for _, code, served, _ in answers if code == 200}
    assert served_by == {"receiver0", "receiver1"}, served_by  # the balancer spread the flood over both
    split = [i for i in range(DELIVERIES) if len({s for d, code, s, _ in answers[:killed_at] if d == f"d-{i}" and code == 200}) == 2]
    assert split, "no delivery was raced across both receivers"
    # The only failures are requests the killed receiver was serving (HAProxy answers them 502).
    trace = [
        dict(field.split("=", 1) for field in line.split())
        for line in (tmp_path / "haproxy.log").read_text().splitlines()
        if line.startswith("served_by=") and "delivery={" in line
    ]  # not the readiness probe's connection
    killed_in_flight = {line["delivery"].strip("{}") for line in trace if line["served_by"] == "receiver1" and line["status"] != "200"}
    assert {delivery for delivery, _ in failed} <= killed_in_flight, (failed, killed_in_flight)
    assert all(code is not None for _, code, _, _ in answers)
    assert all(line["status"] == "200" for line in trace if line["served_by"] != "receiver1")
    assert len(failed) <= SENDERS, failed
    assert all(answer.status_code == 200 for answer in retried), [a.status_code for a in retried]
    for i in range(DELIVERIES):  # a raced pair is one stored delivery, answered once as new and once as duplicate
        pair = [body for delivery, code, _, body in answers if delivery == f"d-{i}" and code == 200]
        if len(pair) == 2:
            assert sorted(bool(body.get("duplicate")) for body in pair) == [False, True]
            assert pair[0]["inbox_id"] == pair[1]["inbox_id"]
    acknowledged = {delivery for delivery, code, _, _ in answers if code == 200} | {d for d, _ in failed}
    assert acknowledged <= set(deliveries)  # nothing acknowledged was lost
    assert len(deliveries) == len(set(deliveries)) == 2 * DELIVERIES  # every delivery stored once
    assert len(order_ids) == len(set(order_ids))  # nothing ingested twice
    for path in [*Path(tmp_path).glob("receiver-*.log"), tmp_path / "haproxy.log"]:
        text = path.read_bytes()
        assert b"RACE-" not in text and b"PLAIN-" not in text and b"Cliente" not in text  # bodies never logged


def _wait(condition, deadline_s: float = 120) -> bool:
    until = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > until:
            return False
        time.sleep(0.05)
    return True

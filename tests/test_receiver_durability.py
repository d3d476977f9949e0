"""Killing the receiver (SIGKILL) during a flood of async webhooks loses no acknowledged request."""

from __future__ import annotations

import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
import sqlalchemy as sa

from pipelines.store.engine import make_engine
from pipelines.store.migrate import upgrade
from pipelines.store.schema import inbox
from tests.processes import crossdock, free_port, wait_for_http
from tests.receiver_helpers import integration

SENDERS = 16
ACKS_BEFORE_KILL = 400


def test_sigkill_during_a_flood_loses_no_acknowledged_webhook(crossdock_home):
    url = f"sqlite:///{crossdock_home / 'crossdock.db'}"
    engine = make_engine(url)
    upgrade(engine)
    integration(engine, webhook={"ack_mode": "async"})
    port = free_port()
    proc = crossdock(
        "receiver", env={"CROSSDOCK_PORT": str(port), "CROSSDOCK_DATABASE_URL": url}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    acknowledged: dict[str, tuple[int, bytes]] = {}
    lock = threading.Lock()
    enough = threading.Event()
    killed = threading.Event()

    def sender(worker: int) -> None:
        session = requests.Session()
        n = 0
        while not killed.is_set():
            key = f"w{worker}-{n}"
            body = f'{{"external_id": "{key}", "client_name": "Ana", "address": "Zona {n}"}}'.encode()
            n += 1
            try:
                answer = session.post(
                    f"http://127.0.0.1:{port}/webhook/cliente_abc",
                    data=body,
                    timeout=10,
                    headers={"Content-Type": "application/json", "X-API-Key": "secreto_compartido", "Idempotency-Key": key},
                )
            except requests.RequestException:
                continue  # killed mid-request: never acknowledged, the client would retry
            if answer.status_code == 202:
                with lock:
                    acknowledged[key] = (answer.json()["inbox_id"], body)
                    if len(acknowledged) >= ACKS_BEFORE_KILL:
                        enough.set()

    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", proc, deadline_s=60)
        with ThreadPoolExecutor(SENDERS) as pool:
            for worker in range(SENDERS):
                pool.submit(sender, worker)
            assert enough.wait(timeout=120), "the flood never reached its size"
            proc.send_signal(signal.SIGKILL)  # mid-flood: requests are in flight and batches uncommitted
            proc.wait(timeout=30)
            killed.set()
    finally:
        killed.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    with engine.connect() as conn:
        stored = {
            row.delivery_id: (row.id, bytes(row.body))
            for row in conn.execute(sa.select(inbox.c.delivery_id, inbox.c.id, inbox.c.body).where(inbox.c.status == "pending"))
        }
    engine.dispose()
    assert len(acknowledged) >= ACKS_BEFORE_KILL
    lost = {key for key in acknowledged if key not in stored}
    assert not lost, f"{len(lost)} acknowledged webhooks are missing after SIGKILL, e.g. {sorted(lost)[:5]}"
    assert all(stored[key] == value for key, value in acknowledged.items())

"""`POST /webhook/{integration}` (seed 000) through a real uvicorn: auth types, ack modes, every status code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import subprocess
import threading
import time

import pytest
import requests
import sqlalchemy as sa

from pipelines.inbox import DONE, PENDING, REJECTED
from pipelines.integrations import set_active
from pipelines.store.schema import record_errors, sync_runs
from tests.receiver_helpers import SEED_BODY, inbox_rows, integration, order_count, running

JSON = {"Content-Type": "application/json"}
KEY = {**JSON, "X-API-Key": "secreto_compartido"}


def test_seed_curl_verbatim_creates_then_reports_no_creation(store):
    integration(store)
    with running(store) as url:
        command = [
            "curl",
            "-s",
            "-X",
            "POST",
            f"{url}/webhook/cliente_abc",
            "-H",
            "Content-Type: application/json",
            "-H",
            "X-API-Key: secreto_compartido",
            "-d",
            SEED_BODY,
        ]
        first = json.loads(subprocess.run(command, capture_output=True, check=True, timeout=30).stdout)
        second = json.loads(subprocess.run(command, capture_output=True, check=True, timeout=30).stdout)
    assert {k: first[k] for k in ("total_received", "created", "updated", "errors")} == {
        "total_received": 1,
        "created": 1,
        "updated": 0,
        "errors": 0,
    }
    assert first["results"][0]["internal_id"] > 0
    assert (second["created"], second["updated"], second["unchanged"], second["errors"]) == (0, 0, 1, 0)
    assert second["results"][0]["internal_id"] == first["results"][0]["internal_id"]
    rows = inbox_rows(store)
    assert [r["status"] for r in rows] == [DONE, DONE]
    assert rows[0]["body"] == SEED_BODY.encode() and rows[0]["sync_run_id"] == first["sync_run_id"]
    assert "x-api-key" not in rows[0]["headers"] and rows[0]["headers"]["content-type"] == "application/json"


def test_wrong_key_is_401_and_stores_no_order(store):
    integration(store)
    with running(store) as url:
        missing = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=JSON)
        wrong = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers={**JSON, "X-API-Key": "nope"})
        # A later accepted request proves the refused ones' diagnostic rows were written (same queue, in order).
        assert requests.post(f"{url}/webhook/cliente_abc", data=b'{"x": 1}', headers=KEY).status_code == 422
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.json()["detail"] == "missing X-API-Key header"
    assert "secreto" not in wrong.text
    assert order_count(store) == 0
    rejected = [r for r in inbox_rows(store) if r["status"] == REJECTED]
    assert len(rejected) == 2 and all(not r["verified"] and r["error"].startswith("401") for r in rejected)
    assert all("x-api-key" not in r["headers"] for r in rejected)


def test_one_record_without_array(sqlite_store):
    integration(sqlite_store)
    with running(sqlite_store) as url:
        answer = requests.post(
            f"{url}/webhook/cliente_abc", headers=KEY, json={"external_id": "ORD-12345", "client_name": "Juan Pérez", "address": "Zona 10"}
        )
    assert answer.status_code == 200 and answer.json()["created"] == 1


@pytest.mark.parametrize(
    ("auth_type", "auth_value", "good", "bad"),
    [
        ("bearer", "tok_123", {"Authorization": "Bearer tok_123"}, {"Authorization": "Bearer tok_124"}),
        (
            "basic",
            "ana:clave",
            {"Authorization": "Basic " + base64.b64encode(b"ana:clave").decode()},
            {"Authorization": "Basic " + base64.b64encode(b"ana:otra").decode()},
        ),
        ("webhook_secret", "secreto_compartido", {"X-Webhook-Secret": "secreto_compartido"}, {"X-Webhook-Secret": "x"}),
        ("hmac", "k3y", {"X-Webhook-Signature": "SIG"}, {"X-Webhook-Signature": "00" * 32}),
    ],
)
def test_each_auth_type(sqlite_store, auth_type, auth_value, good, bad):
    integration(sqlite_store, auth_type=auth_type, auth_value=auth_value)
    body = b'{"external_id": "A-1", "client_name": "Ana", "address": "Zona 1"}'
    if good.get("X-Webhook-Signature") == "SIG":
        good = {"X-Webhook-Signature": hmac.new(b"k3y", body, hashlib.sha256).hexdigest()}
    with running(sqlite_store) as url:
        accepted = requests.post(f"{url}/webhook/cliente_abc", data=body, headers={**JSON, **good})
        refused = requests.post(f"{url}/webhook/cliente_abc", data=body, headers={**JSON, **bad})
    assert accepted.status_code == 200, accepted.text
    assert refused.status_code == 401 and refused.json()["detail"]


def test_previous_auth_value_still_works_during_rotation(sqlite_store):
    integration(sqlite_store, auth_value="new_key", webhook={"previous_auth_value": "old_key"})
    body = b'{"external_id": "A-1", "client_name": "Ana", "address": "Zona 1"}'
    with running(sqlite_store) as url:
        codes = [
            requests.post(f"{url}/webhook/cliente_abc", data=body, headers={**JSON, "X-API-Key": key}).status_code
            for key in ("new_key", "old_key", "other")
        ]
    assert codes == [200, 200, 401]


def test_inactive_unknown_and_non_webhook_integrations(sqlite_store):
    integration(sqlite_store)
    integration(sqlite_store, name="poller", type="api", endpoint="https://example.invalid/orders")
    set_active(sqlite_store, "cliente_abc", False)
    with running(sqlite_store) as url:
        inactive = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=KEY)
        inactive_bad_key = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers={**JSON, "X-API-Key": "x"})
        unknown = requests.post(f"{url}/webhook/nadie", data=SEED_BODY.encode(), headers=KEY)
        poller = requests.post(f"{url}/webhook/poller", data=SEED_BODY.encode(), headers=KEY)
    assert inactive.status_code == 403 and "inactive" in inactive.json()["detail"]
    assert inactive_bad_key.status_code == 401  # credentials are judged before anything is revealed
    assert unknown.status_code == 404 and poller.status_code == 404
    assert order_count(sqlite_store) == 0


def test_content_type_and_malformed_json(sqlite_store):
    integration(sqlite_store)
    with running(sqlite_store) as url:
        form = requests.post(
            f"{url}/webhook/cliente_abc",
            data=SEED_BODY.encode(),
            headers={"X-API-Key": "secreto_compartido", "Content-Type": "application/x-www-form-urlencoded"},
        )
        broken = requests.post(f"{url}/webhook/cliente_abc", data=b'[\n  {"external_id": "A-1",\n   "client_name": }\n]', headers=KEY)
        scalar = requests.post(f"{url}/webhook/cliente_abc", data=b'"just text"', headers=KEY)
        empty = requests.post(f"{url}/webhook/cliente_abc", data=b"[]", headers=KEY)
    assert form.status_code == 415 and "application/json" in form.json()["detail"]
    assert broken.status_code == 400
    assert broken.json()["detail"].startswith("malformed JSON at line 3, column 19")
    assert scalar.status_code == 400 and "JSON object" in scalar.json()["detail"]
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]


def test_body_over_the_limit_is_413_with_or_without_content_length(sqlite_store):
    integration(sqlite_store, webhook={"max_body_bytes": 1024})
    big = json.dumps([{"external_id": f"A-{i}", "client_name": "x" * 40, "address": "y"} for i in range(30)]).encode()
    with running(sqlite_store) as url:
        declared = requests.post(f"{url}/webhook/cliente_abc", data=big, headers=KEY)
        chunked = requests.post(f"{url}/webhook/cliente_abc", data=iter([big[:600], big[600:]]), headers=KEY)
    assert declared.status_code == 413 and "1024" in declared.json()["detail"]
    assert chunked.status_code == 413
    assert order_count(sqlite_store) == 0


def test_partly_valid_batch_is_200_and_all_invalid_is_422(store):
    integration(store)
    mixed = [
        {"external_id": "OK-1", "client_name": "Ana", "address": "Zona 1"},
        {"external_id": "BAD-1", "client_name": "Beto"},
        {"external_id": "OK-2", "client_name": "Ceci", "address": "Zona 2", "priority": 9},
    ]
    with running(store) as url:
        partly = requests.post(f"{url}/webhook/cliente_abc", json=mixed, headers=KEY)
        none_valid = requests.post(f"{url}/webhook/cliente_abc", json=[{"client_name": "x"}], headers=KEY)
    assert partly.status_code == 200
    body = partly.json()
    assert (body["total_received"], body["created"], body["errors"]) == (3, 1, 2)
    reasons = {r["external_id"]: r.get("errors") for r in body["results"]}
    assert reasons["BAD-1"] == [{"field": "address", "message": "required field is missing"}]
    assert reasons["OK-2"][0]["field"] == "priority"
    assert none_valid.status_code == 422 and none_valid.json()["errors"] == 1 and "detail" in none_valid.json()
    assert order_count(store) == 1
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(record_errors)).scalar() == 3


def test_async_mode_answers_202_and_leaves_the_row_pending(store):
    integration(store, webhook={"ack_mode": "async"})
    with running(store) as url:
        answer = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=KEY)
    assert answer.status_code == 202
    assert answer.json() == {"accepted": True, "status": "pending", "inbox_id": answer.json()["inbox_id"]}
    [row] = inbox_rows(store)
    assert (row["id"], row["status"], row["verified"], row["body"]) == (answer.json()["inbox_id"], PENDING, True, SEED_BODY.encode())
    assert row["headers"]["x-crossdock-verification"] == "auth_type=apikey; verification=none"
    assert order_count(store) == 0  # the Dagster processor's job


def test_repeated_delivery_id_is_answered_once_and_different_body_is_409(store):
    integration(store)
    headers = {**KEY, "Idempotency-Key": "entrega-1"}
    with running(store) as url:
        first = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=headers)
        again = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=headers)
        other = requests.post(f"{url}/webhook/cliente_abc", data=b'{"external_id": "X"}', headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json()["duplicate"] is True
    assert {k: again.json()[k] for k in ("created", "inbox_id", "sync_run_id")} == {
        k: first.json()[k] for k in ("created", "inbox_id", "sync_run_id")
    }
    assert other.status_code == 409 and "different body" in other.json()["detail"]
    assert len(inbox_rows(store)) == 1
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sync_runs)).scalar() == 1


def test_concurrent_repeats_of_one_delivery_id_are_processed_once(sqlite_store):
    integration(sqlite_store, webhook={"ack_mode": "async"})
    headers = {**KEY, "Idempotency-Key": "same"}
    with running(sqlite_store) as url:
        answers = []
        threads = [
            threading.Thread(
                target=lambda: answers.append(requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=headers))
            )
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(a.status_code for a in answers) == [202] * 8
    assert len({a.json()["inbox_id"] for a in answers}) == 1
    assert sum(1 for a in answers if a.json().get("duplicate")) == 7
    assert len(inbox_rows(sqlite_store)) == 1


def test_sheds_load_with_429_when_the_commit_queue_is_full(sqlite_store, tmp_path):
    integration(sqlite_store, webhook={"ack_mode": "async"})
    database = sqlite_store.url.database
    with running(sqlite_store, max_pending=1) as url:
        blocker = sqlite3.connect(database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock: the first request waits
        first: list[requests.Response] = []
        waiting = threading.Thread(
            target=lambda: first.append(requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=KEY, timeout=60))
        )
        waiting.start()
        deadline = time.monotonic() + 30
        while requests.get(f"{url}/health", timeout=5).json()["intake"]["waiting_for_commit"] < 1:
            assert time.monotonic() < deadline, "the first request never reached the commit queue"
        shed = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=KEY)
        blocker.execute("ROLLBACK")
        blocker.close()
        waiting.join(timeout=60)
    assert shed.status_code == 429 and shed.headers["Retry-After"] == "1"
    assert first[0].status_code == 202
    assert [r["status"] for r in inbox_rows(sqlite_store)] == [PENDING]


def test_health_reports_store_and_backlog(sqlite_store):
    integration(sqlite_store, webhook={"ack_mode": "async"})
    with running(sqlite_store) as url:
        requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=KEY)
        health = requests.get(f"{url}/health").json()
    assert health["status"] == "ok" and health["store"]["ok"] is True
    assert health["inbox"]["pending"] == 1 and health["inbox"]["oldest_pending_age_seconds"] >= 0


def test_rejected_rows_are_bounded(sqlite_store):
    from pipelines.inbox.intake import IncomingRequest, prune_rejected, write_batch

    stored = integration(sqlite_store)
    write_batch(sqlite_store, [IncomingRequest(stored, b"x" * 10_000, {}, "rejected", verified=False, error="401: no") for _ in range(5)])
    assert prune_rejected(sqlite_store, stored.id, keep=3) == 2
    rows = inbox_rows(sqlite_store)
    assert len(rows) == 3 and all(len(r["body"]) == 4_096 for r in rows)
    assert rows[0]["headers"]["x-crossdock-body-truncated-from"] == "10000"


def test_sync_requests_batched_together_get_their_own_answers(store):
    from pipelines.inbox.intake import IncomingRequest, write_batch

    stored = integration(store)
    first = [{"external_id": "A-1", "client_name": "Ana", "address": "Zona 1"}, {"external_id": "A-2"}]
    second = [{"client_name": "sin id"}, {"external_id": "A-1", "client_name": "Ana", "address": "Zona 9"}]
    outcomes = write_batch(
        store, [IncomingRequest(stored, b"1", {}, "sync", records=first), IncomingRequest(stored, b"2", {}, "sync", records=second)]
    )
    one, two = (o.payload() for o in outcomes)
    assert (one["total_received"], one["created"], one["errors"]) == (2, 1, 1)
    assert (two["total_received"], two["updated"], two["errors"]) == (2, 1, 1)
    assert [r["index"] for r in two["results"]] == [0, 1]
    assert two["results"][1]["internal_id"] == one["results"][0]["internal_id"]
    with store.connect() as conn:
        errors = conn.execute(sa.select(record_errors.c.inbox_id, record_errors.c.record_index).order_by(record_errors.c.inbox_id)).all()
    assert [tuple(e) for e in errors] == [(one["inbox_id"], 1), (two["inbox_id"], 0)]
    assert [r["status"] for r in inbox_rows(store)] == [DONE, DONE]


def test_fast_path_and_fastapi_routes_answer_alike(sqlite_store):
    integration(sqlite_store)
    integration(
        sqlite_store,
        name="cuenta",
        target="sale",
        auth_type="none",
        auth_value=None,
        webhook={"ack_mode": "async", "verification": "autentikapp", "signing_secrets": ["whsec_x"]},
    )

    def requests_to_send(run: str) -> list[tuple[str, bytes, dict[str, str]]]:
        # Each run its own sale: an identical body signed without a timestamp is (rightly) a duplicate.
        sale = b'{"transaction_data": {"transaction_id": "T-' + run.encode() + b'"}, "customer_data": {"email": "a@b.co"}}'
        return [
            ("/webhook/cliente_abc", SEED_BODY.encode(), KEY),
            ("/webhook/cliente_abc", SEED_BODY.encode(), {**JSON, "X-API-Key": "no"}),
            ("/webhook/cliente_abc", b"[{]", KEY),
            ("/webhook/cliente_abc", SEED_BODY.encode(), {"X-API-Key": "secreto_compartido", "Content-Type": "text/csv"}),
            ("/webhook/nadie", SEED_BODY.encode(), KEY),
            (
                "/v1/webhooks/inbound/cuenta",
                sale,
                {**JSON, "X-Autentikapp-Signature": hmac.new(b"whsec_x", sale, hashlib.sha256).hexdigest()},
            ),
            ("/v1/webhooks/inbound/cuenta", sale, {**JSON, "X-Autentikapp-Signature": "00"}),
        ]

    def answers(fast: bool) -> list[tuple[int, dict]]:
        with running(sqlite_store, fast_path=fast) as url:
            out = []
            for path, body, headers in requests_to_send("fast" if fast else "plain"):
                answer = requests.post(url + path, data=body, headers=headers)
                out.append((answer.status_code, {k: v for k, v in answer.json().items() if k not in ("inbox_id", "sync_run_id")}))
            return out

    fast, plain = answers(True), answers(False)
    assert [code for code, _ in fast] == [200, 401, 400, 415, 404, 202, 401]
    # the second pass finds the first pass's order: only those counts may differ
    assert [a for i, a in enumerate(fast) if i != 0] == [a for i, a in enumerate(plain) if i != 0]
    assert plain[0][0] == 200 and plain[0][1]["unchanged"] == 1


def test_a_store_that_cannot_commit_is_503_and_nothing_is_acknowledged(sqlite_store):
    integration(sqlite_store, webhook={"ack_mode": "async"})
    database = sqlite_store.url.database
    with running(sqlite_store) as url:
        assert requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=KEY).status_code == 202
        saboteur = sqlite3.connect(database, isolation_level=None)
        saboteur.execute("ALTER TABLE inbox RENAME TO inbox_away")
        refused = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=KEY)
        saboteur.execute("ALTER TABLE inbox_away RENAME TO inbox")
        saboteur.close()
        after = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=KEY)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert "not acknowledged" in refused.json()["detail"]
    assert after.status_code == 202
    assert len(inbox_rows(sqlite_store)) == 2


def test_receiver_commits_never_checkpoint_inline_and_the_background_checkpoint_catches_up(sqlite_store):
    from connectors.receiver.wal import _checkpoint, writer_engine
    from pipelines.inbox.intake import IncomingRequest, write_batch
    from pipelines.store.engine import reader as read_only

    stored = integration(sqlite_store)
    writer, reader = writer_engine(sqlite_store), read_only(sqlite_store)
    try:
        with writer.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        for _ in range(20):
            write_batch(writer, [IncomingRequest(stored, b"x" * 4_000, {}, "async") for _ in range(50)])
        _checkpoint(reader)
        with reader.connect() as conn:
            busy, frames, done = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        assert frames > 1_000 and done == frames  # the WAL grew past the default threshold, and is fully copied
    finally:
        writer.dispose()


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_client_hanging_up_mid_body_is_not_an_error(sqlite_store, caplog, fast_path):
    """Load balancers and load tests cut connections mid-request: nothing is stored, nothing is logged
    as a server error (a burst of tracebacks once stalled the event loop on a full stderr pipe), and
    the next client is served."""
    import socket
    from urllib.parse import urlsplit

    integration(sqlite_store)
    with caplog.at_level("DEBUG"), running(sqlite_store, fast_path=fast_path) as url:
        address = urlsplit(url)
        for _ in range(5):
            with socket.create_connection((address.hostname, address.port)) as sock:
                sock.sendall(
                    b"POST /webhook/cliente_abc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b'X-API-Key: secreto_compartido\r\nContent-Length: 500\r\n\r\n[{"external_id": '
                )
        after = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=KEY)
    assert after.status_code == 200 and after.json()["created"] == 1
    assert len(inbox_rows(sqlite_store)) == 1
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert "client disconnected" in caplog.text

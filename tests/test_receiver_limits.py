"""What the receiver refuses at the door instead of acknowledging what cannot be processed, and what
one large request may cost the others, through a real receiver on loopback."""

from __future__ import annotations

import json

import requests
import sqlalchemy as sa

from pipelines.ingest import ingest
from pipelines.ingest.run import MAX_KEPT_ERRORS
from pipelines.store.schema import inbox, record_errors, sync_runs
from tests.receiver_helpers import integration, running

KEY = {"Content-Type": "application/json", "X-API-Key": "secreto_compartido"}


def _nested(levels: int) -> dict:
    extra: dict = {}
    for _ in range(levels):
        extra = {"more": extra}
    return {"external_id": "PED-1", "client_name": "María", "address": "Zona 1", "extra": extra}


def test_a_body_nested_300_levels_deep_is_refused_at_the_door_not_dead_lettered(sqlite_store):
    integration(sqlite_store)
    integration(sqlite_store, name="cliente_async", webhook={"ack_mode": "async"})
    body = json.dumps(_nested(300)).encode()
    with running(sqlite_store) as url:
        sync = requests.post(f"{url}/webhook/cliente_abc", data=body, headers=KEY, timeout=30)
        async_ = requests.post(f"{url}/webhook/cliente_async", data=body, headers=KEY, timeout=30)
        shallow = requests.post(f"{url}/webhook/cliente_abc", data=json.dumps(_nested(20)).encode(), headers=KEY, timeout=30)
    for answer in (sync, async_):
        assert answer.status_code == 400 and "nests deeper than 64 levels" in answer.json()["detail"]
    assert shallow.status_code == 200 and shallow.json()["created"] == 1
    with sqlite_store.connect() as conn:
        statuses = list(conn.execute(sa.select(inbox.c.status).order_by(inbox.c.id)).scalars())
    assert statuses == ["rejected", "rejected", "done"]  # nothing acknowledged that could not be processed


def test_a_request_over_the_record_limit_is_413_and_writes_nothing_but_its_diagnosis(sqlite_store):
    integration(sqlite_store, webhook={"max_records": 1_000})
    tiny = b"[" + b",".join([b"{}"] * 250_000) + b"]"  # 500 KB: under the size limit
    with running(sqlite_store) as url:
        refused = requests.post(f"{url}/webhook/cliente_abc", data=tiny, headers=KEY, timeout=60)
        after = requests.post(f"{url}/webhook/cliente_abc", data=json.dumps(_nested(1)).encode(), headers=KEY, timeout=30)
    assert refused.status_code == 413
    assert refused.json()["detail"] == (
        "250,000 records in one request; this integration takes at most 1,000 (webhook.max_records): split the batch"
    )
    assert after.status_code == 200
    with sqlite_store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(record_errors)).scalar_one() == 0


def test_record_errors_kept_per_run_are_capped_with_the_rest_counted(sqlite_store):
    stored = integration(sqlite_store)
    records = [{"external_id": f"BAD-{i}"} for i in range(MAX_KEPT_ERRORS + 250)]
    result = ingest(sqlite_store, stored, records, source_kind="webhook")
    assert result.errors == MAX_KEPT_ERRORS + 250
    with sqlite_store.connect() as conn:
        kept = conn.execute(sa.select(sa.func.count()).select_from(record_errors)).scalar_one()
        details = conn.execute(sa.select(sync_runs.c.details)).scalar_one()
    assert kept == MAX_KEPT_ERRORS and details["record_errors_not_kept"] == 250


def test_a_summary_says_how_many_more_reasons_there_are(sqlite_store):
    stored = integration(sqlite_store)
    records = [
        {"external_id": "A", "client_name": "x", "address": "y", "priority": 9},
        {"external_id": "B", "client_name": "x", "address": "y", "latitude": 200},
        {"external_id": "C", "client_name": "x", "address": "y", "client_email": "not an email"},
        {"external_id": "D", "client_name": "x"},
    ]
    summary = ingest(sqlite_store, stored, records, source_kind="webhook").error_summary()
    assert summary.count("; ") == 3 and summary.endswith("; and 1 more reason(s)")

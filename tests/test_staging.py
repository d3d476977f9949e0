"""The staging URL checks exactly as production does and leaves nothing behind: no order, sale,
customer, identifier, sync run (reports), record error, inbox row or callback. Its traffic is kept
as test deliveries; promoting the integration opens the production URL."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import requests
import sqlalchemy as sa

from pipelines.guide import staging_url
from pipelines.onboarding.staging import KEEP_TEST_DELIVERIES, list_test_deliveries, promote, record_test_delivery
from pipelines.onboarding.webhook_example import SALE_BODY
from pipelines.ops.reports import sync_runs_frame
from pipelines.store.schema import (
    callback_outbox,
    customers,
    identifiers,
    inbox,
    orders,
    record_errors,
    sales,
    sync_runs,
    test_deliveries,
)
from tests.receiver_helpers import integration, running

KEY = {"X-API-Key": "secreto_compartido"}
GOOD = {"external_id": "PED-001", "client_name": "María García", "address": "Zona 15, Guatemala"}
BAD = {"external_id": "PED-002", "client_name": "Sin Dirección"}
LEFT_BEHIND = (orders, sales, customers, identifiers, sync_runs, record_errors, inbox, callback_outbox)


def _counts(engine: sa.Engine, tables=LEFT_BEHIND) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in tables}


def _staged(engine: sa.Engine, **fields):
    return integration(
        engine, callback_url="https://client.example/updates", callback_events=["assigned"], onboarding={"stage": "staging"}, **fields
    )


def test_staging_answers_each_records_verdict_and_leaves_nothing_behind(store):
    stored = _staged(store)
    with running(store) as url:
        answer = requests.post(staging_url(stored.name, base=url), json=[GOOD, BAD], headers=KEY, timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["staging"], body["stored"], body["total_received"], body["valid"], body["errors"]) == (True, False, 2, 1, 1)
    valid, invalid = body["results"]
    assert valid["status"] == "valid" and valid["record"]["address"] == "Zona 15, Guatemala"
    assert invalid["status"] == "error" and invalid["errors"][0]["field"] == "address"
    assert set(_counts(store).values()) == {0}
    now = datetime.now(UTC)
    assert sync_runs_frame(store, now - timedelta(days=1), now + timedelta(days=1)).empty  # no report sees it
    [kept] = list_test_deliveries(store, stored.id)
    assert (kept.status_code, kept.verified, kept.response) == (200, True, body)
    assert b"PED-002" in kept.body and "x-api-key" not in kept.headers  # credentials are never kept


def test_staging_refuses_what_production_refuses_and_keeps_the_attempt(store):
    stored = _staged(store)
    with running(store) as url:
        target = staging_url(stored.name, base=url)
        wrong_key = requests.post(target, json=GOOD, headers={"X-API-Key": "nope"}, timeout=10)
        all_invalid = requests.post(target, json=[BAD], headers=KEY, timeout=10)
        malformed = requests.post(target, data=b"{oops", headers={**KEY, "Content-Type": "application/json"}, timeout=10)
        unknown = requests.post(staging_url("nobody", base=url), json=GOOD, headers=KEY, timeout=10)
    assert wrong_key.status_code == 401 and "X-API-Key is not valid" in wrong_key.json()["detail"]
    assert all_invalid.status_code == 422 and all_invalid.json()["errors"] == 1
    assert malformed.status_code == 400
    assert unknown.status_code == 404
    kept = list_test_deliveries(store, stored.id)
    assert [(k.status_code, k.verified) for k in kept] == [(400, True), (422, True), (401, False)]
    assert kept[-1].error.startswith("401: ")
    assert set(_counts(store, (orders, sync_runs, record_errors, callback_outbox)).values()) == {0}


def test_production_waits_for_promotion(store):
    stored = _staged(store)
    with running(store, cache_ttl=0) as url:
        production = f"{url}/webhook/{stored.name}"
        before = requests.post(production, json=GOOD, headers=KEY, timeout=10)
        promote(store, stored.name)
        after = requests.post(production, json=GOOD, headers=KEY, timeout=10)
        still_staging = requests.post(staging_url(stored.name, base=url), json=GOOD, headers=KEY, timeout=10)
    assert before.status_code == 403 and "is in staging" in before.json()["detail"]
    assert after.status_code == 200 and after.json()["created"] == 1
    assert still_staging.status_code == 200 and still_staging.json()["stored"] is False
    assert _counts(store)["orders"] == 1


def test_an_autentikapp_sale_in_staging_writes_no_sale_customer_or_identifier(store):
    secret = "whsec_autentik"
    stored = integration(
        store,
        "acct_42",
        auth_type="none",
        auth_value=None,
        target="sale",
        onboarding={"stage": "staging"},
        webhook={"verification": "autentikapp", "signing_secrets": [secret]},
    )
    body = json.dumps(SALE_BODY).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    with running(store) as url:
        answer = requests.post(
            staging_url(stored.name, "autentikapp", base=url),
            data=body,
            timeout=10,
            headers={"Content-Type": "application/json", "X-Autentikapp-Signature": signature},
        )
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"]
    assert result["status"] == "valid" and result["record"]["line_items"][0]["identifier_code"].startswith("a1b2")
    assert set(_counts(store).values()) == {0}


def test_test_deliveries_are_bounded_per_integration(sqlite_store):
    stored = integration(sqlite_store)
    for i in range(KEEP_TEST_DELIVERIES + 3):
        record_test_delivery(sqlite_store, stored.id, headers={}, body=str(i).encode(), verified=True, status_code=200, response={})
    with sqlite_store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(test_deliveries)).scalar_one() == KEEP_TEST_DELIVERIES
    assert list_test_deliveries(sqlite_store, stored.id, limit=1)[0].body == str(KEEP_TEST_DELIVERIES + 2).encode()

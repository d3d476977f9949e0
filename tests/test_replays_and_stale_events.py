"""Replayed and out-of-order events, through a real receiver and the real ingest: an identical signed
body is one delivery however often it is re-sent, and an event older than what is stored (by its own
timestamp) is recorded as stale and not applied, for webhooks and pulls alike."""

from __future__ import annotations

import hashlib
import hmac
import json

import requests
import sqlalchemy as sa

from connectors.pull import pull
from pipelines.clock import utcnow
from pipelines.inbox.processing import process_batch
from pipelines.ingest import ingest
from pipelines.ingest.sales import register_identifiers
from pipelines.integrations import ApiIntegration, WebhookIntegration, create_integration
from pipelines.store.schema import customers, inbox, orders, sync_runs
from tests.conftest import EXAMPLES
from tests.fake_client_api import ClientApi, serve_client_api
from tests.receiver_helpers import running

SECRET = "whsec_c3RhbGUtYW5kLXJlcGxheS10ZXN0cw=="
CODE = "a1b2c3d4-e5f6-7890-1234-567890abcdef"


def _sale(transaction: str, at: str, phone: str, email: str) -> bytes:
    sale = json.loads((EXAMPLES / "autentikapp_sale.json").read_text(encoding="utf-8"))
    sale["event_timestamp"] = at
    sale["transaction_data"]["transaction_id"] = transaction
    sale["customer_data"].update(phone_number=phone, email=email)
    return json.dumps(sale).encode()


def _signed(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Autentikapp-Signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}


def test_a_captured_autentikapp_event_replayed_late_changes_nothing(sqlite_store):
    account = create_integration(
        sqlite_store,
        WebhookIntegration(
            name="autentik",
            target="sale",
            webhook={"ack_mode": "async", "verification": "autentikapp", "signing_secrets": [SECRET]},
        ),
    )
    with sqlite_store.begin() as conn:
        register_identifiers(conn, account.id, [{"code": CODE}], utcnow())
    event_a = _sale("FACT-A", "2025-09-13T14:30:00Z", "+573000000001", "old@email.com")
    event_b = _sale("FACT-B", "2025-09-13T15:00:00Z", "+573000000002", "new@email.com")
    with running(sqlite_store) as url:
        answers = [requests.post(f"{url}/v1/webhooks/inbound/autentik", data=body, headers=_signed(body)) for body in (event_a, event_b)]
        process_batch(sqlite_store)
        replays = [requests.post(f"{url}/v1/webhooks/inbound/autentik", data=event_a, headers=_signed(event_a)) for _ in range(3)]
        process_batch(sqlite_store)
    assert [a.status_code for a in answers + replays] == [202] * 5
    assert all(r.json()["duplicate"] for r in replays) and {r.json()["inbox_id"] for r in replays} == {answers[0].json()["inbox_id"]}
    with sqlite_store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(inbox)).scalar_one() == 2  # processed once each
        customer = conn.execute(sa.select(customers.c.phone_number, customers.c.email)).one()
    assert tuple(customer) == ("+573000000002", "new@email.com")  # B's details stand


def test_a_late_older_event_is_stale_even_with_a_new_body(sqlite_store):
    """A new transaction of an older event still lands (it is a sale), but cannot roll the customer back;
    the same transaction re-sent with an older event time is stale."""
    account = create_integration(sqlite_store, WebhookIntegration(name="autentik", target="sale", webhook={"ack_mode": "sync"}))
    with sqlite_store.begin() as conn:
        register_identifiers(conn, account.id, [{"code": CODE}], utcnow())
    newer = json.loads(_sale("FACT-9", "2025-09-13T15:00:00Z", "+573000000002", "new@email.com"))
    older_same_sale = json.loads(_sale("FACT-9", "2025-09-13T14:00:00Z", "+573000000001", "old@email.com"))
    older_other_sale = json.loads(_sale("FACT-8", "2025-09-13T14:00:00Z", "+573000000001", "old@email.com"))
    first = ingest(sqlite_store, account, [newer], source_kind="webhook")
    second = ingest(sqlite_store, account, [older_same_sale, older_other_sale], source_kind="webhook")
    assert first.counts()["created"] == 1
    assert [r.status for r in second.results] == ["stale", "created"]
    assert second.results[0].reasons[0]["message"].startswith("stale: this version (2025-09-13T14:00:00Z) is older")
    with sqlite_store.connect() as conn:
        assert tuple(conn.execute(sa.select(customers.c.phone_number, customers.c.email)).one()) == ("+573000000002", "new@email.com")
        run = conn.execute(sa.select(sync_runs.c.stale, sync_runs.c.details).order_by(sync_runs.c.id.desc())).first()
    assert run.stale == 1 and run.details["stale"][0]["external_id"] == "FACT-9"


def test_an_older_order_version_from_a_pull_is_stale(sqlite_store):
    """Pulls too: an API that serves an order's older version after a newer one leaves the newer in place."""
    mapping = {
        "external_id": "order_number",
        "client_name": "customer.name",
        "address": "shipping_address.full",
        "source_updated_at": "updated_at",
    }
    order = {
        "order_number": "ORD-1",
        "customer": {"name": "Ana"},
        "shipping_address": {"full": "Zona 1"},
        "status": "pending",
        "updated_at": "2026-11-20T10:00:00Z",
    }
    api = ClientApi([order])
    with serve_client_api(api) as base_url:
        create_integration(
            sqlite_store,
            ApiIntegration(
                name="erp", endpoint=f"{base_url}/orders", auth_type="bearer", auth_value="sk_live_xxxxx", field_mapping=mapping
            ),
        )
        first = pull(sqlite_store, "erp")
        api.orders[0] = {**order, "shipping_address": {"full": "Zona 10"}, "updated_at": "2026-11-20T12:00:00Z"}
        second = pull(sqlite_store, "erp")
        api.orders[0] = {**order, "shipping_address": {"full": "Zona 4 (old)"}, "updated_at": "2026-11-20T11:00:00Z"}
        third = pull(sqlite_store, "erp")
    assert (first.counts["created"], second.counts["updated"], third.counts["stale"]) == (1, 1, 1)
    with sqlite_store.connect() as conn:
        assert conn.execute(sa.select(orders.c.address)).scalar_one() == "Zona 10"

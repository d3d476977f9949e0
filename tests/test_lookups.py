"""Read-only lookups for the Orders and Dead letters pages: filters, detail, masked headers.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from pipelines.clock import utcnow
from pipelines.dead_letters.lists import (
    Filters,
    callback_dead_letters,
    callback_letter,
    inbox_dead_letters,
    inbox_letter,
    masked_headers,
    rejected_records,
)
from pipelines.ingest import ingest
from pipelines.integrations import WebhookIntegration, create_integration
from pipelines.orders.search import order_detail, search_orders
from pipelines.store.binds import inserted_id
from pipelines.store.schema import callback_attempts, callback_outbox, inbox, order_status_history, orders
from tests.conftest import load_example


def _two_integrations(store):
    abc = create_integration(store, WebhookIntegration(name="cliente_abc"))
    shop = create_integration(store, WebhookIntegration(name="shopify_store"))
    ingest(store, abc, load_example("webhook_batch.json") + [load_example("webhook_order.json")], source_kind="webhook")
    ingest(
        store,
        shop,
        [
            {"external_id": "shopify-5678", "client_name": "Juan", "address": "5ta Avenida"},
            {"external_id": "shopify-9", "client_name": "Sin dirección"},
        ],
        source_kind="webhook",
    )
    return abc, shop


def test_search_orders_by_integration_id_part_and_status(store):
    abc, _ = _two_integrations(store)
    assert {o.external_id for o in search_orders(store)} == {"PED-001", "ORD-12345", "shopify-5678"}
    assert [o.external_id for o in search_orders(store, integration="shopify_store")] == ["shopify-5678"]
    assert [o.external_id for o in search_orders(store, external_id="ped-0")] == ["PED-001"]
    assert search_orders(store, external_id="%") == []  # wildcards are text, not patterns
    with store.begin() as conn:
        conn.execute(orders.update().where(orders.c.external_id == "PED-001").values(status="assigned"))
    assert [o.external_id for o in search_orders(store, statuses=["assigned", "delivered"])] == ["PED-001"]
    assert len(search_orders(store, limit=1)) == 1


def test_order_detail_has_payload_mapped_record_history_and_callbacks(store):
    abc, _ = _two_integrations(store)
    (order,) = search_orders(store, external_id="ORD-12345")
    now = utcnow()
    with store.begin() as conn:
        conn.execute(
            order_status_history.insert(),
            [
                {
                    "order_id": order.id,
                    "from_status": "pending",
                    "to_status": "assigned",
                    "actor": "cli",
                    "changed_at": now - timedelta(minutes=5),
                    "details": None,
                },
                {
                    "order_id": order.id,
                    "from_status": "assigned",
                    "to_status": "in_route",
                    "actor": "api:admin",
                    "changed_at": now,
                    "details": {"eta": "2024-01-15T15:00:00Z"},
                },
            ],
        )
        outbox_id = inserted_id(
            conn.execute(
                callback_outbox.insert().values(
                    integration_id=abc.id,
                    order_id=order.id,
                    event="assigned",
                    payload={"event": "assigned"},
                    webhook_id="msg_a",
                    status="delivered",
                    attempts=2,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        )
        conn.execute(
            callback_attempts.insert(),
            [
                {"outbox_id": outbox_id, "attempted_at": now, "status_code": 503, "latency_ms": 80.0, "error": "503", "succeeded": False},
                {
                    "outbox_id": outbox_id,
                    "attempted_at": now + timedelta(seconds=5),
                    "status_code": 200,
                    "latency_ms": 40.0,
                    "error": None,
                    "succeeded": True,
                },
            ],
        )
    detail = order_detail(store, order.id)
    assert detail.integration == "cliente_abc"
    assert detail.source_record == load_example("webhook_order.json")
    assert detail.mapped == {
        "external_id": "ORD-12345",
        "client_name": "Juan Pérez",
        "address": "Zona 10, Guatemala Ciudad",
        "latitude": 14.59,
        "longitude": -90.52,
        "client_phone": "+502 5555-1234",
        "notes": "Entregar en recepción",
    }
    assert [h.to_status for h in detail.history] == ["assigned", "in_route"]
    assert [a.status_code for a in detail.callbacks[0].attempt_log] == [503, 200]
    assert order_detail(store, order.id + 999) is None


def test_dead_letter_lists_filter_and_mask(store):
    abc, shop = _two_integrations(store)
    order_id = search_orders(store, external_id="PED-001")[0].id
    now = utcnow()
    with store.begin() as conn:
        conn.execute(
            inbox.insert(),
            [
                {
                    "integration_id": shop.id,
                    "received_at": now - timedelta(days=2),
                    "source_kind": "webhook",
                    "headers": {"X-Shopify-Hmac-Sha256": "c2lnbmF0dXJlLXZhbHVlLWxvbmctZW5vdWdo", "Content-Type": "application/json"},
                    "body": '{"nombre": "María'.encode(),
                    "verified": True,
                    "status": "dead",
                    "attempts": 3,
                    "error": "body is not valid JSON",
                },
                {
                    "integration_id": abc.id,
                    "received_at": now,
                    "source_kind": "webhook",
                    "headers": {"X-API-Key": "secreto_compartido"},
                    "body": b"[]",
                    "verified": True,
                    "status": "dead",
                    "attempts": 1,
                    "error": "unknown integration state",
                },
                {
                    "integration_id": abc.id,
                    "received_at": now,
                    "source_kind": "webhook",
                    "headers": {},
                    "body": b"[]",
                    "verified": True,
                    "status": "done",
                    "attempts": 1,
                    "error": None,
                },
            ],
        )
        for status, webhook_id in (("dead", "m1"), ("disabled", "m2"), ("delivered", "m3")):
            conn.execute(
                callback_outbox.insert().values(
                    integration_id=abc.id,
                    order_id=order_id,
                    event="delivered",
                    payload={"event": "delivered"},
                    webhook_id=webhook_id,
                    status=status,
                    attempts=8,
                    next_attempt_at=now,
                    created_at=now,
                    last_status_code=410 if status == "disabled" else 503,
                    last_error=f"HTTP {status}",
                )
            )
    letters = inbox_dead_letters(store)
    assert [(r.integration, r.error) for r in letters] == [
        ("cliente_abc", "unknown integration state"),
        ("shopify_store", "body is not valid JSON"),
    ]
    assert letters[1].body_start == '{"nombre": "María' and letters[1].size_bytes == 18
    assert [r.id for r in inbox_dead_letters(store, Filters(integration="shopify_store"))] == [letters[1].id]
    assert [r.id for r in inbox_dead_letters(store, Filters(text="JSON"))] == [letters[1].id]
    assert [r.id for r in inbox_dead_letters(store, Filters(since=now - timedelta(hours=1)))] == [letters[0].id]
    full = inbox_letter(store, letters[0].id)
    assert full.headers == {"X-API-Key": "••••••••"}
    assert full.body == "[]"
    assert (full.integration, full.status, full.error) == ("cliente_abc", "dead", "unknown integration state")

    callbacks = callback_dead_letters(store)
    assert sorted(r.status for r in callbacks) == ["dead", "disabled"]
    assert {r.external_id for r in callbacks} == {"PED-001"}
    assert [r.status for r in callback_dead_letters(store, Filters(text="disabled"))] == ["disabled"]
    letter = callback_letter(store, callbacks[0].id)
    assert letter.payload == {"event": "delivered"} and letter.integration == "cliente_abc"
    assert inbox_letter(store, 10**6) is None and callback_letter(store, 10**6) is None

    (rejected,) = rejected_records(store)
    assert (rejected.integration, rejected.external_id, rejected.reason) == (
        "shopify_store",
        "shopify-9",
        "address: required field is missing",
    )
    assert rejected_records(store, Filters(text="address")) and not rejected_records(store, Filters(text="priority"))


def test_masked_headers():
    assert masked_headers(
        {"Authorization": "Bearer sk_live_0123456789abcdefghijkl", "X-Webhook-Signature": "ab", "User-Agent": "curl/8"}
    ) == {"Authorization": "••••••••ijkl", "X-Webhook-Signature": "••••••••", "User-Agent": "curl/8"}

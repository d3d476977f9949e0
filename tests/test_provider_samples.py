"""Real providers' payloads (examples/providers/, modelled on each provider's documented sample) sent
through a real receiver the way each provider sends and signs them, with the mapping in the example
integration file: what lands, and that every verified delivery gets the 2xx the provider needs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

import requests
import sqlalchemy as sa
from standardwebhooks import Webhook

from pipelines.integrations import create_integration, parse_integration
from pipelines.store.schema import customers, inbox, orders, record_errors, sales
from pipelines.vocabulary import InboxStatus
from tests.conftest import EXAMPLES
from tests.receiver_helpers import running

PROVIDERS = EXAMPLES / "providers"
SECRET = "shared-test-secret"
SW_SECRET = "whsec_" + base64.b64encode(b"svix-endpoint-secret-32-bytes!!!").decode()


def _integration(store, name: str, secret: str = SECRET):
    document = json.loads((PROVIDERS / f"{name}_integration.json").read_text(encoding="utf-8"))
    document["webhook"]["signing_secrets"] = [secret]
    return create_integration(store, parse_integration(document))


def _sample(name: str) -> bytes:
    return (PROVIDERS / name).read_bytes()


def _stored(store, table, *columns):
    with store.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(*[table.c[c] for c in columns]).order_by(table.c.id))]


def _b64_hmac(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_a_shopify_order_lands_and_an_invalid_one_is_200_with_the_record_rejected(sqlite_store):
    config = _integration(sqlite_store, "shopify")
    body = _sample("shopify_orders_create.json")
    no_address = json.loads(body)
    no_address["id"], no_address["shipping_address"] = 820982911946154509, None
    invalid = json.dumps(no_address).encode()
    with running(sqlite_store) as url:

        def send(payload: bytes, delivery: str, topic: str = "orders/create") -> requests.Response:
            return requests.post(
                f"{url}/webhook/{config.name}",
                data=payload,
                headers={
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": topic,
                    "X-Shopify-Hmac-Sha256": _b64_hmac(payload),
                    "X-Shopify-Webhook-Id": delivery,
                    "X-Shopify-Shop-Domain": "tienda.myshopify.com",
                },
            )

        created = send(body, "w-1")
        rejected = send(invalid, "w-2")
        unmapped = send(body, "w-3", topic="products/update")
        tampered = requests.post(
            f"{url}/webhook/{config.name}",
            data=body + b" ",
            headers={"Content-Type": "application/json", "X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": _b64_hmac(body)},
        )
    assert created.status_code == 200 and created.json()["created"] == 1
    assert rejected.status_code == 200 and rejected.json()["errors"] == 1  # never 422: Shopify would retry, then disable
    assert unmapped.status_code == 200 and unmapped.json()["ingested"] is False
    assert "products/update" in unmapped.json()["reason"]
    assert tampered.status_code == 401
    [order] = _stored(sqlite_store, orders, "external_id", "client_name", "address", "latitude", "client_email")
    assert order == ("shopify-820982911946154508", "Steve Shipper", "5a Avenida 10-20, Zona 10, Guatemala", 14.5986, "jon@example.com")
    [(external_id, reasons)] = _stored(sqlite_store, record_errors, "external_id", "reasons")
    assert external_id == "shopify-820982911946154509" and reasons[0]["field"] in ("address", "client_name")


def test_a_woocommerce_order_lands_and_its_unsigned_save_ping_gets_200(sqlite_store):
    config = _integration(sqlite_store, "woocommerce")
    body = _sample("woocommerce_order_created.json")
    with running(sqlite_store) as url:
        ping = requests.post(
            f"{url}/webhook/{config.name}", data=b"webhook_id=14", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        unsigned_order = requests.post(f"{url}/webhook/{config.name}", data=body, headers={"Content-Type": "application/json"})
        created = requests.post(
            f"{url}/webhook/{config.name}",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-WC-Webhook-Topic": "order.created",
                "X-WC-Webhook-Signature": _b64_hmac(body),
                "X-WC-Webhook-Delivery-ID": "d-727",
                "X-WC-Webhook-Source": "https://tienda.example.com/",
            },
        )
    assert ping.status_code == 200 and ping.json()["ingested"] is False
    assert unsigned_order.status_code == 401  # only the bare save ping is let through unsigned
    assert created.status_code == 200 and created.json()["created"] == 1
    [order] = _stored(sqlite_store, orders, "external_id", "client_name", "address", "client_phone")
    assert order == ("woo-727", "John Doe", "12 Calle 1-25, Zona 10, Guatemala", "(555) 555-5555")


def test_a_github_ping_is_acknowledged_and_recorded_and_a_form_encoded_delivery_is_read(sqlite_store):
    config = _integration(sqlite_store, "github")
    ping_json = _sample("github_ping.json")
    pull = json.dumps(
        {"action": "opened", "pull_request": {"number": 7, "title": "Zona 1, Guatemala", "user": {"login": "octocat"}}}
    ).encode()
    form = urlencode({"payload": pull.decode()}).encode()  # GitHub's default content type

    def signature(body: bytes) -> str:
        return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

    with running(sqlite_store) as url:
        ping = requests.post(
            f"{url}/webhook/{config.name}",
            data=ping_json,
            headers={
                "Content-Type": "application/json",
                "X-GitHub-Event": "ping",
                "X-GitHub-Delivery": "g-1",
                "X-Hub-Signature-256": signature(ping_json),
            },
        )
        pushed = requests.post(
            f"{url}/webhook/{config.name}",
            data=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": "g-2",
                "X-Hub-Signature-256": signature(form),
            },
        )
        forged = requests.post(
            f"{url}/webhook/{config.name}",
            data=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-GitHub-Event": "pull_request",
                "X-Hub-Signature-256": signature(pull),
            },
        )  # signed over the JSON, not the form body that was sent
    assert ping.status_code == 200 and ping.json()["ingested"] is False and "ping" in ping.json()["reason"]
    assert pushed.status_code == 200 and pushed.json()["created"] == 1
    assert forged.status_code == 401
    rows = _stored(sqlite_store, inbox, "status", "delivery_id", "body")
    assert rows[0][:2] == (InboxStatus.DONE, "g-1")  # recorded, not ingested
    assert rows[1][:2] == (InboxStatus.DONE, "g-2") and json.loads(rows[1][2]) == json.loads(pull)  # the JSON is kept
    assert _stored(sqlite_store, orders, "external_id", "client_name") == [("gh-7", "octocat")]


def test_a_svix_signed_message_lands_and_stale_or_tampered_ones_are_401(sqlite_store):
    config = _integration(sqlite_store, "svix", SW_SECRET)
    body = _sample("svix_order_created.json")
    sent_at = datetime.now(UTC)
    svix_signature = Webhook(SW_SECRET).sign("msg_2Kt1", sent_at, body.decode())  # what the svix library sends
    headers = {
        "Content-Type": "application/json",
        "svix-id": "msg_2Kt1",
        "svix-timestamp": str(int(sent_at.timestamp())),
        "svix-signature": svix_signature,
    }
    old = datetime.fromtimestamp(time.time() - 3_600, tz=UTC)
    stale_headers = {
        **headers,
        "svix-timestamp": str(int(old.timestamp())),
        "svix-signature": Webhook(SW_SECRET).sign("msg_2Kt1", old, body.decode()),
    }
    with running(sqlite_store) as url:
        created = requests.post(f"{url}/webhook/{config.name}", data=body, headers=headers)
        again = requests.post(f"{url}/webhook/{config.name}", data=body, headers=headers)
        tampered = requests.post(f"{url}/webhook/{config.name}", data=body.replace(b"SVX-1001", b"SVX-1002"), headers=headers)
        stale = requests.post(f"{url}/webhook/{config.name}", data=body, headers=stale_headers)
    assert created.status_code == 200 and created.json()["created"] == 1
    assert again.status_code == 200 and again.json()["duplicate"] is True  # svix-id is the delivery id
    assert tampered.status_code == 401 and "svix-signature does not match" in tampered.json()["detail"]
    assert stale.status_code == 401 and "svix-timestamp" in stale.json()["detail"]
    assert _stored(sqlite_store, orders, "external_id", "address") == [("SVX-1001", "6a Avenida 9-10, Zona 1, Guatemala")]


def test_every_provider_example_is_a_valid_integration_file():
    for path in sorted(PROVIDERS.glob("*_integration.json")):
        parse_integration(json.loads(path.read_text(encoding="utf-8")))


def test_a_stripe_checkout_session_becomes_a_sale_in_units_and_other_events_are_acknowledged(sqlite_store):
    config = _integration(sqlite_store, "stripe")
    body = _sample("stripe_checkout_session_completed.json")
    refund = json.dumps({"id": "evt_refund", "type": "charge.refunded", "data": {"object": {"id": "ch_1"}}}).encode()

    def stripe_signature(payload: bytes) -> str:  # Stripe's scheme: HMAC-SHA256 over "<t>.<body>"
        ts = int(time.time())
        return f"t={ts},v1={hmac.new(SECRET.encode(), f'{ts}.'.encode() + payload, hashlib.sha256).hexdigest()}"

    with running(sqlite_store) as url:
        completed = requests.post(
            f"{url}/webhook/{config.name}",
            data=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": stripe_signature(body)},
        )
        other = requests.post(
            f"{url}/webhook/{config.name}",
            data=refund,
            headers={"Content-Type": "application/json", "Stripe-Signature": stripe_signature(refund)},
        )
        forged = requests.post(
            f"{url}/webhook/{config.name}",
            data=body.replace(b"40300", b"40"),
            headers={"Content-Type": "application/json", "Stripe-Signature": stripe_signature(body)},
        )
    assert completed.status_code == 200 and completed.json()["created"] == 1
    assert other.status_code == 200 and other.json()["ingested"] is False and "charge.refunded" in other.json()["reason"]
    assert forged.status_code == 401
    [(external_id, event_type, currency, total)] = _stored(sqlite_store, sales, "external_id", "event_type", "currency", "total_amount")
    assert (external_id, event_type, currency) == ("cs_test_a1B2c3D4", "purchase", "GTQ")
    assert total == Decimal("403.00")  # Stripe's 40300 cents, divided exactly
    [(email, national_id, first, last)] = _stored(sqlite_store, customers, "email", "national_id", "first_name", "last_name")
    assert (email, national_id, first, last) == ("juan.perez@example.com", "1234567890101", "Juan", "Pérez")

"""Provider signature presets: the published test vectors, a real client library, rotation, tolerance."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
import requests
from standardwebhooks import Webhook

from connectors.receiver.verify import Guard, Unauthorized
from pipelines.integrations import parse_integration
from tests.receiver_helpers import integration, order_count, running

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID, SW_TS, SW_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
ORDER = {"external_id": "SW-1", "client_name": "Ana", "address": "Zona 1"}


def guard(preset: str, secrets: list[str], tolerance: int = 300) -> Guard:
    return Guard.of(
        parse_integration(
            {
                "name": "g",
                "type": "webhook",
                "webhook": {"verification": preset, "signing_secrets": secrets, "tolerance_seconds": tolerance},
            }
        )
    )


def sw_headers(signature: str = SW_SIGNATURE, ts: int = SW_TS) -> dict[str, str]:
    return {"webhook-id": SW_ID, "webhook-timestamp": str(ts), "webhook-signature": signature}


def test_standard_webhooks_published_vector():
    guard("standard_webhooks", [SW_SECRET]).check(sw_headers(), SW_BODY, now=SW_TS)
    # several signatures in one header (the sender rotating): any valid one is enough
    guard("standard_webhooks", [SW_SECRET]).check(sw_headers("v1,bm9wZQ== " + SW_SIGNATURE), SW_BODY, now=SW_TS)
    with pytest.raises(Unauthorized, match="does not match"):
        guard("standard_webhooks", [SW_SECRET]).check(sw_headers(), b'{"test": 2432232315}', now=SW_TS)


def test_standard_webhooks_tolerance_is_configurable():
    with pytest.raises(Unauthorized, match="301 s old; the tolerance is 300 s"):
        guard("standard_webhooks", [SW_SECRET]).check(sw_headers(), SW_BODY, now=SW_TS + 301)
    with pytest.raises(Unauthorized, match="in the future"):
        guard("standard_webhooks", [SW_SECRET]).check(sw_headers(), SW_BODY, now=SW_TS - 301)
    guard("standard_webhooks", [SW_SECRET], tolerance=600).check(sw_headers(), SW_BODY, now=SW_TS + 599)


def test_github_published_vector():
    github = guard("github", ["It's a Secret to Everybody"])
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    github.check({"x-hub-signature-256": signature}, b"Hello, World!", now=0)
    with pytest.raises(Unauthorized, match="must start with 'sha256='"):
        github.check({"x-hub-signature-256": signature.removeprefix("sha256=")}, b"Hello, World!", now=0)
    with pytest.raises(Unauthorized, match="does not match"):
        github.check({"x-hub-signature-256": signature}, b"Hello, World?", now=0)
    with pytest.raises(Unauthorized, match="missing X-Hub-Signature-256"):
        github.check({}, b"Hello, World!", now=0)


def test_standard_webhooks_end_to_end_with_rotation_and_duplicates(store):
    old, new = "whsec_" + base64.b64encode(b"o" * 24).decode(), SW_SECRET
    integration(
        store, name="sw", auth_type="none", auth_value=None, webhook={"verification": "standard_webhooks", "signing_secrets": [new, old]}
    )
    body = json.dumps(ORDER)
    now = datetime.now(tz=UTC)

    def send(url, secret, msg_id):
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        }
        return requests.post(f"{url}/webhook/sw", data=body.encode(), headers=headers)

    with running(store) as url:
        with_new = send(url, new, "msg_1")
        with_old = send(url, old, "msg_2")
        repeated = send(url, new, "msg_1")
        stranger = send(url, "whsec_" + base64.b64encode(b"x" * 24).decode(), "msg_3")
    assert (with_new.status_code, with_old.status_code, repeated.status_code, stranger.status_code) == (200, 200, 200, 401)
    assert with_new.json()["created"] == 1 and with_old.json()["unchanged"] == 1
    assert repeated.json()["duplicate"] is True and repeated.json()["inbox_id"] == with_new.json()["inbox_id"]
    assert order_count(store) == 1


def test_stale_timestamp_is_refused_by_the_receivers_clock(sqlite_store):
    integration(
        sqlite_store,
        name="sw",
        auth_type="none",
        auth_value=None,
        webhook={"verification": "standard_webhooks", "signing_secrets": [SW_SECRET]},
    )
    with running(sqlite_store, clock=lambda: SW_TS + 10) as url:
        fresh = requests.post(f"{url}/webhook/sw", data=SW_BODY, headers={"Content-Type": "application/json", **sw_headers()})
    with running(sqlite_store, clock=lambda: SW_TS + 3600) as url:
        stale = requests.post(f"{url}/webhook/sw", data=SW_BODY, headers={"Content-Type": "application/json", **sw_headers()})
    # Authentic, but {"test": ...} is not an order: a provider gets 200 with the record rejected (not 422,
    # which would make it retry and eventually disable the endpoint).
    assert fresh.status_code == 200 and fresh.json()["errors"] == 1 and fresh.json()["results"][0]["errors"]
    assert stale.status_code == 401 and "3600 s old" in stale.json()["detail"]


def _b64_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize("preset", ["stripe", "shopify", "woocommerce", "github", "hmac"])
def test_provider_presets_through_the_receiver(sqlite_store, preset):
    secret = "whsec_test_" + preset
    integration(sqlite_store, name=preset, auth_type="none", auth_value=None, webhook={"verification": preset, "signing_secrets": [secret]})
    body = json.dumps({**ORDER, "id": "evt_1"}).encode()
    ts = 1_700_000_000
    signed = {
        "stripe": {"Stripe-Signature": f"t={ts},v1={hmac.new(secret.encode(), f'{ts}.'.encode() + body, hashlib.sha256).hexdigest()}"},
        "shopify": {"X-Shopify-Hmac-Sha256": _b64_hmac(secret, body), "X-Shopify-Webhook-Id": "d1"},
        "woocommerce": {"X-WC-Webhook-Signature": _b64_hmac(secret, body), "X-WC-Webhook-Delivery-ID": "d1"},
        "github": {
            "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "X-GitHub-Delivery": "d1",
        },
        "hmac": {"X-Webhook-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(), "Idempotency-Key": "d1"},
    }[preset]
    forged = {
        name: (
            "t=1700000000,v1=" + "0" * 64
            if name == "Stripe-Signature"
            else "sha256=" + "0" * 64
            if name == "X-Hub-Signature-256"
            else base64.b64encode(b"0" * 32).decode()
            if "Sha256" in name or name == "X-WC-Webhook-Signature"
            else "0" * 64
            if "Signature" in name
            else value
        )
        for name, value in signed.items()
    }
    headers = {"Content-Type": "application/json"}
    with running(sqlite_store, clock=lambda: ts + 5) as url:
        good = requests.post(f"{url}/webhook/{preset}", data=body, headers={**headers, **signed})
        again = requests.post(f"{url}/webhook/{preset}", data=body, headers={**headers, **signed})
        bad = requests.post(f"{url}/webhook/{preset}", data=body, headers={**headers, **forged})
    assert good.status_code == 200, good.text
    assert again.json()["duplicate"] is True  # Stripe's event id, or the provider's delivery header
    assert bad.status_code == 401
    assert order_count(sqlite_store) == 1


def test_a_preset_needs_a_signing_secret():
    with pytest.raises(ValueError, match="needs webhook.signing_secrets"):
        parse_integration({"name": "x", "type": "webhook", "webhook": {"verification": "github"}})

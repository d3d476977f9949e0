"""The admin API, the Autentikapp route (seed 004) and the OpenAPI document, through a real uvicorn."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import requests
import sqlalchemy as sa

from pipelines import settings
from pipelines.inbox import PENDING
from pipelines.ingest import ingest
from pipelines.integrations import get_integration
from tests.conftest import EXAMPLES
from tests.receiver_helpers import SEED_BODY, inbox_rows, integration, running

SEED_CONFIG = {"name": "cliente_abc", "type": "webhook", "auth_type": "apikey", "auth_value": "secreto_compartido", "is_active": True}
ACCOUNT_SECRET = "whsec_demo_account_secret_0123456789"
SEED_CODE = "a1b2c3d4-e5f6-7890-1234-567890abcdef"


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token()}"}


def test_admin_api_needs_the_token(sqlite_store):
    with running(sqlite_store) as url:
        missing = requests.get(f"{url}/integrations")
        wrong = requests.get(f"{url}/integrations", headers={"Authorization": "Bearer nope"})
        posted = requests.post(f"{url}/integrations", json=SEED_CONFIG)
        # Who is asking is checked before what was sent: no body error reaches an unknown caller.
        garbled = requests.post(f"{url}/integrations", data=b'{"name": ', headers={"Content-Type": "application/json"})
        garbled_wrong = requests.patch(
            f"{url}/integrations/x", data=b"{", headers={"Content-Type": "application/json", "Authorization": "Bearer nope"}
        )
        garbled_admin = requests.post(
            f"{url}/integrations",
            data=b'{"name": ',
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {settings.admin_token()}"},
        )
    assert (missing.status_code, wrong.status_code, posted.status_code) == (401, 401, 401)
    assert missing.json()["detail"].startswith("admin API")
    assert (garbled.status_code, garbled_wrong.status_code) == (401, 401)
    assert garbled.json() == {"detail": "admin API: send Authorization: Bearer <CROSSDOCK_ADMIN_TOKEN>"}
    assert garbled_wrong.json() == {"detail": "admin API: wrong token"}
    assert garbled_admin.status_code == 400 and "malformed JSON" in garbled_admin.json()["detail"]


def test_integration_lifecycle_with_the_seed_body(store, admin):
    with running(store) as url:
        created = requests.post(f"{url}/integrations", json=SEED_CONFIG, headers=admin)
        clash = requests.post(f"{url}/integrations", json=SEED_CONFIG, headers=admin)
        fresh = requests.post(f"{url}/integrations", json={**SEED_CONFIG, "name": "cliente_nuevo"}, headers=admin)
        listed = requests.get(f"{url}/integrations", headers=admin)
        shown = requests.get(f"{url}/integrations/cliente_abc", headers=admin)
        accepted = requests.post(
            f"{url}/webhook/cliente_abc",
            data=SEED_BODY.encode(),
            headers={"Content-Type": "application/json", "X-API-Key": "secreto_compartido"},
        )
        patched = requests.patch(f"{url}/integrations/cliente_abc", json={"is_active": False}, headers=admin)
        refused = requests.post(
            f"{url}/webhook/cliente_abc",
            data=SEED_BODY.encode(),
            headers={"Content-Type": "application/json", "X-API-Key": "secreto_compartido"},
        )
        deleted = requests.delete(f"{url}/integrations/cliente_nuevo", headers=admin)
        gone = requests.get(f"{url}/integrations/cliente_nuevo", headers=admin)
    assert created.status_code == 201 and created.json()["webhook_url"].endswith("/webhook/cliente_abc")
    assert clash.status_code == 409 and "already exists" in clash.json()["detail"]
    assert fresh.status_code == 201
    for answer in (created, listed, shown, patched):
        assert "secreto_compartido" not in answer.text
    assert shown.json()["auth_value"] == "••••••••"
    assert [i["name"] for i in listed.json()] == ["cliente_abc", "cliente_nuevo"]
    assert accepted.status_code == 200 and accepted.json()["created"] == 1
    assert patched.status_code == 200 and patched.json()["is_active"] is False
    assert refused.status_code == 403  # the change applies at once on this receiver
    assert (deleted.status_code, gone.status_code) == (204, 404)


def test_invalid_integrations_are_422_with_each_field(sqlite_store, admin):
    integration(sqlite_store)
    with running(sqlite_store) as url:
        bad = requests.post(f"{url}/integrations", headers=admin, json={"name": "con espacio", "type": "ftp", "poll_interval_seconds": 1})
        needs_value = requests.post(f"{url}/integrations", headers=admin, json={"name": "x", "type": "webhook", "auth_type": "apikey"})
        bad_patch = requests.patch(f"{url}/integrations/cliente_abc", headers=admin, json={"webhook": {"ack_mode": "later"}})
        bad_mapping = requests.patch(f"{url}/integrations/cliente_abc", headers=admin, json={"field_mapping": {"external_id": "id["}})
        broken_json = requests.post(f"{url}/integrations", headers={**admin, "Content-Type": "application/json"}, data=b'{"name": ')
        missing = requests.patch(f"{url}/integrations/nadie", headers=admin, json={"is_active": True})
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"name", "type", "poll_interval_seconds"} <= fields
    assert needs_value.status_code == 422 and "needs an auth_value" in needs_value.json()["detail"]
    assert bad_patch.status_code == 422 and bad_patch.json()["errors"][0]["field"] == "webhook.ack_mode"
    assert bad_mapping.status_code == 422 and bad_mapping.json()["errors"][0]["field"] == "field_mapping.external_id"
    assert broken_json.status_code == 400 and "malformed JSON" in broken_json.json()["detail"]
    assert missing.status_code == 404


def test_order_lookup(sqlite_store, admin):
    stored = integration(sqlite_store)
    ingest(sqlite_store, stored, json.loads(SEED_BODY), source_kind="test")
    with running(sqlite_store) as url:
        found = requests.get(f"{url}/orders", params={"integration": "cliente_abc", "external_id": "PED-001"}, headers=admin)
        none = requests.get(f"{url}/orders", params={"external_id": "PED-999"}, headers=admin)
        unknown = requests.get(f"{url}/orders", params={"integration": "nadie"}, headers=admin)
    [order] = found.json()["orders"]
    assert (order["client_name"], order["status"], order["integration"]) == ("María García", "pending", "cliente_abc")
    assert order["internal_id"] > 0 and order["latitude"] == 14.58
    assert none.json() == {"orders": [], "next_cursor": None, "total": 0} and unknown.status_code == 404


def _account(engine):
    return integration(
        engine,
        name="autentikapp_demo",
        target="sale",
        auth_type="none",
        auth_value=None,
        webhook={"ack_mode": "async", "verification": "autentikapp", "signing_secrets": [ACCOUNT_SECRET]},
    )


def test_autentikapp_route_seed_004(store):
    _account(store)
    integration(store)  # an order integration is not an Autentikapp account
    payload = (EXAMPLES / "autentikapp_sale.json").read_bytes()
    signature = hmac.new(ACCOUNT_SECRET.encode(), payload, hashlib.sha256).hexdigest()
    json_type = {"Content-Type": "application/json"}
    with running(store) as url:
        good = requests.post(
            f"{url}/v1/webhooks/inbound/autentikapp_demo", data=payload, headers={**json_type, "X-Autentikapp-Signature": signature}
        )
        wrong = requests.post(
            f"{url}/v1/webhooks/inbound/autentikapp_demo", data=payload, headers={**json_type, "X-Autentikapp-Signature": "0" * 64}
        )
        missing = requests.post(f"{url}/v1/webhooks/inbound/autentikapp_demo", data=payload, headers=json_type)
        tampered = requests.post(
            f"{url}/v1/webhooks/inbound/autentikapp_demo",
            data=payload.replace(b"950000", b"1"),
            headers={**json_type, "X-Autentikapp-Signature": signature},
        )
        not_account = requests.post(
            f"{url}/v1/webhooks/inbound/cliente_abc", data=payload, headers={**json_type, "X-Autentikapp-Signature": signature}
        )
    assert good.status_code == 202 and good.json()["status"] == PENDING
    assert (wrong.status_code, missing.status_code, tampered.status_code) == (401, 401, 401)
    assert not_account.status_code == 404
    pending = [r for r in inbox_rows(store) if r["status"] == PENDING]
    assert len(pending) == 1 and pending[0]["body"] == payload and pending[0]["id"] == good.json()["inbox_id"]


def test_identifiers_and_customers(store, admin):
    account = _account(store)
    with running(store) as url:
        registered = requests.post(
            f"{url}/identifiers",
            headers=admin,
            json={"account": "autentikapp_demo", "codes": [SEED_CODE, {"code": "otro-codigo", "product_sku": "BOLSO"}]},
        )
        again = requests.post(f"{url}/identifiers", headers=admin, json={"account": "autentikapp_demo", "codes": [SEED_CODE]})
        wrong_account = requests.post(f"{url}/identifiers", headers=admin, json={"account": "nadie", "codes": ["x"]})
        empty = requests.post(f"{url}/identifiers", headers=admin, json={"account": "autentikapp_demo", "codes": []})
        unlinked = requests.get(f"{url}/identifiers/{SEED_CODE}", headers=admin)
        ingest(
            store,
            get_integration(store, "autentikapp_demo"),
            [json.loads((EXAMPLES / "autentikapp_sale.json").read_text())],
            source_kind="test",
        )
        linked = requests.get(f"{url}/identifiers/{SEED_CODE}", headers=admin)
        customers = requests.get(f"{url}/customers", params={"account": "autentikapp_demo", "national_id": "123456789"}, headers=admin)
        by_email = requests.get(f"{url}/customers", params={"email": "CLIENTE@email.com"}, headers=admin)
        unknown = requests.get(f"{url}/identifiers/no-existe", headers=admin)
    assert registered.json() == {"account": "autentikapp_demo", "added": 2, "already_registered": 0, "registered_to_another_account": []}
    assert again.json()["added"] == 0 and again.json()["already_registered"] == 1
    assert wrong_account.status_code == 404 and empty.status_code == 422
    assert unlinked.json()["linked"] is False and unlinked.json()["account"] == "autentikapp_demo"
    assert linked.json()["linked"] is True and linked.json()["customer"]["national_id"] == "123456789"
    assert linked.json()["sale_external_id"] == "FACT-00123"
    [customer] = customers.json()["customers"]
    assert customer["first_name"] == "Diego" and customer["identifier_codes"] == [SEED_CODE]
    assert [c["id"] for c in by_email.json()["customers"]] == [customer["id"]]
    assert unknown.status_code == 404
    assert account.target == "sale"


def test_openapi_describes_every_route_and_the_payloads(sqlite_store):
    with running(sqlite_store) as url:
        schema = requests.get(f"{url}/openapi.json").json()
        docs = requests.get(f"{url}/docs")
        bundle = requests.get(f"{url}/static-offline-docs/swagger-ui-bundle.js")
    paths = schema["paths"]
    for path, method in [
        ("/health", "get"),
        ("/webhook/{integration}", "post"),
        ("/v1/webhooks/inbound/{account_id}", "post"),
        ("/integrations", "post"),
        ("/integrations", "get"),
        ("/integrations/{name}", "get"),
        ("/integrations/{name}", "patch"),
        ("/integrations/{name}", "delete"),
        ("/orders", "get"),
        ("/customers", "get"),
        ("/identifiers/{code}", "get"),
        ("/identifiers", "post"),
    ]:
        assert method in paths[path], (path, method)
    webhook_body = paths["/webhook/{integration}"]["post"]["requestBody"]["content"]["application/json"]
    assert webhook_body["examples"]["seed curl (array)"]["value"][0]["client_name"] == "María García"
    autentikapp = paths["/v1/webhooks/inbound/{account_id}"]["post"]["requestBody"]["content"]["application/json"]
    assert autentikapp["schema"] == {"$ref": "#/components/schemas/AutentikappEvent"}
    components = schema["components"]["schemas"]
    assert {"OrderRecord", "AutentikappEvent", "AutentikappLineItem", "SyncAck", "AsyncAck"} <= set(components)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "cdn." not in docs.text and bundle.status_code == 200  # /docs works offline


def test_unexpected_errors_answer_json_without_a_traceback(sqlite_store, admin):
    stored = integration(sqlite_store)
    with sqlite_store.begin() as conn:  # a row the repository cannot read back: a bug, not client input
        conn.execute(sa.text("UPDATE integrations SET config = '{\"type\": 5}' WHERE id = :id"), {"id": stored.id})
    with running(sqlite_store) as url:
        answer = requests.get(f"{url}/integrations/cliente_abc", headers=admin)
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error; nothing was acknowledged. The server log has the details."}
    assert "Traceback" not in answer.text


def test_order_status_changes_through_the_receiver(store, admin):
    """The callbacks router is part of the receiver: the seed's order moves and its callback is queued."""
    with running(store) as url:
        requests.post(
            f"{url}/integrations",
            headers=admin,
            json={
                **SEED_CONFIG,
                "callback_url": "https://api.cliente.com/logitrack/updates",
                "callback_events": ["assigned", "in_route", "delivered", "cancelled"],
            },
        )
        created = requests.post(
            f"{url}/webhook/cliente_abc",
            data=SEED_BODY.encode(),
            headers={"Content-Type": "application/json", "X-API-Key": "secreto_compartido"},
        )
        internal_id = created.json()["results"][0]["internal_id"]
        anonymous = requests.post(f"{url}/orders/{internal_id}/status", json={"status": "assigned"})
        assigned = requests.post(f"{url}/orders/{internal_id}/status", json={"status": "assigned"}, headers=admin)
        illegal = requests.post(f"{url}/orders/{internal_id}/status", json={"status": "assigned"}, headers=admin)
        queued = requests.get(f"{url}/orders/{internal_id}/callbacks", headers=admin)
        paths = requests.get(f"{url}/openapi.json").json()["paths"]
    assert anonymous.status_code == 401
    assert assigned.status_code == 200, assigned.text
    assert illegal.status_code == 409
    assert [c["event"] for c in queued.json()["callbacks"]] == ["assigned"]
    assert "/orders/{internal_id}/status" in paths and "/callbacks/{callback_id}/replay" in paths


def test_purge_answers_409_while_acknowledged_webhooks_wait(sqlite_store, admin):
    from tests.inbox_rows import insert_pending

    stored = integration(sqlite_store)
    insert_pending(sqlite_store, stored.id, [{"external_id": "PED-9"}])
    with running(sqlite_store) as url:
        archived = requests.delete(f"{url}/integrations/cliente_abc", headers=admin)  # nothing is discarded
        refused = requests.delete(f"{url}/archived-integrations/cliente_abc", headers=admin)
        forced = requests.delete(f"{url}/archived-integrations/cliente_abc?force=true", headers=admin)
    assert archived.status_code == 204
    assert refused.status_code == 409 and "not yet processed" in refused.json()["detail"]
    assert "?force=true" in refused.json()["detail"]
    assert forced.status_code == 204

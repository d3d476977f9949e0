"""An audit entry for every change the issue lists, made through the real receiver with role tokens
(so the actor is the token, not a shared name), the store's domain functions where no route exists,
and secrets never appearing in an entry. Accounts, tokens and log-ins: tests/test_access_accounts.py."""

from __future__ import annotations

import json

import requests
import sqlalchemy as sa

from pipelines.access import tokens
from pipelines.inbox.processing import process_batch
from pipelines.integrations import WebhookIntegration, get_integration, rollback_mapping
from pipelines.store.schema import audit_log, callback_outbox
from tests.conftest import load_example
from tests.inbox_rows import insert_pending
from tests.receiver_helpers import running


def entries(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.select(audit_log).order_by(audit_log.c.id))]


def test_every_listed_change_leaves_an_entry(sqlite_store):
    with sqlite_store.begin() as conn:
        admin = {"Authorization": f"Bearer {tokens.create(conn, 'ops-admin', 'admin', actor='test')}"}
        operator = {"Authorization": f"Bearer {tokens.create(conn, 'night-shift', 'operator', actor='test')}"}
    config = {**load_example("cliente_abc_integration.json"), "webhook": {"ack_mode": "async"}}
    with running(sqlite_store) as url:

        def call(method: str, path: str, headers: dict, **kwargs) -> requests.Response:
            answer = requests.request(method, url + path, headers=headers, timeout=30, **kwargs)
            assert answer.status_code < 300, (method, path, answer.text)
            return answer

        call("POST", "/integrations", admin, json=config)
        call("PATCH", "/integrations/cliente_abc", admin, json={"auth_value": "a brand new secret", "callback_url": "https://x.example/cb"})
        call("PATCH", "/integrations/cliente_abc", operator, json={"is_active": False})
        call("PATCH", "/integrations/cliente_abc", operator, json={"is_active": True})
        call("PATCH", "/integrations/cliente_abc", admin, json={"field_mapping": {"external_id": "id"}})
        rollback_mapping(sqlite_store, "cliente_abc", 1, actor="user:ana")
        stored = get_integration(sqlite_store, "cliente_abc")
        # One order in through the inbox, one payload that dies: a status to set, a row to replay.
        insert_pending(sqlite_store, stored.id, [load_example("webhook_batch.json")[0]])
        dead = insert_pending(sqlite_store, stored.id, b"not json")
        process_batch(sqlite_store)
        found = requests.get(f"{url}/orders?integration=cliente_abc", headers=operator, timeout=30).json()
        order_id = found["orders"][0]["internal_id"]
        call("POST", f"/orders/{order_id}/status", operator, json={"status": "assigned"})
        call("POST", f"/inbox/{dead}/replay", operator)
        with sqlite_store.begin() as conn:
            outbox_id = conn.execute(sa.select(callback_outbox.c.id)).scalar_one()
            conn.execute(callback_outbox.update().values(status="dead"))
        call("POST", f"/callbacks/{outbox_id}/replay", operator)
        call("DELETE", "/integrations/cliente_abc?force=true", admin)

    logged = entries(sqlite_store)
    by_action = {}
    for entry in logged:
        by_action.setdefault(entry["action"], []).append(entry)
    assert by_action["integration.created"][0]["actor"] == "token:ops-admin"
    edited = by_action["integration.edited"][0]
    assert edited["details"]["changes"]["callback_url"] == {
        "from": "https://api.cliente.com/logitrack/updates",
        "to": "https://x.example/cb",
    }
    assert by_action["secrets.rotated"][0]["details"] == {"secrets": {"auth_value": {"from": "••••••••", "to": "••••••••"}}}
    assert [e["actor"] for e in by_action["integration.disabled"] + by_action["integration.enabled"]] == ["token:night-shift"] * 2
    assert by_action["mapping.saved"][0]["subject"] == "integration:cliente_abc"
    assert by_action["mapping.rolled_back"][0]["actor"] == "user:ana"
    assert by_action["order.status_set"][0]["details"]["to"] == "assigned"
    assert {e["subject"] for e in by_action["replayed"]} == {f"inbox:{dead}", f"callback:{outbox_id}"}
    assert by_action["integration.archived"][0]["subject"] == "integration:cliente_abc"
    assert "token.created" in by_action
    everything = json.dumps(logged, default=str)
    assert "a brand new secret" not in everything and "secreto_compartido" not in everything


def test_a_done_row_sent_back_is_a_reingest(sqlite_store):
    from pipelines.inbox.processing import replay
    from pipelines.integrations import create_integration

    stored = create_integration(sqlite_store, WebhookIntegration(name="abc", webhook={"ack_mode": "async"}), actor="cli:ana")
    row = insert_pending(sqlite_store, stored.id, [{"external_id": "PED-1"}])  # no client_name: a record error
    process_batch(sqlite_store)
    replay(sqlite_store, actor="cli:ana", inbox_id=row, include_record_errors=True)
    actions = [(e["action"], e["actor"]) for e in entries(sqlite_store)]
    assert actions == [("integration.created", "cli:ana"), ("reingested", "cli:ana")]

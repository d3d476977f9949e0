"""The admin API's status and callback routes, mounted on a bare FastAPI app served on loopback."""

from __future__ import annotations

import pytest
import requests

from connectors.callback_sender import CallbackSender
from connectors.receiver.callback_routes import router
from tests.admin_api import admin_session, call
from tests.callback_helpers import PROOF, make_integration, outbox_rows
from tests.callback_sink import CallbackSink, Reply


@pytest.fixture
def api():
    with admin_session(router) as session:
        yield session


def test_status_changes_through_the_api(store, api):
    sink = CallbackSink()
    with sink.serve() as url:
        _, ids = make_integration(store, url)
        order = ids["PED-001"]
        moved = call(api, "POST", f"/orders/{order}/status", json={"status": "assigned"})
        assert moved.status_code == 200, moved.text
        body = moved.json()
        assert (body["from_status"], body["status"], body["actor"]) == ("pending", "assigned", "api:admin")
        assert body["callback"]["status"] == "pending" and body["callback"]["webhook_id"].startswith("msg_")
        assert call(api, "POST", f"/orders/{order}/status", json={"status": "in_route", "eta": "2024-01-15T15:00:00Z"}).status_code == 200
        done = call(api, "POST", f"/orders/{order}/status", json={"status": "delivered", "delivery_proof": PROOF})
        assert done.status_code == 200 and done.json()["delivery_proof"] == PROOF

        illegal = call(api, "POST", f"/orders/{order}/status", json={"status": "in_route", "eta": "2024-01-15T16:00:00Z"})
        assert illegal.status_code == 409
        assert illegal.json() == {"detail": "cannot go from delivered to in_route: delivered is final"}

        with CallbackSender(store) as sender:  # the API stamps changes with the real clock
            sender.deliver_due()
        listed = call(api, "GET", f"/orders/{order}/callbacks").json()
    assert [c["event"] for c in listed["callbacks"]] == ["assigned", "in_route", "delivered"]
    assert all(c["status"] == "delivered" and c["attempt_log"][0]["status_code"] == 200 for c in listed["callbacks"])
    assert [r.payload["event"] for r in sink.answered_ok()] == ["assigned", "in_route", "delivered"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "in_route"}, "in_route needs an eta"),
        ({"status": "assigned", "eta": "2024-01-15T15:00:00Z"}, "eta goes with in_route, not assigned"),
        ({"status": "delivered"}, "delivered needs a delivery_proof with signature_url and/or photo_url"),
        ({"status": "delivered", "delivery_proof": {"photo_url": "ftp://x"}}, "must be an http:// or https:// URL"),
        ({"status": "lost"}, "Input should be 'assigned', 'in_route', 'delivered' or 'cancelled'"),
        ({"status": "in_route", "eta": "soon"}, "Input should be a valid datetime"),
        ({"status": "assigned", "driver": "Pedro"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_bodies_get_422_with_the_reason(store, api, body, message):
    _, ids = make_integration(store, "https://api.cliente.com/cb")
    answer = call(api, "POST", f"/orders/{ids['PED-001']}/status", json=body)
    assert answer.status_code == 422
    assert message in answer.text
    assert outbox_rows(store) == []


def test_unknown_things_are_404_and_the_token_is_required(store, api):
    assert call(api, "POST", "/orders/999/status", json={"status": "assigned"}).json() == {"detail": "no order with internal id 999"}
    assert call(api, "GET", "/orders/999/callbacks").status_code == 404
    assert call(api, "POST", "/callbacks/999/replay").status_code == 404
    assert call(api, "POST", "/integrations/nobody/callbacks/replay").status_code == 404
    assert call(api, "POST", "/integrations/nobody/callbacks/resume").status_code == 404
    for method, path in [
        ("POST", "/orders/1/status"),
        ("GET", "/orders/1/callbacks"),
        ("POST", "/callbacks/1/replay"),
        ("POST", "/integrations/x/callbacks/replay"),
        ("POST", "/integrations/x/callbacks/resume"),
    ]:
        assert requests.request(method, api.base + path, json={"status": "assigned"}, timeout=30).status_code == 401


def test_replay_and_resume_through_the_api(store, api):
    sink = CallbackSink()
    with sink.serve() as url:
        _, ids = make_integration(store, url, callbacks={"retry_schedule_seconds": []})  # no retries: no clock to move
        sink.plan(Reply(500), Reply(410))
        call(api, "POST", f"/orders/{ids['PED-001']}/status", json={"status": "assigned"})
        with CallbackSender(store) as sender:
            sender.deliver_due()
            (dead,) = outbox_rows(store)
            assert dead["status"] == "dead"
            replayed = call(api, "POST", f"/callbacks/{dead['id']}/replay")
            assert replayed.status_code == 200 and replayed.json()["webhook_id"] == dead["webhook_id"]
            again = call(api, "POST", f"/callbacks/{dead['id']}/replay")
            assert again.status_code == 409 and "already queued" in again.json()["detail"]
            sender.deliver_due()  # 410 this time
            stopped = call(api, "POST", "/integrations/cliente_abc/callbacks/replay", params={"since": "2024-01-01T00:00:00Z"})
            assert stopped.status_code == 409 and "callbacks to cliente_abc are stopped" in stopped.json()["detail"]
            assert call(api, "POST", "/integrations/cliente_abc/callbacks/resume").json() == {"integration": "cliente_abc", "requeued": 1}
            sender.deliver_due()
        bad_since = call(api, "POST", "/integrations/cliente_abc/callbacks/replay", params={"since": "yesterday"})
        assert bad_since.status_code == 422
        assert call(api, "POST", "/integrations/cliente_abc/callbacks/replay").json()["replayed"] == 0
    (row,) = outbox_rows(store)
    assert (row["status"], row["replay_count"], row["replayed_by"]) == ("delivered", 2, "api:admin")

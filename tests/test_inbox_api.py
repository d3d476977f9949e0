"""The admin API's inbox dead-letter routes, mounted on a bare FastAPI app served on loopback, over a
real store: list with reasons, replay one or an integration's, who replayed recorded, clear refusals."""

from __future__ import annotations

import pytest
import requests

from connectors.receiver.inbox_routes import router
from pipelines.inbox import DEAD, DONE, PENDING
from pipelines.inbox.processing import list_entries, process_batch
from pipelines.integrations import WebhookIntegration, create_integration
from tests.admin_api import admin_session, call
from tests.inbox_rows import insert_pending


@pytest.fixture
def api():
    with admin_session(router) as session:
        yield session


def _two_dead_rows(store) -> tuple[int, int]:
    integration = create_integration(store, WebhookIntegration(name="cliente_abc", webhook={"ack_mode": "async"}))
    first = insert_pending(store, integration.id, b'{"external_id": "PED-1", ')
    second = insert_pending(store, integration.id, b"not json either")
    process_batch(store)
    return first, second


def test_list_dead_rows_then_replay_one_and_the_rest(store, api):
    first, second = _two_dead_rows(store)
    listed = call(api, "GET", "/inbox", params={"status": "dead", "integration": "cliente_abc"})
    assert listed.status_code == 200
    rows = {r["id"]: r for r in listed.json()["rows"]}
    assert set(rows) == {first, second} and rows[first]["error"].startswith("body is not readable: malformed JSON")
    assert rows[first]["replay_count"] == 0

    one = call(api, "POST", f"/inbox/{first}/replay")
    assert one.status_code == 200 and [r["id"] for r in one.json()["replayed"]] == [first]
    again = call(api, "POST", f"/inbox/{first}/replay")
    assert again.status_code == 409 and "pending" in again.json()["detail"]
    assert call(api, "POST", "/inbox/999999/replay").status_code == 404

    rest = call(api, "POST", "/integrations/cliente_abc/inbox/replay")
    assert rest.status_code == 200 and rest.json()["ids"] == [second]
    replayed = {e.id: e for e in list_entries(store, status=PENDING)}
    assert {i: (e.replay_count, e.replayed_by) for i, e in replayed.items()} == {first: (1, "api:admin"), second: (1, "api:admin")}


def test_unknown_integration_is_404_and_the_token_is_required(store, api):
    first, _ = _two_dead_rows(store)
    assert call(api, "POST", "/integrations/nadie/inbox/replay").status_code == 404
    assert call(api, "GET", "/inbox", params={"integration": "nadie"}).status_code == 404
    assert call(api, "GET", "/inbox", params={"status": "lost"}).status_code == 422
    anonymous = requests.post(f"{api.base}/inbox/{first}/replay", timeout=30)
    assert anonymous.status_code == 401
    assert [e.status for e in list_entries(store) if e.id == first] == [DEAD]  # nothing changed without the token
    assert DONE not in {e.status for e in list_entries(store)}

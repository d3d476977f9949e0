"""Every admin list pages: 2,476 orders are all reachable (the old list stopped at 1,000), newest
first, with a total, through a real receiver; a cursor we did not give out is a 400 with the reason."""

from __future__ import annotations

import requests

from pipelines import settings
from pipelines.ingest import ingest
from pipelines.orders.status import change_status
from tests.inbox_rows import insert_pending
from tests.receiver_helpers import integration, running

ORDERS = 2_476


def _pages(url: str, path: str, key: str, headers: dict[str, str], **params) -> tuple[list[dict], list[int]]:
    items, totals, cursor = [], [], None
    while True:
        answer = requests.get(f"{url}{path}", params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body[key]
        totals.append(body["total"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items, totals


def test_every_order_callback_and_inbox_row_is_reachable_page_by_page(sqlite_store):
    admin = {"Authorization": f"Bearer {settings.admin_token()}"}
    stored = integration(sqlite_store, callback_url="https://cliente.example/cb", callback_events=["assigned"])
    result = ingest(
        sqlite_store,
        stored,
        [{"external_id": f"PED-{i:05d}", "client_name": "Cliente", "address": "Zona 1"} for i in range(ORDERS)],
        source_kind="test",
    )
    for internal_id in result.internal_ids[:250]:
        change_status(sqlite_store, internal_id, "assigned", actor="test")
    for i in range(120):
        insert_pending(sqlite_store, stored.id, {"external_id": f"INB-{i}"})
    with running(sqlite_store) as url:
        orders, order_totals = _pages(url, "/orders", "orders", admin, limit=1_000)
        callbacks, callback_totals = _pages(url, "/callbacks", "callbacks", admin, integration="cliente_abc", limit=100)
        rows, row_totals = _pages(url, "/inbox", "rows", admin, limit=50)
        bogus = requests.get(f"{url}/orders", params={"cursor": "not-ours"}, headers=admin, timeout=30)
        names = requests.get(f"{url}/integrations", params={"limit": 1}, headers=admin, timeout=30)
    assert len(orders) == ORDERS and len({o["internal_id"] for o in orders}) == ORDERS
    assert [o["internal_id"] for o in orders] == sorted((o["internal_id"] for o in orders), reverse=True)  # newest first
    assert order_totals == [ORDERS] * 3
    assert len(callbacks) == 250 and set(callback_totals) == {250}
    assert len(rows) == 120 and len({r["id"] for r in rows}) == 120
    assert bogus.status_code == 400 and "is not one this list gave out" in bogus.json()["detail"]
    assert names.headers["X-Total-Count"] == "1" and "X-Next-Cursor" not in names.headers

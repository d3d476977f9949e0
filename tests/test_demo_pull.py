"""The demo sources `make up` starts: the demo client API (real uvicorn on loopback), the demo client
database, and `seed_pull_demo`, pulled for real into a store."""

from __future__ import annotations

import requests
import sqlalchemy as sa

from connectors.demo.client_api import DEMO_TOKEN, create_app
from connectors.demo.client_db import client_orders_table
from connectors.pull import pull
from crossdock.demo_pull import seed_pull_demo
from pipelines.integrations import list_integrations
from pipelines.store.schema import orders
from tests.servers import serve_asgi


def test_demo_api_is_bearer_protected_and_paginated():
    with serve_asgi(create_app(initial=120, grow_every_seconds=None)) as url:
        assert requests.get(f"{url}/orders", timeout=5).status_code == 401
        auth = {"Authorization": f"Bearer {DEMO_TOKEN}"}
        first = requests.get(f"{url}/orders", params={"per_page": 50}, headers=auth, timeout=5)
        body = first.json()
        assert (len(body["data"]), body["total"]) == (50, 120) and "next" in first.links
        order = body["data"][0]
        assert set(order) >= {"order_number", "customer", "shipping_address", "updated_at"}
        assert set(order["shipping_address"]) >= {"full", "lat", "lng"}
        last = requests.get(f"{url}/orders", params={"per_page": 50, "page": 3}, headers=auth, timeout=5)
        assert len(last.json()["data"]) == 20 and "next" not in last.links


def test_seed_pull_demo_is_idempotent_and_all_three_modes_pull(sqlite_store, tmp_path):
    with serve_asgi(create_app(initial=120, grow_every_seconds=None)) as url:
        names = seed_pull_demo(sqlite_store, url, tmp_path)
        assert seed_pull_demo(sqlite_store, url, tmp_path) == names == ["demo_api", "demo_db", "demo_files"]
        assert sorted(i.name for i in list_integrations(sqlite_store)) == sorted(names)
        api_first = pull(sqlite_store, "demo_api")
        api_again = pull(sqlite_store, "demo_api")
    db = pull(sqlite_store, "demo_db")
    files = pull(sqlite_store, "demo_files")
    pending = sum(1 for i in range(120) if i % 9 != 8)
    assert api_first.counts["created"] == pending and api_first.read["pages"] == 3
    assert api_again.counts["created"] == 0 and api_again.counts["unchanged"] >= 1
    assert db.counts["created"] > 0 and db.counts["errors"] == 1  # the demo's nameless order is refused
    client = sa.create_engine(f"sqlite:///{tmp_path / 'demo' / 'client_orders.db'}")
    table = client_orders_table(sa.MetaData())
    with client.connect() as conn:
        marked = conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.logitrack_synced.is_(True))).scalar_one()
    client.dispose()
    assert marked == db.counts["created"]
    assert files.counts["created"] == 3
    with sqlite_store.connect() as conn:
        name = conn.execute(sa.select(orders.c.client_name).where(orders.c.external_id == "ERP-F-003")).scalar_one()
    assert name == "Ángel Güell"

"""One pull per integration at a time, across processes: the lease in the store (SQLite and
PostgreSQL), and `pull` refusing or waiting while another pull holds it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from connectors.pull import pull
from pipelines.clock import utcnow
from pipelines.integrations import ApiIntegration, create_integration
from pipelines.sources.lease import LEASE_KEY, LEASE_TTL, PullBusy, release, renew, try_acquire
from pipelines.store.schema import source_state, sync_runs
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api


def _integration(store, url: str = "https://x.example/orders"):
    return create_integration(
        store,
        ApiIntegration(
            name="ClienteXYZ",
            endpoint=url,
            auth_type="bearer",
            auth_value="sk_live_xxxxx",
            field_mapping={"external_id": "order_number", "client_name": "customer.name", "address": "shipping_address.full"},
        ),
    )


def test_the_lease_has_one_holder_until_released_or_expired(store):
    api = _integration(store)
    assert try_acquire(store, api.id, "Dagster run aaa (scheduled polls)#1") is None
    assert try_acquire(store, api.id, "Dagster run aaa (scheduled polls)#1") is None  # the holder again: still its own
    assert try_acquire(store, api.id, "crossdock pull#2") == "Dagster run aaa (scheduled polls)"
    assert renew(store, api.id, "Dagster run aaa (scheduled polls)#1")
    assert not renew(store, api.id, "crossdock pull#2")
    release(store, api.id, "crossdock pull#2")  # not the holder: changes nothing
    assert try_acquire(store, api.id, "crossdock pull#2") == "Dagster run aaa (scheduled polls)"
    release(store, api.id, "Dagster run aaa (scheduled polls)#1")
    assert try_acquire(store, api.id, "crossdock pull#2") is None
    # A holder that died stops renewing: after the TTL another takes the lease over.
    stale = utcnow() - LEASE_TTL - timedelta(seconds=1)
    with store.begin() as conn:
        conn.execute(source_state.update().where(source_state.c.key == LEASE_KEY).values(updated_at=stale))
    assert try_acquire(store, api.id, "Dagster run bbb (ClienteXYZ 2024-01-15)#3") is None
    assert not renew(store, api.id, "crossdock pull#2")


def test_a_pull_refuses_while_another_holds_the_lease_and_records_no_failure(store):
    api = ClientApi(seed_orders(5))
    with serve_client_api(api) as base_url:
        integration = _integration(store, f"{base_url}/orders")
        try_acquire(store, integration.id, "Dagster run ccc (scheduled polls)#x")
        with pytest.raises(PullBusy, match="ClienteXYZ is already being pulled by Dagster run ccc"):
            pull(store, "ClienteXYZ")
        assert api.requests == []
        with store.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(sync_runs)).scalar_one() == 0


def test_a_backfill_waits_for_the_running_poll_then_pulls(store):
    api = ClientApi(seed_orders(5))
    with serve_client_api(api) as base_url:
        integration = _integration(store, f"{base_url}/orders")
        try_acquire(store, integration.id, "Dagster run ddd (scheduled polls)#y")
        waited_for: list[str] = []

        def poll_finishes(holder: str) -> None:  # told once that it waits: the other pull ends now
            waited_for.append(holder)
            threading.Thread(target=release, args=(store, integration.id, "Dagster run ddd (scheduled polls)#y")).start()

        report = pull(store, "ClienteXYZ", holder="Dagster run eee (backfill)", wait_for_lease_seconds=60, on_wait=poll_finishes)
    assert waited_for == ["Dagster run ddd (scheduled polls)"]
    assert report.counts["created"] == 5
    with store.connect() as conn:  # released when the pull ended
        assert conn.execute(sa.select(sa.func.count()).select_from(source_state).where(source_state.c.key == LEASE_KEY)).scalar_one() == 0

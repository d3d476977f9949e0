"""The scheduled-poll worker against real loopback client APIs: a slow integration holds one thread
and never the others, a failing one is recorded and does not stop the rest, one being pulled
elsewhere is skipped (not failed), and the worker ends when nothing falls due within its linger."""

from __future__ import annotations

import sqlalchemy as sa

from connectors.poll_worker import PollOutcome, follow_polls
from pipelines.integrations import ApiIntegration, WebhookIntegration, create_integration
from pipelines.sources.lease import try_acquire
from pipelines.sources.schedule import last_poll_starts
from pipelines.store.schema import orders, sync_runs
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api

MAPPING = {"external_id": "order_number", "client_name": "customer.name", "address": "shipping_address.full"}


def _api(store, name: str, base_url: str):
    return create_integration(
        store,
        ApiIntegration(
            name=name,
            endpoint=f"{base_url}/orders",
            auth_type="bearer",
            auth_value="sk_live_xxxxx",
            field_mapping=MAPPING,
            poll_interval_seconds=300,
        ),
    )


def test_a_slow_integration_holds_one_thread_while_the_others_are_polled(sqlite_store):
    slow, fast, failing = ClientApi(seed_orders(2)), ClientApi(seed_orders(4)), ClientApi(seed_orders(1))
    slow.faults = ["slow"]  # answers only when released (or after 10 s)
    failing.faults = [401]
    heard: list[PollOutcome] = []

    def on_poll(outcome: PollOutcome) -> None:
        heard.append(outcome)
        if {o.name for o in heard} == {"fast", "failing"}:
            slow.release.set()  # the others are done while the slow one still hangs: now let it answer

    with serve_client_api(slow) as slow_url, serve_client_api(fast) as fast_url, serve_client_api(failing) as failing_url:
        for name, url in (("slow", slow_url), ("fast", fast_url), ("failing", failing_url)):
            _api(sqlite_store, name, url)
        report = follow_polls(sqlite_store, holder="test worker", workers=2, budget_seconds=30, linger_seconds=0, on_poll=on_poll)
    assert [o.name for o in heard] in (["fast", "failing", "slow"], ["failing", "fast", "slow"])
    by_name = {o.name: o for o in report.outcomes}
    assert by_name["fast"].report.counts["created"] == 4 and by_name["slow"].report is not None
    assert "HTTP 401" in by_name["failing"].error and not by_name["failing"].busy
    assert (report.count("ok"), report.count("failed"), report.count("busy")) == (2, 1, 0)
    assert len(last_poll_starts(sqlite_store)) == 3  # each started once; the next is due an interval later
    with sqlite_store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 4
        assert sorted(conn.execute(sa.select(sync_runs.c.status)).scalars()) == ["failed", "ok", "ok"]


def test_an_integration_pulled_elsewhere_is_skipped_and_not_recorded_as_failed(sqlite_store):
    api = ClientApi(seed_orders(3))
    with serve_client_api(api) as base_url:
        integration = _api(sqlite_store, "ClienteXYZ", base_url)
        try_acquire(sqlite_store, integration.id, "Dagster run 1234abcd (ClienteXYZ 2024-01-15)#z")
        report = follow_polls(sqlite_store, holder="test worker", budget_seconds=30, linger_seconds=0)
    [outcome] = report.outcomes
    assert outcome.busy and "being pulled by Dagster run 1234abcd" in outcome.error
    assert report.count("failed") == 0 and api.requests == []
    with sqlite_store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sync_runs)).scalar_one() == 0


def test_with_nothing_to_poll_the_worker_ends_at_once(sqlite_store):
    create_integration(sqlite_store, WebhookIntegration(name="hook"))
    report = follow_polls(sqlite_store, holder="test worker", budget_seconds=600, linger_seconds=60)
    assert report.outcomes == [] and report.seconds < 600  # it ended because nothing is polled, not by its budget

"""Processing the inbox without Dagster: micro-batches, one transaction per row, dead letters, replay.

Rows are written as the receiver writes them (tests/inbox_rows.py). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pipelines.clock import utcnow
from pipelines.inbox import DEAD, DONE, PENDING
from pipelines.inbox.processing import (
    InboxRowNotFound,
    NotReplayable,
    PoisonPayload,
    follow,
    list_entries,
    parse_body,
    process_batch,
    process_row,
    replay,
)
from pipelines.inbox.reporting import backlog, inbox_health
from pipelines.ingest.sales import register_identifiers
from pipelines.integrations import WebhookIntegration, create_integration, set_active
from pipelines.store.schema import customers, identifiers, inbox, orders, sales, sync_runs
from tests.conftest import load_example
from tests.inbox_rows import insert_pending

SEED_CODE = "a1b2c3d4-e5f6-7890-1234-567890abcdef"


def order(i: int, **changes) -> dict:
    return {"external_id": f"PED-{i:04d}", "client_name": f"Cliente {i}", "address": f"Zona {i}, Guatemala", **changes}


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def row(engine, inbox_id: int) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.select(inbox).where(inbox.c.id == inbox_id)).one()


def async_orders(engine, name: str = "cliente_abc"):
    return create_integration(engine, WebhookIntegration(name=name, webhook={"ack_mode": "async"}))


def sale_account(engine, *, register: bool = True):
    account = create_integration(engine, WebhookIntegration(name="autentik_demo", target="sale", webhook={"ack_mode": "async"}))
    if register:
        with engine.begin() as conn:
            register_identifiers(conn, account.id, [{"code": SEED_CODE, "product_sku": "BOLSO-CUERO-01"}], utcnow())
    return account


def test_a_micro_batch_takes_the_oldest_pending_rows_up_to_its_size(store):
    integration = async_orders(store)
    ids = [insert_pending(store, integration.id, order(i)) for i in range(5)]
    first = process_batch(store, limit=2)
    assert [o.inbox_id for o in first.outcomes] == ids[:2]
    assert [row(store, i).status for i in ids] == [DONE, DONE, PENDING, PENDING, PENDING]
    rest = process_batch(store, limit=10)
    assert [o.inbox_id for o in rest.outcomes] == ids[2:]
    assert count(store, orders) == 5 and count(store, sync_runs) == 5


def test_each_done_row_points_at_the_sync_run_that_ingested_it(store):
    integration = async_orders(store)
    single = insert_pending(store, integration.id, load_example("webhook_order.json"))
    batch = insert_pending(store, integration.id, [order(1), order(2), order(1, notes="segunda")])
    report = process_batch(store)
    by_row = {o.inbox_id: o.result for o in report.outcomes}
    assert by_row[single].counts() == {"total_received": 1, "created": 1, "updated": 0, "errors": 0, "unchanged": 0, "stale": 0}
    assert (by_row[batch].created, by_row[batch].updated) == (2, 1)  # same order twice: applied in order
    for inbox_id, result in by_row.items():
        stored = row(store, inbox_id)
        assert (stored.status, stored.sync_run_id, stored.attempts, stored.error) == (DONE, result.sync_run_id, 1, None)
        assert stored.processed_at is not None
    tally = report.per_integration()["cliente_abc"]
    assert tally.counts() == {"rows": 2, "received": 4, "created": 3, "updated": 1, "unchanged": 0, "errors": 0, "dead": 0}


def test_poison_rows_are_dead_lettered_with_their_reason_and_the_batch_goes_on(store):
    integration = async_orders(store)
    disabled = async_orders(store, "paused_client")
    good_before = insert_pending(store, integration.id, order(1))
    not_json = insert_pending(store, integration.id, b'{"external_id": "ORD-1",')
    scalar = insert_pending(store, integration.id, b"42")
    paused = insert_pending(store, disabled.id, order(2))
    good_after = insert_pending(store, integration.id, order(3))
    set_active(store, "paused_client", False)

    report = process_batch(store)

    assert [row(store, i).status for i in (good_before, good_after)] == [DONE, DONE]
    assert count(store, orders) == 2
    reasons = {i: row(store, i).error for i in (not_json, scalar, paused)}
    assert reasons[not_json].startswith("body is not readable: malformed JSON at line 1, column")
    assert reasons[scalar] == "body is not readable: the body must be a JSON object (one record) or an array of records, got int"
    assert reasons[paused] == "integration 'paused_client' is disabled; enable it, then replay"
    for inbox_id in reasons:
        assert (row(store, inbox_id).status, row(store, inbox_id).attempts) == (DEAD, 1)
    assert report.count(DEAD) == 3 and report.count(DONE) == 2
    assert report.per_integration()["paused_client"].counts()["dead"] == 1


def _refuse_sale(store, external_id: str) -> None:
    """A database-side failure for one sale, as a broken constraint or trigger in production would give."""
    with store.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse_sale BEFORE INSERT ON sales WHEN NEW.external_id = '{external_id}' "
                "BEGIN SELECT RAISE(ABORT, 'sale refused by the database'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_sale() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'sale refused by the database'; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_sale BEFORE INSERT ON sales FOR EACH ROW "
                f"WHEN (NEW.external_id = '{external_id}') EXECUTE FUNCTION refuse_sale()"
            )


def test_a_row_whose_ingest_raises_rolls_back_alone(store):
    """A real exception half-way through a batch: the database refuses one sale. Its transaction rolls
    back whole (no customer, no sale, no sync run), it is dead-lettered, and the rows around it land
    exactly once."""
    account = sale_account(store, register=False)
    _refuse_sale(store, "F-3")
    ana = {"customer_data": {"national_id": "111", "email": "ana@example.com"}, "transaction_data": {"transaction_id": "F-1"}}
    beto = {"customer_data": {"national_id": "222", "email": "beto@example.com"}, "transaction_data": {"transaction_id": "F-2"}}
    refused = {"customer_data": {"national_id": "444", "email": "eva@example.com"}, "transaction_data": {"transaction_id": "F-3"}}
    later = {"customer_data": {"national_id": "333"}, "transaction_data": {"transaction_id": "F-4"}}
    ids = [insert_pending(store, account.id, body) for body in (ana, beto, refused, later)]

    report = process_batch(store)

    assert [row(store, i).status for i in ids] == [DONE, DONE, DEAD, DONE]
    assert row(store, ids[2]).error.startswith("unexpected error while ingesting: ")
    assert "sale refused by the database" in row(store, ids[2]).error
    assert "\n" not in row(store, ids[2]).error
    assert count(store, sales) == 3 and count(store, sync_runs) == 3 and count(store, customers) == 3
    assert count(store, sales, sales.c.external_id == "F-3") == 0
    assert report.count(DONE) == 3
    # Running again finds nothing to do: nothing is doubled.
    assert process_batch(store).outcomes == []
    assert count(store, sales) == 3 and count(store, sync_runs) == 3


def test_a_row_already_taken_by_another_run_is_not_ingested_twice(store):
    integration = async_orders(store)
    ids = [insert_pending(store, integration.id, order(i)) for i in range(3)]
    outcomes = []
    with store.connect() as conn:  # another run has claimed the oldest row and is still ingesting it
        conn.begin()
        assert process_row(conn, ids[0]).inbox_id == ids[0]
        # This run skips or waits for that row (SKIP LOCKED on PostgreSQL, the single writer on SQLite).
        overlapping = threading.Thread(target=lambda: outcomes.extend(process_batch(store).outcomes))
        overlapping.start()
        conn.commit()
    overlapping.join(timeout=60)
    assert [o.inbox_id for o in outcomes] == ids[1:]
    assert count(store, sync_runs) == 3 and count(store, orders) == 3


class FakeClock:
    """An injectable clock: waiting advances it, and can let rows "arrive" at chosen moments."""

    def __init__(self, arrivals: dict | None = None):
        self.now = 0.0
        self.waits = 0
        self.arrivals = arrivals or {}

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.waits += 1
        self.now += seconds
        if self.waits in self.arrivals:
            self.arrivals[self.waits]()


def test_follow_drains_in_micro_batches_and_returns_when_idle(store):
    integration = async_orders(store)
    ids = [insert_pending(store, integration.id, order(i)) for i in range(7)]
    batches = []
    clock = FakeClock()
    report = follow(store, batch_size=3, idle_seconds=0, on_batch=batches.append, clock=clock, wait=clock.wait)
    assert [o.inbox_id for o in report.outcomes] == ids
    assert [len(b.outcomes) for b in batches] == [3, 3, 1] and clock.waits == 0
    assert follow(store, idle_seconds=0).outcomes == []


def test_a_lingering_run_takes_rows_that_arrive_while_it_waits(store):
    integration = async_orders(store)
    first = insert_pending(store, integration.id, order(1))
    later = []
    clock = FakeClock({3: lambda: later.append(insert_pending(store, integration.id, order(2)))})
    report = follow(store, idle_seconds=5, poll_seconds=1, clock=clock, wait=clock.wait)
    assert [o.inbox_id for o in report.outcomes] == [first, *later]
    # It kept polling until five idle seconds had passed since the late row.
    assert clock.now == 3 + 5


def test_a_run_ends_when_its_budget_is_spent_even_with_rows_waiting(store):
    integration = async_orders(store)
    for i in range(4):
        insert_pending(store, integration.id, order(i))
    clock = FakeClock()
    report = follow(
        store,
        batch_size=1,
        idle_seconds=60,
        budget_seconds=2,
        on_batch=lambda _batch: setattr(clock, "now", clock.now + 1),
        clock=clock,
        wait=clock.wait,
    )
    assert len(report.outcomes) == 2
    assert count(store, inbox, inbox.c.status == PENDING) == 2


def test_seed_004_sale_links_the_code_to_the_customer_found_by_national_id(store):
    account = sale_account(store)
    with open("examples/autentikapp_sale.json", "rb") as handle:
        inbox_id = insert_pending(store, account.id, handle.read(), delivery_id="evt-1")
    report = process_batch(store)
    assert report.outcomes[0].result.created == 1
    with store.connect() as conn:
        customer = conn.execute(sa.select(customers).where(customers.c.national_id == "123456789")).one()
        code = conn.execute(sa.select(identifiers).where(identifiers.c.code == SEED_CODE)).one()
    assert (customer.first_name, customer.last_name, customer.email) == ("Diego", "López", "cliente@email.com")
    assert code.customer_id == customer.id
    assert row(store, inbox_id).status == DONE


def test_replay_one_dead_row_by_id(store):
    integration = async_orders(store)
    set_active(store, "cliente_abc", False)
    inbox_id = insert_pending(store, integration.id, order(1))
    process_batch(store)
    assert row(store, inbox_id).status == DEAD
    set_active(store, "cliente_abc", True)

    replayed = replay(store, actor="cli:ana", inbox_id=inbox_id)

    assert [(e.id, e.status) for e in replayed] == [(inbox_id, DEAD)]  # as it was before the replay
    assert (row(store, inbox_id).status, row(store, inbox_id).replayed_by) == (PENDING, "cli:ana")
    process_batch(store)
    stored = row(store, inbox_id)
    assert (stored.status, stored.attempts, stored.error) == (DONE, 2, None)
    assert (stored.replay_count, stored.replayed_by) == (1, "cli:ana") and stored.replayed_at is not None
    assert count(store, orders) == 1


def test_replay_an_integrations_dead_rows_since_a_time(store):
    integration = async_orders(store)
    other = async_orders(store, "otro")
    old, recent = (insert_pending(store, integration.id, b"not json") for _ in range(2))
    elsewhere = insert_pending(store, other.id, b"not json")
    process_batch(store)
    cutoff = utcnow() - timedelta(hours=1)
    with store.begin() as conn:
        conn.execute(inbox.update().where(inbox.c.id == old).values(received_at=cutoff - timedelta(hours=1)))

    preview = replay(store, actor="test", integration_id=integration.id, since=cutoff, dry_run=True)
    assert [e.id for e in preview] == [recent]
    assert row(store, recent).status == DEAD  # a dry run changes nothing

    assert [e.id for e in replay(store, actor="test", integration_id=integration.id, since=cutoff)] == [recent]
    assert [row(store, i).status for i in (old, recent, elsewhere)] == [DEAD, PENDING, DEAD]
    assert [e.id for e in replay(store, actor="test", integration_id=integration.id)] == [old]


def test_replay_refuses_rows_it_does_not_apply_to(store):
    integration = async_orders(store)
    pending = insert_pending(store, integration.id, order(1))
    with pytest.raises(NotReplayable, match="is pending"):
        replay(store, actor="test", inbox_id=pending)
    process_batch(store)
    with pytest.raises(NotReplayable, match="no record errors"):
        replay(store, actor="test", inbox_id=pending, include_record_errors=True)
    with pytest.raises(InboxRowNotFound, match="no inbox row 999"):
        replay(store, actor="test", inbox_id=999)


def test_a_sale_with_an_unknown_code_is_replayed_once_the_code_is_registered(store):
    account = sale_account(store, register=False)
    inbox_id = insert_pending(store, account.id, load_example("autentikapp_sale.json"))
    first = process_batch(store).outcomes[0].result
    assert first.errors == 1 and "unknown identifier code" in first.results[0].reasons[0]["message"]
    with pytest.raises(NotReplayable, match="--with-record-errors"):
        replay(store, actor="test", inbox_id=inbox_id)
    assert replay(store, actor="test", integration_id=account.id) == []  # not dead, so not replayed by default

    with store.begin() as conn:
        register_identifiers(conn, account.id, [{"code": SEED_CODE}], utcnow())
    replayed = replay(store, actor="test", integration_id=account.id, include_record_errors=True)
    assert [(e.id, e.record_errors) for e in replayed] == [(inbox_id, 1)]
    second = process_batch(store).outcomes[0].result
    assert (second.created, second.errors) == (1, 0)
    with store.connect() as conn:
        customer_id = conn.execute(sa.select(customers.c.id).where(customers.c.national_id == "123456789")).scalar_one()
        assert conn.execute(sa.select(identifiers.c.customer_id)).scalar_one() == customer_id
    assert row(store, inbox_id).sync_run_id == second.sync_run_id
    # Done without errors now: a second replay with record errors finds nothing.
    assert replay(store, actor="test", integration_id=account.id, include_record_errors=True) == []


def test_list_entries_filters_by_status_and_integration(store):
    integration = async_orders(store)
    other = async_orders(store, "otro")
    good = insert_pending(store, integration.id, order(1))
    bad = insert_pending(store, integration.id, b"[")
    insert_pending(store, other.id, order(2))
    process_batch(store, limit=2)
    assert [e.id for e in list_entries(store, status=DEAD)] == [bad]
    assert [e.id for e in list_entries(store, integration_id=integration.id)] == [bad, good]
    assert [e.integration for e in list_entries(store, status=PENDING)] == ["otro"]


def test_backlog_and_health_name_the_integrations_in_trouble(store):
    integration = async_orders(store)
    other = async_orders(store, "otro")
    insert_pending(store, integration.id, b"nope")
    process_batch(store)
    insert_pending(store, other.id, order(1))
    with store.connect() as conn:
        assert [(b.integration, b.pending, b.dead) for b in backlog(conn)] == [("cliente_abc", 0, 1), ("otro", 1, 0)]
        fresh = inbox_health(conn, utcnow())
        later = inbox_health(conn, utcnow() + timedelta(minutes=5))
    assert not fresh.passed and fresh.dead == {"cliente_abc": 1} and fresh.stuck == {}
    assert set(later.stuck) == {"otro"} and later.fingerprint() != fresh.fingerprint()


def test_parse_body_accepts_one_record_or_an_array():
    assert parse_body(b'{"a": 1}') == [{"a": 1}]
    assert parse_body(b'[{"a": 1}, {"a": 2}]') == [{"a": 1}, {"a": 2}]
    with pytest.raises(PoisonPayload, match="got null"):
        parse_body(b"null")
    with pytest.raises(PoisonPayload, match="malformed JSON"):
        parse_body(b"\xff\xfe")
    with pytest.raises(PoisonPayload, match="the array is empty"):
        parse_body(b"[]")

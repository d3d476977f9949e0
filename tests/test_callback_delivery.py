"""Callback delivery against a real HTTP sink on loopback that fails on demand, on SQLite and
PostgreSQL. Retries are driven by a clock the test moves: nothing waits for the schedule."""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from connectors.callback_sender import PREVIOUS_SIGNATURE_HEADER, SIGNATURE_HEADER, CallbackSender
from pipelines.callbacks import (
    ReplayRejected,
    callback_summary,
    list_callbacks,
    order_callbacks,
    replay_callback,
    replay_dead_callbacks,
    resume_callbacks,
)
from pipelines.integrations import get_integration, masked_config, new_callback_secret, update_integration
from pipelines.orders.status import change_status
from pipelines.store.schema import callback_outbox
from tests.callback_helpers import (
    PROOF,
    FakeClock,
    make_integration,
    next_due,
    order_records,
    outbox_rows,
    secret_of,
)
from tests.callback_sink import OK, CallbackSink, Drop, Reply, Stall, Together

ETA = datetime(2024, 1, 15, 15, 0, tzinfo=UTC)
NO_JITTER = {"jitter_ratio": 0}


def deliver(engine, clock, **options) -> object:
    with CallbackSender(engine, clock=clock, workers=options.pop("workers", 8), flush_interval=0.05) as sender:
        return sender.deliver_due(**options)


def seed_flow(engine, order: int, clock: FakeClock) -> None:
    """PED-001 through assigned → in_route → delivered, as the seed's sync flow steps 2-4."""
    change_status(engine, order, "assigned", actor="cli", now=clock.now)
    change_status(engine, order, "in_route", actor="cli", eta=ETA, now=clock.now)
    change_status(engine, order, "delivered", actor="cli", proof=PROOF, delivered_at=clock.now, now=clock.now)


def test_the_seed_flow_delivers_three_signed_callbacks_in_order(store):
    sink = CallbackSink()
    clock = FakeClock()
    with sink.serve() as url:
        stored, ids = make_integration(store, url)
        seed_flow(store, ids["PED-001"], clock)
        report = deliver(store, clock)
    assert report.total("delivered") == 3 and report.rows()[0]["integration"] == "cliente_abc"
    got = sink.answered_ok()
    assert [r.payload["event"] for r in got] == ["assigned", "in_route", "delivered"]
    secret = secret_of(stored)
    for received in got:
        # As the client would: Standard Webhooks library, and the plan's hex HMAC of the raw body.
        assert Webhook(secret).verify(received.body, received.headers) == received.payload
        assert received.headers[SIGNATURE_HEADER.lower()] == hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
        assert received.headers["x-crossdock-event"] == received.payload["event"]
    last = got[2].payload
    assert last["order"]["delivered_at"] == clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert last["order"]["delivery_proof"] == PROOF
    assert got[1].payload["order"]["eta"] == "2024-01-15T15:00:00Z"
    rows = outbox_rows(store)
    assert [r["webhook_id"] for r in rows] == [r.webhook_id for r in got]
    assert all(r["status"] == "delivered" and r["attempts"] == 1 and r["last_status_code"] == 200 for r in rows)
    attempts = order_callbacks(store, ids["PED-001"])
    assert [len(c.attempt_log) for c in attempts] == [1, 1, 1]
    logged = attempts[0].attempt_log[0]
    assert logged.status_code == 200 and logged.latency_ms > 0 and logged.response_excerpt == '{"ok": true}'


def _hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_rotated_secret_signs_alongside_the_old_one_until_the_overlap_ends(store):
    sink = CallbackSink()
    clock = FakeClock()
    with sink.serve() as url:
        stored, ids = make_integration(store, url)
        old = secret_of(stored)
        rotated = update_integration(store, "cliente_abc", {"callback_secret": new_callback_secret()})
        new = secret_of(rotated)
        shown = masked_config(rotated)["callbacks"]
        assert old not in str(shown) and shown["previous_secret"].endswith(old[-4:])
        change_status(store, ids["PED-001"], "assigned", actor="cli", now=clock.now)
        deliver(store, clock)
        clock.advance(hours=24, minutes=1)  # the default overlap is over
        change_status(store, ids["PED-001"], "in_route", actor="cli", eta=ETA, now=clock.now)
        deliver(store, clock)
    during, after = sink.answered_ok()
    # During the overlap a client holding either secret verifies, with a library or the plan's hex HMAC.
    for secret in (old, new):
        assert Webhook(secret).verify(during.body, during.headers)["event"] == "assigned"
    assert during.headers[SIGNATURE_HEADER.lower()] == _hex(new, during.body)
    assert during.headers[PREVIOUS_SIGNATURE_HEADER.lower()] == _hex(old, during.body)
    # Afterwards only the new secret signs.
    assert Webhook(new).verify(after.body, after.headers)["event"] == "in_route"
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)
    assert PREVIOUS_SIGNATURE_HEADER.lower() not in after.headers


def test_the_overlap_can_be_switched_off_or_ended_early(store):
    stored, _ = make_integration(store, "https://api.cliente.com/logitrack/updates", callbacks={"rotation_overlap_hours": 0})
    rotated = update_integration(store, "cliente_abc", {"callback_secret": new_callback_secret()})
    assert rotated.config.callbacks.previous_secret is None
    update_integration(store, "cliente_abc", {"callbacks": {"rotation_overlap_hours": 24}})
    again = update_integration(store, "cliente_abc", {"callback_secret": new_callback_secret()})
    assert again.config.callbacks.previous_secret.get_secret_value() == secret_of(rotated)
    ended = update_integration(store, "cliente_abc", {"callbacks": {"previous_secret": None}})
    assert ended.config.callbacks.previous_secret is None and secret_of(ended) == secret_of(again)


def test_down_for_three_attempts_then_delivered_on_the_fourth(store):
    sink = CallbackSink()
    sink.plan(Drop(), Reply(500, body=b"upstream exploded"), Drop())
    clock = FakeClock()
    with sink.serve() as url:
        _, ids = make_integration(store, url)
        change_status(store, ids["PED-001"], "assigned", actor="cli", now=clock.now)
        started = clock.now
        deliver(store, clock)
        for _ in range(3):
            due = next_due(store)
            clock.move_to(due - timedelta(seconds=1))
            assert deliver(store, clock).attempts == 0  # not before its time
            clock.move_to(due)
            deliver(store, clock)
    (callback,) = order_callbacks(store, ids["PED-001"])
    log = callback.attempt_log
    assert [(a.status_code, a.error) for a in log] == [
        (None, "connection closed without a response"),
        (500, None),
        (None, "connection closed without a response"),
        (200, None),
    ]
    assert log[1].response_excerpt == "upstream exploded"
    times = [started, *(a.attempted_at for a in log)]
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False)]
    assert gaps[0] == 0
    for gap, scheduled in zip(gaps[1:], [5, 300, 1800], strict=False):
        assert scheduled * 0.8 <= gap <= scheduled * 1.2  # the schedule with its jitter
    assert (callback.status, callback.attempts) == ("delivered", 4)
    assert len(sink.answered_ok()) == 1


def test_a_refused_connection_is_a_failed_attempt(store):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    try:
        _, ids = make_integration(store, f"http://127.0.0.1:{closed.getsockname()[1]}/cb")
        clock = FakeClock()
        change_status(store, ids["PED-001"], "assigned", actor="cli", now=clock.now)
        report = deliver(store, clock)
    finally:
        closed.close()
    assert report.total("retried") == 1
    (row,) = outbox_rows(store)
    assert row["status"] == "pending" and row["last_error"] == "connection failed: Connection refused"


def test_410_stops_the_integration_with_a_visible_reason(store):
    sink = CallbackSink()
    clock = FakeClock()
    with sink.serve() as url:
        _, ids = make_integration(store, url, orders=order_records(3), callbacks=NO_JITTER)
        sink.plan(Reply(410, body=b"endpoint retired"))
        for order in ids.values():
            change_status(store, order, "assigned", actor="cli", now=clock.now)
        report = deliver(store, clock, workers=1)
        assert report.total("disabled") == 1
        assert len(sink.received) == 1  # the other two were never sent
        # New changes keep their callbacks, stopped too.
        change_status(store, ids["PED-001"], "cancelled", actor="cli", now=clock.now)
        assert clock.advance(days=1)
        assert deliver(store, clock).attempts == 0  # nothing is sent after a 410
        assert len(sink.received) == 1

        reason = get_integration(store, "cliente_abc").callbacks_disabled_reason
        assert reason.startswith("410 Gone from the callback endpoint at ") and reason.endswith("`crossdock callbacks resume cliente_abc`")
        assert masked_config(get_integration(store, "cliente_abc"))["callbacks_disabled_reason"] == reason
        assert {r.status for r in list_callbacks(store, integration="cliente_abc")} == {"disabled"}
        (summary,) = callback_summary(store)
        assert summary.disabled_reason == reason and summary.counts["disabled"] == 4
        with pytest.raises(ReplayRejected, match="callbacks to cliente_abc are stopped"):
            replay_dead_callbacks(store, "cliente_abc", None, actor="cli")

        # The client fixes its endpoint; an operator resumes: everything goes, in order per order.
        assert resume_callbacks(store, "cliente_abc", actor="cli:ana") == 4
        deliver(store, clock)
    assert sink.events_by_order() == {"PED-001": ["assigned", "cancelled"], "PED-002": ["assigned"], "PED-003": ["assigned"]}
    assert all(r["status"] == "delivered" and r["replayed_by"] == "cli:ana" for r in outbox_rows(store))


def test_retry_after_is_honoured_in_seconds_and_as_a_date(store):
    sink = CallbackSink()
    clock = FakeClock()
    with sink.serve() as url:
        _, ids = make_integration(store, url)
        sink.plan(
            Reply(429, {"Retry-After": "120"}),
            Reply(503, {"Retry-After": (clock.now + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")}),
        )
        change_status(store, ids["PED-001"], "assigned", actor="cli", now=clock.now)
        deliver(store, clock)
        assert next_due(store) == clock.now + timedelta(seconds=120)
        clock.move_to(next_due(store))
        deliver(store, clock)
        assert next_due(store) == clock.now.replace(microsecond=0) + timedelta(hours=1) - timedelta(seconds=120)
        clock.move_to(next_due(store))
        deliver(store, clock)
    assert outbox_rows(store)[0]["status"] == "delivered"
    assert [a.status_code for a in order_callbacks(store, ids["PED-001"])[0].attempt_log] == [429, 503, 200]


def test_no_answer_within_the_timeout_is_a_failure_and_slow_answers_within_it_are_fine(store):
    sink = CallbackSink()
    clock = FakeClock()
    with sink.serve() as url:
        _, ids = make_integration(store, url, callbacks={"timeout_seconds": 1.0})
        sink.plan(Stall(), Reply(200, slow=0.2))
        change_status(store, ids["PED-001"], "assigned", actor="cli", now=clock.now)
        assert deliver(store, clock).total("retried") == 1
        (row,) = outbox_rows(store)
        assert row["last_error"] == "no response within 1 s"
        clock.move_to(next_due(store))
        assert deliver(store, clock).total("delivered") == 1


def test_an_answer_whose_body_drips_counts_by_its_status_and_holds_no_worker(store):
    """The status line decides the attempt; the body is read for the log only until the timeout, so an
    endpoint that drips a long body neither fails a good answer nor keeps a delivery worker."""
    sink = CallbackSink()
    clock = FakeClock()
    with sink.serve() as url:
        _, ids = make_integration(store, url, callbacks={"timeout_seconds": 0.5})
        sink.plan(Reply(200, body=b'{"ok": true, "padding": "' + b"x" * 5_000 + b'"}', drip=True))
        change_status(store, ids["PED-001"], "assigned", actor="cli", now=clock.now)
        report = deliver(store, clock)
    assert report.total("delivered") == 1 and report.total("retried") == 0
    (row,) = outbox_rows(store)
    assert row["status"] == "delivered" and row["last_error"] is None
    (attempt,) = order_callbacks(store, ids["PED-001"])[0].attempt_log
    assert attempt.status_code == 200 and attempt.response_excerpt.startswith('{"ok": true')  # what came in time


def test_after_the_last_try_the_callback_is_dead_and_the_order_moves_on(store):
    sink = CallbackSink()
    clock = FakeClock()
    with sink.serve() as url:
        _, ids = make_integration(store, url, callbacks={"retry_schedule_seconds": [5, 60], **NO_JITTER})
        sink.plan_for("PED-001", Reply(500), Reply(500), Reply(502))
        order = ids["PED-001"]
        change_status(store, order, "assigned", actor="cli", now=clock.now)
        change_status(store, order, "cancelled", actor="cli", now=clock.now)
        deliver(store, clock)
        assert [r.payload["event"] for r in sink.received] == ["assigned"]  # cancelled waits its turn
        for _ in range(2):
            clock.move_to(next_due(store))
            deliver(store, clock)
        dead, cancelled = outbox_rows(store)
        assert (dead["status"], dead["attempts"], dead["last_status_code"]) == ("dead", 3, 502)
        assert dead["last_error"] == 'HTTP 502: {"ok": true}'
        # Once the earlier event is dead-lettered, the later one goes.
        assert cancelled["status"] == "delivered"
        assert [r.payload["event"] for r in sink.received] == ["assigned"] * 3 + ["cancelled"]

        # An operator replays the dead letter: same webhook-id and body, fresh schedule.
        replayed = replay_callback(store, dead["id"], actor="api:admin", now=clock.now)
        assert replayed.webhook_id == dead["webhook_id"]
        with pytest.raises(ReplayRejected, match="is already queued"):
            replay_callback(store, dead["id"], actor="api:admin")
        deliver(store, clock)
        with pytest.raises(ReplayRejected, match="only dead or disabled callbacks are replayed"):
            replay_callback(store, dead["id"], actor="api:admin")
    again = outbox_rows(store)[0]
    assert (again["status"], again["attempts"], again["replay_count"], again["replayed_by"]) == ("delivered", 1, 1, "api:admin")
    assert sink.received[-1].body == sink.received[0].body
    assert sink.received[-1].webhook_id == dead["webhook_id"]


def test_replay_dead_letters_since_a_time(store):
    sink = CallbackSink(default=Reply(500))
    clock = FakeClock()
    with sink.serve() as url:
        _, ids = make_integration(store, url, orders=order_records(2), callbacks={"retry_schedule_seconds": [], **NO_JITTER})
        change_status(store, ids["PED-001"], "assigned", actor="cli", now=clock.now)
        cut = clock.advance(hours=1)
        change_status(store, ids["PED-002"], "assigned", actor="cli", now=clock.now)
        deliver(store, clock)
        assert [r["status"] for r in outbox_rows(store)] == ["dead", "dead"]
        (summary,) = callback_summary(store)
        assert summary.counts["dead"] == 2 and summary.failing is True
        sink.default = OK
        assert replay_dead_callbacks(store, "cliente_abc", cut, actor="cli") == 1
        deliver(store, clock)
        assert [r["status"] for r in outbox_rows(store)] == ["dead", "delivered"]
        assert replay_dead_callbacks(store, "cliente_abc", None, actor="cli") == 1
        deliver(store, clock)
    assert [r["status"] for r in outbox_rows(store)] == ["delivered", "delivered"]
    assert callback_summary(store)[0].failing is False


def test_ordering_per_order_while_other_orders_flow(store):
    sink = CallbackSink()
    clock = FakeClock()
    with sink.serve() as url:
        _, ids = make_integration(store, url, orders=order_records(20))
        sink.plan_for("PED-003", Reply(500), Drop())
        for order in ids.values():
            seed_flow(store, order, clock)
        deliver(store, clock)
        told = sink.events_by_order()
        assert "PED-003" not in told  # stuck on its first event...
        assert all(told[e] == ["assigned", "in_route", "delivered"] for e in ids if e != "PED-003")  # ...the others flowed
        for _ in range(2):
            clock.move_to(next_due(store))
            deliver(store, clock)
    assert sink.events_by_order()["PED-003"] == ["assigned", "in_route", "delivered"]
    assert set(sink.ids_answered_ok().values()) == {1}  # each callback accepted exactly once
    assert len(sink.ids_answered_ok()) == 60


def test_orders_are_sent_concurrently(store):
    sink = CallbackSink(default=Together(threading.Barrier(4)))
    clock = FakeClock()
    with sink.serve() as url:
        _, ids = make_integration(store, url, orders=order_records(8))
        for order in ids.values():
            change_status(store, order, "assigned", actor="cli", now=clock.now)
        report = deliver(store, clock, workers=4)
    # Every answer needed four requests in the sink at once: a sequential sender would get 500s.
    assert report.total("delivered") == 8


def test_endpoint_down_then_back_delivers_everything_in_order(store):
    sink = CallbackSink(default=Drop())
    clock = FakeClock()
    with sink.serve() as url:
        _, ids = make_integration(store, url, orders=order_records(3))
        for order in ids.values():
            seed_flow(store, order, clock)
        for _ in range(3):
            deliver(store, clock)
            clock.advance(minutes=7)  # past every head's 5 s and 5 min retries, jitter included
        assert sink.answered_ok() == []
        assert len(sink.received) == 9 and {r.payload["event"] for r in sink.received} == {"assigned"}  # later events waited
        sink.default = OK
        clock.advance(hours=1)  # the 30 min retries come due
        deliver(store, clock)
    assert sink.events_by_order() == {e: ["assigned", "in_route", "delivered"] for e in ids}
    assert sorted(sink.ids_answered_ok().values()) == [1] * 9
    with store.connect() as conn:
        statuses = conn.execute(sa.select(callback_outbox.c.status).distinct()).scalars().all()
    assert statuses == ["delivered"]

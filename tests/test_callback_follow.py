"""A delivery run follows the outbox (real store, real loopback endpoint): a status change made while
it watches is sent by the same run, and a retry is sent by the run that is up when it falls due,
never before its time; with nothing due soon the run ends after its idle time."""

from __future__ import annotations

import sqlalchemy as sa

from connectors.callback_sender import DeliveryReport, follow_outbox
from pipelines.clock import as_utc
from pipelines.orders.status import change_status
from pipelines.store.schema import callback_attempts, callback_outbox
from tests.callback_helpers import make_integration, order_records
from tests.callback_sink import CallbackSink, Reply


def test_a_change_made_while_the_run_watches_is_sent_by_that_run(sqlite_store):
    sink = CallbackSink()
    passes: list[DeliveryReport] = []
    with sink.serve() as url:
        _, ids = make_integration(sqlite_store, url, orders=order_records(2))
        change_status(sqlite_store, ids["PED-001"], "assigned", actor="test")

        def on_pass(report: DeliveryReport) -> None:
            passes.append(report)
            if len(passes) == 1:  # the first change is out; the next one happens while the run watches
                change_status(sqlite_store, ids["PED-002"], "assigned", actor="test")

        total = follow_outbox(sqlite_store, idle_seconds=1, poll_seconds=0.1, stay_for_retry_seconds=0, on_pass=on_pass)
    assert [p.total("delivered") for p in passes] == [1, 1]
    assert total.total("delivered") == 2 and len(sink.answered_ok()) == 2


def test_a_retry_is_sent_by_the_watching_run_when_it_falls_due(sqlite_store):
    sink = CallbackSink()
    with sink.serve() as url:
        _, ids = make_integration(
            sqlite_store, url, orders=order_records(1), callbacks={"retry_schedule_seconds": [2, 3600], "jitter_ratio": 0}
        )
        sink.plan_for("PED-001", Reply(503))  # the endpoint is down for the first attempt only
        change_status(sqlite_store, ids["PED-001"], "assigned", actor="test")
        total = follow_outbox(sqlite_store, idle_seconds=0, poll_seconds=0.1, stay_for_retry_seconds=10)
    assert (total.total("retried"), total.total("delivered")) == (1, 1)  # both attempts in this one call
    with sqlite_store.connect() as conn:
        attempts = [as_utc(t) for t in conn.execute(sa.select(callback_attempts.c.attempted_at).order_by(callback_attempts.c.id)).scalars()]
        status = conn.execute(sa.select(callback_outbox.c.status)).scalar_one()
    assert status == "delivered" and len(attempts) == 2
    assert (attempts[1] - attempts[0]).total_seconds() >= 2  # never before its scheduled time


def test_with_no_retry_due_soon_the_run_ends_after_its_idle_time(sqlite_store):
    sink = CallbackSink()
    with sink.serve() as url:
        _, ids = make_integration(
            sqlite_store, url, orders=order_records(1), callbacks={"retry_schedule_seconds": [3600], "jitter_ratio": 0}
        )
        sink.plan_for("PED-001", Reply(500))
        change_status(sqlite_store, ids["PED-001"], "assigned", actor="test")
        total = follow_outbox(sqlite_store, idle_seconds=0, poll_seconds=0.1, stay_for_retry_seconds=10, budget_seconds=600)
    assert total.total("retried") == 1 and total.seconds < 600  # ended idle, not by its budget
    with sqlite_store.connect() as conn:
        assert conn.execute(sa.select(callback_outbox.c.status)).scalar_one() == "pending"

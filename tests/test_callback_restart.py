"""Crossdock stopped mid-delivery and started again: nothing queued is lost, nothing recorded as
delivered is sent again, and what the dead pass sent but never recorded is re-sent with the same
webhook-id (so a deduplicating receiver processes every callback exactly once, in order)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import sqlalchemy as sa

from connectors.callback_sender import CallbackSender
from pipelines.clock import utcnow
from pipelines.orders.status import change_status
from pipelines.store.schema import callback_outbox
from tests.callback_helpers import FakeClock, make_integration, order_records, outbox_rows
from tests.callback_sink import CallbackSink

ANSWERED_BEFORE_THE_STOP = 25


def _delivered(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(callback_outbox.c.webhook_id).where(callback_outbox.c.status == "delivered")).scalars())


def test_a_pass_killed_mid_batch_then_restarted(store):
    sink = CallbackSink()
    sink.block_after = ANSWERED_BEFORE_THE_STOP  # then every request hangs until the process is gone
    with sink.serve() as url:
        _, ids = make_integration(store, url, orders=order_records(40))
        for order in ids.values():  # stamped with the real clock, which the delivery process uses
            change_status(store, order, "assigned", actor="cli")
            change_status(store, order, "cancelled", actor="cli")
        everything = {r["webhook_id"] for r in outbox_rows(store)}
        assert len(everything) == 80

        process = subprocess.Popen(
            [sys.executable, "-m", "crossdock", "callbacks", "deliver", "--workers", "4"],
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            assert sink.count_reached.wait(60), "the delivery pass never reached the sink"
            deadline = time.monotonic() + 30  # a real external process: bounded poll until it has recorded some
            while not _delivered(store) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            process.kill()
            process.wait(30)
        recorded_before_the_stop = _delivered(store)
        assert 0 < len(recorded_before_the_stop) <= ANSWERED_BEFORE_THE_STOP

        # Started again: a new pass (once the dead pass's claims have expired) finishes the job.
        sink.block_after = None
        sink.released.set()
        restarted = FakeClock(utcnow() + timedelta(hours=1))
        with CallbackSender(store, clock=restarted, workers=4) as sender:
            sender.deliver_due()

    assert _delivered(store) == everything  # nothing lost
    accepted = sink.ids_answered_ok()
    assert set(accepted) == everything
    sent_twice = {webhook_id for webhook_id, count in accepted.items() if count > 1}
    assert not sent_twice & recorded_before_the_stop  # nothing recorded as delivered went out again
    assert len(sent_twice) <= ANSWERED_BEFORE_THE_STOP - len(recorded_before_the_stop)
    assert all(events == ["assigned", "cancelled"] for events in sink.events_by_order().values())
    assert len(sink.events_by_order()) == 40

"""Replaying from the Dead letters page (AppTest): ticked inbox payloads and callbacks go back to their
queues with counts and per-row reasons for the rest, an integration's dead letters since a day, a 410
stop resumed, and the payloads of rejected records re-ingested after the mapping was fixed. Dead letters
are made the real way: the inbox processor on a broken body, the callback sender against a loopback sink."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from connectors.callback_sender import CallbackSender
from pipelines.inbox.processing import list_entries, process_batch, replay
from pipelines.integrations import WebhookIntegration, create_integration, get_integration, update_integration
from pipelines.orders.status import change_status
from pipelines.store.schema import inbox
from tests.apptest import log_in, start, texts
from tests.callback_helpers import FakeClock, make_integration, order_records, outbox_rows
from tests.callback_sink import OK, CallbackSink, Reply
from tests.inbox_rows import insert_pending

NO_RETRIES = {"retry_schedule_seconds": [], "jitter_ratio": 0}


def _dead_letters_page(name: str = "ana"):
    at = start()
    at.text_input(key="login.name").input(name)
    at = log_in(at)
    at.switch_page("app_pages/dead_letters.py").run()
    assert not at.exception, at.exception
    return at


def _tick(at, table: str, rows: list[int]):
    at.session_state[table] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def _table(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _said(elements, start: str) -> list[str]:
    """The messages of one kind starting with `start` (every tab of the page is drawn at once)."""
    return [text for text in texts(elements) if text.startswith(start)]


def _inbox_status(engine, inbox_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.select(inbox.c.status).where(inbox.c.id == inbox_id)).scalar_one()


def _dead_inbox_rows(engine, count: int) -> tuple[object, list[int]]:
    """`count` payloads the processor dead-letters (the body is not JSON), oldest first."""
    shop = create_integration(engine, WebhookIntegration(name="shopify_store"))
    ids = [insert_pending(engine, shop.id, b'{"id": 77, "customer": ') for _ in range(count)]
    process_batch(engine)
    assert [_inbox_status(engine, i) for i in ids] == ["dead"] * count
    return shop, ids


def _deliver(engine, clock, workers: int = 2) -> None:
    with CallbackSender(engine, clock=clock, workers=workers, flush_interval=0.05) as sender:
        sender.deliver_due()


def test_replay_selected_inbox_payloads_with_the_reason_for_a_row_taken_meanwhile(app_store):
    _, (first, second, third) = _dead_inbox_rows(app_store, 3)
    at = _dead_letters_page()
    assert at.button(key="dead.inbox.replay").disabled  # nothing ticked yet
    listed = _table(at, "Body starts with")["Id"].tolist()
    assert listed == [third, second, first]  # newest first
    at = _tick(at, "dead.inbox.table", [0, 2])  # third and first
    replay(app_store, actor="cli:otro", inbox_id=first)  # someone replayed it from the CLI while the page was open
    at.button(key="dead.inbox.replay").click().run()
    assert not at.exception

    (success,) = _said(at.success, "Replayed")
    assert success.startswith(f"Replayed 1 inbox payload(s): #{third}. They are pending again")
    (warning,) = texts(at.warning)
    assert f"**#{first}**: inbox row {first} is pending: the processor will take it" in warning
    assert [_inbox_status(app_store, i) for i in (first, second, third)] == ["pending", "dead", "pending"]
    replayed_by = {e.id: e.replayed_by for e in list_entries(app_store, status="pending")}
    assert replayed_by[first] == "cli:otro" and replayed_by[third].startswith("streamlit:")
    # The list is fresh, and the old selection did not carry over to other rows.
    assert _table(at, "Body starts with")["Id"].tolist() == [second]
    assert at.button(key="dead.inbox.replay").disabled
    assert at.tabs[0].label == "Inbox (1)"


def test_replay_an_integrations_dead_payloads_since_a_day(app_store):
    _, (old, recent) = _dead_inbox_rows(app_store, 2)
    with app_store.begin() as conn:
        conn.execute(inbox.update().where(inbox.c.id == old).values(received_at=datetime.now(UTC) - timedelta(days=3)))
    at = _dead_letters_page()
    assert at.selectbox(key="dead.inbox.bulk.integration").value == "shopify_store"
    at.date_input(key="dead.inbox.bulk.since").set_value(datetime.now(UTC).date() - timedelta(days=1)).run()
    at.button(key="dead.inbox.bulk.go").click().run()
    assert any(s.startswith("Replayed 1 dead payload(s) of shopify_store received since") for s in texts(at.success))
    assert (_inbox_status(app_store, old), _inbox_status(app_store, recent)) == ("dead", "pending")

    at.button(key="dead.inbox.bulk.go").click().run()
    assert any("Nothing to replay: shopify_store has no dead inbox payloads" in i for i in texts(at.info))
    assert not at.exception


def test_replay_selected_callbacks_then_they_are_delivered(app_store):
    sink = CallbackSink(default=Reply(500))
    clock = FakeClock()
    with sink.serve() as url:
        _, ids = make_integration(app_store, url, orders=order_records(2), callbacks=NO_RETRIES)
        for order in ids.values():
            change_status(app_store, order, "assigned", actor="cli", now=clock.now)
        _deliver(app_store, clock)
        dead = outbox_rows(app_store)
        assert [r["status"] for r in dead] == ["dead", "dead"]

        at = _dead_letters_page("ana")
        letters = _table(at, "Event")
        assert letters["Reason"].tolist() == ['HTTP 500: {"ok": true}'] * 2
        at = _tick(at, "dead.callbacks.table", [0, 1])
        assert at.button(key="dead.callbacks.replay").label == "Replay selected (2)"
        at.button(key="dead.callbacks.replay").click().run()
        assert not at.exception
        (success,) = _said(at.success, "Replayed")
        assert success.startswith("Replayed 2 callback(s):") and "original webhook-id" in success
        assert [(r["status"], r["replayed_by"]) for r in outbox_rows(app_store)] == [("pending", "streamlit:ana")] * 2
        assert any("No undelivered callbacks" in s for s in texts(at.success))
        assert at.session_state["dead.tabs"] == "Callbacks (0)"  # its count changed, the tab stays open

        sink.default = OK
        clock.move_to(datetime.now(UTC) + timedelta(seconds=1))  # the app re-queued them at the real now
        _deliver(app_store, clock)
    assert [r["status"] for r in outbox_rows(app_store)] == ["delivered", "delivered"]
    assert sorted(r.webhook_id for r in sink.answered_ok()) == sorted(r["webhook_id"] for r in dead)


def test_replay_every_dead_callback_of_an_integration_since_a_day(app_store):
    sink = CallbackSink(default=Reply(500))
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=3))
    with sink.serve() as url:
        _, ids = make_integration(app_store, url, orders=order_records(2), callbacks=NO_RETRIES)
        change_status(app_store, ids["PED-001"], "assigned", actor="cli", now=clock.now)
        clock.move_to(datetime.now(UTC) + timedelta(seconds=1))
        change_status(app_store, ids["PED-002"], "assigned", actor="cli", now=clock.now)
        _deliver(app_store, clock)
    assert [r["status"] for r in outbox_rows(app_store)] == ["dead", "dead"]

    at = _dead_letters_page()
    at.date_input(key="dead.callbacks.bulk.since").set_value(datetime.now(UTC).date() - timedelta(days=1)).run()
    at.button(key="dead.callbacks.bulk.go").click().run()
    assert any(s.startswith("Re-queued 1 dead callback(s) of cliente_abc queued since") for s in texts(at.success))
    assert [r["status"] for r in outbox_rows(app_store)] == ["dead", "pending"]
    assert not at.exception


def test_a_410_stop_is_shown_refuses_replays_and_is_resumed(app_store):
    sink = CallbackSink()
    clock = FakeClock()
    with sink.serve() as url:
        _, ids = make_integration(app_store, url, orders=order_records(2), callbacks=NO_RETRIES)
        sink.plan(Reply(410, body=b"endpoint retired"))
        for order in ids.values():
            change_status(app_store, order, "assigned", actor="cli", now=clock.now)
        _deliver(app_store, clock, workers=1)  # one at a time: the 410 stops the other before it is sent
        assert {r["status"] for r in outbox_rows(app_store)} == {"disabled"}
        reason = get_integration(app_store, "cliente_abc").callbacks_disabled_reason

        at = _dead_letters_page()
        assert f"Callbacks to **cliente_abc** are stopped: {reason}." in texts(at.error)[0]
        at = _tick(at, "dead.callbacks.table", [0])
        at.button(key="dead.callbacks.replay").click().run()
        (error,) = [e for e in texts(at.error) if e.startswith("Nothing was replayed")]
        assert "(1 callback(s) refused)" in error
        assert "callbacks to cliente_abc are stopped" in texts(at.warning)[0]
        at.button(key="dead.callbacks.bulk.go").click().run()
        assert any("Nothing was replayed: callbacks to cliente_abc are stopped" in e for e in texts(at.error))

        stored = get_integration(app_store, "cliente_abc")
        at.button(key=f"dead.callbacks.resume.{stored.id}").click().run()
        assert _said(at.success, "Callbacks to cliente_abc resumed; 2 stopped callback(s) re-queued.")
        assert get_integration(app_store, "cliente_abc").callbacks_disabled_reason is None
        assert not any("are stopped" in e for e in texts(at.error))
        clock.move_to(datetime.now(UTC) + timedelta(seconds=1))  # the app re-queued them at the real now
        _deliver(app_store, clock)
    assert [r["status"] for r in outbox_rows(app_store)] == ["delivered", "delivered"]
    assert not at.exception


def test_reingest_the_payload_of_rejected_records_after_fixing_the_mapping(app_store):
    shop = create_integration(
        app_store,
        WebhookIntegration(name="tienda", field_mapping={"external_id": "id", "client_name": "cliente", "address": "direccion"}),
    )
    inbox_id = insert_pending(app_store, shop.id, [{"id": "T-1", "nombre": "Ana", "direccion": "Zona 1"}])
    process_batch(app_store)
    assert _inbox_status(app_store, inbox_id) == "done"  # done, with its one record rejected
    update_integration(app_store, "tienda", {"field_mapping": {"external_id": "id", "client_name": "nombre", "address": "direccion"}})

    at = _dead_letters_page()
    assert "client_name: required field is missing" in _table(at, "Reasons")["Reasons"][0]
    at = _tick(at, "dead.rejected.table", [0])
    at.button(key="dead.rejected.replay").click().run()
    assert any(s.startswith(f"Replayed 1 payload(s): #{inbox_id}.") for s in texts(at.success))
    assert _inbox_status(app_store, inbox_id) == "pending"
    report = process_batch(app_store)
    assert report.outcomes[0].result.created == 1
    assert not at.exception

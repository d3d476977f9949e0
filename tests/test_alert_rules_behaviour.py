"""Rules end to end through their real causes, and the notification outbox's at-least-once delivery.

- a client's callback endpoint on loopback answers 410: the "callbacks stopped" alert fires naming the
  integration, and resolves once a person resumes the callbacks and they get through;
- dead letters in the inbox: one notification when they appear, one at once when more arrive, a
  reminder when they are still there after the re-notify interval, "resolved" once they are cleared;
- a notification claimed by a tick that died before sending is sent by a later pass once its lease
  ends, and one that was sent in time is never sent again.

Time moves through the `now` the alert evaluator and the outbox accept (never by sleeping); the
callback sender runs on the tests' hand-moved clock.
"""

from __future__ import annotations

from datetime import timedelta

from connectors.callback_sender import CallbackSender
from connectors.notify import deliver_due, send
from pipelines.alerts import alert_events_for, alert_history, evaluate_alerts, live_by_key, save_rule
from pipelines.alerts.channels import channel_for_sending, save_channel
from pipelines.alerts.conditions import alert_key
from pipelines.alerts.outbox import LEASE_SECONDS, claim_due, notifications_for, settle
from pipelines.callbacks.replay import resume_callbacks
from pipelines.clock import utcnow
from pipelines.inbox.processing import process_batch, replay
from pipelines.integrations import WebhookIntegration, create_integration, set_active
from pipelines.orders.status import change_status
from tests.callback_helpers import FakeClock, make_integration, order_records
from tests.callback_sink import CallbackSink, Reply
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api
from tests.inbox_rows import insert_pending
from tests.test_alerts import _api_integration, _chat_texts, _failed_sync


def _deliver_callbacks(engine, clock: FakeClock):
    with CallbackSender(engine, clock=clock, workers=1, flush_interval=0.05) as sender:
        return sender.deliver_due()


# -- callbacks stopped by a 410 ---------------------------------------------------------------------


def test_a_410_from_the_callback_endpoint_fires_the_callbacks_stopped_alert_naming_the_integration(sqlite_store):
    chat, endpoint = CallbackSink(), CallbackSink()
    clock = FakeClock()
    with chat.serve() as hook, endpoint.serve() as url:
        save_channel(sqlite_store, "ops chat", "slack", {"url": hook}, actor="test")
        stored, ids = make_integration(sqlite_store, url, orders=order_records(2), callbacks={"jitter_ratio": 0})
        endpoint.plan(Reply(410, body=b"endpoint retired"))
        change_status(sqlite_store, ids["PED-001"], "assigned", actor="cli", now=clock.now)
        assert _deliver_callbacks(sqlite_store, clock).total("disabled") == 1

        now = utcnow()
        first = evaluate_alerts(sqlite_store, None, now)
        deliver_due(sqlite_store, 10, now)
        evaluate_alerts(sqlite_store, None, now + timedelta(seconds=15))  # the next tick: nothing new
        deliver_due(sqlite_store, 10, now + timedelta(seconds=15))
        fired = _chat_texts(chat)

        resume_callbacks(sqlite_store, "cliente_abc", actor="cli:ana", now=clock.now)  # the client fixed the endpoint
        assert _deliver_callbacks(sqlite_store, clock).total("delivered") == 1
        later = now + timedelta(seconds=30)
        ended = evaluate_alerts(sqlite_store, None, later)
        deliver_due(sqlite_store, 10, later)

    key = alert_key("callbacks_disabled", stored.id)
    [stopped] = [c for c in first.conditions if c.key == key]
    assert stopped.subject == "cliente_abc"
    assert stopped.summary.startswith("callbacks stopped: 410 Gone from the callback endpoint at ")
    assert len(fired) == 1  # the other rule watching it (callbacks failing) holds 2 min before it fires
    assert fired[0].startswith("[FIRING] cliente_abc: Callbacks stopped by a 410")
    assert "410 Gone from the callback endpoint" in fired[0]
    assert ended.transitions.resolved == first.transitions.fired
    texts = _chat_texts(chat)
    assert len(texts) == 2 and texts[1].startswith("[RESOLVED] cliente_abc: Callbacks stopped by a 410")
    [history] = alert_history(sqlite_store, kind="callbacks_disabled")
    assert history.notified == ("ops chat",) and history.status == "resolved"


# -- dead letters -----------------------------------------------------------------------------------


def _dead_letter(engine, integration) -> None:
    """One payload dead-lettered as the processor does it: it arrived while the integration was off."""
    set_active(engine, integration.name, False)
    insert_pending(engine, integration.id, {"external_id": "X-1", "client_name": "Cliente", "address": "Zona 10"})
    process_batch(engine)
    set_active(engine, integration.name, True)


def test_dead_letters_notify_once_then_at_once_when_more_arrive_then_remind_then_resolve(sqlite_store):
    chat = CallbackSink()
    hook_integration = create_integration(sqlite_store, WebhookIntegration(name="cliente_abc", webhook={"ack_mode": "async"}))
    save_rule(sqlite_store, "dead_letters", enabled=True, params={"renotify_minutes": 60}, actor="test")
    start = utcnow()

    def tick(minutes: float) -> None:
        evaluate_alerts(sqlite_store, None, start + timedelta(minutes=minutes))
        deliver_due(sqlite_store, 10, start + timedelta(minutes=minutes))

    with chat.serve() as hook:
        save_channel(sqlite_store, "ops chat", "slack", {"url": hook}, actor="test")
        _dead_letter(sqlite_store, hook_integration)
        tick(0)
        tick(1)
        tick(20)  # still one dead letter, inside the re-notify interval: quiet
        after_first = _chat_texts(chat)
        _dead_letter(sqlite_store, hook_integration)
        tick(21)  # a new dead letter is news at once
        tick(22)
        after_growth = _chat_texts(chat)
        tick(75)  # nothing new, but the interval since the last message (at 21) has not passed
        tick(82)  # it has: a reminder
        tick(83)
        after_reminder = _chat_texts(chat)
        replay(sqlite_store, actor="cli:ana", integration_id=hook_integration.id)
        process_batch(sqlite_store)  # the integration is on now: both go through
        tick(84)
        tick(85)
    texts = _chat_texts(chat)

    assert len(after_first) == 1
    assert after_first[0].startswith("[FIRING] cliente_abc: Dead letters") and "1 dead letter in the inbox" in after_first[0]
    assert len(after_growth) == 2
    assert after_growth[1].startswith("[STILL FIRING] cliente_abc: Dead letters") and "2 dead letters" in after_growth[1]
    assert len(after_reminder) == 3 and after_reminder[2].startswith("[STILL FIRING] cliente_abc: Dead letters")
    assert len(texts) == 4 and texts[3].startswith("[RESOLVED] cliente_abc: Dead letters")
    [history] = alert_history(sqlite_store, kind="dead_letters")
    events = [(e.event, e.detail or "") for e in alert_events_for(sqlite_store, history.id)]
    assert [event for event, _ in events] == ["fired", "notified", "reminded", "notified", "reminded", "notified", "resolved", "notified"]
    assert events[2][1].startswith("grew: ") and not events[4][1].startswith("grew: ")
    assert not live_by_key(sqlite_store)


# -- at-least-once delivery: the lease --------------------------------------------------------------


def _one_queued_alert(engine, api_url: str, hook: str):
    """cliente_abc's sync failed and the evaluator queued its one 'fired' message; returns when."""
    save_channel(engine, "ops chat", "slack", {"url": hook}, actor="test")
    _api_integration(engine, api_url)
    _failed_sync(engine, "cliente_abc")
    now = utcnow()
    assert evaluate_alerts(engine, None, now).transitions.fired
    return now


def test_a_notification_whose_sender_died_after_claiming_it_is_sent_once_the_lease_ends(sqlite_store):
    chat = CallbackSink()
    with chat.serve() as hook, serve_client_api(ClientApi(seed_orders(3), faults=[500] * 50)) as url:
        now = _one_queued_alert(sqlite_store, url, hook)
        [claimed] = claim_due(sqlite_store, now)  # a tick took it, then died before sending or settling
        during = deliver_due(sqlite_store, 10, now + timedelta(seconds=LEASE_SECONDS - 1))
        nothing_yet = list(chat.received)
        after = deliver_due(sqlite_store, 10, now + timedelta(seconds=LEASE_SECONDS + 1))
        again = deliver_due(sqlite_store, 10, now + timedelta(seconds=3 * LEASE_SECONDS))
    assert during.sent == 0 and nothing_yet == []  # the lease holds it for the tick that claimed it
    assert after.sent == 1 and again.sent == 0
    texts = _chat_texts(chat)
    assert len(texts) == 1 and texts[0].startswith("[FIRING] cliente_abc: Last sync failed")
    [row] = notifications_for(sqlite_store, claimed.message.alert_id)
    assert (row.status, row.attempts) == ("sent", 2)


def test_a_notification_sent_within_its_lease_is_never_sent_again(sqlite_store):
    chat = CallbackSink()
    with chat.serve() as hook, serve_client_api(ClientApi(seed_orders(3), faults=[500] * 50)) as url:
        now = _one_queued_alert(sqlite_store, url, hook)
        [claimed] = claim_due(sqlite_store, now)
        where = send(channel_for_sending(sqlite_store, claimed.channel_id), claimed.message)
        settle(sqlite_store, claimed, None, where, now + timedelta(seconds=5))
        later = [deliver_due(sqlite_store, 10, now + timedelta(seconds=s)).sent for s in (LEASE_SECONDS + 1, 10 * LEASE_SECONDS)]
    assert later == [0, 0]
    assert len(_chat_texts(chat)) == 1
    [row] = notifications_for(sqlite_store, claimed.message.alert_id)
    assert (row.status, row.attempts) == ("sent", 1)


def test_a_late_failure_of_a_dead_claim_leaves_the_new_claim_alone(sqlite_store):
    chat = CallbackSink()
    with chat.serve() as hook, serve_client_api(ClientApi(seed_orders(3), faults=[500] * 50)) as url:
        now = _one_queued_alert(sqlite_store, url, hook)
        [stale] = claim_due(sqlite_store, now)
        [fresh] = claim_due(sqlite_store, now + timedelta(seconds=LEASE_SECONDS + 1))  # the lease ran out: taken again
        settle(sqlite_store, stale, "the first sender's send timed out", "", now + timedelta(seconds=LEASE_SECONDS + 2))
        # The stale failure did not shorten the new claim's lease to its 15 s retry: nobody takes the row meanwhile.
        assert claim_due(sqlite_store, now + timedelta(seconds=LEASE_SECONDS + 30)) == []
        where = send(channel_for_sending(sqlite_store, fresh.channel_id), fresh.message)
        settle(sqlite_store, fresh, None, where, now + timedelta(seconds=LEASE_SECONDS + 3))
    assert len(_chat_texts(chat)) == 1
    [row] = notifications_for(sqlite_store, fresh.message.alert_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


# -- who changed the rules and channels -------------------------------------------------------------


def test_rule_and_channel_changes_are_audited_with_secrets_masked(sqlite_store):
    from pipelines.access import audit
    from pipelines.access.audit import MASK
    from pipelines.alerts import reset_rule
    from pipelines.alerts.channels import delete_channel

    hook = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"
    channel = save_channel(sqlite_store, "ops chat", "slack", {"url": hook}, actor="user:ana")
    save_channel(
        sqlite_store, "ops chat", "slack", {"url": hook.replace("XXXX", "YYYY")}, actor="user:ana", enabled=False, channel_id=channel
    )
    save_rule(sqlite_store, "inbox_backlog", enabled=True, params={"max_age_minutes": 15}, actor="user:ana")
    assert reset_rule(sqlite_store, "inbox_backlog", actor="user:luis")
    assert not reset_rule(sqlite_store, "inbox_backlog", actor="user:luis")  # nothing to reset: nothing recorded
    delete_channel(sqlite_store, channel, actor="user:luis")
    with sqlite_store.connect() as conn:
        entries = list(reversed(audit.entries(conn).items))
    assert [(e.actor, e.action, e.subject) for e in entries] == [
        ("user:ana", "channel.saved", "channel:ops chat"),
        ("user:ana", "channel.saved", "channel:ops chat"),
        ("user:ana", "alert_rule.saved", "alert_rule:inbox_backlog"),
        ("user:luis", "alert_rule.reset", "alert_rule:inbox_backlog"),
        ("user:luis", "channel.deleted", "channel:ops chat"),
    ]
    assert entries[1].details["changes"] == {"enabled": {"from": True, "to": False}, "url": {"from": MASK, "to": MASK}}
    assert entries[2].details["params"] == {"max_age_minutes": 15}
    assert "secret" not in str([e.details for e in entries])

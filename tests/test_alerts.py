"""Alerts: the rules find what the dashboard shows, the life cycle notifies once, reminds, resolves and
never repeats itself across evaluators; channels send to a real SMTP server (STARTTLS and login) and
to real HTTP sinks on loopback; a failing channel never blocks the others and shows as failing."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import dagster as dg
import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from assets.alerts import alerts_sensor, alerts_tick
from assets.resources import StoreResource
from connectors.notify import deliver_due, send_test
from connectors.pull import pull
from pipelines.alerts import acknowledge, alert_events_for, alert_history, evaluate_alerts, live_by_key, save_rule, snooze
from pipelines.alerts.channels import ChannelError, failing_channels, list_channels, save_channel
from pipelines.alerts.conditions import alert_key, classify
from pipelines.alerts.outbox import notifications_for
from pipelines.clock import utcnow
from pipelines.ops.monitoring import Problem, ProblemKind, integration_health
from pipelines.sources import PullError
from pipelines.store.schema import alert_channels, alert_notifications
from tests.callback_sink import CallbackSink, Drop, Reply
from tests.conftest import load_example
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api
from tests.processes import ROOT
from tests.smtp_server import PASSWORD, smtp_server

NO_WAIT = {"renotify_minutes": 30}


def _api_integration(engine, base_url: str, name: str = "cliente_abc"):
    from pipelines.integrations import create_integration, parse_integration

    document = load_example("api_polling_integration.json")
    document["endpoint"] = f"{base_url}/orders?status=pending"
    document["name"] = name
    return create_integration(engine, parse_integration(document))


def _failed_sync(engine, name: str) -> None:
    with pytest.raises(PullError):
        pull(engine, name, sleep=lambda _: None)


def _chat_texts(sink: CallbackSink) -> list[str]:
    return [r.payload["text"] for r in sink.answered_ok()]


# -- channels ---------------------------------------------------------------------------------------


def test_email_goes_through_starttls_and_login_and_reads_back(sqlite_store, tmp_path):
    with smtp_server(tmp_path) as smtp:
        channel = save_channel(sqlite_store, "ops mail", "email", smtp.channel_settings(), actor="test")
        worked, where = send_test(sqlite_store, channel)
        messages = smtp.mailbox.wait_for(1)
        wrong = save_channel(sqlite_store, "bad login", "email", smtp.channel_settings(password="nope"), actor="test")
        refused, why = send_test(sqlite_store, wrong)
    assert worked, where
    assert where == "email to ops@example.com"
    assert len(messages) == 1
    assert messages[0]["Subject"] == "[TEST] ops mail: test"
    assert messages[0]["To"] == "ops@example.com"
    assert "this channel works" in messages[0].get_body(("plain",)).get_content()
    assert "Open in Crossdock" in messages[0].get_body(("html",)).get_content()
    assert not refused and why == "SMTP login refused (535)"
    assert [c.name for c in failing_channels(sqlite_store)] == ["bad login"]


def test_channel_secrets_are_encrypted_at_rest_and_masked(sqlite_store, tmp_path):
    with smtp_server(tmp_path) as smtp:
        channel = save_channel(sqlite_store, "ops mail", "email", smtp.channel_settings(), actor="test")
    save_channel(sqlite_store, "slack", "slack", {"url": "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"}, actor="test")
    with sqlite_store.connect() as conn:
        raw = " ".join(str(v) for row in conn.execute(sa.select(alert_channels)) for v in row)
    assert PASSWORD not in raw and "XXXXsecretXXXX" not in raw
    shown = {c.name: c.settings for c in list_channels(sqlite_store)}
    assert PASSWORD not in str(shown) and "XXXXsecretXXXX" not in str(shown)
    # Saving the form back with the masks keeps the real secrets.
    save_channel(sqlite_store, "ops mail", "email", shown["ops mail"], actor="test", channel_id=channel)
    with smtp_server(tmp_path) as smtp:  # a new server, same password: the stored one still logs in
        save_channel(
            sqlite_store,
            "ops mail",
            "email",
            {**shown["ops mail"], "port": smtp.port, "ca_file": smtp.ca_file},
            actor="test",
            channel_id=channel,
        )
        assert send_test(sqlite_store, channel) == (True, "email to ops@example.com")
    with pytest.raises(ChannelError, match="url"):
        save_channel(sqlite_store, "teams", "teams", {"url": "ftp://example.com"}, actor="test")


@pytest.mark.parametrize(("kind", "marker"), [("slack", "blocks"), ("teams", "attachments"), ("google_chat", "text")])
def test_chat_webhooks_get_their_own_shape(sqlite_store, kind, marker):
    sink = CallbackSink()
    with sink.serve() as url:
        channel = save_channel(sqlite_store, kind, kind, {"url": url}, actor="test")
        worked, where = send_test(sqlite_store, channel)
    assert worked, where
    assert where.endswith("(HTTP 200)")
    [received] = sink.answered_ok()
    assert marker in received.payload


def test_generic_webhook_is_signed_like_callbacks(sqlite_store):
    sink = CallbackSink()
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    with sink.serve() as url:
        channel = save_channel(sqlite_store, "hook", "webhook", {"url": url, "secret": secret}, actor="test")
        assert send_test(sqlite_store, channel)[0]
    [received] = sink.answered_ok()
    headers = {k: received.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    verified = Webhook(secret).verify(received.body, headers)
    assert verified["event"] == "alert.test"
    assert "x-crossdock-signature" in received.headers


# -- rules and life cycle ---------------------------------------------------------------------------


def test_the_alerts_and_the_dashboard_come_from_the_same_problems(sqlite_store):
    api = ClientApi(seed_orders(3), faults=[500] * 50)
    with serve_client_api(api) as url:
        _api_integration(sqlite_store, url)
        _failed_sync(sqlite_store, "cliente_abc")
    evaluation = evaluate_alerts(sqlite_store, None)
    [health] = integration_health(sqlite_store)
    assert health.needs_person
    dashboard_keys = {alert_key(classify(p), health.id) for p in health.problems if classify(p)}
    assert {c.key for c in evaluation.conditions} == dashboard_keys
    assert dashboard_keys == {alert_key("sync_failed", health.id)}


def test_one_notification_then_reminders_then_resolved_and_nothing_twice(store):
    sink = CallbackSink()
    api = ClientApi(seed_orders(3), faults=[500] * 50)
    with sink.serve() as hook, serve_client_api(api) as url:
        save_channel(store, "chat", "slack", {"url": hook}, actor="test")
        _api_integration(store, url)
        save_rule(store, "sync_failed", enabled=True, params=NO_WAIT, actor="test")
        save_rule(store, "freshness", enabled=False, params={}, actor="test")  # hours pass in this test
        _failed_sync(store, "cliente_abc")
        now = utcnow()
        for evaluator in range(2):  # two evaluators over one store, one after the other: one alert, one message
            evaluate_alerts(store, None, now + timedelta(seconds=evaluator))
            deliver_due(store, 10, now + timedelta(seconds=evaluator))
        assert len(_chat_texts(sink)) == 1 and _chat_texts(sink)[0].startswith("[FIRING] cliente_abc: Last sync failed")
        evaluate_alerts(store, None, now + timedelta(minutes=31))
        deliver_due(store, 10, now + timedelta(minutes=31))
        assert _chat_texts(sink)[1].startswith("[STILL FIRING]")
        [alert] = live_by_key(store).values()
        acknowledge(store, alert.id, "streamlit:ana")
        evaluate_alerts(store, None, now + timedelta(minutes=65))
        deliver_due(store, 10, now + timedelta(minutes=65))
        assert len(_chat_texts(sink)) == 2  # acknowledged: no more reminders
        api.faults.clear()
        pull(store, "cliente_abc", sleep=lambda _: None)  # the API answers again
        evaluate_alerts(store, None, now + timedelta(minutes=66))
        evaluate_alerts(store, None, now + timedelta(minutes=67))
        deliver_due(store, 10, now + timedelta(minutes=67))
    texts = _chat_texts(sink)
    assert len(texts) == 3 and texts[2].startswith("[RESOLVED] cliente_abc")
    [history] = alert_history(store)
    assert history.status == "resolved" and history.acknowledged_by == "streamlit:ana" and history.notified == ("chat",)
    events = [e.event for e in alert_events_for(store, history.id)]
    assert events == ["fired", "notified", "reminded", "notified", "acknowledged", "resolved", "notified"]


def test_snooze_holds_reminders_and_records_who(sqlite_store):
    sink = CallbackSink()
    api = ClientApi(seed_orders(3), faults=[500] * 50)
    with sink.serve() as hook, serve_client_api(api) as url:
        save_channel(sqlite_store, "chat", "google_chat", {"url": hook}, actor="test")
        _api_integration(sqlite_store, url)
        save_rule(sqlite_store, "sync_failed", enabled=True, params=NO_WAIT, actor="test")
        save_rule(sqlite_store, "freshness", enabled=False, params={}, actor="test")  # hours pass in this test
        _failed_sync(sqlite_store, "cliente_abc")
        now = utcnow()
        evaluate_alerts(sqlite_store, None, now)
        [alert] = live_by_key(sqlite_store).values()
        snooze(sqlite_store, alert.id, 120, "streamlit:luis", now=now)
        evaluate_alerts(sqlite_store, None, now + timedelta(minutes=45))
        deliver_due(sqlite_store, 10, now + timedelta(minutes=45))
    assert len(sink.answered_ok()) == 1  # the first notification only
    [alert] = live_by_key(sqlite_store).values()
    assert alert.snoozed_by == "streamlit:luis"
    assert [e.actor for e in alert_events_for(sqlite_store, alert.id) if e.event == "snoozed"] == ["streamlit:luis"]


def test_a_failing_channel_never_blocks_the_others_and_shows_as_failing(store):
    down, up = CallbackSink(default=Drop()), CallbackSink()
    api = ClientApi(seed_orders(3), faults=[500] * 50)
    with down.serve() as bad, up.serve() as good, serve_client_api(api) as url:
        save_channel(store, "broken", "teams", {"url": bad}, actor="test")
        save_channel(store, "works", "slack", {"url": good}, actor="test")
        _api_integration(store, url)
        _failed_sync(store, "cliente_abc")
        evaluate_alerts(store, None)
        result = deliver_due(store, 10)
    assert result.sent == 1 and result.failed == 1
    assert len(up.answered_ok()) == 1
    [failing] = failing_channels(store)
    assert failing.name == "broken" and failing.last_error
    with store.connect() as conn:
        statuses = sorted(conn.execute(sa.select(alert_notifications.c.status)).scalars())
    assert statuses == ["pending", "sent"]  # the broken channel's message waits for its retry


def test_a_rule_turned_off_closes_its_alert_without_a_resolved_message(sqlite_store):
    sink = CallbackSink(default=Reply(200))
    api = ClientApi(seed_orders(3), faults=[500] * 50)
    with sink.serve() as hook, serve_client_api(api) as url:
        save_channel(sqlite_store, "chat", "slack", {"url": hook}, actor="test")
        integration = _api_integration(sqlite_store, url)
        _failed_sync(sqlite_store, "cliente_abc")
        evaluate_alerts(sqlite_store, None)
        deliver_due(sqlite_store, 10)
        save_rule(sqlite_store, "sync_failed", enabled=False, params={}, actor="test", integration_id=integration.id)
        evaluate_alerts(sqlite_store, None)
        deliver_due(sqlite_store, 10)
    assert len(sink.answered_ok()) == 1
    [history] = alert_history(sqlite_store)
    assert history.status == "resolved"
    assert alert_events_for(sqlite_store, history.id)[-1].detail == "its rule was turned off"
    assert [n.message for n in notifications_for(sqlite_store, history.id)] == ["fired"]


# -- end to end -------------------------------------------------------------------------------------


def _sensor_tick(instance: dg.DagsterInstance) -> str:
    """One tick of the real `alerts` sensor, as the daemon runs it."""
    context = dg.build_sensor_context(instance=instance, resources={"store": StoreResource()})
    result = alerts_sensor(context)
    return str(result.skip_message if isinstance(result, dg.SkipReason) else result)


def _tick_in_another_process(engine) -> str:
    """One evaluation and delivery pass by a separate Python process over the same store."""
    code = (
        "import sys; from assets.alerts import alerts_tick; from pipelines.store.engine import make_engine; "
        "print(alerts_tick(make_engine(sys.argv[1]), None).summary())"
    )
    done = subprocess.run([sys.executable, "-c", code, str(engine.url)], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.e2e  # starts a second Python process that evaluates and delivers over the same store
def test_end_to_end_client_api_fails_email_and_chat_arrive_then_resolved_and_nothing_twice(sqlite_store, tmp_path):
    """The `alerts` sensor's ticks, each with a fresh evaluator over the same store (a restarted daemon)."""
    chat = CallbackSink()
    api = ClientApi(seed_orders(3), faults=[500] * 50)
    with smtp_server(tmp_path) as smtp, chat.serve() as hook, serve_client_api(api) as url, dg.instance_for_test() as instance:
        save_channel(sqlite_store, "ops mail", "email", smtp.channel_settings(), actor="test")
        save_channel(sqlite_store, "ops chat", "slack", {"url": hook}, actor="test")
        _api_integration(sqlite_store, url)
        _failed_sync(sqlite_store, "cliente_abc")
        first = _sensor_tick(instance)
        assert first.startswith("1 fired; 2 notification(s) sent")
        mail = smtp.mailbox.wait_for(1)
        assert mail[0]["Subject"] == "[FIRING] cliente_abc: Last sync failed"
        assert "HTTP 500" in mail[0].get_body(("plain",)).get_content()
        assert _chat_texts(chat)[0].startswith("[FIRING] cliente_abc: Last sync failed")
        with dg.instance_for_test() as restarted:  # the daemon restarted: a new instance, nothing remembered in memory
            assert _sensor_tick(restarted).startswith("nothing changed; 0 notification(s) sent")
        assert _tick_in_another_process(sqlite_store).startswith("nothing changed; 0 notification(s) sent")
        api.faults.clear()
        pull(sqlite_store, "cliente_abc", sleep=lambda _: None)  # the client's API recovered
        assert _sensor_tick(instance).startswith("1 resolved; 2 notification(s) sent")
        mail = smtp.mailbox.wait_for(2)
        assert _sensor_tick(instance).startswith("nothing changed; 0 notification(s) sent")
    assert [m["Subject"] for m in mail] == ["[FIRING] cliente_abc: Last sync failed", "[RESOLVED] cliente_abc: Last sync failed"]
    assert len(smtp.mailbox.messages) == 2
    texts = _chat_texts(chat)
    assert len(texts) == 2 and texts[1].startswith("[RESOLVED] cliente_abc")


def test_tick_without_dagster_keeps_dagster_alerts_as_they_are(sqlite_store):
    tick = alerts_tick(sqlite_store, None)
    assert tick.evaluation.evaluated.isdisjoint({"dagster_queue", "dagster_failed_runs"})
    assert tick.summary() == "nothing changed; 0 notification(s) sent, 0 failed"


def test_a_signature_failure_spike_at_the_real_receiver_fires_once(sqlite_store):
    import requests

    from tests.receiver_helpers import integration, running

    integration(sqlite_store)
    save_rule(sqlite_store, "signature_failures", enabled=True, params={"threshold": 5, "window_minutes": 5}, actor="test")
    with running(sqlite_store) as url:
        refused = [
            requests.post(
                f"{url}/webhook/cliente_abc", data=b"{}", headers={"X-API-Key": f"guess-{i}", "Content-Type": "application/json"}
            ).status_code
            for i in range(6)
        ]
        # An accepted request after them proves their diagnostic rows were written (same queue, in order).
        requests.post(
            f"{url}/webhook/cliente_abc", data=b'{"x": 1}', headers={"X-API-Key": "secreto_compartido", "Content-Type": "application/json"}
        )
    assert refused == [401] * 6
    first = evaluate_alerts(sqlite_store, None)
    again = evaluate_alerts(sqlite_store, None)
    [condition] = [c for c in first.conditions if c.kind == "signature_failures"]
    assert condition.summary.startswith("6 requests refused with 401 in the last 5 min")
    assert len(first.transitions.fired) == 1 and not again.transitions.fired


def test_an_alert_that_ends_before_its_first_message_went_out_ends_quietly(sqlite_store):
    sink = CallbackSink()
    api = ClientApi(seed_orders(3), faults=[500] * 50)
    with sink.serve() as hook, serve_client_api(api) as url:
        save_channel(sqlite_store, "chat", "slack", {"url": hook}, actor="test")
        _api_integration(sqlite_store, url)
        _failed_sync(sqlite_store, "cliente_abc")
        assert evaluate_alerts(sqlite_store, None).transitions.fired
        api.faults.clear()
        pull(sqlite_store, "cliente_abc", sleep=lambda _: None)
        assert evaluate_alerts(sqlite_store, None).transitions.resolved
        result = deliver_due(sqlite_store, 10)
    assert result.sent == 0 and sink.received == []
    [history] = alert_history(sqlite_store)
    assert sorted(n.status for n in notifications_for(sqlite_store, history.id)) == ["skipped", "skipped"]


def test_dagster_rules_read_failed_and_queued_runs_from_the_instance(sqlite_store):
    from tests.test_queue_status import _run

    @dg.asset
    def breaks() -> None:
        raise RuntimeError("the client's database refused the query")

    save_rule(sqlite_store, "dagster_queue", enabled=True, params={"max_queued_minutes": 0}, actor="test")
    with dg.instance_for_test() as instance:
        assert not dg.materialize([breaks], instance=instance, raise_on_error=False).success
        _run(instance, "scheduled_polls_job", dg.DagsterRunStatus.QUEUED)  # queued a moment ago: over 0 min
        first = alerts_tick(sqlite_store, instance)
        assert {c.kind for c in first.evaluation.conditions} == {"dagster_failed_runs", "dagster_queue"}
        [failed] = [c for c in first.evaluation.conditions if c.kind == "dagster_failed_runs"]
        assert failed.summary.startswith("1 run failed in the last 15 min: __ephemeral_asset_job__")
        [queued] = [c for c in first.evaluation.conditions if c.kind == "dagster_queue"]
        assert "1 scheduled_polls" in queued.summary
        assert len(first.evaluation.transitions.fired) == 2
        assert not alerts_tick(sqlite_store, instance).evaluation.transitions.fired


def test_rejection_rate_over_the_window_fires_with_the_top_reason(sqlite_store):
    from pipelines.ingest import ingest
    from pipelines.integrations import WebhookIntegration, create_integration

    hook = create_integration(sqlite_store, WebhookIntegration(name="cliente_abc"))
    good = [{"external_id": f"G-{i}", "client_name": f"Cliente {i}", "address": "Zona 10"} for i in range(15)]
    bad = [{"external_id": f"B-{i}", "address": "Zona 10"} for i in range(5)]  # no client name
    ingest(sqlite_store, hook, good + bad, source_kind="test")
    save_rule(
        sqlite_store, "rejection_rate", enabled=True, params={"threshold_pct": 20, "min_records": 20}, actor="test", integration_id=hook.id
    )
    fired = evaluate_alerts(sqlite_store, None)
    [condition] = [c for c in fired.conditions if c.kind == "rejection_rate"]
    assert condition.summary.startswith("25.0 % of records rejected over the last 60 min (5 of 20), mostly client_name")
    save_rule(sqlite_store, "rejection_rate", enabled=True, params={"threshold_pct": 30}, actor="test", integration_id=hook.id)
    assert evaluate_alerts(sqlite_store, None).transitions.resolved == fired.transitions.fired


@pytest.mark.parametrize(
    ("kind", "rule"),
    [
        (ProblemKind.SYNC_FAILED, "sync_failed"),
        (ProblemKind.STALE, "freshness"),
        (ProblemKind.DEAD_LETTERS, "dead_letters"),
        (ProblemKind.CALLBACKS_UNDELIVERED, "callbacks_failing"),
        (ProblemKind.CALLBACKS_STOPPED, "callbacks_disabled"),
        (ProblemKind.REJECTED, "rejection_rate"),
        (ProblemKind.REJECTED_REPEAT, "rejection_rate"),
    ],
)
def test_a_dashboard_line_links_to_its_rule_by_kind_whatever_its_wording(kind, rule):
    assert classify(Problem(kind, "hace 5 min: algo se ha reformulado")) == rule

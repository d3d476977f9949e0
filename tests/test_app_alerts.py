"""The Alerts page and the dashboard's links to it, through AppTest: open alerts acknowledged and
snoozed by the logged-in person, a channel's "send a test" reaching a real HTTP sink on loopback,
a rule changed from the page, and each "needs a person" line pointing at its alert."""

from __future__ import annotations

import pytest

from pipelines.access import audit
from pipelines.alerts import alert_events_for, evaluate_alerts, live_alerts, load_rules
from pipelines.alerts.channels import list_channels, save_channel
from pipelines.ops.manager_reports import list_schedules
from tests.apptest import open_page, texts
from tests.callback_sink import CallbackSink, Drop
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api
from tests.test_alerts import _api_integration, _failed_sync
from tests.test_app_roles import PASSWORD, VISIBLE, log_in
from tests.test_manager_reports import _synced


@pytest.fixture
def firing(app_store):
    """cliente_abc's last sync failed, and the alerts evaluator has seen it."""
    api = ClientApi(seed_orders(3), faults=[500] * 50)
    with serve_client_api(api) as url:
        _api_integration(app_store, url)
        _failed_sync(app_store, "cliente_abc")
    evaluate_alerts(app_store, None)
    [alert] = live_alerts(app_store)
    return alert


def test_the_dashboard_links_each_needs_a_person_line_to_its_alert(firing):
    at = open_page("dashboard")
    [needs] = [e for e in texts(at.error) if "Needs a person" in e]
    assert "**cliente_abc**: last sync failed" in needs
    assert f"[alert #{firing.id}](/alerts?alert={firing.id})" in needs


def test_open_alert_acknowledged_then_snoozed_by_the_person_logged_in(firing, app_store):
    at = open_page("alerts")
    assert "cliente_abc" in at.dataframe[0].value["Subject"].tolist()
    at.button(key=f"ack.{firing.id}").click().run()
    assert not at.exception, at.exception
    at.button(key=f"snooze.{firing.id}").click().run()
    events = alert_events_for(app_store, firing.id)
    assert [e.event for e in events][-2:] == ["acknowledged", "snoozed"]
    assert all(e.actor.startswith("streamlit:") for e in events[-2:])
    [alert] = live_alerts(app_store)
    assert alert.acknowledged_by.startswith("streamlit:") and alert.snoozed_by.startswith("streamlit:")


def test_send_a_test_reaches_the_channel_and_a_failing_one_says_why(app_store):
    good, bad = CallbackSink(), CallbackSink(default=Drop())
    with good.serve() as good_url, bad.serve() as bad_url:
        ok = save_channel(app_store, "team chat", "slack", {"url": good_url}, actor="test")
        down = save_channel(app_store, "old teams", "teams", {"url": bad_url}, actor="test")
        at = open_page("alerts")
        at.button(key=f"test.{ok}").click().run()
        assert any("team chat: test sent (Slack (HTTP 200))" in s for s in texts(at.success))
        at.button(key=f"test.{down}").click().run()
    assert len(good.answered_ok()) == 1
    assert any(e.startswith("old teams: ") for e in texts(at.error))
    assert "failing since" in "\n".join(texts(at.markdown))
    assert bad_url not in "\n".join(texts(at.markdown) + texts(at.error))  # a chat URL is a credential


def test_a_rule_saved_from_the_page(app_store):
    at = open_page("alerts")
    at.selectbox(key="rule.kind").select("inbox_backlog").run()
    at.number_input(key="rule.inbox_backlog.All integrations.max_age_minutes").set_value(15)
    [save] = [b for b in at.button if b.label == "Save rule"]
    save.click().run()
    assert not at.exception, at.exception
    assert load_rules(app_store).rule("inbox_backlog").value("max_age_minutes") == 15


def test_reports_page_prepares_the_pdf_and_adds_a_recipient_list(app_store):
    _synced(app_store, 3)
    channel = save_channel(app_store, "mail", "email", {"host": "127.0.0.1", "sender": "crossdock@example.com"}, actor="test")
    at = open_page("reports")
    at.button(key="reports.pdf.prepare").click().run()
    assert not at.exception, at.exception
    at.text_input(key="schedule.name").input("managers")
    at.text_input(key="schedule.recipients").input("boss@example.com, ceo@example.com")
    [add] = [b for b in at.button if b.label == "Add recipient list"]
    add.click().run()
    assert not at.exception, at.exception
    [schedule] = list_schedules(app_store)
    assert (schedule.name, schedule.recipients, schedule.channel_id) == ("managers", ["boss@example.com", "ceo@example.com"], channel)


def test_a_failing_channel_shows_on_the_dashboard_and_history_lists_the_alert(firing, app_store):
    from connectors.notify import deliver_due

    down = CallbackSink(default=Drop())
    with down.serve() as url:
        save_channel(app_store, "old teams", "teams", {"url": url}, actor="test")
        evaluate_alerts(app_store, None)  # the alert is open; a new channel gets no 'fired' for it
        from connectors.notify import send_test

        channel = [c for c in list_channels(app_store) if c.name == "old teams"][0]
        assert send_test(app_store, channel.id)[0] is False
        deliver_due(app_store, 10)
    at = open_page("dashboard")
    [needs] = [e for e in texts(at.error) if "Needs a person" in e]
    assert "**Alert channel old teams**: failing since" in needs
    at = open_page("alerts")
    [history] = [d.value for d in at.dataframe if "Fired" in d.value.columns]
    assert history["Subject"].tolist() == ["cliente_abc"] and history["Rule"].tolist() == ["Last sync failed"]


# -- by role ----------------------------------------------------------------------------------------


@pytest.fixture
def accounts(sqlite_store, monkeypatch):
    """The app signs people in with accounts, one of every role (named after it)."""
    from pipelines.access import users

    monkeypatch.setenv("CROSSDOCK_APP_AUTH", "accounts")
    with sqlite_store.begin() as conn:
        for role in VISIBLE:
            users.add(conn, role, role, PASSWORD, actor="test", must_change=False)
    return sqlite_store


@pytest.fixture
def firing_for_accounts(accounts):
    """An open alert, in a store whose app signs people in with accounts of every role."""
    api = ClientApi(seed_orders(3), faults=[500] * 50)
    with serve_client_api(api) as url:
        _api_integration(accounts, url)
        _failed_sync(accounts, "cliente_abc")
    evaluate_alerts(accounts, None)
    [alert] = live_alerts(accounts)
    return alert


@pytest.mark.parametrize(
    ("role", "acts", "manages"),
    [
        ("viewer", False, False),
        ("analyst", False, False),
        ("operator", True, False),
        ("admin", True, True),
    ],
)
def test_the_alerts_page_by_role(firing_for_accounts, role, acts, manages):
    at = log_in(role)
    at.switch_page("app_pages/alerts.py").run()
    assert not at.exception, at.exception
    assert [t.label for t in at.tabs] == ["Open alerts", "History"] + (["Rules", "Channels"] if manages else [])
    actions = {f"ack.{firing_for_accounts.id}", f"snooze.{firing_for_accounts.id}"}
    assert actions & {b.key for b in at.button} == (actions if acts else set())
    assert ("Acknowledging and snoozing an alert needs the operator role." in texts(at.caption)) is not acts
    assert any(b.label == "Save rule" for b in at.button) is manages


def test_an_operator_acknowledges_and_snoozes_and_the_audit_log_says_who(firing_for_accounts, accounts):
    alert_id = firing_for_accounts.id
    at = log_in("operator")
    at.switch_page("app_pages/alerts.py").run()
    at.button(key=f"ack.{alert_id}").click().run()
    assert not at.exception, at.exception
    at.button(key=f"snooze.{alert_id}").click().run()
    assert not at.exception, at.exception
    at.button(key=f"unsnooze.{alert_id}").click().run()
    assert not at.exception, at.exception
    with accounts.connect() as conn:
        entries = [(e.actor, e.action, e.subject, e.details["about"]) for e in audit.entries(conn, subject=f"alert:{alert_id}").items]
    assert entries == [
        ("user:operator", action, f"alert:{alert_id}", "cliente_abc")
        for action in ("alert.unsnoozed", "alert.snoozed", "alert.acknowledged")
    ]  # newest first
    [alert] = live_alerts(accounts)
    assert alert.acknowledged_by == "user:operator" and alert.snoozed_until is None


@pytest.mark.parametrize(("role", "manages"), [("viewer", False), ("operator", False), ("admin", True)])
def test_recipient_lists_of_the_reports_are_changed_by_admins_only(accounts, role, manages):
    from pipelines.ops.manager_reports import save_schedule

    _synced(accounts, 3)  # the page shows its recipient lists below a report with something in it
    channel = save_channel(accounts, "mail", "email", {"host": "127.0.0.1", "sender": "crossdock@example.com"}, actor="test")
    schedule = save_schedule(accounts, "managers", "daily", ["boss@example.com"], channel, actor="test")
    at = log_in(role)
    at.switch_page("app_pages/reports.py").run()
    assert not at.exception, at.exception
    assert "**managers** · daily · to boss@example.com" in "\n".join(texts(at.markdown))
    assert any(b.label == "Add recipient list" for b in at.button) is manages
    assert (f"schedule.delete.{schedule}" in {b.key for b in at.button}) is manages
    assert ("Adding or removing a recipient list needs the admin role." in texts(at.caption)) is not manages

"""Alerts: what is firing now (acknowledge, snooze), every alert's history, the rules (on from a fresh
install; change them globally or per integration) and the channels alerts go to, each with a
"send a test" button. The `alerts` sensor in Dagster evaluates the rules and sends; this page only
reads and records what people decide.

By role (`pipelines.access.policy`): every role reads the open alerts and the history (the dashboard
links its "needs a person" lines here); operators also acknowledge and snooze, as part of running
things day to day; only admins see the Rules and Channels tabs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from app.auth import actor, can, require_login
from app.store import engine
from app.ui import when
from connectors.notify import send_test
from pipelines.access.policy import Action
from pipelines.alerts import (
    RULES,
    RuleError,
    acknowledge,
    alert_events_for,
    alert_history,
    live_alerts,
    load_rules,
    reset_rule,
    save_rule,
    snooze,
    unsnooze,
)
from pipelines.alerts.channels import KIND_LABELS, ChannelError, delete_channel, list_channels, save_channel
from pipelines.alerts.lifecycle import AlertView
from pipelines.alerts.outbox import notifications_for
from pipelines.clock import utcnow
from pipelines.integrations import list_integrations

require_login(Action.VIEW_ALERTS)
st.title("Alerts")


def _state(alert: AlertView) -> str:
    if alert.status == "pending":
        return "pending (held before firing)"
    if alert.status == "resolved":
        return "resolved"
    if alert.acknowledged_by:
        return f"acknowledged by {alert.acknowledged_by}"
    if alert.snoozed_until and alert.snoozed_until > utcnow():
        return f"snoozed until {when(alert.snoozed_until)} by {alert.snoozed_by}"
    return "firing"


def _alert_detail(alert: AlertView, actions: bool = True) -> None:
    """One alert: what, since when, its state, the actions (on the Open alerts tab), its history."""
    st.markdown(
        f"**#{alert.id} · {alert.subject} · {RULES[alert.kind].title if alert.kind in RULES else alert.kind}**"
        f"\n\n{alert.summary}\n\nSince {when(alert.started_at)} · {_state(alert)}"
    )
    if actions and alert.status != "resolved" and not can(Action.ACKNOWLEDGE_ALERTS):
        st.caption("Acknowledging and snoozing an alert needs the operator role.")
    elif actions and alert.status != "resolved":
        ack, minutes, snooze_button, unsnooze_button = st.columns([2, 1, 2, 2], vertical_alignment="bottom")
        if ack.button(
            "Acknowledge",
            key=f"ack.{alert.id}",
            disabled=bool(alert.acknowledged_by),
            help="You are on it: no more reminders (the 'resolved' message still goes out).",
        ):
            acknowledge(engine(), alert.id, actor())
            st.rerun()
        length = minutes.number_input("Minutes", min_value=5, max_value=7 * 24 * 60, value=60, step=15, key=f"snooze_minutes.{alert.id}")
        if snooze_button.button("Snooze", key=f"snooze.{alert.id}", help="No reminders for that long."):
            snooze(engine(), alert.id, float(length), actor())
            st.rerun()
        if unsnooze_button.button("Unsnooze", key=f"unsnooze.{alert.id}", disabled=not alert.snoozed_until):
            unsnooze(engine(), alert.id, actor())
            st.rerun()
    events = alert_events_for(engine(), alert.id)
    st.dataframe(
        pd.DataFrame(
            [{"When": when(e.at), "What": e.event, "Who": e.actor, "Channel": e.channel or "", "Detail": e.detail or ""} for e in events]
        ),
        hide_index=True,
        width="stretch",
    )
    sent = notifications_for(engine(), alert.id)
    if sent:
        st.caption("Notifications")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Channel": n.channel,
                        "Message": n.message,
                        "Status": n.status,
                        "Attempts": n.attempts,
                        "Sent": when(n.sent_at),
                        "Last error": n.last_error or "",
                    }
                    for n in sent
                ]
            ),
            hide_index=True,
            width="stretch",
        )


def open_tab() -> None:
    live = live_alerts(engine())
    if not live:
        st.success("Nothing is firing. The rules below are checked every 15 seconds by the `alerts` sensor in Dagster.")
        return
    frame = pd.DataFrame(
        [
            {
                "Id": a.id,
                "Subject": a.subject,
                "Rule": RULES[a.kind].title if a.kind in RULES else a.kind,
                "Since": when(a.started_at),
                "State": _state(a),
                "Summary": a.summary,
            }
            for a in live
        ]
    )
    picked = st.dataframe(frame, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="open.table")
    rows = picked.selection.rows if picked else []
    wanted = st.query_params.get("alert")
    chosen = live[rows[0]] if rows else next((a for a in live if str(a.id) == wanted), live[0])
    _alert_detail(chosen)


def history_tab() -> None:
    days = st.number_input("Last days", min_value=1, max_value=365, value=30, key="history.days")
    history = alert_history(engine(), since=utcnow() - timedelta(days=int(days)))
    if not history:
        st.info("No alert has fired in that period.")
        return
    frame = pd.DataFrame(
        [
            {
                "Id": a.id,
                "Subject": a.subject,
                "Rule": RULES[a.kind].title if a.kind in RULES else a.kind,
                "Fired": when(a.fired_at),
                "Resolved": when(a.resolved_at),
                "Notified": ", ".join(a.notified) or "—",
                "Acknowledged by": a.acknowledged_by or "",
                "Summary": a.summary,
            }
            for a in history
        ]
    )
    picked = st.dataframe(frame, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="history.table")
    if picked and picked.selection.rows:
        _alert_detail(history[picked.selection.rows[0]], actions=False)  # acting is on the Open alerts tab


def rules_tab() -> None:
    book = load_rules(engine())
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Rule": spec.title,
                    "Scope": spec.scope,
                    "On": book.rule(kind).enabled,
                    "Settings": ", ".join(f"{k}={v:g}" for k, v in book.rule(kind).params.items() if isinstance(v, (int, float))),
                    "What": spec.description,
                }
                for kind, spec in RULES.items()
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    integrations = {i.name: i.id for i in list_integrations(engine())}
    left, right = st.columns(2)
    kind = left.selectbox("Rule", list(RULES), format_func=lambda k: RULES[k].title, key="rule.kind")
    spec = RULES[kind]
    scopes = ["All integrations"] + (sorted(integrations) if spec.scope == "integration" else [])
    scope = right.selectbox("Applies to", scopes, key="rule.scope")
    integration_id = None if scope == "All integrations" else integrations[scope]
    current = book.rule(kind, integration_id)
    channels = {c.name: c.id for c in list_channels(engine())}
    with st.form(f"rule.form.{kind}.{scope}"):
        enabled = st.checkbox("On", value=current.enabled)
        values: dict[str, Any] = {}
        for name, meaning in spec.param_help().items():
            values[name] = st.number_input(
                f"{name} ({meaning})", min_value=0.0, value=float(current.params[name]), key=f"rule.{kind}.{scope}.{name}"
            )
        wanted = st.multiselect(
            "Channels (none: every enabled channel)",
            list(channels),
            default=[n for n, i in channels.items() if i in (current.channels or [])],
        )
        save, reset = st.columns(2)
        if save.form_submit_button("Save rule", type="primary"):
            try:
                save_rule(
                    engine(),
                    kind,
                    enabled=enabled,
                    actor=actor(),
                    integration_id=integration_id,
                    params={**values, "channels": [channels[n] for n in wanted] or None},
                )
                st.session_state["rules.saved"] = f"{spec.title} saved for {scope.lower() if integration_id is None else scope}."
                st.rerun()
            except RuleError as exc:
                st.error(str(exc))
        changed = current.overridden or (integration_id is None and kind in book.global_rows)
        if reset.form_submit_button("Back to default", disabled=not changed):
            reset_rule(engine(), kind, integration_id, actor=actor())
            st.rerun()
    if message := st.session_state.pop("rules.saved", None):
        st.success(message)


def _channel_fields(kind: str, shown: dict[str, Any]) -> dict[str, Any]:
    if kind == "email":
        host, port, security = st.columns([3, 1, 1])
        values = {
            "host": host.text_input("SMTP host", shown.get("host", "")),
            "port": port.number_input("Port", 1, 65_535, int(shown.get("port", 587))),
            "security": security.selectbox(
                "Security", ["starttls", "ssl", "none"], index=["starttls", "ssl", "none"].index(shown.get("security", "starttls"))
            ),
        }
        user, password = st.columns(2)
        values["username"] = user.text_input("User", shown.get("username") or "") or None
        values["password"] = password.text_input("Password", shown.get("password") or "", type="password") or None
        values["sender"] = st.text_input("From", shown.get("sender", ""))
        values["recipients"] = [a.strip() for a in st.text_input("To (comma separated)", ", ".join(shown.get("recipients", []))).split(",")]
        return values
    if kind == "webhook":
        return {
            "url": st.text_input("URL", shown.get("url", "")),
            "secret": st.text_input("Signing secret (empty: one is generated)", shown.get("secret") or "", type="password") or None,
        }
    return {"url": st.text_input("Incoming webhook URL (it is the credential: stored encrypted)", shown.get("url", ""), type="password")}


def channels_tab() -> None:
    channels = list_channels(engine())
    if outcome := st.session_state.pop("channels.outcome", None):
        (st.success if outcome[0] else st.error)(outcome[1])
    for channel in channels:
        health = (
            f":red[failing since {when(channel.failing_since)}: {channel.last_error}]"
            if channel.failing_since
            else f"last sent {when(channel.last_success_at)}"
            if channel.last_success_at
            else "not used yet"
        )
        text, test, toggle, remove = st.columns([5, 1, 1, 1], vertical_alignment="center")
        text.markdown(f"**{channel.name}** ({KIND_LABELS[channel.kind]}){'' if channel.enabled else ' · off'} · {health}")
        if test.button("Send a test", key=f"test.{channel.id}"):
            worked, where = send_test(engine(), channel.id)
            st.session_state["channels.outcome"] = (worked, f"{channel.name}: " + (f"test sent ({where})" if worked else where))
            st.rerun()
        if toggle.button("Turn off" if channel.enabled else "Turn on", key=f"toggle.{channel.id}"):
            save_channel(
                engine(),
                channel.name,
                channel.kind,
                channel.settings,
                actor=actor(),
                enabled=not channel.enabled,
                channel_id=channel.id,
            )
            st.rerun()
        if remove.button("Delete", key=f"delete.{channel.id}"):
            delete_channel(engine(), channel.id, actor=actor())
            st.rerun()
    st.subheader("Add or change a channel")
    names = {c.name: c for c in channels}
    picked = st.selectbox("Channel", ["New channel", *names], key="channel.pick")
    existing = names.get(picked)
    kind = existing.kind if existing else st.selectbox("Kind", list(KIND_LABELS), format_func=KIND_LABELS.get, key="channel.kind")
    with st.form(f"channel.form.{picked}.{kind}"):
        name = st.text_input("Name", existing.name if existing else "")
        values = _channel_fields(kind, existing.settings if existing else {})
        if st.form_submit_button("Save channel", type="primary"):
            try:
                save_channel(
                    engine(),
                    name,
                    kind,
                    values,
                    actor=actor(),
                    enabled=existing.enabled if existing else True,
                    channel_id=existing.id if existing else None,
                )
                st.session_state["channels.outcome"] = (True, f"{name} saved. Send a test to check it.")
                st.rerun()
            except ChannelError as exc:
                st.error(str(exc))


# A tab a role may not use is not drawn at all (its forms would be refused anyway).
tabs = [
    ("Open alerts", open_tab, Action.VIEW_ALERTS),
    ("History", history_tab, Action.VIEW_ALERTS),
    ("Rules", rules_tab, Action.MANAGE_ALERT_RULES),
    ("Channels", channels_tab, Action.MANAGE_CHANNELS),
]
shown = [(title, draw) for title, draw, needs in tabs if can(needs)]
for tab, (_, draw) in zip(st.tabs([title for title, _ in shown]), shown, strict=True):
    with tab:
        draw()

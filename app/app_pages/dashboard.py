"""Health dashboard (seed 000, "Monitoreo de Integraciones"): integrations, latest syncs, backlog,
dead letters, and in red whatever needs a person."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from app import phrases
from app.auth import require_login
from app.dagster_status import current_load
from app.sidebar import dagster_url
from app.store import engine
from app.ui import RED_ROW, STATUS_LABELS, TYPE_LABELS, clock, highlight_rows, when
from assets.queue_status import CLASS_LABELS
from pipelines.access.policy import Action
from pipelines.alerts import alert_key, classify, classify_dagster, live_by_key
from pipelines.alerts.channels import failing_channels
from pipelines.clock import utcnow
from pipelines.ops.monitoring import backlog, integration_health, latest_syncs, waiting_for

require_login(Action.VIEW_DASHBOARD)
st.title("Dashboard")

now = utcnow()
health = integration_health(engine(), now)
if not health:
    st.info("No integrations yet. Create the first one (a webhook takes a minute) and its syncs will show up here.")
    st.page_link("app_pages/integrations.py", label="Go to Integrations", icon=":material/add:")
    st.stop()

waiting = backlog(engine())
dagster = current_load()
attention = [item for item in health if item.needs_person]
active = sum(item.is_active for item in health)

first, second, third, fourth = st.columns(4)
first.metric("Active integrations", f"{active} of {len(health)}", border=True)
second.metric("Need a person", len(attention), border=True)
third.metric("Inbox backlog", waiting.inbox_pending, border=True, help="Webhook payloads acknowledged and waiting to be processed.")
fourth.metric("Dead letters", waiting.dead_letters, border=True, help="Inbox payloads that failed as a whole, plus callbacks given up on.")

live = live_by_key(engine())


def linked(line: str, key: str | None) -> str:
    """A "needs a person" line with a link to its alert (the same problem, as the alerts sensor saw it)."""
    alert = live.get(key) if key else None
    return f"{line} · [alert #{alert.id}](/alerts?alert={alert.id})" if alert else line


problems: list[str] = [
    linked(f"**{item.name}**: {problem}", alert_key(kind, item.id) if (kind := classify(problem)) else None)
    for item in attention
    for problem in item.problems
]
dagster_problems = [] if isinstance(dagster, str) else dagster.problems()
problems += [linked(f"**Dagster**: {problem}", classify_dagster(problem)) for problem in dagster_problems]
if waiting.inbox_stuck(now):
    cause = (
        "it waits for Dagster (above)"
        if dagster_problems
        else "Dagster's queue is not behind: look at the inbox_processing runs in the Dagster UI"
    )
    problems.append(
        linked(
            f"**Inbox**: {waiting.inbox_pending} payload(s) waiting, the oldest for "
            f"{waiting_for(waiting.inbox_oldest_pending_at, now)}; {cause}",
            alert_key("inbox_backlog"),
        )
    )
problems += [
    f"**Alert channel {channel.name}**: failing since {waiting_for(channel.failing_since, now)}: {channel.last_error} · [channels](/alerts)"
    for channel in failing_channels(engine())
]
if problems:
    st.error("**Needs a person**\n\n" + "\n".join(f"- {p}" for p in problems))
    if waiting.dead_letters:
        st.page_link("app_pages/dead_letters.py", label="Open dead letters", icon=":material/report:")
else:
    st.success("Everything is flowing: no failed syncs, no dead letters, no backlog.")

st.subheader("Integraciones")
integration_rows = pd.DataFrame(
    [
        {
            "Integration": item.name,
            "Type": TYPE_LABELS.get(item.type, item.type),
            "Status": STATUS_LABELS[item.status],
            "Last sync": phrases.time_ago(item.last_sync_at, now),
            "Last error": phrases.last_error(item, now),
        }
        for item in health
    ]
)
st.dataframe(
    highlight_rows(integration_rows, [RED_ROW if item.needs_person else None for item in health]),
    hide_index=True,
    width="stretch",
)

st.subheader("Últimas sincronizaciones")
syncs = latest_syncs(engine(), limit=10)
if syncs:
    sync_rows = pd.DataFrame(
        [
            {
                "Time (UTC)": clock(line.started_at, now),
                "Integration": line.integration,
                "Source": line.source_kind,
                "Result": phrases.sync_summary(line),
            }
            for line in syncs
        ]
    )
    st.dataframe(highlight_rows(sync_rows, [RED_ROW if line.needs_person else None for line in syncs]), hide_index=True, width="stretch")
else:
    st.info("No syncs yet. A sync is recorded each time records arrive: a webhook call, a poll, a query or a file.")

st.subheader("Inbox and callbacks")
left, right = st.columns(2)
with left:
    oldest = when(waiting.inbox_oldest_pending_at)
    st.markdown(
        f"**Inbox**: {waiting.inbox_pending} waiting (oldest {oldest}), "
        f"{'**:red[' + str(waiting.inbox_dead) + ' dead]**' if waiting.inbox_dead else '0 dead'}"
    )
with right:
    dead_callbacks = waiting.callbacks_dead + waiting.callbacks_disabled
    st.markdown(
        f"**Callbacks**: {waiting.callbacks_pending} waiting to be sent, "
        f"{'**:red[' + str(dead_callbacks) + ' not delivered]**' if dead_callbacks else '0 not delivered'}"
    )
if waiting.per_integration:
    per = pd.DataFrame(
        [
            {
                "Integration": name,
                "Inbox waiting": counts.get("inbox_pending", 0),
                "Inbox dead": counts.get("inbox_dead", 0),
                "Callbacks waiting": counts.get("callbacks_pending", 0),
                "Callbacks dead": counts.get("callbacks_dead", 0) + counts.get("callbacks_disabled", 0),
            }
            for name, counts in sorted(waiting.per_integration.items())
        ]
    )
    st.dataframe(
        highlight_rows(per, [RED_ROW if row["Inbox dead"] or row["Callbacks dead"] else None for row in per.to_dict("records")]),
        hide_index=True,
        width="stretch",
    )

st.subheader("Dagster")
if isinstance(dagster, str):
    st.info(dagster)
else:
    runs_col, queued_col, oldest_col, failed_col = st.columns(4)
    runs_col.metric("Runs in progress", dagster.running, border=True)
    queued_col.metric(
        "Runs queued", dagster.queued, border=True, help="Runs waiting for a slot. Webhooks and callbacks have slots of their own."
    )
    oldest_col.metric(
        "Oldest queued",
        "none" if dagster.oldest_queued_seconds is None else waiting_for(now - timedelta(seconds=dagster.oldest_queued_seconds), now),
        border=True,
    )
    failed_col.metric("Failed runs, last hour", dagster.failed_last_hour, border=True)
    if dagster.per_class:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Work": CLASS_LABELS.get(name, name),
                        "Running": load.running,
                        "Queued": load.queued,
                        "Oldest queued": ""
                        if load.oldest_queued_seconds is None
                        else waiting_for(now - timedelta(seconds=load.oldest_queued_seconds), now),
                    }
                    for name, load in sorted(dagster.per_class.items())
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    if dagster_problems:
        st.warning(
            "Work is waiting because Dagster is behind. What to do: docs/how-to/operator/dagster-capacity.md (*When Dagster falls behind*)."
        )
    st.link_button("Open the run queue in Dagster", f"{dagster_url()}/runs?q%5B0%5D=status%3AQUEUED", icon=":material/open_in_new:")

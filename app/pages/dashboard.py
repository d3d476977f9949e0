"""Health dashboard (seed 000, "Monitoreo de Integraciones"): integrations, latest syncs, backlog,
dead letters, and in red whatever needs a person."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app.auth import require_login
from app.store import engine
from app.ui import RED_ROW, STATUS_LABELS, TYPE_LABELS, clock, highlight_rows, when
from pipelines.clock import utcnow
from pipelines.monitoring import backlog, integration_health, latest_syncs, waiting_for

require_login()
st.title("Dashboard")

now = utcnow()
health = integration_health(engine(), now)
if not health:
    st.info("No integrations yet. Create the first one (a webhook takes a minute) and its syncs will show up here.")
    st.page_link("pages/integrations.py", label="Go to Integrations", icon=":material/add:")
    st.stop()

waiting = backlog(engine())
attention = [item for item in health if item.needs_person]
active = sum(item.is_active for item in health)

first, second, third, fourth = st.columns(4)
first.metric("Active integrations", f"{active} of {len(health)}", border=True)
second.metric("Need a person", len(attention), border=True)
third.metric("Inbox backlog", waiting.inbox_pending, border=True,
             help="Webhook payloads acknowledged and waiting to be processed.")
fourth.metric("Dead letters", waiting.dead_letters, border=True,
              help="Inbox payloads that failed as a whole, plus callbacks given up on.")

problems: list[str] = [f"**{item.name}**: {problem}" for item in attention for problem in item.problems]
if waiting.inbox_stuck(now):
    problems.append(
        f"**Inbox**: {waiting.inbox_pending} payload(s) waiting, the oldest for "
        f"{waiting_for(waiting.inbox_oldest_pending_at, now)}: is the Dagster processor running?"
    )
if problems:
    st.error("**Needs a person**\n\n" + "\n".join(f"- {p}" for p in problems))
    if waiting.dead_letters:
        st.page_link("pages/dead_letters.py", label="Open dead letters", icon=":material/report:")
else:
    st.success("Everything is flowing: no failed syncs, no dead letters, no backlog.")

st.subheader("Integraciones")
integration_rows = pd.DataFrame(
    [
        {
            "Integration": item.name,
            "Type": TYPE_LABELS.get(item.type, item.type),
            "Status": STATUS_LABELS[item.status],
            "Last sync": item.last_sync_ago,
            "Last error": item.last_error or "",
        }
        for item in health
    ]
)
st.dataframe(
    highlight_rows(integration_rows, [RED_ROW if item.needs_person else None for item in health]),
    hide_index=True, width="stretch",
)

st.subheader("Últimas sincronizaciones")
syncs = latest_syncs(engine(), limit=10)
if syncs:
    sync_rows = pd.DataFrame(
        [
            {"Time (UTC)": clock(line.started_at, now), "Integration": line.integration,
             "Source": line.source_kind, "Result": line.summary}
            for line in syncs
        ]
    )
    st.dataframe(highlight_rows(sync_rows, [RED_ROW if line.needs_person else None for line in syncs]),
                 hide_index=True, width="stretch")
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
            {"Integration": name, "Inbox waiting": counts.get("inbox_pending", 0),
             "Inbox dead": counts.get("inbox_dead", 0), "Callbacks waiting": counts.get("callbacks_pending", 0),
             "Callbacks dead": counts.get("callbacks_dead", 0) + counts.get("callbacks_disabled", 0)}
            for name, counts in sorted(waiting.per_integration.items())
        ]
    )
    st.dataframe(
        highlight_rows(per, [RED_ROW if row["Inbox dead"] or row["Callbacks dead"] else None
                             for row in per.to_dict("records")]),
        hide_index=True, width="stretch",
    )

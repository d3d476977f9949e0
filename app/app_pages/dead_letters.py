"""Dead letters: inbox payloads that failed as a whole, callbacks given up on, and the individual records
syncs rejected, each with its reason; filterable. Select rows to inspect them and replay them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import dead_letter_actions as actions
from app.auth import require_login
from app.store import engine
from app.ui import attempts_table, date_range_picker, json_text, when
from pipelines.access.policy import Action
from pipelines.dead_letters.lists import (
    Filters,
    callback_dead_letters,
    callback_letter,
    inbox_dead_letters,
    inbox_letter,
    rejected_records,
)
from pipelines.integrations import list_integrations


def _selected(frame: pd.DataFrame, key: str) -> list[int]:
    """The ids of the rows ticked in a table (one or many)."""
    state = st.dataframe(frame, hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row", key=key)
    return [int(frame.iloc[i]["Id"]) for i in (state.selection.rows if state else [])]


def inbox_tab(filters: Filters) -> list[int]:
    """Inbox rows with status dead, with their replay actions; returns the selected ids."""
    actions.show_outcome("inbox")
    letters = inbox_dead_letters(engine(), filters)
    if not letters:
        st.success(
            "No dead inbox payloads. A payload lands here when processing it fails as a whole (for "
            "example the body is not JSON); it keeps its reason and can be replayed once fixed."
        )
        return []
    frame = pd.DataFrame(
        [
            {
                "Id": r.id,
                "Integration": r.integration,
                "Received": when(r.received_at),
                "Source": r.source_kind,
                "Attempts": r.attempts,
                "Reason": r.error or "",
                "Replayed": f"{r.replay_count}x, last by {r.replayed_by}" if r.replay_count else "",
                "Size (bytes)": r.size_bytes,
                "Body starts with": r.body_start,
            }
            for r in letters
        ]
    )
    st.caption("Tick rows to see the whole body and headers, and to replay them.")
    ids = _selected(frame, actions.table_key("dead.inbox.table"))
    actions.inbox_actions(ids, filters, names, [r.integration for r in letters])
    for inbox_id in ids[:3]:
        letter = inbox_letter(engine(), inbox_id)
        if letter is None:
            continue
        with st.expander(f"Inbox #{inbox_id} from {letter.integration}", expanded=True):
            st.error(letter.error or "no reason recorded")
            st.markdown("**Body**")
            st.code(letter.body, language="json", wrap_lines=True)
            st.markdown("**Headers** (credentials masked)")
            st.json(letter.headers, expanded=True)
    return ids


def callbacks_tab(filters: Filters) -> list[int]:
    """Callbacks dead after their last retry, or disabled by a 410, with their replay actions; returns
    the selected ids."""
    actions.show_outcome("callbacks")
    actions.callback_stops(filters)
    letters = callback_dead_letters(engine(), filters)
    if not letters:
        st.success(
            "No undelivered callbacks. A callback lands here after its last retry fails, or when the "
            "client's endpoint answers 410 Gone (which stops callbacks for that integration)."
        )
        return []
    frame = pd.DataFrame(
        [
            {
                "Id": r.id,
                "Integration": r.integration,
                "Order": r.external_id,
                "Event": r.event,
                "Status": r.status,
                "Attempts": r.attempts,
                "Last HTTP status": r.last_status_code,
                "Reason": r.last_error or "",
                "Queued": when(r.created_at),
            }
            for r in letters
        ]
    )
    st.caption("Tick rows to see the payload and every delivery attempt, and to replay them.")
    ids = _selected(frame, actions.table_key("dead.callbacks.table"))
    actions.callback_actions(ids, filters, names, [r.integration for r in letters])
    for outbox_id in ids[:3]:
        letter = callback_letter(engine(), outbox_id)
        if letter is None:
            continue
        with st.expander(f"Callback #{outbox_id} ({letter.event}) to {letter.integration}", expanded=True):
            st.json(letter.payload, expanded=True)
            if letter.attempt_log:
                attempts_table(letter.attempt_log)
    return ids


def rejected_tab(filters: Filters) -> None:
    actions.show_outcome("rejected")
    records = rejected_records(engine(), filters)
    if not records:
        st.success(
            "No rejected records. A record is rejected when it does not map to a valid order or sale; the rest of its batch still lands."
        )
        return
    frame = pd.DataFrame(
        [
            {
                "Id": r.id,
                "Integration": r.integration,
                "When": when(r.created_at),
                "Sync": r.sync_run_id,
                "External id": r.external_id or "",
                "Reasons": r.reason,
                "Record": json_text(r.record),
            }
            for r in records
        ]
    )
    st.caption("Tick rows to see the record as it was sent, and to re-ingest the payloads they came in.")
    ids = _selected(frame, actions.table_key("dead.rejected.table"))
    by_id = {r.id: r for r in records}
    actions.rejected_actions([by_id[record_id] for record_id in ids])
    for record_id in ids[:3]:
        with st.expander(f"Rejected record #{record_id}", expanded=True):
            st.error(by_id[record_id].reason)
            st.json(by_id[record_id].record, expanded=True)
    st.caption(
        "To fix these, correct the mapping in the mapping studio (its backtest shows how many would now "
        "pass) or ask the client to send the missing fields."
    )


require_login(Action.VIEW_DEAD_LETTERS)
st.title("Dead letters")

names = [i.name for i in list_integrations(engine())]
left, middle, right = st.columns([1, 1, 2])
integration = left.selectbox("Integration", [None, *names], format_func=lambda n: n or "All integrations", key="dead.integration")
text = middle.text_input("Reason contains", key="dead.text", placeholder="missing", live=True)
with right:
    picked = date_range_picker("Date range (UTC)", key="dead.range", default_days=30)
if picked is None:
    st.stop()
filters = Filters(integration=integration, text=text or None, since=picked[0], until=picked[1])

inbox_count = len(inbox_dead_letters(engine(), filters))
callback_count = len(callback_dead_letters(engine(), filters))
# The tab labels carry counts, and Streamlit starts tabs afresh when their labels change (after a
# replay, say): remember which tab is open and open it again.
SECTIONS = {"Inbox": "inbox", "Callbacks": "callbacks", "Rejected records": "rejected"}
labels = [f"Inbox ({inbox_count})", f"Callbacks ({callback_count})", "Rejected records"]


def _remember_tab() -> None:
    st.session_state[actions.ACTIVE_TAB_KEY] = SECTIONS[st.session_state["dead.tabs"].split(" (")[0]]


active = list(SECTIONS.values()).index(st.session_state.get(actions.ACTIVE_TAB_KEY, "inbox"))
inbox_view, callbacks_view, rejected_view = st.tabs(labels, default=labels[active], key="dead.tabs", on_change=_remember_tab)
with inbox_view:
    inbox_tab(filters)
with callbacks_view:
    callbacks_tab(filters)
with rejected_view:
    rejected_tab(filters)

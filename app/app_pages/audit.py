"""Audit log: who changed what (integrations, mappings, secrets, statuses, replays, users, log-ins),
newest first, filterable, pageable and exportable as CSV. Admins only."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import streamlit as st

from app.auth import require_login
from app.store import engine
from pipelines.access import audit
from pipelines.access.audit import AuditAction
from pipelines.access.policy import Action

require_login(Action.VIEW_AUDIT)
st.title("Audit log")
st.caption("Every change and log-in, as it was recorded; nothing here can be edited or removed.")

left, middle, right = st.columns(3)
action = left.selectbox("Action", ["(any)", *[a.value for a in AuditAction]], key="audit.action")
actor = middle.text_input("Actor", placeholder="user:ana, token:ci, api:admin", key="audit.actor").strip()
subject = right.text_input("Subject", placeholder="integration:abc, user:ana", key="audit.subject").strip()
limit = 200
cursor = st.session_state.get("audit.cursor")
with engine().connect() as conn:
    page = audit.entries(
        conn, action=None if action == "(any)" else action, actor=actor or None, subject=subject or None, cursor=cursor, limit=limit
    )
frame = pd.DataFrame(
    [{**asdict(item), "details": "" if item.details is None else str(item.details)} for item in page.items],
    columns=["id", "at", "actor", "action", "subject", "details"],
)
st.caption(f"{len(page.items)} of {page.total} entries")
st.dataframe(frame, hide_index=True, width="stretch")
buttons = st.columns(3)
if cursor and buttons[0].button("First page", key="audit.first"):
    st.session_state.pop("audit.cursor", None)
    st.rerun()
if page.next_cursor and buttons[1].button("Older entries", key="audit.older"):
    st.session_state["audit.cursor"] = page.next_cursor
    st.rerun()
buttons[2].download_button(
    "Export this page as CSV", frame.to_csv(index=False).encode("utf-8"), file_name="crossdock-audit.csv", mime="text/csv", key="audit.csv"
)

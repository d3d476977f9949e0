"""Orders: search by integration, external id and status; open one to see where it came from and what
happened to it since, and move it to its next status."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.auth import require_login
from app.order_detail import render_order_detail
from app.order_status_form import CHANGED_KEY, render_status_form
from app.store import engine
from app.ui import when
from pipelines.access.policy import Action
from pipelines.integrations import list_integrations
from pipelines.orders.search import ORDER_STATUSES, SEARCH_LIMIT, order_detail, search_orders

GENERATION_KEY = "orders.table.generation"
KEEP_OPEN_KEY = "orders.keep_open"

require_login(Action.VIEW_ORDERS)
st.title("Orders")

# After a status change the list re-sorts (newest change first), so a selection remembered by row
# position would open another order: the table starts afresh and the changed order stays open.
changed = st.session_state.pop(CHANGED_KEY, None)
if changed is not None:
    st.session_state[GENERATION_KEY] = st.session_state.get(GENERATION_KEY, 0) + 1
    st.session_state[KEEP_OPEN_KEY] = changed
generation = st.session_state.get(GENERATION_KEY, 0)

names = [i.name for i in list_integrations(engine()) if i.target == "order"]
if not names:
    st.info("No order integrations yet: orders appear here once an integration receives them.")
    st.page_link("app_pages/integrations.py", label="Go to Integrations", icon=":material/add:")
    st.stop()

left, middle, right = st.columns([1, 1, 2])
integration = left.selectbox("Integration", [None, *names], format_func=lambda n: n or "All integrations", key="orders.integration")
external_id = middle.text_input("External id contains", key="orders.external_id", placeholder="PED-001", live=True)
statuses = right.multiselect("Status", ORDER_STATUSES, key="orders.status", placeholder="Any status")

found = search_orders(engine(), integration=integration, external_id=external_id, statuses=statuses)
if not found:
    st.info("No order matches these filters.")
    st.stop()
st.caption(
    f"{len(found)} order(s)" + (f", the newest {SEARCH_LIMIT} shown" if len(found) == SEARCH_LIMIT else "") + ". Select a row to open it."
)
table = pd.DataFrame(
    [
        {
            "Internal id": o.id,
            "Integration": o.integration,
            "External id": o.external_id,
            "Client": o.client_name,
            "Address": o.address,
            "Status": o.status,
            "Last change": when(o.updated_at),
        }
        for o in found
    ]
)
picked = st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="orders.table" + (f".{generation}" if generation else ""),
)
rows = picked.selection.rows if picked else []
if rows:
    st.session_state.pop(KEEP_OPEN_KEY, None)
    open_id = int(table.iloc[rows[0]]["Internal id"])
elif st.session_state.get(KEEP_OPEN_KEY) is not None:
    open_id = st.session_state[KEEP_OPEN_KEY]
    st.caption("Showing the order you just changed; select a row to open another.")
else:
    st.caption("Select an order above to see its original payload, mapped record, status history and callbacks, and to set its status.")
    st.stop()
detail = order_detail(engine(), open_id)
if detail is None:
    st.warning("That order no longer exists (its integration was deleted).")
    st.stop()
st.divider()
render_order_detail(detail, actions=render_status_form)

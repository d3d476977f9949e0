"""Sync history for managers: records per integration over time, rejection reasons ranked, callback
delivery success and latency. Aggregated by DuckDB from the store (pipelines.ops.reports)."""

from __future__ import annotations

import streamlit as st

from app import charts, report_data
from app.auth import require_login
from app.store import engine
from app.ui import date_range_picker, when
from pipelines import settings
from pipelines.access.policy import Action
from pipelines.integrations import list_integrations

require_login(Action.VIEW_HISTORY)
st.title("Sync history")

names = [i.name for i in list_integrations(engine())]
if not names:
    st.info("No integrations yet, so no history: syncs are recorded as soon as an integration receives records.")
    st.page_link("app_pages/integrations.py", label="Go to Integrations", icon=":material/add:")
    st.stop()

left, middle, right = st.columns([2, 1, 3])
with left:
    picked = date_range_picker("Date range (UTC)", key="history.range")
with middle:
    grain = st.segmented_control("Grain", ["day", "hour"], format_func=str.capitalize, key="history.grain", default="day", required=True)
with right:
    chosen = st.multiselect("Integrations", names, key="history.integrations", placeholder="All integrations")
if picked is None:
    st.stop()
start, end = picked
selection = tuple(chosen) or None
store_url = settings.database_url()  # the cache key: the same filters on another store are other data

history = report_data.sync_history(store_url, start, end, grain, selection)
st.subheader("Records over time")
if history.empty:
    st.info(
        f"No syncs between {when(start)} and {when(end)}. Widen the date range, or check the dashboard for "
        "integrations that have stopped syncing."
    )
else:
    st.altair_chart(charts.outcome_lines(history, grain, start, end), width="stretch")
    measure = st.segmented_control(
        "Per integration",
        list(charts.MEASURE_LABELS),
        format_func=charts.MEASURE_LABELS.get,
        key="history.measure",
        default="received",
        required=True,
    )
    st.altair_chart(charts.records_by_integration(history, measure, grain), width="stretch")
    with st.expander("The numbers"):
        st.dataframe(
            history, hide_index=True, width="stretch", column_config={"bucket": st.column_config.DatetimeColumn(charts.GRAIN_LABELS[grain])}
        )

st.subheader("Why records were rejected")
reasons = report_data.error_reasons(store_url, start, end, selection)
if reasons.empty:
    st.success("No record was rejected in this range.")
else:
    st.altair_chart(charts.ranked_reasons(reasons), width="stretch")
    st.caption("Fix a reason in the mapping studio (and backtest it), or ask the client to send the field.")

st.subheader("Callback delivery")
delivery = report_data.callback_delivery(store_url, start, end, grain, selection)
if delivery.empty:
    st.info(
        "No status callbacks were attempted in this range. Callbacks are sent when an order of an "
        "integration with a callback URL changes status (assigned, in route, delivered, cancelled); their "
        "success rate and response times appear here once they are."
    )
else:
    total, delivered = int(delivery["attempts"].sum()), int(delivery["delivered"].sum())
    one, two, three = st.columns(3)
    one.metric("Attempts", f"{total:,}")
    two.metric("Delivered", f"{100 * delivered / total:.1f} %")
    three.metric("Slowest bucket p95", f"{delivery['latency_p95_ms'].max():,.0f} ms")
    chart_left, chart_right = st.columns(2)
    with chart_left:
        st.altair_chart(charts.callback_success(delivery, grain), width="stretch")
    with chart_right:
        st.altair_chart(charts.callback_latency(delivery, grain), width="stretch")

"""Period report for managers: totals per integration, downloadable as CSV."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import streamlit as st

from app import report_data
from app.auth import actor, can, require_login
from app.store import engine
from app.ui import day_range
from connectors.notify.report import report_pdf
from pipelines import settings
from pipelines.access.policy import Action
from pipelines.alerts.channels import list_channels
from pipelines.clock import utcnow
from pipelines.ops.manager_reports import (
    CADENCES,
    Period,
    ReportError,
    build_report,
    delete_schedule,
    deliveries,
    list_schedules,
    save_schedule,
)
from pipelines.ops.reports import report_csv

PERIODS = ["Today", "Yesterday", "Last 7 days", "Last 30 days", "This month", "Last month", "Custom"]


def period_days(period: str, today: date) -> tuple[date, date] | None:
    """(first day, last day) of a named period; None for Custom."""
    if period == "Today":
        return today, today
    if period == "Yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if period == "Last 7 days":
        return today - timedelta(days=6), today
    if period == "Last 30 days":
        return today - timedelta(days=29), today
    if period == "This month":
        return today.replace(day=1), today
    if period == "Last month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last.replace(day=calendar.monthrange(last.year, last.month)[1])
    return None


require_login(Action.VIEW_REPORTS)
st.title("Reports")

today = utcnow().date()
left, right = st.columns([1, 2])
with left:
    period = st.selectbox("Period", PERIODS, index=2, key="reports.period")
days = period_days(period, today)
with right:
    if days is None:
        picked = st.date_input("Days (UTC)", value=(today - timedelta(days=6), today), max_value=today, key="reports.custom")
        if not isinstance(picked, (tuple, list)) or len(picked) != 2:
            st.info("Pick the last day of the range too.")
            st.stop()
        days = (picked[0], picked[1])
    else:
        st.markdown(f"**{days[0]:%Y-%m-%d}** to **{days[1]:%Y-%m-%d}** (UTC, both days included)")

start, end = day_range(*days)
report = report_data.period_report(settings.database_url(), start, end)
if len(report) == 1:
    st.info("No integrations yet: the report lists every integration with its totals for the period.")
    st.stop()

total = report.iloc[-1]
a, b, c, d, e = st.columns(5)
a.metric("Received", f"{int(total['received']):,}")
b.metric("Created", f"{int(total['created']):,}")
c.metric("Updated", f"{int(total['updated']):,}")
d.metric("Rejected", f"{int(total['errors']):,}")
e.metric("Error rate", f"{total['error_rate_pct']:.2f} %")
if int(total["runs"]) == 0:
    st.info("No syncs in this period: every integration shows zeros.")

st.dataframe(
    report,
    hide_index=True,
    width="stretch",
    column_config={
        "integration": "Integration",
        "type": "Type",
        "target": "Target",
        "runs": "Syncs",
        "failed_runs": "Failed syncs",
        "received": "Received",
        "created": "Created",
        "updated": "Updated",
        "unchanged": "Unchanged",
        "errors": "Rejected",
        "error_rate_pct": st.column_config.NumberColumn("Error rate (%)", format="%.2f"),
        "callback_attempts": "Callback attempts",
        "callbacks_delivered": "Callbacks delivered",
        "callbacks_dead": "Callbacks dead",
        "callback_p95_ms": st.column_config.NumberColumn("Callback p95 (ms)", format="%.0f"),
    },
)
csv_column, pdf_column = st.columns(2)
csv_column.download_button(
    "Download CSV",
    report_csv(report),
    icon=":material/download:",
    file_name=f"crossdock-report-{days[0]:%Y%m%d}-{days[1]:%Y%m%d}.csv",
    mime="text/csv",
    key="reports.csv",
)


@st.fragment
def pdf_download() -> None:
    """The PDF is rendered on request only (a chart and a page layout take a second or two)."""
    if st.button("Prepare PDF", icon=":material/picture_as_pdf:", key="reports.pdf.prepare"):
        cadence = "daily" if days[0] == days[1] else "period"
        pdf = report_pdf(build_report(engine(), Period(cadence, start, end)))
        st.download_button(
            "Download PDF",
            pdf,
            icon=":material/download:",
            mime="application/pdf",
            file_name=f"crossdock-report-{days[0]:%Y%m%d}-{days[1]:%Y%m%d}.pdf",
            key="reports.pdf",
        )


with pdf_column:
    pdf_download()

st.subheader("Sent by email")
st.caption(
    "Daily reports (yesterday) and weekly reports (last Monday to Sunday) go out at 07:00 UTC from Dagster "
    "(`daily_manager_report`, `weekly_manager_report`); re-run a missed one there with its day."
)
email_channels = {c.name: c.id for c in list_channels(engine()) if c.kind == "email"}
schedules = list_schedules(engine())
# Who Crossdock emails is set up like the alert channels: by admins; everyone else sees the lists.
manages = can(Action.MANAGE_CHANNELS)
for schedule in schedules:
    text, remove = st.columns([6, 1], vertical_alignment="center")
    text.markdown(
        f"**{schedule.name}** · {schedule.cadence} · to {', '.join(schedule.recipients)} "
        f"via {schedule.channel or '(no channel)'}{'' if schedule.enabled else ' · off'}"
    )
    if manages and remove.button("Delete", key=f"schedule.delete.{schedule.id}"):
        delete_schedule(engine(), schedule.id)
        st.rerun()
if not manages:
    st.caption("Adding or removing a recipient list needs the admin role.")
elif not email_channels:
    st.info("Add an email channel on the Alerts page (Channels) to send reports by email.")
else:
    with st.form("schedule.form", clear_on_submit=True):
        name_col, cadence_col, channel_col = st.columns(3)
        name = name_col.text_input("Name", key="schedule.name")
        cadence = cadence_col.selectbox("Cadence", CADENCES, key="schedule.cadence")
        channel = channel_col.selectbox("Through", list(email_channels), key="schedule.channel")
        recipients = st.text_input("Recipients (comma separated)", key="schedule.recipients")
        if st.form_submit_button("Add recipient list", type="primary"):
            try:
                save_schedule(engine(), name, cadence, recipients.split(","), email_channels[channel], actor=actor())
                st.rerun()
            except ReportError as exc:
                st.error(str(exc))
sent = deliveries(engine(), limit=20)
if sent:
    st.dataframe(
        [
            {"Sent": f"{d.sent_at:%Y-%m-%d %H:%M}", "List": d.schedule, "Period": d.period, "To": ", ".join(d.recipients), "By": d.sent_by}
            for d in sent
        ],
        hide_index=True,
        width="stretch",
    )

"""Managers' sync report as people receive it: a bar chart (matplotlib, rendered off-screen), an HTML
email with the chart inline and the CSV attached, and the same page as a PDF (xhtml2pdf) for the
app's download. Everything is rendered locally: no font, image or style is fetched at run time."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.utils import make_msgid

import sqlalchemy as sa
from matplotlib.figure import Figure  # a Figure without pyplot: no display, no global state, thread-safe
from xhtml2pdf import pisa

from connectors.notify.email import smtp_send
from connectors.notify.http import SendFailed
from pipelines.alerts.channels import ChannelNotFound, EmailSettings, channel_for_sending
from pipelines.ops.manager_reports import (
    ManagerReport,
    Period,
    already_sent,
    build_report,
    list_schedules,
    period_for,
    record_sent,
)
from pipelines.ops.reports import report_csv

MAX_CHART_BARS = 15


def chart_png(report: ManagerReport) -> bytes:
    """Records per integration: created, updated, rejected (stacked), the busiest first."""
    rows = sorted(report.rows, key=lambda r: -r.received)[:MAX_CHART_BARS]
    names = [r.integration for r in rows] or ["(no integrations)"]
    created = [r.created for r in rows] or [0]
    updated = [r.updated for r in rows] or [0]
    rejected = [r.errors for r in rows] or [0]
    figure = Figure(figsize=(7.5, 0.45 * len(names) + 1.4), dpi=110)
    axis = figure.subplots()
    axis.barh(names, created, color="#2e7d32", label="created")
    axis.barh(names, updated, left=created, color="#1565c0", label="updated")
    axis.barh(names, rejected, left=[c + u for c, u in zip(created, updated, strict=True)], color="#c62828", label="rejected")
    axis.invert_yaxis()
    axis.set_xlabel("records")
    axis.set_title(f"Records per integration, {report.period.label} (UTC)", fontsize=10)
    axis.legend(loc="lower right", fontsize=8)
    axis.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def report_html(report: ManagerReport, chart_src: str, csv_note: str = "The CSV attached has every column.") -> str:
    """The report as one HTML page; `chart_src` is "cid:..." in an email, a data: URI in the PDF."""
    total = report.total
    head = (
        "<tr>"
        + "".join(
            f"<th>{h}</th>"
            for h in (
                "Integration",
                "Received",
                "Created",
                "Updated",
                "Rejected",
                "Error rate",
                "Top reasons",
                "Callbacks delivered",
                "Callback p95",
                "Availability",
            )
        )
        + "</tr>"
    )
    lines = []
    for row in report.rows:
        reasons = "<br/>".join(f"{html.escape(r)} ({n})" for r, n in report.reasons.get(row.integration, [])) or "—"
        p95 = row.callback_p95_ms
        lines.append(
            "<tr>"
            + "".join(
                f"<td>{cell}</td>"
                for cell in (
                    html.escape(row.integration),
                    f"{row.received:,}",
                    f"{row.created:,}",
                    f"{row.updated:,}",
                    f"{row.errors:,}",
                    _pct(row.error_rate_pct),
                    reasons,
                    _pct(row.callback_success),
                    "—" if p95 is None else f"{p95:.0f} ms",
                    _pct(row.availability),
                )
            )
            + "</tr>"
        )
    return f"""<html><head><meta charset="utf-8"/><style>
@page {{ size: a4 landscape; margin: 1.5cm; }}
body {{ font-family: Helvetica, Arial, sans-serif; font-size: 10pt; color: #222; }}
h1 {{ font-size: 16pt; margin-bottom: 2pt; }}
table {{ width: 100%; }}
th, td {{ border: 1px solid #ccc; padding: 3pt 4pt; font-size: 9pt; text-align: left; vertical-align: top; }}
th {{ background: #eef1f5; }}
.totals td {{ border: none; padding-right: 14pt; font-size: 11pt; }}
</style></head><body>
<h1>Crossdock sync report: {html.escape(report.period.label)}</h1>
<p>{report.period.cadence.capitalize()} report, UTC. Same numbers as the app's Reports page.</p>
<table class="totals"><tr>
<td><b>{total.received:,}</b> received</td><td><b>{total.created:,}</b> created</td>
<td><b>{total.updated:,}</b> updated</td><td><b>{total.errors:,}</b> rejected</td>
<td><b>{total.error_rate_pct:.2f} %</b> error rate</td><td><b>{_pct(total.availability)}</b> availability</td>
</tr></table>
<p><img src="{chart_src}" width="560"/></p>
<table>{head}{"".join(lines)}</table>
<p style="color:#666">Availability: share of syncs that did not fail. Callback p95: 95th percentile of the
client's answer time. {csv_note}</p>
</body></html>"""


def report_pdf(report: ManagerReport) -> bytes:
    chart = "data:image/png;base64," + base64.b64encode(chart_png(report)).decode()
    out = io.BytesIO()
    page = report_html(report, chart, "The Reports page's CSV download has every column.")
    result = pisa.CreatePDF(page, dest=out, encoding="utf-8")
    if result.err:
        raise RuntimeError(f"the PDF could not be rendered ({result.err} error(s))")
    return out.getvalue()


def report_email(report: ManagerReport, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"Crossdock {report.period.cadence} sync report: {report.period.label}"
    message["From"] = sender
    message["Message-ID"] = make_msgid(domain="crossdock")
    total = report.total
    message.set_content(
        f"Crossdock sync report, {report.period.label} (UTC)\n\n"
        f"{total.received} received, {total.created} created, {total.updated} updated, "
        f"{total.errors} rejected ({total.error_rate_pct:.2f} %).\n"
        "The HTML part has the chart and the table; the CSV attached has every number.\n"
    )
    chart_id = make_msgid(domain="crossdock")
    message.add_alternative(report_html(report, f"cid:{chart_id[1:-1]}"), subtype="html")
    message.get_payload()[1].add_related(chart_png(report), maintype="image", subtype="png", cid=chart_id, filename="chart.png")
    message.add_attachment(
        report_csv(report.csv_frame()), maintype="text", subtype="csv", filename=f"crossdock-{report.period.key.replace(':', '-')}.csv"
    )
    return message


def send_report(settings: EmailSettings, report: ManagerReport, recipients: list[str]) -> str:
    """Send the report; returns where it went, raises SendFailed with a reason safe to show."""
    return smtp_send(settings, report_email(report, settings.sender), recipients)


@dataclass
class ReportRun:
    """What one run did per schedule: sent, skipped (already sent), or failed with why."""

    period: Period
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        text = f"{self.period.key}: {len(self.sent)} sent, {len(self.skipped)} already sent"
        if self.failed:
            text += "; failed: " + "; ".join(f"{name}: {why}" for name, why in sorted(self.failed.items()))
        return text


def send_scheduled_reports(engine: sa.Engine, cadence: str, day: date | None = None, *, resend: bool = False, sent_by: str) -> ReportRun:
    """Send the period's report to every enabled schedule of `cadence` that has not had it yet (all of
    them with `resend`). One schedule's failure never stops the others; a failed one is not recorded,
    so re-running the period sends it."""
    period = period_for(cadence, day)
    run = ReportRun(period)
    report: ManagerReport | None = None
    for schedule in list_schedules(engine, cadence, enabled_only=True):
        name = schedule.name
        if not resend and already_sent(engine, schedule.id, period):
            run.skipped.append(name)
            continue
        try:
            if schedule.channel_id is None:
                raise SendFailed("its email channel was deleted: choose another one")
            channel = channel_for_sending(engine, schedule.channel_id)
            report = report or build_report(engine, period)
            send_report(channel.settings, report, list(schedule.recipients))
        except (SendFailed, ChannelNotFound) as exc:
            run.failed[name] = str(exc)
            continue
        record_sent(engine, schedule.id, period, list(schedule.recipients), sent_by)
        run.sent.append(name)
    return run

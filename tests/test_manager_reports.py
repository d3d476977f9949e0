"""Managers' sync reports: the Dagster asset sends the period's report as an HTML email with the chart
inline and the CSV attached to a real SMTP server on loopback, with the Reports page's numbers; a
re-run sends nothing twice (unless asked to resend); the PDF carries the same numbers."""

from __future__ import annotations

import io
from datetime import timedelta

import dagster as dg
import pandas as pd
import pytest
from pypdf import PdfReader

from assets.manager_reports import manager_reports
from assets.resources import StoreResource
from connectors.notify.report import report_pdf
from connectors.pull import pull
from pipelines.alerts.channels import save_channel
from pipelines.clock import utcnow
from pipelines.ops.manager_reports import ReportError, build_report, deliveries, period_for, save_schedule
from pipelines.ops.reports import period_report
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api
from tests.smtp_server import smtp_server
from tests.test_alerts import _api_integration


def _synced(engine, orders: int = 7) -> None:
    with serve_client_api(ClientApi(seed_orders(orders))) as url:
        _api_integration(engine, url)
        pull(engine, "cliente_abc", sleep=lambda _: None)


def _run(**config) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [manager_reports],
        resources={"store": StoreResource()},
        run_config={"ops": {"manager_reports": {"config": config}}},
        raise_on_error=False,
    )


def test_daily_report_email_has_the_reports_page_numbers_chart_and_csv_and_is_sent_once(sqlite_store, tmp_path):
    _synced(sqlite_store)
    today = utcnow().date()
    with smtp_server(tmp_path) as smtp:
        channel = save_channel(sqlite_store, "mail", "email", smtp.channel_settings(), actor="test")
        save_schedule(sqlite_store, "managers", "daily", ["boss@example.com", "ceo@example.com"], channel, actor="test")
        assert _run(cadence="daily", day=today.isoformat()).success
        [mail] = smtp.mailbox.wait_for(1)
        assert _run(cadence="daily", day=today.isoformat()).success  # re-run: already sent, nothing new
        assert _run(cadence="daily", day=today.isoformat(), resend=True).success
        assert len(smtp.mailbox.wait_for(2)) == 2
    assert mail["Subject"] == f"Crossdock daily sync report: {today:%Y-%m-%d}"
    assert smtp.mailbox.envelopes[0][1] == ["boss@example.com", "ceo@example.com"]
    html = mail.get_body(("html",)).get_content()
    assert "<b>7</b> created" in html and "cliente_abc" in html
    [chart] = [part for part in mail.walk() if part.get_content_type() == "image/png"]
    assert chart.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"cid:{chart['Content-ID'][1:-1]}" in html
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == f"crossdock-daily-{today:%Y-%m-%d}.csv"
    sent = pd.read_csv(
        io.BytesIO(attachment.get_content().encode() if isinstance(attachment.get_content(), str) else attachment.get_content()),
        encoding="utf-8-sig",
    )
    period = period_for("daily", today)
    expected = period_report(sqlite_store, period.start, period.end)
    for column in ("received", "created", "updated", "errors", "runs", "failed_runs"):
        assert sent[column].tolist() == expected[column].tolist()
    assert sent["availability_pct"].tolist()[0] == 100.0
    assert [d.sent_by.startswith("dagster:") for d in deliveries(sqlite_store)] == [True]


def test_a_failing_list_fails_the_run_and_is_sent_when_re_run(sqlite_store, tmp_path):
    _synced(sqlite_store, 2)
    yesterday = utcnow().date() - timedelta(days=1)
    with smtp_server(tmp_path) as smtp:
        channel = save_channel(sqlite_store, "mail", "email", smtp.channel_settings(password="wrong"), actor="test")
        save_schedule(sqlite_store, "managers", "daily", ["boss@example.com"], channel, actor="test")
        failed = _run(cadence="daily")  # no day: yesterday
        assert not failed.success
        save_channel(sqlite_store, "mail", "email", smtp.channel_settings(), actor="test", channel_id=channel)
        assert _run(cadence="daily").success
        [mail] = smtp.mailbox.wait_for(1)
    assert mail["Subject"] == f"Crossdock daily sync report: {yesterday:%Y-%m-%d}"
    assert [d.period for d in deliveries(sqlite_store)] == [f"daily:{yesterday:%Y-%m-%d}"]


def test_bad_config_and_bad_lists_say_why(sqlite_store):
    assert not _run(cadence="hourly").success
    assert not _run(cadence="daily", day="14/01/2025").success
    slack = save_channel(sqlite_store, "chat", "slack", {"url": "https://hooks.slack.com/services/x"}, actor="test")
    with pytest.raises(ReportError, match="email channel"):
        save_schedule(sqlite_store, "managers", "daily", ["boss@example.com"], slack, actor="test")


def test_weekly_periods_run_monday_to_sunday():
    from datetime import date

    period = period_for("weekly", date(2025, 1, 15))  # a Wednesday
    assert (period.start.date(), period.end.date(), period.key) == (date(2025, 1, 13), date(2025, 1, 20), "weekly:2025-01-13")
    assert period.label == "2025-01-13 to 2025-01-19"


def test_the_pdf_has_the_same_numbers(sqlite_store, tmp_path):
    _synced(sqlite_store, 5)
    report = build_report(sqlite_store, period_for("daily", utcnow().date()))
    pdf = report_pdf(report)
    (tmp_path / "report.pdf").write_bytes(pdf)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert pdf.startswith(b"%PDF")
    assert "Crossdock sync report" in text and "cliente_abc" in text
    assert "5 created" in " ".join(text.split())

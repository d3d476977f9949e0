"""Managers' sync reports in Dagster: the `manager_reports` asset sends one period's report (daily or
weekly) to every recipient list that has not had it; two schedules launch it at 07:00 UTC, every day
for yesterday and every Monday for last week.

Re-runnable: a run's config names the cadence and, optionally, a day of the period to send, so an
operator re-runs a missed report from the launchpad (`day: "2025-01-14"`); a period already sent to
a list is skipped unless `resend` is set. The work is a few queries and an email: it runs in the
callbacks' class of work (short latency work) so a long backfill never holds a report back.
"""

# No `from __future__ import annotations` here: Dagster reads the config class from the real annotation.
from datetime import date

import dagster as dg
from pydantic import Field

from assets.capacity import CALLBACKS
from assets.resources import StoreResource
from connectors.notify.report import send_scheduled_reports

SEND_AT_HOUR_UTC = 7


class ManagerReportConfig(dg.Config):
    cadence: str = Field("daily", description="daily (one UTC day) or weekly (Monday to Sunday, UTC)")
    day: str = Field("", description="a day of the period to send, YYYY-MM-DD; empty: the last whole period")
    resend: bool = Field(False, description="send again to lists that already had this period")


@dg.asset(
    group_name="reports",
    kinds={"python", "email"},
    pool=CALLBACKS.pool.name,
    description="Sends the managers' sync report (HTML email with a chart, CSV attached) for one period to every "
    "enabled recipient list of its cadence; skips lists that already had it.",
)
def manager_reports(context: dg.AssetExecutionContext, config: ManagerReportConfig, store: StoreResource) -> dg.MaterializeResult:
    if config.cadence not in ("daily", "weekly"):
        raise dg.Failure(f"cadence must be daily or weekly, got {config.cadence!r}")
    try:
        day = date.fromisoformat(config.day) if config.day else None
    except ValueError:
        raise dg.Failure(f"day must be YYYY-MM-DD, got {config.day!r}") from None
    run = send_scheduled_reports(store.engine(), config.cadence, day, resend=config.resend, sent_by=f"dagster:{context.run_id[:8]}")
    context.log.info(run.summary())
    if run.failed:
        raise dg.Failure(run.summary(), metadata={"sent": len(run.sent), "failed": len(run.failed)})
    return dg.MaterializeResult(metadata={"period": run.period.key, "sent": len(run.sent), "already_sent": len(run.skipped)})


manager_reports_job = dg.define_asset_job(
    "manager_reports_job",
    selection=dg.AssetSelection.assets(manager_reports),
    executor_def=dg.in_process_executor,
    tags={**CALLBACKS.tags(), "dagster/max_runtime": "900"},
    description="Send the managers' sync report for one period (launched by the daily and weekly schedules; "
    "re-run a missed one with its day).",
)


def _schedule(cadence: str, cron: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=f"{cadence}_manager_report",
        job=manager_reports_job,
        cron_schedule=cron,
        execution_timezone="UTC",
        run_config=dg.RunConfig(ops={"manager_reports": ManagerReportConfig(cadence=cadence)}),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"The {cadence} sync report to every {cadence} recipient list, at {SEND_AT_HOUR_UTC:02d}:00 UTC.",
    )


daily_manager_report = _schedule("daily", f"0 {SEND_AT_HOUR_UTC} * * *")
weekly_manager_report = _schedule("weekly", f"0 {SEND_AT_HOUR_UTC} * * 1")

defs = dg.Definitions(assets=[manager_reports], jobs=[manager_reports_job], schedules=[daily_manager_report, weekly_manager_report])

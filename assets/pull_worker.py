"""Scheduled polls in Dagster: the `pull_poll` sensor launches one `scheduled_polls` run when a poll
is due (or about to be) and none is queued or running; that run follows the schedule for up to a
quarter of an hour, polling each due api/db/file integration on its own thread
(`connectors.poll_worker`), and reports every poll as a materialization of the integration's
partition of `api_pull`, `db_pull` or `file_pull`, exactly as a backfill partition would.

Capacity: the run is in the pulls class (`assets/capacity.py`), so with backfills it shares the pull
slots and never the ones reserved for webhooks and callbacks. The queue stays bounded by
construction: at most one scheduled-poll run is queued or running, whatever the number of
integrations or how slow they are.
"""

# No `from __future__ import annotations` here: Dagster reads the config class from the real annotation.
import dagster as dg
from pydantic import Field

from assets.capacity import SCHEDULED_POLLS, launch_blocker
from assets.partitions import integration_dimension
from assets.pull_assets import GROUP, report_metadata
from assets.resources import StoreResource
from connectors.poll_worker import PollOutcome, WorkerReport, follow_polls
from pipelines.clock import utcnow
from pipelines.integrations import list_integrations
from pipelines.sources.schedule import last_poll_starts, seconds_until_next_poll

SENSOR_INTERVAL_SECONDS = 5
# Launch this long before a poll falls due: a run takes a few seconds to start.
LAUNCH_LEAD_SECONDS = 10.0
BUDGET_SECONDS = 900.0
# Run monitoring fails a worker still running this long after it started (a poll that never returns).
MAX_RUNTIME_SECONDS = 3_600


class ScheduledPollsConfig(dg.Config):
    workers: int = Field(4, ge=1, le=32, description="polls running at once (a slow integration holds one)")
    budget_seconds: float = Field(
        BUDGET_SECONDS, ge=5, le=MAX_RUNTIME_SECONDS / 2, description="stop starting polls after this; running ones finish"
    )
    linger_seconds: float = Field(120.0, ge=0, le=900, description="stay up while the next poll falls due within this")


def _record_poll(context: dg.AssetExecutionContext, outcome: PollOutcome) -> None:
    if outcome.busy:
        context.log.info(f"{outcome.name}: skipped, {outcome.error}")
        return
    if outcome.report is None:
        context.log.warning(f"{outcome.name}: poll failed after {outcome.seconds:.1f} s: {outcome.error}")
        return
    dimension = integration_dimension[outcome.kind]
    if not context.instance.has_dynamic_partition(dimension.name, outcome.name):
        context.instance.add_dynamic_partitions(dimension.name, [outcome.name])
    for warning in outcome.report.warnings:
        context.log.warning(f"{outcome.name}: {warning}")
    context.log_event(
        dg.AssetMaterialization(
            asset_key=f"{outcome.kind}_pull",
            partition=dg.MultiPartitionKey({"integration": outcome.name, "date": utcnow().date().isoformat()}),
            metadata=report_metadata(outcome.report),
            description="scheduled poll",
        )
    )


def _summary(report: WorkerReport) -> dict[str, dg.MetadataValue]:
    per: dict[str, dict[str, float]] = {}
    for outcome in report.outcomes:
        row = per.setdefault(outcome.name, {"polls": 0, "failed": 0, "skipped_busy": 0, "seconds": 0.0})
        row["polls"] += 1
        row["failed"] += outcome.error is not None and not outcome.busy
        row["skipped_busy"] += outcome.busy
        row["seconds"] += outcome.seconds
    lines = ["| integration | polls | failed | skipped (busy) | poll seconds |", "|---|---|---|---|---|"]
    lines += [
        f"| {name} | {int(r['polls'])} | {int(r['failed'])} | {int(r['skipped_busy'])} | {r['seconds']:.1f} |"
        for name, r in sorted(per.items())
    ]
    return {
        "polls": dg.MetadataValue.int(len(report.outcomes)),
        "succeeded": dg.MetadataValue.int(report.count("ok")),
        "failed": dg.MetadataValue.int(report.count("failed")),
        "skipped_busy": dg.MetadataValue.int(report.count("busy")),
        "run_seconds": dg.MetadataValue.float(round(report.seconds, 1)),
        "per_integration": dg.MetadataValue.md("\n".join(lines) if per else "nothing was due"),
    }


@dg.asset(
    group_name=GROUP,
    kinds={"python"},
    pool=SCHEDULED_POLLS.pool.name,
    description=(
        "The scheduled-poll worker: polls every due api/db/file integration for up to 15 minutes, each "
        "poll reported on its integration's partition of api_pull, db_pull or file_pull."
    ),
)
def scheduled_polls(context: dg.AssetExecutionContext, config: ScheduledPollsConfig, store: StoreResource) -> dg.MaterializeResult:
    try:
        report = follow_polls(
            store.engine(),
            holder=f"Dagster run {context.run_id[:8]} (scheduled polls)",
            workers=config.workers,
            budget_seconds=config.budget_seconds,
            linger_seconds=config.linger_seconds,
            on_poll=lambda outcome: _record_poll(context, outcome),
        )
    except dg.DagsterExecutionInterruptedError:
        # A shutdown (Ctrl-C on `crossdock up`, a container stopping) is the normal end of a resident worker,
        # not a failure: the polls it started have finished and are recorded; the next worker takes over.
        context.log.info("stopped for a shutdown; the polls it started finished and are recorded")
        return dg.MaterializeResult(metadata={"stopped": "shutdown"})
    context.log.info(
        f"{len(report.outcomes)} poll(s) in {report.seconds:.0f} s: {report.count('ok')} ok, "
        f"{report.count('failed')} failed, {report.count('busy')} skipped while another pull ran"
    )
    return dg.MaterializeResult(metadata=_summary(report))


scheduled_polls_job = dg.define_asset_job(
    "scheduled_polls_job",
    selection=dg.AssetSelection.assets(scheduled_polls),
    executor_def=dg.in_process_executor,
    tags={**SCHEDULED_POLLS.tags(), "dagster/max_runtime": str(MAX_RUNTIME_SECONDS)},
    description="Polls due api/db/file integrations for a while (launched by the pull_poll sensor).",
)


@dg.sensor(
    name="pull_poll",
    job=scheduled_polls_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches the scheduled-poll worker when a poll is due and no worker is queued or running.",
)
def pull_poll_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult | dg.SkipReason:
    engine = store.engine()
    integrations = list_integrations(engine, active_only=True)
    upcoming = seconds_until_next_poll(integrations, utcnow(), last_poll_starts(engine))
    if upcoming is None:
        return dg.SkipReason("no active api, db or file integration")
    if upcoming > LAUNCH_LEAD_SECONDS:
        return dg.SkipReason(f"next poll due in {upcoming:.0f} s")
    blocker = launch_blocker(context.instance, SCHEDULED_POLLS)
    if blocker:
        return dg.SkipReason(f"a poll is due; {blocker}")
    # The cursor counts launches and names the run key: a tick retried with the same cursor asks for
    # the same key, which the daemon does not launch twice.
    launches = int(context.cursor or 0) + 1
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"polls-{launches}")], cursor=str(launches))

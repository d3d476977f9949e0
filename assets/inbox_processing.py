"""Inbox processing in Dagster: a sensor launches a processing run; the run takes rows in micro-batches.

Latency and cost (DESIGN §4: webhook → order visible p95 ≤ 15 s, on 2 cores). Measured here: the
daemon evaluates sensors every 5 s (fixed in Dagster), the queued coordinator dequeues every second
(`assets/instance.py`), and Dagster's default launcher starts a new process per run — 3-4 s on an
idle machine, up to 10 s under load, before a row is even read. One run per webhook would spend
more CPU starting processes than ingesting; and a run per tick alone left p95 at 11-16 s under load.
So:
- the sensor launches a run only when rows are pending and no inbox run is queued or running
  (run keys come from its cursor, so a retried tick never launches twice);
- the run (in-process executor: one process, no subprocess per step) drains the inbox in
  micro-batches of `batch_size`, then lingers `linger_seconds` polling every `poll_seconds`, so
  webhooks that follow within the linger are ingested within a poll instead of a run start;
  `budget_seconds` bounds every run, and the instance runs one inbox run at a time (its pool,
  `assets/capacity.py`), which keeps each integration's rows in arrival order; that pool's slot is
  never taken by pulls, and inbox runs are dequeued before them;
- each micro-batch reports its per-integration counts on `webhook_ingestions` as it lands;
- when runs keep failing (the store unreachable, a full disk), the sensor backs off: 10 s after one
  failed run, doubling per consecutive failure up to 5 min, instead of a new run every tick.
"""

import dagster as dg
from pydantic import Field

from assets.capacity import INBOX, launch_blocker
from assets.inbox_reporting import (
    INBOX_HEALTH_CHECK,
    ensure_partitions,
    health_check_result,
    ingestion_metadata,
    reasons_text,
    webhook_ingestions,
)
from assets.inbox_reporting import defs as reporting_defs
from assets.resources import StoreResource
from pipelines.inbox.processing import DEFAULT_BATCH_SIZE, BatchReport, follow, newest_pending_id
from pipelines.store.engine import reader

MAX_RUNTIME_SECONDS = 1_800  # run monitoring fails a run still going after this (it should end by its budget)


class InboxBatchConfig(dg.Config):
    batch_size: int = Field(DEFAULT_BATCH_SIZE, ge=1, le=5_000, description="rows claimed per micro-batch")
    linger_seconds: float = Field(120.0, ge=0, le=900, description="keep taking new rows until idle this long")
    poll_seconds: float = Field(0.5, gt=0, le=30, description="how often a lingering run looks for new rows")
    budget_seconds: float = Field(900.0, gt=0, le=MAX_RUNTIME_SECONDS / 2, description="longest a run takes rows")


@dg.asset(
    group_name="inbox",
    kinds={"python"},
    pool=INBOX.pool.name,
    description=(
        "Drains the webhook inbox: pending rows oldest first, in micro-batches, each row ingested and "
        "marked done in one transaction; poison rows dead-lettered with their reason. Per-integration "
        "counts land on `webhook_ingestions` partitions."
    ),
)
def inbox_processing(context: dg.AssetExecutionContext, config: InboxBatchConfig, store: StoreResource) -> dg.MaterializeResult:
    busy_ms = 0.0  # time spent on batches that found rows; the rest of the run was lingering

    def report_batch(batch: BatchReport) -> None:
        nonlocal busy_ms
        busy_ms += batch.duration_ms
        tallies = batch.per_integration()
        ensure_partitions(context.instance, tallies)
        for name, tally in tallies.items():
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=webhook_ingestions.key,
                    partition=name,
                    metadata=ingestion_metadata(
                        counts=tally.counts(),
                        duration_ms=tally.ingest_ms,
                        error_reasons=reasons_text(tally.reasons),
                        mode="async (Dagster inbox processor)",
                        sync_run_ids=tally.sync_run_ids,
                    ),
                )
            )

    try:
        report = follow(
            store.engine(),
            batch_size=config.batch_size,
            idle_seconds=config.linger_seconds,
            budget_seconds=config.budget_seconds,
            poll_seconds=config.poll_seconds,
            details={"dagster_run_id": context.run_id},
            on_batch=report_batch,
        )
    except dg.DagsterExecutionInterruptedError:
        # A shutdown is the normal end of a resident processor: a batch it was in rolls back and stays
        # pending for the next run, so nothing acknowledged is lost by ending here.
        context.log.info("stopped for a shutdown; rows not yet processed stay pending for the next run")
        return dg.MaterializeResult(metadata={"stopped": "shutdown"})
    context.log.info(f"processed {len(report.outcomes)} inbox row(s) in {busy_ms:.0f} ms of work over {report.duration_ms / 1000:.1f} s")
    return dg.MaterializeResult(metadata=_run_metadata(report, busy_ms))


def _run_metadata(report: BatchReport, busy_ms: float) -> dict[str, dg.MetadataValue]:
    tallies = report.per_integration()
    totals = {
        key: sum(t.counts()[key] for t in tallies.values())
        for key in ("rows", "received", "created", "updated", "unchanged", "errors", "dead")
    }
    lines = ["| integration | rows | received | created | updated | unchanged | errors | dead |", "|---|---|---|---|---|---|---|---|"]
    for name, tally in sorted(tallies.items()):
        c = tally.counts()
        lines.append(
            f"| {name} | {c['rows']} | {c['received']} | {c['created']} | {c['updated']} | {c['unchanged']} | {c['errors']} | {c['dead']} |"
        )
    return {
        **{key: dg.MetadataValue.int(value) for key, value in totals.items()},
        "duration_ms": dg.MetadataValue.float(round(busy_ms, 1)),
        "run_seconds": dg.MetadataValue.float(round(report.duration_ms / 1000, 1)),
        "per_integration": dg.MetadataValue.md("\n".join(lines) if tallies else "nothing was pending"),
    }


@dg.asset_check(
    asset=inbox_processing,
    name=INBOX_HEALTH_CHECK.name,
    description="Fails when an integration has dead-lettered inbox rows (WARN) or a pending row waiting over a minute (ERROR).",
)
def inbox_health(store: StoreResource) -> dg.AssetCheckResult:
    return health_check_result(store.engine())


inbox_processing_job = dg.define_asset_job(
    "inbox_processing_job",
    selection=dg.AssetSelection.assets(inbox_processing),
    executor_def=dg.in_process_executor,
    tags={**INBOX.tags(), "dagster/max_runtime": str(MAX_RUNTIME_SECONDS)},
    description="Drains the inbox in micro-batches, then lingers for new rows a while (launched by inbox_sensor).",
)


@dg.sensor(
    name="inbox_sensor",
    job=inbox_processing_job,
    minimum_interval_seconds=1,  # the daemon's sensor loop still runs every 5 s at most
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches an inbox processing run when rows are pending and no inbox run is queued or running.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult | dg.SkipReason:
    newest = newest_pending_id(reader(store.engine()))
    if newest is None:
        return dg.SkipReason("no pending inbox rows")
    blocker = launch_blocker(context.instance, INBOX)
    if blocker:
        return dg.SkipReason(f"rows are pending up to inbox id {newest}; {blocker}")
    # The cursor counts launches and names the run key: a tick retried with the same cursor asks for
    # the same key, which the daemon does not launch twice.
    launches = int(context.cursor or 0) + 1
    context.log.info(f"launching inbox run {launches}: rows pending up to inbox id {newest}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"inbox-{launches}", tags={"crossdock/inbox_newest_pending": str(newest)})],
        cursor=str(launches),
    )


defs = dg.Definitions.merge(
    reporting_defs,
    dg.Definitions(
        assets=[inbox_processing, webhook_ingestions],
        asset_checks=[inbox_health],
        jobs=[inbox_processing_job],
        sensors=[inbox_sensor],
    ),
)

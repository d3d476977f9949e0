"""Inbox processing in Dagster: a sensor launches micro-batch runs; the run drains the inbox.

Latency and cost (DESIGN §4: webhook → order visible p95 ≤ 15 s on 2 cores): every run is a new
process (Dagster's default launcher, ~2 s just to import the code location here), so one run per
webhook would cost more CPU than the ingest itself. Instead the sensor launches at most one run per
tick, only when new rows arrived and no run is already waiting to start (a waiting run takes every
row pending when it starts), and the run drains the inbox in micro-batches. The daemon evaluates
sensors every 5 s and the instance dequeues every second (`assets/instance.py`), so a row waits
≤ 5 s for a tick, ~1 s for the dequeue, ~3-4 s for the run process, then milliseconds to ingest.
The job runs in-process (one process, no per-step subprocess) and one inbox run executes at a time
(tag concurrency limit), which keeps rows of one integration in arrival order.
"""

import json

import dagster as dg
from pydantic import Field

from assets.inbox_reporting import defs as reporting_defs
from assets.inbox_reporting import (
    INBOX_HEALTH_CHECK,
    ensure_partitions,
    health_check_result,
    ingestion_metadata,
    reasons_text,
    webhook_ingestions,
)
from assets.resources import StoreResource
from pipelines.inbox.processing import DEFAULT_BATCH_SIZE, BatchReport, drain, newest_pending_id

# The queued run coordinator runs one inbox run at a time (see assets/instance.py); the runtime cap
# lets run monitoring fail a run whose process died, so it cannot hold that slot forever.
INBOX_QUEUE_TAG = ("crossdock/queue", "inbox")
MAX_RUNTIME_SECONDS = 600
WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING]
IN_FLIGHT = [*WAITING, dg.DagsterRunStatus.STARTED]


class InboxBatchConfig(dg.Config):
    batch_size: int = Field(DEFAULT_BATCH_SIZE, ge=1, le=5_000, description="rows claimed per micro-batch")
    max_batches: int = Field(50, ge=1, le=1_000, description="micro-batches per run before it hands over")


@dg.asset(
    group_name="inbox",
    kinds={"python"},
    description=(
        "Drains the webhook inbox: pending rows oldest first, in micro-batches, each row ingested and "
        "marked done in one transaction; poison rows dead-lettered with their reason. Per-integration "
        "counts land on `webhook_ingestions` partitions."
    ),
)
def inbox_processing(
    context: dg.AssetExecutionContext, config: InboxBatchConfig, store: StoreResource
) -> dg.MaterializeResult:
    report = drain(
        store.engine(), batch_size=config.batch_size, max_batches=config.max_batches,
        details={"dagster_run_id": context.run_id},
    )
    tallies = report.per_integration()
    ensure_partitions(context.instance, tallies)
    for name, tally in tallies.items():
        context.log_event(
            dg.AssetMaterialization(
                asset_key=webhook_ingestions.key, partition=name,
                metadata=ingestion_metadata(
                    counts=tally.counts(), duration_ms=tally.ingest_ms, error_reasons=reasons_text(tally.reasons),
                    mode="async (Dagster inbox processor)", sync_run_ids=tally.sync_run_ids,
                ),
            )
        )
    context.log.info(f"processed {len(report.outcomes)} inbox row(s) in {report.duration_ms:.0f} ms")
    return dg.MaterializeResult(metadata=_batch_metadata(report))


def _batch_metadata(report: BatchReport) -> dict[str, dg.MetadataValue]:
    tallies = report.per_integration()
    totals = {key: sum(t.counts()[key] for t in tallies.values()) for key in
              ("rows", "received", "created", "updated", "unchanged", "errors", "dead")}
    lines = ["| integration | rows | received | created | updated | unchanged | errors | dead |", "|---|---|---|---|---|---|---|---|"]
    for name, tally in sorted(tallies.items()):
        c = tally.counts()
        lines.append(f"| {name} | {c['rows']} | {c['received']} | {c['created']} | {c['updated']} | "
                     f"{c['unchanged']} | {c['errors']} | {c['dead']} |")
    return {
        **{key: dg.MetadataValue.int(value) for key, value in totals.items()},
        "duration_ms": dg.MetadataValue.float(round(report.duration_ms, 1)),
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
    tags={INBOX_QUEUE_TAG[0]: INBOX_QUEUE_TAG[1], "dagster/max_runtime_seconds": str(MAX_RUNTIME_SECONDS)},
    description="One micro-batch processing run over the inbox (launched by inbox_sensor).",
)


def _cursor(raw: str | None) -> dict[str, int]:
    """`upto`: newest row id already handed to a run; `launches`: runs requested (keys run ids)."""
    state = json.loads(raw) if raw else {}
    return {"upto": int(state.get("upto", 0)), "launches": int(state.get("launches", 0))}


@dg.sensor(
    name="inbox_sensor",
    job=inbox_processing_job,
    minimum_interval_seconds=1,  # the daemon's sensor loop still runs every 5 s at most
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches an inbox processing run when rows are pending and no run is about to take them.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult | dg.SkipReason:
    state = _cursor(context.cursor)
    newest = newest_pending_id(store.engine())
    if newest is None:
        return dg.SkipReason("no pending inbox rows")
    runs = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=inbox_processing_job.name, statuses=IN_FLIGHT), limit=10
    )
    if any(run.status in WAITING for run in runs):
        return dg.SkipReason("a processing run is about to start; it takes every row pending by then")
    if newest > state["upto"]:
        reason = f"new rows up to inbox id {newest}"
    elif not runs:
        reason = f"rows left pending by an earlier run or replayed (newest pending id {newest})"
    else:
        return dg.SkipReason("the running processing run covers the pending rows")
    launches = state["launches"] + 1
    context.log.info(f"launching inbox run {launches}: {reason}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"inbox-{launches}", tags={"crossdock/inbox_upto": str(newest)})],
        cursor=json.dumps({"upto": max(newest, state["upto"]), "launches": launches}),
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

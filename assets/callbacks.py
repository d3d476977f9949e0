"""Callback delivery in Dagster: a sensor over the outbox launches the `callback_deliveries` asset,
which follows the outbox for a while (`connectors.callback_sender.follow_outbox`: new status changes
are sent within a poll, retries when they fall due) and records what it did per integration; an
asset check flags integrations with dead letters, callbacks stopped by a 410, or an endpoint whose
last attempt failed.

No run storms and no late retries: the sensor launches a run when a callback is due, or falls due
within the next few seconds (a run takes that long to start), and no delivery run is queued or
running. Delivery is latency work (`assets/capacity.py`): its own pool slot, dequeued before pulls.
"""

# No `from __future__ import annotations` here: Dagster reads the config class from the real annotation.
from datetime import timedelta

import dagster as dg
from pydantic import Field

from assets.capacity import CALLBACKS, launch_blocker
from assets.resources import StoreResource
from connectors.callback_sender import DeliveryReport, follow_outbox
from pipelines.callbacks import callback_summary, due_now
from pipelines.clock import iso, utcnow
from pipelines.store.engine import reader

SENSOR_INTERVAL_SECONDS = 5
# Launch this long before a retry falls due: a run takes a few seconds to start.
LAUNCH_LEAD_SECONDS = 10.0
MAX_RUNTIME_SECONDS = 1_800


class CallbackDeliveryConfig(dg.Config):
    workers: int = Field(16, ge=1, le=128, description="callbacks in flight at once, across orders")
    idle_seconds: float = Field(120.0, ge=0, le=900, description="keep watching the outbox this long after the last attempt")
    budget_seconds: float = Field(900.0, gt=0, le=MAX_RUNTIME_SECONDS / 2, description="longest a run delivers")
    poll_seconds: float = Field(0.5, gt=0, le=30, description="how often a watching run looks for new callbacks")


@dg.asset(
    group_name="callbacks",
    kinds={"python"},
    pool=CALLBACKS.pool.name,
    description="Delivers the callback outbox: signed status callbacks POSTed to each integration's "
    "callback_url, in order per order, retried on the backoff schedule; the run keeps watching for new "
    "ones for a while.",
)
def callback_deliveries(context: dg.AssetExecutionContext, config: CallbackDeliveryConfig, store: StoreResource) -> dg.MaterializeResult:
    def log_pass(report: DeliveryReport) -> None:
        context.log.info(report.summary())

    try:
        report = follow_outbox(
            store.engine(),
            idle_seconds=config.idle_seconds,
            budget_seconds=config.budget_seconds,
            poll_seconds=config.poll_seconds,
            stay_for_retry_seconds=LAUNCH_LEAD_SECONDS + SENSOR_INTERVAL_SECONDS,
            workers=config.workers,
            on_pass=log_pass,
        )
    except dg.DagsterExecutionInterruptedError:
        # A shutdown is the normal end of a resident sender: a callback it was sending keeps its claim's lease
        # and is sent again once that expires (at least once), so nothing is lost by ending here.
        context.log.info("stopped for a shutdown; callbacks being sent are retried when their claim expires")
        return dg.MaterializeResult(metadata={"stopped": "shutdown"})
    return dg.MaterializeResult(metadata=delivery_metadata(report))


def delivery_metadata(report: DeliveryReport) -> dict[str, object]:
    """Totals, a per-integration table, and flat per-integration keys the asset's plots can chart."""
    rows = report.rows()
    metadata: dict[str, object] = {
        "delivered": report.total("delivered"),
        "retried": report.total("retried"),
        "dead": report.total("dead"),
        "disabled": report.total("disabled"),
        "attempts": report.attempts,
        "seconds": round(report.seconds, 2),
        "per_integration": dg.MetadataValue.table(
            records=[dg.TableRecord({k: -1.0 if v is None else v for k, v in row.items()}) for row in rows],
            schema=dg.TableSchema(
                columns=[
                    dg.TableColumn("integration", "string"),
                    dg.TableColumn("delivered", "int"),
                    dg.TableColumn("retried", "int"),
                    dg.TableColumn("dead", "int"),
                    dg.TableColumn("disabled", "int"),
                    dg.TableColumn("latency_p50_ms", "float", description="-1 when nothing got an answer"),
                    dg.TableColumn("latency_p95_ms", "float", description="-1 when nothing got an answer"),
                ]
            ),
        ),
    }
    for row in rows:  # flat keys too, so the asset's plots chart each integration over time
        for key in ("delivered", "retried", "dead", "disabled"):
            metadata[f"{row['integration']}/{key}"] = row[key]
        if row["latency_p95_ms"] is not None:
            metadata[f"{row['integration']}/latency_p95_ms"] = row["latency_p95_ms"]
    return metadata


@dg.asset_check(
    asset=callback_deliveries,
    description="Integrations with dead-lettered callbacks, callbacks stopped by a 410, or a callback "
    "endpoint whose latest attempt failed.",
)
def callback_endpoints_healthy(store: StoreResource) -> dg.AssetCheckResult:
    flagged = []
    for item in callback_summary(store.engine()):
        problems = []
        if item.disabled_reason:
            problems.append(f"stopped: {item.disabled_reason}")
        if item.counts["dead"]:
            problems.append(f"{item.counts['dead']} dead letter(s) to replay")
        if item.failing:
            problems.append(f"latest attempt failed at {iso(item.last_attempt_at)}: {item.last_result}")
        if problems:
            flagged.append({"integration": item.integration, "problems": "; ".join(problems)})
    return dg.AssetCheckResult(
        passed=not flagged,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if not flagged else ", ".join(f["integration"] for f in flagged) + " need attention",
        metadata={
            "flagged": len(flagged),
            "integrations": dg.MetadataValue.table(
                records=[dg.TableRecord(f) for f in flagged],
                schema=dg.TableSchema(columns=[dg.TableColumn("integration", "string"), dg.TableColumn("problems", "string")]),
            ),
        },
    )


deliver_callbacks_job = dg.define_asset_job(
    "deliver_callbacks",
    selection=dg.AssetSelection.assets(callback_deliveries),
    executor_def=dg.in_process_executor,
    tags={**CALLBACKS.tags(), "dagster/max_runtime": str(MAX_RUNTIME_SECONDS)},
    description="Deliver status callbacks and keep watching the outbox a while (launched by the callbacks_due "
    "sensor; safe to launch by hand).",
)


@dg.sensor(
    name="callbacks_due",
    job=deliver_callbacks_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches a callback delivery run when callbacks are due and none is already running.",
)
def callbacks_due_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.RunRequest | dg.SkipReason:
    now = utcnow()
    due, upcoming = due_now(reader(store.engine()), now + timedelta(seconds=LAUNCH_LEAD_SECONDS))
    if not due:
        later = f"; next retry at {iso(upcoming)}" if upcoming else ""
        return dg.SkipReason(f"no callbacks due{later}")
    blocker = launch_blocker(context.instance, CALLBACKS)
    if blocker:
        return dg.SkipReason(f"{due} callback(s) due; {blocker}")
    # One run key per tick window: a re-evaluated tick never launches twice.
    window = int(now.timestamp()) // SENSOR_INTERVAL_SECONDS
    return dg.RunRequest(run_key=f"callbacks-{window}", tags={"crossdock/due": str(due)})


defs = dg.Definitions(
    assets=[callback_deliveries],
    asset_checks=[callback_endpoints_healthy],
    jobs=[deliver_callbacks_job],
    sensors=[callbacks_due_sensor],
)

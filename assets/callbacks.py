"""Callback delivery in Dagster: a sensor over due callbacks launches the `callback_deliveries` asset,
which runs one delivery pass and records what it did per integration; an asset check flags
integrations with dead letters, callbacks stopped by a 410, or an endpoint whose last attempt failed.

No run storms: the sensor launches a run only when something is due and no delivery run is queued
or running (a pass already picks up everything due while it runs), at most one per tick window.
"""
# No `from __future__ import annotations` here: Dagster reads the config class from the real annotation.
import dagster as dg

from assets.resources import StoreResource
from connectors.callback_sender import deliver_due
from pipelines.callbacks import callback_summary, due_now
from pipelines.clock import iso, utcnow

SENSOR_INTERVAL_SECONDS = 10
ACTIVE_RUN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


class CallbackDeliveryConfig(dg.Config):
    max_seconds: float = 50.0  # stop claiming after this; what is left goes in the next run
    workers: int = 16  # callbacks in flight at once, across orders


@dg.asset(
    group_name="callbacks",
    kinds={"python"},
    description="One delivery pass over the callback outbox: signed status callbacks POSTed to each "
    "integration's callback_url, in order per order, retried on the backoff schedule.",
)
def callback_deliveries(config: CallbackDeliveryConfig, store: StoreResource) -> dg.MaterializeResult:
    report = deliver_due(store.engine(), workers=config.workers, max_seconds=config.max_seconds)
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
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(
    asset=callback_deliveries,
    description="Integrations with dead-lettered callbacks, callbacks stopped by a 410, or a callback "
    "endpoint whose latest attempt failed.",
)
def callback_endpoints_healthy(store: StoreResource) -> dg.AssetCheckResult:
    flagged = []
    for item in callback_summary(store.engine()):
        problems = []
        if item["disabled_reason"]:
            problems.append(f"stopped: {item['disabled_reason']}")
        if item["counts"]["dead"]:
            problems.append(f"{item['counts']['dead']} dead letter(s) to replay")
        if item["failing"]:
            code = f"HTTP {item['last_status_code']}" if item["last_status_code"] else item["last_error"]
            problems.append(f"latest attempt failed at {iso(item['last_attempt_at'])}: {code}")
        if problems:
            flagged.append({"integration": item["integration"], "problems": "; ".join(problems)})
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
    description="Deliver due status callbacks (launched by the callbacks_due sensor; safe to launch by hand).",
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
    due, upcoming = due_now(store.engine(), now)
    if not due:
        later = f"; next retry at {iso(upcoming)}" if upcoming else ""
        return dg.SkipReason(f"no callbacks due{later}")
    active = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=deliver_callbacks_job.name, statuses=ACTIVE_RUN_STATUSES), limit=1
    )
    if active:
        return dg.SkipReason(f"{due} callback(s) due; delivery run {active[0].run_id} is still in progress")
    # One run key per tick window: a re-evaluated tick never launches twice.
    window = int(now.timestamp()) // SENSOR_INTERVAL_SECONDS
    return dg.RunRequest(run_key=f"callbacks-{window}", tags={"crossdock/due": str(due)})


defs = dg.Definitions(
    assets=[callback_deliveries],
    asset_checks=[callback_endpoints_healthy],
    jobs=[deliver_callbacks_job],
    sensors=[callbacks_due_sensor],
)

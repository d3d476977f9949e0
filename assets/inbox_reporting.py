"""What the inbox shows in Dagster: every webhook ingestion per integration, and the inbox's health.

`webhook_ingestions` is an asset partitioned by integration that no Dagster run computes: the inbox
processing run materializes a partition for each integration it ingested (async ack mode), and the
`sync_run_reporter` sensor does the same for rows the receiver ingested itself (sync ack mode), so
the catalog shows every ingestion with its counts whichever path it took.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import timedelta

import dagster as dg
import sqlalchemy as sa

from assets.partitions import integration_partitions
from assets.resources import StoreResource
from pipelines.clock import utcnow
from pipelines.inbox.reporting import InboxHealth, by_receiver, inbox_health, inbox_sync_runs
from pipelines.store.engine import reader
from pipelines.store.identity import store_id

INBOX_PROCESSING = dg.AssetKey("inbox_processing")  # defined in assets/inbox_processing.py
INBOX_HEALTH_CHECK = dg.AssetCheckKey(asset_key=INBOX_PROCESSING, name="inbox_health")
# Report a receiver's sync run once it started this long ago (see `inbox_sync_runs` for why).
SYNC_REPORT_SETTLE_SECONDS = 5.0
# Bounds one tick's work; a burst larger than this is reported over the following ticks.
MAX_EVENTS_PER_TICK = 500

webhook_ingestions = dg.AssetSpec(
    key="webhook_ingestions",
    partitions_def=integration_partitions,
    group_name="inbox",
    deps=[INBOX_PROCESSING],
    kinds={"sql"},
    description=(
        "Orders and sales ingested from webhooks, per integration: each materialization is one ingestion "
        "(sync mode, by the receiver) or one processing run's share (async mode), with received, created, "
        "updated, unchanged, errors, dead-lettered rows, error reasons and duration."
    ),
)


def ingestion_metadata(
    *,
    counts: Mapping[str, int],
    duration_ms: float | None,
    error_reasons: str,
    mode: str,
    sync_run_ids: list[int],
) -> dict[str, dg.MetadataValue]:
    """The same metadata keys for both paths, so the catalog can plot them over time."""
    metadata: dict[str, dg.MetadataValue] = {
        key: dg.MetadataValue.int(int(counts.get(key, 0)))
        for key in ("rows", "received", "created", "updated", "unchanged", "errors", "dead")
    }
    metadata["duration_ms"] = dg.MetadataValue.float(round(duration_ms or 0.0, 2))
    metadata["error_reasons"] = dg.MetadataValue.text(error_reasons or "none")
    metadata["mode"] = dg.MetadataValue.text(mode)
    metadata["sync_run_ids"] = dg.MetadataValue.text(_ids(sync_run_ids))
    return metadata


def _ids(ids: list[int], shown: int = 20) -> str:
    text = ", ".join(str(i) for i in ids[:shown])
    return text + (f" and {len(ids) - shown} more" if len(ids) > shown else "") if ids else "none"


def reasons_text(reasons: Mapping[str, int], shown: int = 5) -> str:
    """`field: message (xN); ...`, commonest first, like a sync run's own message."""
    ranked = sorted(reasons.items(), key=lambda kv: -kv[1])[:shown]
    return "; ".join(f"{reason} (x{n})" if n > 1 else reason for reason, n in ranked)


def ensure_partitions(instance: dg.DagsterInstance, names: Iterable[str]) -> None:
    """Add integration partitions the `integration_partitions` sensor has not added yet, so an
    ingestion by a brand-new integration is never reported against a partition that does not exist."""
    wanted = set(names)
    if not wanted:
        return
    missing = wanted - set(instance.get_dynamic_partitions(integration_partitions.name))
    if missing:
        instance.add_dynamic_partitions(integration_partitions.name, sorted(missing))


def _health(engine: sa.Engine) -> InboxHealth:
    with reader(engine).connect() as conn:
        return inbox_health(conn, utcnow())


def _health_fields(health: InboxHealth) -> dict:
    return {
        "passed": health.passed,
        "severity": dg.AssetCheckSeverity.ERROR if health.stuck else dg.AssetCheckSeverity.WARN,
        "description": health.summary(),
        "metadata": {
            "dead_letters": dg.MetadataValue.json(health.dead),
            "pending": dg.MetadataValue.json(health.pending),
            "stuck_seconds": dg.MetadataValue.json({k: round(v, 1) for k, v in health.stuck.items()}),
        },
    }


def health_check_result(engine: sa.Engine) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(**_health_fields(_health(engine)))


@dg.sensor(
    name="inbox_health_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-evaluates the inbox_health check whenever its verdict changes, even when no run happens "
    "(e.g. processing runs keep failing and the backlog grows, or dead letters were replayed).",
)
def inbox_health_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult | dg.SkipReason:
    health = _health(store.engine())
    if health.fingerprint() == context.cursor:
        return dg.SkipReason(f"unchanged: {health.summary()}")
    evaluation = dg.AssetCheckEvaluation(
        asset_key=INBOX_HEALTH_CHECK.asset_key, check_name=INBOX_HEALTH_CHECK.name, **_health_fields(health)
    )
    return dg.SensorResult(asset_events=[evaluation], cursor=health.fingerprint())


def reporter_position(cursor: str | None, current_store: str) -> int:
    """The last sync run id reported from `current_store`. The cursor names the store it counts in:
    after a switch to another store (or a store recreated), reporting starts again from that store's
    first run instead of skipping as many runs as the old one had. A bare number is a cursor written
    before stores were named; it is taken as the current store's."""
    if not cursor:
        return 0
    try:
        saved = json.loads(cursor)
    except ValueError:
        return 0
    if isinstance(saved, int):
        return saved
    if isinstance(saved, dict) and saved.get("store") == current_store:
        return int(saved.get("after", 0))
    return 0


def build_sync_run_reporter(settle_seconds: float = SYNC_REPORT_SETTLE_SECONDS) -> dg.SensorDefinition:
    """The sensor that reports the receiver's sync-mode ingestions as `webhook_ingestions`
    materializations; its cursor is the store's id and the last sync run id examined in it, so each
    is reported once."""

    @dg.sensor(
        name="sync_run_reporter",
        minimum_interval_seconds=10,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Reports webhooks the receiver ingested itself (sync ack mode) on webhook_ingestions.",
    )
    def sync_run_reporter(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult | dg.SkipReason:
        engine = store.engine()
        current = store_id(engine)
        after = reporter_position(context.cursor, current)
        with reader(engine).connect() as conn:
            runs = inbox_sync_runs(
                conn,
                after_id=after,
                started_before=utcnow() - timedelta(seconds=settle_seconds),
                limit=MAX_EVENTS_PER_TICK,
            )
        if not runs:
            return dg.SensorResult(cursor=json.dumps({"store": current, "after": after}), skip_reason=f"no new sync runs after id {after}")
        receiver_runs = [run for run in runs if by_receiver(run)]
        ensure_partitions(context.instance, (run.integration for run in receiver_runs))
        events = [
            dg.AssetMaterialization(
                asset_key=webhook_ingestions.key,
                partition=run.integration,
                metadata=ingestion_metadata(
                    counts={**run.counts(), "rows": 1},
                    duration_ms=run.duration_ms,
                    error_reasons=run.message or "",
                    mode="sync (receiver)",
                    sync_run_ids=[run.id],
                ),
                description=f"inbox row {run.inbox_id}, ingested by the receiver",
            )
            for run in receiver_runs
        ]
        return dg.SensorResult(asset_events=events, cursor=json.dumps({"store": current, "after": runs[-1].id}))

    return sync_run_reporter


sync_run_reporter = build_sync_run_reporter()

defs = dg.Definitions(sensors=[sync_run_reporter, inbox_health_sensor])

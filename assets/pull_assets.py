"""The pull assets and their jobs: `api_pull`, `db_pull`, `file_pull`, each partitioned by
integration × day. Scheduled polls (`assets/pull_worker.py`) report on today's partition; a partition
launched from the UI or a backfill re-pulls exactly that day's window. Counts, pages/rows read,
cursor and duration land as materialization metadata.

Every run of these draws from the pull pool (`assets/capacity.py`), however it was launched, so a
backfill of many partitions waits its turn instead of taking the slots of webhooks and callbacks.
A partition whose integration is being polled right now waits for that poll to finish."""

import dagster as dg
from pydantic import Field

from assets.capacity import PULL_PARTITIONS
from assets.executor import pull_executor
from assets.pull_partitions import pull_partitions
from assets.resources import StoreResource
from connectors.pull import pull
from pipelines.integrations import IntegrationNotFound
from pipelines.sources import PullError, PullReport, Window
from pipelines.sources.schedule import PULL_TYPES
from pipelines.vocabulary import PullMode

GROUP = "pull_sources"
# How long a partition waits for another pull of its integration (a scheduled poll) to finish.
LEASE_WAIT_SECONDS = 900.0
DESCRIPTIONS = {
    "api": "Orders polled from client REST APIs (the plan's option 1).",
    "db": "Orders queried from client databases, marked back as synced (option 3).",
    "file": "Orders from exports dropped in each integration's folder (CSV, XLSX, JSON Lines, Parquet).",
}


class PullConfig(dg.Config):
    mode: PullMode = Field(
        PullMode.WINDOW,
        description="window: re-pull the partition's day (backfills); incremental: resume from the cursor (scheduled polls)",
    )


def report_metadata(report: PullReport) -> dict[str, dg.MetadataValue]:
    data = report.to_dict()
    out: dict[str, dg.MetadataValue] = {}
    for key, value in data.items():
        if key in ("integration",):
            continue
        if key == "duration_ms":
            out[key] = dg.MetadataValue.float(float(value))
        elif isinstance(value, bool) or value is None:
            out[key] = dg.MetadataValue.text(str(value))
        elif isinstance(value, int):
            out[key] = dg.MetadataValue.int(value)
        elif isinstance(value, list):
            out[key] = dg.MetadataValue.md("\n".join(f"- {item}" for item in value))
        else:
            out[key] = dg.MetadataValue.text(str(value))
    return out


def _run_pull(context: dg.AssetExecutionContext, store: StoreResource, config: PullConfig) -> dg.MaterializeResult:
    keys = context.partition_key.keys_by_dimension
    name, day = keys["integration"], keys["date"]
    window = None if config.mode == PullMode.INCREMENTAL else Window.day(day)
    context.log.info(f"pulling {name} ({config.mode}{'' if window is None else ' ' + str(window)})")
    try:
        report = pull(
            store.engine(),
            name,
            window=window,
            holder=f"Dagster run {context.run_id[:8]} ({name} {day})",
            wait_for_lease_seconds=LEASE_WAIT_SECONDS,
            on_wait=lambda holder: context.log.info(f"waiting for {holder} to finish pulling {name}"),
        )
    except IntegrationNotFound:
        raise dg.Failure(
            description=f"no integration named {name!r}: deleted or renamed since this partition was made", allow_retries=False
        ) from None
    except PullError as exc:
        metadata = report_metadata(exc.report) if exc.report else {}
        raise dg.Failure(description=str(exc), metadata=metadata, allow_retries=False) from None
    for warning in report.warnings:
        context.log.warning(warning)
    return dg.MaterializeResult(metadata=report_metadata(report))


def _pull_asset(kind: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{kind}_pull",
        group_name=GROUP,
        partitions_def=pull_partitions[kind],
        description=DESCRIPTIONS[kind],
        kinds={"python"},
        tags={"crossdock/source": kind},
        pool=PULL_PARTITIONS.pool.name,
    )
    def _asset(context: dg.AssetExecutionContext, config: PullConfig, store: StoreResource) -> dg.MaterializeResult:
        return _run_pull(context, store, config)

    return _asset


api_pull, db_pull, file_pull = (_pull_asset(kind) for kind in PULL_TYPES)
PULL_ASSETS = {"api": api_pull, "db": db_pull, "file": file_pull}
PULL_JOBS = {
    kind: dg.define_asset_job(
        f"{kind}_pull_job",
        selection=dg.AssetSelection.assets(asset).without_checks(),
        partitions_def=asset.partitions_def,
        executor_def=pull_executor(),  # in-process, or Celery workers (assets/executor.py)
        tags=PULL_PARTITIONS.tags(),
        description=f"Re-pull one {kind} integration's day (backfills; scheduled polls run in scheduled_polls_job).",
    )
    for kind, asset in PULL_ASSETS.items()
}

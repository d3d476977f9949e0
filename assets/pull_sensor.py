"""The `pull_poll` sensor: launch a pull for every api/db/file integration whose poll interval has
elapsed since its last launch (kept in the sensor's cursor), never two at once for the same
integration; run keys make a repeated tick harmless."""
from __future__ import annotations

import json

import dagster as dg

from assets.pull_assets import PULL_JOBS, PullConfig
from assets.partitions import integration_dimension
from assets.resources import StoreResource
from pipelines.clock import utcnow
from pipelines.integrations import list_integrations
from pipelines.sources.schedule import due_polls

IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
PARTITION_TAG = "dagster/partition/integration"


PULL_KEYS = {dg.AssetKey(f"{kind}_pull") for kind in PULL_JOBS}


def busy_integrations(instance: dg.DagsterInstance) -> set[str]:
    """Integrations with a pull run queued or running, whether a scheduled poll or a backfill."""
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS), limit=1_000)
    return {
        run.tags[PARTITION_TAG]
        for run in runs
        if PARTITION_TAG in run.tags and PULL_KEYS & set(run.asset_selection or ())
    }


@dg.sensor(
    name="pull_poll",
    jobs=list(PULL_JOBS.values()),
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches a pull when an api/db/file integration's poll_interval_seconds has elapsed.",
)
def pull_poll_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
    now = utcnow()
    integrations = list_integrations(store.engine(), active_only=True)
    last_launched: dict[str, float] = json.loads(context.cursor) if context.cursor else {}
    due = due_polls(integrations, now, busy_integrations(context.instance), last_launched)
    today = now.date().isoformat()
    missing: dict[str, list[str]] = {}
    requests = []
    for poll in due:
        dimension = integration_dimension[poll.kind]
        if not context.instance.has_dynamic_partition(dimension.name, poll.name):
            missing.setdefault(poll.kind, []).append(poll.name)
        asset_name = f"{poll.kind}_pull"
        requests.append(
            dg.RunRequest(
                run_key=poll.run_key,
                job_name=PULL_JOBS[poll.kind].name,
                partition_key=dg.MultiPartitionKey({"integration": poll.name, "date": today}),
                run_config=dg.RunConfig(ops={asset_name: PullConfig(mode="incremental")}),
                tags={"crossdock/pull": "true", "crossdock/trigger": "poll"},
            )
        )
    partition_adds = [integration_dimension[kind].build_add_request(names) for kind, names in missing.items()]
    current = {item.name for item in integrations}
    cursor = {name: at for name, at in last_launched.items() if name in current}  # forget deleted ones
    cursor.update({poll.name: now.timestamp() for poll in due})
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=partition_adds, cursor=json.dumps(cursor, sort_keys=True))

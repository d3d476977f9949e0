"""The archive's retention in Dagster: once a day the `archive_retention` sensor purges integrations
archived (deleted) more than `CROSSDOCK_ARCHIVE_RETENTION_DAYS` ago, audited as done by the system.

A sensor rather than a schedule with a job: the purge is a few deletes, done inside the tick like the
alerts sensor's work, so no run is queued for it; the tick history says what was purged. An unusable
retention setting purges nothing (deleting by a value nobody meant is the one thing to avoid) and
says so in the tick.
"""

from __future__ import annotations

import dagster as dg

from assets.resources import StoreResource
from pipelines import settings
from pipelines.integrations import purge_expired

INTERVAL_SECONDS = 24 * 3600


@dg.sensor(
    name="archive_retention",
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Daily: purges integrations archived longer than CROSSDOCK_ARCHIVE_RETENTION_DAYS, with all their "
    "data (audited as the system); never launches a run.",
)
def archive_retention_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SkipReason:
    try:
        days = settings.current().archive_retention_days
    except settings.SettingError as exc:
        return dg.SkipReason(f"nothing purged: {exc}")
    purged = purge_expired(store.engine(), days)
    if purged:
        context.log.info(f"purged {len(purged)} archived integration(s): {', '.join(purged)}")
        return dg.SkipReason(f"purged {len(purged)} integration(s) archived more than {days} day(s) ago: {', '.join(purged)}")
    return dg.SkipReason(f"no integration archived more than {days} day(s) ago")


defs = dg.Definitions(sensors=[archive_retention_sensor])

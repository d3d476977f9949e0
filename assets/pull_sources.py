"""Pull sources (REST polling, DB extraction, file drops) in Dagster: assets partitioned by
integration × day and their backfill jobs, the scheduled-poll worker and its sensor, and the
freshness and error-rate checks (the integration partitions themselves are kept by
assets/partitions.py)."""

from __future__ import annotations

import dagster as dg

from assets.pull_assets import PULL_ASSETS, PULL_JOBS
from assets.pull_checks import pull_checks, pull_checks_sensor
from assets.pull_worker import pull_poll_sensor, scheduled_polls, scheduled_polls_job

defs = dg.Definitions(
    assets=[*PULL_ASSETS.values(), scheduled_polls],
    asset_checks=pull_checks(),
    jobs=[*PULL_JOBS.values(), scheduled_polls_job],
    sensors=[pull_poll_sensor, pull_checks_sensor],
)

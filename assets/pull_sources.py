"""Pull sources (REST polling, DB extraction, file drops) in Dagster: assets partitioned by
integration × day, the jobs and the poll sensor that launch them, and the freshness and error-rate
checks (the integration partitions themselves are kept by assets/partitions.py)."""
from __future__ import annotations

import dagster as dg

from assets.pull_assets import PULL_ASSETS, PULL_JOBS
from assets.pull_checks import checks_job, checks_schedule, pull_checks
from assets.pull_sensor import pull_poll_sensor

defs = dg.Definitions(
    assets=list(PULL_ASSETS.values()),
    asset_checks=pull_checks(),
    jobs=[*PULL_JOBS.values(), checks_job],
    schedules=[checks_schedule],
    sensors=[pull_poll_sensor],
)

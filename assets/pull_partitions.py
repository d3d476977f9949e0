"""Partitions of the pull assets: which integration × which UTC day.

Each pull kind has its own integration dimension (assets/partitions.py keeps it in step with the
store), so an asset's partition grid and backfill dialog offer only the integrations it can pull.
The daily dimension is what an operator backfills: one partition re-pulls that day's window.
"""

from __future__ import annotations

import dagster as dg

from assets.partitions import integration_dimension
from pipelines.sources.schedule import PULL_TYPES

BACKFILL_START = "2024-01-01"

# end_offset=1: today is a partition too, the one scheduled polls materialize.
pull_days = dg.DailyPartitionsDefinition(start_date=BACKFILL_START, end_offset=1)
pull_partitions = {
    kind: dg.MultiPartitionsDefinition({"integration": integration_dimension[kind], "date": pull_days}) for kind in PULL_TYPES
}

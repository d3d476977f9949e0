"""Everything Dagster: assets, sensors, schedules, partitions, resources and checks."""

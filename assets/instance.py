"""The Dagster instance Crossdock runs on: `dagster.yaml` written into a DAGSTER_HOME.

Chosen for one 2-core machine and the async latency target (webhook → order visible p95 ≤ 15 s):
- SQLite storage under DAGSTER_HOME: nothing to install; Dagster's runs, events and schedules only.
- QueuedRunCoordinator, 3 runs at once: one per core for working runs, plus the inbox run, which
  spends most of its life asleep between polls while it lingers for new rows (each run is its own
  process); dequeued every second instead of every 5 s; at most one inbox processing run at a time
  (tag limit), so rows of an integration are applied in arrival order.
- Run monitoring, so a run whose process died stops holding that slot (start timeout, and the
  inbox job's `dagster/max_runtime_seconds` tag).
- Sensors and schedules evaluated on threads, so a slow sensor elsewhere never delays the inbox's.
- Old sensor ticks purged: the inbox sensor ticks every 5 s.
- Telemetry off.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from assets.inbox_processing import INBOX_QUEUE_TAG

MAX_CONCURRENT_RUNS = 3


def dagster_settings(dagster_home: Path) -> dict[str, Any]:
    home = dagster_home.resolve()
    return {
        "storage": {"sqlite": {"base_dir": str(home / "storage")}},
        "local_artifact_storage": {
            "module": "dagster._core.storage.root",
            "class": "LocalArtifactStorage",
            "config": {"base_dir": str(home)},
        },
        "telemetry": {"enabled": False},
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": MAX_CONCURRENT_RUNS,
                "dequeue_interval_seconds": 1,
                "tag_concurrency_limits": [{"key": INBOX_QUEUE_TAG[0], "value": INBOX_QUEUE_TAG[1], "limit": 1}],
            },
        },
        "run_monitoring": {
            "enabled": True,
            "start_timeout_seconds": 180,
            "cancel_timeout_seconds": 60,
            "poll_interval_seconds": 30,
        },
        "sensors": {"use_threads": True, "num_workers": 4},
        "schedules": {"use_threads": True, "num_workers": 2},
        "retention": {
            "sensor": {"purge_after_days": {"skipped": 1, "failure": 7, "success": 7}},
            "schedule": {"purge_after_days": {"skipped": 1, "failure": 7, "success": 7}},
        },
    }


def write_dagster_yaml(dagster_home: Path) -> Path:
    """Write `dagster.yaml` into `dagster_home` (created if missing) and return its path.
    Rewritten on every call, so an upgrade of these settings applies on the next start."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    path.write_text(
        "# Written by Crossdock (assets/instance.py); edits are overwritten on the next start.\n"
        + yaml.safe_dump(dagster_settings(dagster_home), sort_keys=False),
        encoding="utf-8",
    )
    return path

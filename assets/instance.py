"""The Dagster instance Crossdock runs on: `dagster.yaml` and the code server's workspace, written
into a DAGSTER_HOME, and the one-time set-up before Dagster's processes start.

Chosen for one 2-core machine and the latency targets (webhook → order visible p95 ≤ 15 s, status
change → first callback attempt p95 ≤ 10 s):
- Storage follows the store: SQLite files under DAGSTER_HOME on the embedded default; on
  PostgreSQL, Dagster's runs, events and schedules live in the same database as the store, in a
  schema of their own (`dagster`, or `<store schema>_dagster` when the store URL sets a
  search_path), so a production install keeps one database and Dagster's `alembic_version` never
  meets the store's. The URL reaches Dagster through an environment variable, so no password is
  ever written into `dagster.yaml`.
- The queued run coordinator with one pool per class of work (`assets/capacity.py`), enforced per
  run: latency work has slots pulls cannot take, and is dequeued first. Dequeued every second.
- Runs are launched by `assets.run_launcher.LocalRunLauncher`, whose worker health check lets run
  monitoring fail a run whose process died, so it stops holding a slot within a poll interval.
- Sensors and schedules evaluated on threads, so a slow sensor never delays the inbox's.
- Old sensor ticks purged: the inbox sensor ticks every 5 s. Telemetry off.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from assets.capacity import MAX_CONCURRENT_RUNS

DAGSTER_PG_URL_VARIABLE = "CROSSDOCK_DAGSTER_PG_URL"
RUN_MONITOR_INTERVAL_SECONDS = 15
RUN_START_TIMEOUT_SECONDS = 180


def dagster_schema(store_url: sa.URL) -> str:
    """The PostgreSQL schema Dagster's tables go in, next to a store at `store_url`."""
    options = store_url.query.get("options", "")
    options = options if isinstance(options, str) else " ".join(options)
    for option in options.replace("-c ", "-c").split():
        if option.startswith("-csearch_path="):
            store_schema = option.split("=", 1)[1].split(",")[0].strip().strip('"')
            if store_schema and store_schema != "public":
                return f"{store_schema}_dagster"
    return "dagster"


def dagster_pg_url(store_url: str) -> str | None:
    """The URL Dagster's PostgreSQL storage uses for a store at `store_url` (psycopg2, the driver
    dagster-postgres is built on; its own schema in the search path), or None off PostgreSQL."""
    url = sa.make_url(store_url)
    if url.get_backend_name() != "postgresql":
        return None
    query = {key: value for key, value in url.query.items() if key != "options"}
    query["options"] = f"-csearch_path={dagster_schema(url)}"
    return url.set(drivername="postgresql+psycopg2", query=query).render_as_string(hide_password=False)


def dagster_settings(dagster_home: Path, store_url: str) -> dict[str, Any]:
    home = dagster_home.resolve()
    if dagster_pg_url(store_url) is not None:
        storage: dict[str, Any] = {"postgres": {"postgres_url": {"env": DAGSTER_PG_URL_VARIABLE}}}
    else:
        storage = {"sqlite": {"base_dir": str(home / "storage")}}
    return {
        "storage": storage,
        "local_artifact_storage": {
            "module": "dagster._core.storage.root",
            "class": "LocalArtifactStorage",
            "config": {"base_dir": str(home)},
        },
        "telemetry": {"enabled": False},
        "run_launcher": {"module": "assets.run_launcher", "class": "LocalRunLauncher"},
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"dequeue_interval_seconds": 1},
        },
        "concurrency": {
            "runs": {"max_concurrent_runs": MAX_CONCURRENT_RUNS},
            # A pool nobody configured (a new asset's) gets one run at a time rather than no limit.
            "pools": {"granularity": "run", "default_limit": 1},
        },
        "run_monitoring": {
            "enabled": True,
            "start_timeout_seconds": RUN_START_TIMEOUT_SECONDS,
            "cancel_timeout_seconds": 60,
            "poll_interval_seconds": RUN_MONITOR_INTERVAL_SECONDS,
            "max_resume_run_attempts": 0,
        },
        "sensors": {"use_threads": True, "num_workers": 4},
        "schedules": {"use_threads": True, "num_workers": 2},
        "retention": {
            "sensor": {"purge_after_days": {"skipped": 1, "failure": 7, "success": 7}},
            "schedule": {"purge_after_days": {"skipped": 1, "failure": 7, "success": 7}},
        },
    }


def dagster_environment(store_url: str) -> dict[str, str]:
    """What Dagster's processes need in their environment for `dagster.yaml` to resolve."""
    pg_url = dagster_pg_url(store_url)
    return {DAGSTER_PG_URL_VARIABLE: pg_url} if pg_url else {}


def write_dagster_yaml(dagster_home: Path, store_url: str) -> Path:
    """Write `dagster.yaml` into `dagster_home` (created if missing) and return its path.
    Rewritten on every call, so an upgrade of these settings applies on the next start."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    path.write_text(
        "# Written by Crossdock (assets/instance.py); edits are overwritten on the next start.\n"
        + yaml.safe_dump(dagster_settings(dagster_home, store_url), sort_keys=False),
        encoding="utf-8",
    )
    return path


def write_code_server_workspace(dagster_home: Path, host: str, port: int) -> Path:
    """A workspace that points the webserver and the daemon at one long-lived code server, instead
    of each spawning its own (two more processes loading the code, and a 60 s start deadline that a
    busy machine misses)."""
    path = dagster_home / "workspace.yaml"
    workspace = {"load_from": [{"grpc_server": {"host": host, "port": port, "location_name": "crossdock"}}]}
    path.write_text("# Written by `crossdock up` (assets/instance.py).\n" + yaml.safe_dump(workspace), encoding="utf-8")
    return path


def prepare_instance(dagster_home: Path, store_url: str) -> None:
    """Everything Dagster needs before its processes start: its PostgreSQL schema when the store is
    on PostgreSQL, its storages created once (the webserver and the daemon would otherwise create
    them at the same moment on a fresh home, and their schema stamps race), and the pool limits."""
    import dagster as dg

    from assets.capacity import apply_pool_limits

    pg_url = dagster_pg_url(store_url)
    if pg_url is not None:
        schema = dagster_schema(sa.make_url(store_url))
        engine = sa.create_engine(store_url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        finally:
            engine.dispose()
    previous = {key: os.environ.get(key) for key in dagster_environment(store_url)}
    os.environ.update(dagster_environment(store_url))
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            instance.get_runs_count()
            instance.all_instigator_state()
            instance.event_log_storage.get_asset_records()
            apply_pool_limits(instance)
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

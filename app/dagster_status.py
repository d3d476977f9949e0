"""The Dagster instance as the admin app sees it: the same `dagster.yaml` as the daemon (under
DAGSTER_HOME, which `crossdock up` sets, else the Crossdock home's `dagster/`), opened once per
server process, read for the dashboard's "is Dagster keeping up?" panel."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import streamlit as st

from assets.instance import dagster_environment
from assets.queue_status import DagsterLoad, dagster_load
from pipelines import settings


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or settings.home() / "dagster")


@st.cache_resource(show_spinner=False)
def _instance(home: str) -> dg.DagsterInstance:
    os.environ.update(dagster_environment(settings.database_url()))
    return dg.DagsterInstance.from_config(home)


def current_load() -> DagsterLoad | str:
    """The run queue and daemon status, or why they cannot be read (Dagster never set up here)."""
    home = dagster_home()
    if not (home / "dagster.yaml").exists():
        return f"Dagster is not set up in {home} (`crossdock up` sets it up)"
    try:
        return dagster_load(_instance(str(home)))
    except Exception as exc:  # noqa: BLE001 - the dashboard must render even when Dagster's storage does not answer
        return f"Dagster's storage did not answer ({type(exc).__name__})"

"""The history and reports pages' queries, cached for a short while per set of filters: moving a chart's
control reruns the whole page, and without the cache each rerun aggregated the same rows again."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from app.store import engine
from pipelines.ops import reports
from pipelines.ops.reports import Grain

# Long enough for a burst of clicks, short enough that a new sync shows up without a manual refresh.
TTL_SECONDS = 30


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def sync_history(store_url: str, start: datetime, end: datetime, grain: Grain, names: tuple[str, ...] | None) -> pd.DataFrame:
    return reports.sync_history(engine(), start, end, grain, list(names) if names else None)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def error_reasons(store_url: str, start: datetime, end: datetime, names: tuple[str, ...] | None) -> pd.DataFrame:
    return reports.error_reasons(engine(), start, end, list(names) if names else None)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def callback_delivery(store_url: str, start: datetime, end: datetime, grain: Grain, names: tuple[str, ...] | None) -> pd.DataFrame:
    return reports.callback_delivery(engine(), start, end, grain, list(names) if names else None)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def period_report(store_url: str, start: datetime, end: datetime) -> pd.DataFrame:
    return reports.period_report(engine(), start, end)

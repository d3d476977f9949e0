"""Sync history and period reports: the store's rows aggregated by an in-process DuckDB.

The store (SQLite or PostgreSQL) is read with plain SQLAlchemy selects bounded by the date range;
the rows go to DuckDB as pandas frames and DuckDB does the grouping, ranking and percentiles. No
DuckDB file is ever opened (DESIGN §1: a DuckDB file locks out every other process) and no DuckDB
extension is needed: timestamps reach it as naive UTC so nothing requires ICU.

Every function takes a half-open UTC range [start, end).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import duckdb
import pandas as pd
import sqlalchemy as sa

from pipelines.store.joins import integration_of
from pipelines.store.schema import callback_attempts, callback_outbox, integrations, record_errors, sync_runs
from pipelines.vocabulary import UNDELIVERABLE, SyncRunStatus

Grain = Literal["day", "hour"]
GRAINS: tuple[Grain, ...] = ("day", "hour")
MEASURES = ("received", "created", "updated", "unchanged", "errors")


def duck() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that will never download or load an extension behind our back."""
    return duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})


def _naive_utc(series: pd.Series) -> pd.Series:
    """SQLite returns naive UTC, PostgreSQL aware datetimes: make both naive UTC for DuckDB."""
    return pd.to_datetime(series, utc=True).dt.tz_convert(None)


def _frame(bind: sa.Engine, query: sa.Select, time_columns: Sequence[str]) -> pd.DataFrame:
    with bind.connect() as conn:
        result = conn.execute(query)
        frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    for column in time_columns:
        frame[column] = _naive_utc(frame[column]) if len(frame) else pd.Series([], dtype="datetime64[ns]")
    return frame


def _names_filter(column: sa.ColumnElement, names: Sequence[str] | None) -> list:
    return [column.in_(list(names))] if names else []


def sync_runs_frame(bind: sa.Engine, start: datetime, end: datetime, names: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per sync run in range: integration, started_at (naive UTC), the counts, status."""
    query = (
        sa.select(
            sync_runs.c.id,
            integrations.c.name.label("integration"),
            integrations.c.target,
            sync_runs.c.source_kind,
            sync_runs.c.started_at,
            sync_runs.c.finished_at,
            sync_runs.c.status,
            sync_runs.c.total_received.label("received"),
            sync_runs.c.created,
            sync_runs.c.updated,
            sync_runs.c.unchanged,
            sync_runs.c.errors,
            sync_runs.c.message,
        )
        .join(*integration_of(sync_runs))
        .where(sync_runs.c.started_at >= start, sync_runs.c.started_at < end, *_names_filter(integrations.c.name, names))
    )
    return _frame(bind, query, ["started_at", "finished_at"])


def _check_grain(grain: str) -> str:
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {', '.join(GRAINS)}, got {grain!r}")
    return grain


def sync_history(bind: sa.Engine, start: datetime, end: datetime, grain: Grain = "day", names: Sequence[str] | None = None) -> pd.DataFrame:
    """Per bucket (day or hour, UTC) and integration: runs, received, created, updated, unchanged, errors."""
    runs = sync_runs_frame(bind, start, end, names)
    con = duck()
    con.register("runs", runs)
    return con.execute(
        f"""
        SELECT date_trunc('{_check_grain(grain)}', started_at) AS bucket, integration,
               count(*) AS runs, count(*) FILTER (WHERE status = 'failed') AS failed_runs,
               coalesce(sum(received), 0)::BIGINT AS received, coalesce(sum(created), 0)::BIGINT AS created,
               coalesce(sum(updated), 0)::BIGINT AS updated, coalesce(sum(unchanged), 0)::BIGINT AS unchanged,
               coalesce(sum(errors), 0)::BIGINT AS errors
        FROM runs GROUP BY ALL ORDER BY bucket, integration
        """
    ).df()


def _reason_rows(bind: sa.Engine, start: datetime, end: datetime, names: Sequence[str] | None) -> pd.DataFrame:
    """Every (integration, field, message) a record was rejected for in range, plus failed runs."""
    query = (
        sa.select(integrations.c.name, record_errors.c.reasons)
        .join(*integration_of(record_errors))
        .where(record_errors.c.created_at >= start, record_errors.c.created_at < end, *_names_filter(integrations.c.name, names))
    )
    failed = (
        sa.select(integrations.c.name, sync_runs.c.message)
        .join(*integration_of(sync_runs))
        .where(
            sync_runs.c.status == SyncRunStatus.FAILED,
            sync_runs.c.started_at >= start,
            sync_runs.c.started_at < end,
            *_names_filter(integrations.c.name, names),
        )
    )
    rows: list[tuple[str, str, str]] = []
    with bind.connect() as conn:
        for name, reasons in conn.execute(query):
            if isinstance(reasons, str):  # a driver that hands JSON back as text
                reasons = json.loads(reasons)
            for reason in reasons or []:
                rows.append((name, str(reason.get("field", "(record)")), str(reason.get("message", ""))))
        for name, message in conn.execute(failed):
            rows.append((name, "(sync run)", message or "failed without a message"))
    return pd.DataFrame(rows, columns=["integration", "field", "message"])


def error_reasons(bind: sa.Engine, start: datetime, end: datetime, names: Sequence[str] | None = None, limit: int = 15) -> pd.DataFrame:
    """Rejection reasons ranked by how many records they hit: field, message, records, integrations."""
    reasons = _reason_rows(bind, start, end, names)
    con = duck()
    con.register("reasons", reasons)
    return con.execute(
        """
        SELECT field, message, field || ': ' || message AS reason, count(*) AS records,
               string_agg(DISTINCT integration, ', ' ORDER BY integration) AS integrations
        FROM reasons GROUP BY field, message ORDER BY records DESC, reason LIMIT ?
        """,
        [limit],
    ).df()


def callback_attempts_frame(bind: sa.Engine, start: datetime, end: datetime, names: Sequence[str] | None = None) -> pd.DataFrame:
    query = (
        sa.select(
            integrations.c.name.label("integration"),
            callback_outbox.c.event,
            callback_attempts.c.attempted_at,
            callback_attempts.c.status_code,
            callback_attempts.c.latency_ms,
            callback_attempts.c.error,
            callback_attempts.c.succeeded,
        )
        .join(callback_outbox, callback_outbox.c.id == callback_attempts.c.outbox_id)
        .join(*integration_of(callback_outbox))
        .where(
            callback_attempts.c.attempted_at >= start, callback_attempts.c.attempted_at < end, *_names_filter(integrations.c.name, names)
        )
    )
    frame = _frame(bind, query, ["attempted_at"])
    frame["latency_ms"] = frame["latency_ms"].astype("float64")
    frame["status_code"] = frame["status_code"].astype("Int64")
    frame["succeeded"] = frame["succeeded"].astype("bool")
    return frame


def callback_delivery(
    bind: sa.Engine, start: datetime, end: datetime, grain: Grain = "day", names: Sequence[str] | None = None
) -> pd.DataFrame:
    """Per bucket: attempts, delivered (a 2xx within the timeout, as the outbox judged it), failed,
    success rate (%), latency p50 and p95 (ms)."""
    attempts = callback_attempts_frame(bind, start, end, names)
    con = duck()
    con.register("attempts", attempts)
    return con.execute(
        f"""
        SELECT date_trunc('{_check_grain(grain)}', attempted_at) AS bucket, count(*) AS attempts,
               count(*) FILTER (WHERE succeeded) AS delivered,
               count(*) FILTER (WHERE NOT succeeded) AS failed,
               round(100.0 * count(*) FILTER (WHERE succeeded) / count(*), 1) AS success_rate,
               quantile_cont(latency_ms, 0.5) AS latency_p50_ms, quantile_cont(latency_ms, 0.95) AS latency_p95_ms
        FROM attempts GROUP BY ALL ORDER BY bucket
        """
    ).df()


def _callback_totals(bind: sa.Engine, start: datetime, end: datetime) -> pd.DataFrame:
    """Per integration: callback attempts in range and how many were delivered, plus dead letters."""
    attempts = callback_attempts_frame(bind, start, end)
    dead_query = (
        sa.select(integrations.c.name.label("integration"), sa.func.count().label("callbacks_dead"))
        .join(*integration_of(callback_outbox))
        .where(
            callback_outbox.c.status.in_(tuple(UNDELIVERABLE)), callback_outbox.c.created_at >= start, callback_outbox.c.created_at < end
        )
        .group_by(integrations.c.name)
    )
    dead = _frame(bind, dead_query, [])
    con = duck()
    con.register("attempts", attempts)
    con.register("dead", dead)
    return con.execute(
        """
        WITH sent AS (
            SELECT integration, count(*) AS callback_attempts,
                   count(*) FILTER (WHERE succeeded) AS callbacks_delivered,
                   quantile_cont(latency_ms, 0.95) AS callback_p95_ms
            FROM attempts GROUP BY integration)
        SELECT coalesce(sent.integration, dead.integration) AS integration,
               coalesce(callback_attempts, 0) AS callback_attempts,
               coalesce(callbacks_delivered, 0) AS callbacks_delivered,
               coalesce(dead.callbacks_dead, 0) AS callbacks_dead, callback_p95_ms
        FROM sent FULL OUTER JOIN dead ON sent.integration = dead.integration
        """
    ).df()


REPORT_COLUMNS = [
    "integration",
    "type",
    "target",
    "runs",
    "failed_runs",
    "received",
    "created",
    "updated",
    "unchanged",
    "errors",
    "error_rate_pct",
    "callback_attempts",
    "callbacks_delivered",
    "callbacks_dead",
    "callback_p95_ms",
]


def period_report(bind: sa.Engine, start: datetime, end: datetime) -> pd.DataFrame:
    """Totals per integration for a period (every live integration listed, idle ones with zeros; an
    archived one only when it did something in the period), and a final TOTAL row. Columns: REPORT_COLUMNS."""
    runs = sync_runs_frame(bind, start, end)
    with bind.connect() as conn:
        known = pd.DataFrame(
            conn.execute(
                sa.select(integrations.c.name, integrations.c.type, integrations.c.target, integrations.c.archived_at.is_not(None))
            ).all(),
            columns=["integration", "type", "target", "archived"],
        )
    callbacks = _callback_totals(bind, start, end)
    con = duck()
    con.register("runs", runs)
    con.register("known", known)
    con.register("callbacks", callbacks)
    per_integration = con.execute(
        """
        WITH totals AS (
            SELECT integration, count(*) AS runs, count(*) FILTER (WHERE status = 'failed') AS failed_runs,
                   sum(received) AS received, sum(created) AS created, sum(updated) AS updated,
                   sum(unchanged) AS unchanged, sum(errors) AS errors
            FROM runs GROUP BY integration)
        SELECT known.integration, known.type, known.target,
               coalesce(runs, 0)::BIGINT AS runs, coalesce(failed_runs, 0)::BIGINT AS failed_runs,
               coalesce(received, 0)::BIGINT AS received, coalesce(created, 0)::BIGINT AS created,
               coalesce(updated, 0)::BIGINT AS updated, coalesce(unchanged, 0)::BIGINT AS unchanged,
               coalesce(errors, 0)::BIGINT AS errors,
               CASE WHEN coalesce(received, 0) = 0 THEN 0.0 ELSE round(100.0 * errors / received, 2) END AS error_rate_pct,
               coalesce(callback_attempts, 0)::BIGINT AS callback_attempts,
               coalesce(callbacks_delivered, 0)::BIGINT AS callbacks_delivered,
               coalesce(callbacks_dead, 0)::BIGINT AS callbacks_dead, round(callback_p95_ms, 1) AS callback_p95_ms
        FROM known LEFT JOIN totals USING (integration) LEFT JOIN callbacks USING (integration)
        WHERE NOT known.archived OR totals.runs IS NOT NULL OR callbacks.callback_attempts IS NOT NULL
        ORDER BY known.integration
        """
    ).df()
    return _with_total_row(per_integration)


# The report's columns that count something: the TOTAL row sums them, and they are whole numbers.
COUNT_COLUMNS = (
    "runs",
    "failed_runs",
    "received",
    "created",
    "updated",
    "unchanged",
    "errors",
    "callback_attempts",
    "callbacks_delivered",
    "callbacks_dead",
)


def _with_total_row(frame: pd.DataFrame) -> pd.DataFrame:
    total: dict[str, Any] = {column: int(frame[column].sum()) if len(frame) else 0 for column in COUNT_COLUMNS}
    received = total["received"]
    total.update(
        integration="TOTAL",
        type="",
        target="",
        error_rate_pct=round(100.0 * total["errors"] / received, 2) if received else 0.0,
        callback_p95_ms=None,
    )
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)[REPORT_COLUMNS]


def report_csv(report: pd.DataFrame) -> bytes:
    """The report as UTF-8 CSV (with BOM, so spreadsheet programs read accents right)."""
    return report.to_csv(index=False).encode("utf-8-sig")

"""Altair charts for history and reports. Every axis has a title saying what and in which unit/zone."""

from __future__ import annotations

from datetime import datetime

import altair as alt
import pandas as pd

MEASURE_LABELS = {
    "received": "Records received",
    "created": "Orders/sales created",
    "updated": "Records updated",
    "unchanged": "Records unchanged",
    "errors": "Records rejected",
}
MEASURE_COLORS = {"received": "#1f77b4", "created": "#2ca02c", "updated": "#ff7f0e", "unchanged": "#9e9e9e", "errors": "#d62728"}
GRAIN_LABELS = {"day": "Day (UTC)", "hour": "Hour (UTC)"}
_TIME_FORMAT = {"day": "%b %d", "hour": "%b %d %H:%M"}
# One tick per bucket: without a time unit Vega-Lite puts ticks every 12 h and repeats day labels.
_TIME_UNIT = {"day": "yearmonthdate", "hour": "yearmonthdatehours"}


def _time_axis(grain: str) -> alt.X:
    return alt.X(
        f"{_TIME_UNIT[grain]}(bucket):T",
        title=GRAIN_LABELS[grain],
        axis=alt.Axis(format=_TIME_FORMAT[grain], labelAngle=-30, tickCount=grain),
    )


def records_by_integration(history: pd.DataFrame, measure: str, grain: str) -> alt.Chart:
    """Stacked bars: one measure per time bucket, split by integration."""
    return (
        alt.Chart(history)
        .mark_bar(width=alt.RelativeBandSize(0.8))
        .encode(
            x=_time_axis(grain),
            y=alt.Y(f"sum({measure}):Q", title=MEASURE_LABELS[measure]),
            color=alt.Color("integration:N", title="Integration"),
            tooltip=[
                alt.Tooltip("bucket:T", title=GRAIN_LABELS[grain], format=_TIME_FORMAT[grain]),
                alt.Tooltip("integration:N", title="Integration"),
                alt.Tooltip(f"{measure}:Q", title=MEASURE_LABELS[measure]),
            ],
        )
        .properties(height=300)
    )


def _every_bucket(totals: pd.DataFrame, grain: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Zeros for the buckets without syncs, so a line never bridges a quiet day or hour."""
    frequency = "D" if grain == "day" else "h"
    index = pd.date_range(_naive(start), _naive(end), freq=frequency, inclusive="left", name="bucket")
    return totals.set_index("bucket").reindex(index, fill_value=0).reset_index()


def _naive(moment: datetime) -> pd.Timestamp:
    return pd.Timestamp(moment).tz_convert(None) if pd.Timestamp(moment).tzinfo else pd.Timestamp(moment)


def outcome_lines(history: pd.DataFrame, grain: str, start: datetime, end: datetime) -> alt.Chart:
    """All integrations together: received, created, updated and rejected records per bucket."""
    shown = ("received", "created", "updated", "errors")
    totals = _every_bucket(history.groupby("bucket", as_index=False)[list(shown)].sum(), grain, start, end)
    long = totals.melt("bucket", var_name="measure", value_name="records")
    long["measure"] = long["measure"].map(MEASURE_LABELS)
    return (
        alt.Chart(long)
        .mark_line(point=grain == "day")
        .encode(
            x=_time_axis(grain),
            y=alt.Y("records:Q", title="Records"),
            color=alt.Color(
                "measure:N",
                title="Measure",
                scale=alt.Scale(domain=[MEASURE_LABELS[m] for m in shown], range=[MEASURE_COLORS[m] for m in shown]),
            ),
            tooltip=[
                alt.Tooltip("bucket:T", title=GRAIN_LABELS[grain], format=_TIME_FORMAT[grain]),
                alt.Tooltip("measure:N", title="Measure"),
                alt.Tooltip("records:Q", title="Records"),
            ],
        )
        .properties(height=300)
    )


def ranked_reasons(reasons: pd.DataFrame) -> alt.Chart:
    """Horizontal bars, most frequent rejection reason on top."""
    return (
        alt.Chart(reasons)
        .mark_bar(color="#d62728")
        .encode(
            x=alt.X("records:Q", title="Rejected records", axis=alt.Axis(tickMinStep=1)),
            # The title sits above the labels, left-aligned: beside them it would overlap long reasons.
            y=alt.Y(
                "reason:N",
                title="Reason",
                sort="-x",
                axis=alt.Axis(labelLimit=480, titleAngle=0, titleAlign="left", titleAnchor="end", titleY=-10, titleX=-480),
            ),
            tooltip=[
                alt.Tooltip("reason:N", title="Reason"),
                alt.Tooltip("records:Q", title="Rejected records"),
                alt.Tooltip("integrations:N", title="Integrations"),
            ],
        )
        .properties(height=alt.Step(30))
    )


def _series(chart: alt.Chart, grain: str, **style) -> alt.Chart:
    """Lines by day; dots by hour, where most hours have no callbacks and a line would invent a trend."""
    return chart.mark_line(point=True, **style) if grain == "day" else chart.mark_circle(size=60, **style)


def callback_success(delivery: pd.DataFrame, grain: str) -> alt.Chart:
    return (
        _series(alt.Chart(delivery), grain, color="#2ca02c")
        .encode(
            x=_time_axis(grain),
            y=alt.Y("success_rate:Q", title="Attempts delivered (%)", scale=alt.Scale(domain=[0, 100])),
            tooltip=[
                alt.Tooltip("bucket:T", title=GRAIN_LABELS[grain], format=_TIME_FORMAT[grain]),
                alt.Tooltip("attempts:Q", title="Attempts"),
                alt.Tooltip("delivered:Q", title="Delivered"),
                alt.Tooltip("success_rate:Q", title="Success (%)"),
            ],
        )
        .properties(height=260)
    )


def callback_latency(delivery: pd.DataFrame, grain: str) -> alt.Chart:
    long = delivery.melt("bucket", value_vars=["latency_p50_ms", "latency_p95_ms"], var_name="percentile", value_name="latency_ms")
    long["percentile"] = long["percentile"].map({"latency_p50_ms": "median (p50)", "latency_p95_ms": "p95"})
    return (
        _series(alt.Chart(long), grain)
        .encode(
            x=_time_axis(grain),
            y=alt.Y("latency_ms:Q", title="Response time (ms)"),
            color=alt.Color("percentile:N", title="Percentile"),
            tooltip=[
                alt.Tooltip("bucket:T", title=GRAIN_LABELS[grain], format=_TIME_FORMAT[grain]),
                alt.Tooltip("percentile:N", title="Percentile"),
                alt.Tooltip("latency_ms:Q", title="Response time (ms)", format=".1f"),
            ],
        )
        .properties(height=260)
    )

"""Small presentation helpers every page uses: labels in the product's voice, time, tables in red.

Language rule: the app's chrome is English; the phrases the Logitrack plan's dashboard speaks to its
users stay in its Spanish ("✔ Activo", "hace 5 min", "+5 pedidos, 0 errores").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from pipelines.callbacks.queries import CallbackAttempt
from pipelines.clock import as_utc, utcnow

TYPE_LABELS = {"webhook": "Webhook", "api": "API Poll", "db": "DB Query", "file": "File drop"}
# Symbols every system font has (emoji need an emoji font, which headless servers and some desktops lack).
STATUS_LABELS = {"active": "✔ Activo", "error": "⚠ Error", "disabled": "○ Inactivo"}
TARGET_LABELS = {"order": "Orders (Logitrack)", "sale": "Sales (Autentikapp)"}

RED_ROW = "background-color: #fdecea; color: #8b1a1a"
AMBER_ROW = "background-color: #fff4e5; color: #6b4500"


def when(value: datetime | None) -> str:
    """'2025-01-15 14:30 UTC', or an em dash when there is no time."""
    if value is None:
        return "—"
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def clock(value: datetime, now: datetime | None = None) -> str:
    """'14:30' today (the seed dashboard's style), '2025-01-14 14:30' on other days; UTC."""
    value = as_utc(value)
    if value.date() == (now or utcnow()).date():
        return value.strftime("%H:%M")
    return value.strftime("%Y-%m-%d %H:%M")


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00 UTC, the day after last 00:00 UTC): a date picker's days as a half-open range."""
    start = datetime.combine(first, time.min, tzinfo=UTC)
    return start, datetime.combine(last, time.min, tzinfo=UTC) + timedelta(days=1)


def date_range_picker(label: str, key: str, default_days: int = 7) -> tuple[datetime, datetime] | None:
    """A from-to date picker (UTC days); None, with a hint on screen, until both ends are chosen."""
    today = utcnow().date()
    picked = st.date_input(
        label,
        value=(today - timedelta(days=default_days - 1), today),
        max_value=today,
        key=key,
        help="Whole days in UTC, both ends included.",
    )
    if not isinstance(picked, (tuple, list)) or len(picked) != 2:
        st.info("Pick the last day of the range too.")
        return None
    return day_range(picked[0], picked[1])


def show_issues(issues: Iterable[Mapping[str, str]], heading: str | None = None) -> None:
    """Validation problems as one red box: each field in bold with its reason."""
    lines = [f"- **{issue['field']}**: {issue['message']}" for issue in issues]
    if lines:
        st.error("\n".join(([heading, ""] if heading else []) + lines))


def highlight_rows(frame: pd.DataFrame, styles: Iterable[str | None]):
    """A Styler painting whole rows (e.g. red where a person is needed); `styles` per row, None = plain."""
    styles = list(styles)

    def paint(row: pd.Series) -> list[str]:
        style = styles[row.name] if isinstance(row.name, int) and row.name < len(styles) else None
        return [style or ""] * len(row)

    return frame.reset_index(drop=True).style.apply(paint, axis=1)


def attempts_table(attempts: Iterable[CallbackAttempt]) -> None:
    """A callback's delivery attempts, oldest first, as the order page and the dead letters show them."""
    rows = [
        {
            "When": when(a.attempted_at),
            "HTTP status": a.status_code,
            "Latency (ms)": a.latency_ms,
            "Error": a.error or "",
            "Response": a.response_excerpt or "",
        }
        for a in attempts
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def json_text(value: Any) -> str:
    """A cell value as readable text: strings as they are, everything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)

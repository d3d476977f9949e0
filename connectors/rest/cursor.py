"""Comparing incremental-cursor values the way the client means them: numbers as numbers, timestamps
as instants (whatever their offset or `Z`), anything else as text. The winning value is kept exactly
as the API wrote it, so it goes back to the API in the API's own format."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipelines.clock import as_utc
from pipelines.mapping.coerce import parse_datetime


def _key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (2, str(value))
    if isinstance(value, (int, float)):
        return (0, float(value))
    if isinstance(value, datetime):
        return (1, value.timestamp())
    try:
        moment = parse_datetime(value)
    except (TypeError, ValueError):
        moment = None
    if moment is not None:
        return (1, moment.timestamp())
    return (2, str(value))


def later(current: Any, candidate: Any) -> Any:
    """The later of two cursor values; None never wins."""
    if candidate is None:
        return current
    if current is None:
        return candidate
    a, b = _key(current), _key(candidate)
    if a[0] != b[0]:  # mixed kinds: fall back to text so the comparison is at least total
        a, b = (2, str(current)), (2, str(candidate))
    return candidate if b[1] > a[1] else current


def instant(value: Any) -> datetime | None:
    """The value as an aware datetime, or None when it is not a timestamp."""
    kind, key = _key(value)
    if kind != 1:
        return None
    return as_utc(value if isinstance(value, datetime) else parse_datetime(value))

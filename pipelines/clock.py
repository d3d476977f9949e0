"""Time in one place: aware UTC everywhere, including values read back from SQLite (which drops tzinfo)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, overload


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """Attach UTC to a naive datetime (SQLite returns them naive); convert aware ones to UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def with_utc_times(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A row as a dict with every datetime in it made UTC (`as_utc`), whatever its columns are called."""
    return {key: as_utc(value) if isinstance(value, datetime) else value for key, value in row.items()}


@overload
def iso(value: datetime) -> str: ...
@overload
def iso(value: None) -> None: ...
def iso(value: datetime | None) -> str | None:
    """ISO 8601 with a `Z`, the form client systems expect in payloads."""
    value = as_utc(value)
    return None if value is None else value.isoformat().replace("+00:00", "Z")

"""`Retry-After` (RFC 9110 §10.2.3), as both the REST poller and the callback sender must honour it."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

from pipelines.clock import as_utc, utcnow


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait: delta-seconds or an HTTP date (a past date means now); None when absent or
    unreadable, so the caller falls back to its own backoff."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max((as_utc(moment) - as_utc(now or utcnow())).total_seconds(), 0.0)

"""Path and query parameters the admin routes share, bounded to what the store can hold: a value the
store cannot represent is the caller's mistake (422 or 400), never a driver error (500)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Path, Query, status
from pydantic import BeforeValidator

from pipelines.paging import InvalidCursor, decode_cursor

# Store ids are `integer` columns: 32-bit on PostgreSQL and MariaDB (SQLite's hold 64 bits). A larger id
# names no row on any store, and one past 64 bits fails inside the driver.
MAX_ID = 2**31 - 1


def store_id(description: str) -> Any:
    """A path id: 1 to MAX_ID (422 otherwise, before any query)."""
    return Path(ge=1, le=MAX_ID, description=description)


def id_cursor(cursor: str | None = Query(None, description="the next_cursor of the previous page")) -> str | None:
    """The `cursor` of an id-paged list, refused with 400 unless it is one such a list gives out."""
    try:
        after = decode_cursor(cursor)
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    if after is not None and not 1 <= after <= MAX_ID:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"cursor {cursor!r} is not one this list gave out; start again without it")
    return cursor


_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)\s*")


def _not_a_number(value: Any) -> Any:
    """pydantic reads a number as Unix seconds; the API documents (and takes) ISO 8601 date-times only."""
    if (isinstance(value, int | float) and not isinstance(value, bool)) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("Input should be an ISO 8601 date-time (e.g. 2024-01-15T15:00:00Z), not a number")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_not_a_number)]

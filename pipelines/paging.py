"""Keyset paging for every admin list: newest first (by id, descending), `limit` at a time, and an
opaque `next_cursor` that picks up exactly after the last item shown, however many rows arrive
meanwhile (an offset would skip or repeat rows on a table that grows while someone pages through it).
Each page also says how many items match in all."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

T = TypeVar("T")
MAX_LIMIT = 1_000


class InvalidCursor(ValueError):
    """The cursor was not one this API gave out."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # None: this is the last page
    total: int  # every item matching the filters, on all pages


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "id":
            raise ValueError(kind)
        return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor(f"cursor {cursor!r} is not one this list gave out; start again without it") from None


def page_of(
    conn: sa.Connection,
    query: sa.Select,
    id_column: sa.ColumnElement[int],
    *,
    cursor: str | None,
    limit: int,
    convert: Callable[[Any], T],
) -> Page[T]:
    """One page of `query` (its filters; ordering and limits are set here), newest first."""
    total = conn.execute(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(id_column < after)
    rows = conn.execute(query.order_by(id_column.desc()).limit(limit + 1)).mappings().all()
    shown = rows[:limit]
    more = len(rows) > limit
    last_id = shown[-1][str(id_column.key)] if more and shown else None
    return Page([convert(row) for row in shown], encode_cursor(last_id) if last_id is not None else None, total)

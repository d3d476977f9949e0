"""Functions that take a `bind` accept an Engine (they open their own connection/transaction) or a
Connection (they join the caller's transaction, so several writes commit or roll back together)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

Bind = sa.Engine | sa.Connection


@contextmanager
def connection(bind: Bind) -> Iterator[sa.Connection]:
    if isinstance(bind, sa.Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


@contextmanager
def transaction(bind: Bind) -> Iterator[sa.Connection]:
    if isinstance(bind, sa.Connection):
        yield bind
    else:
        with bind.begin() as conn:
            yield conn


def inserted_id(result: sa.CursorResult) -> int:
    """The primary key of the row an INSERT just wrote (every table here has an integer `id`)."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("the INSERT reported no primary key")
    return int(key[0])

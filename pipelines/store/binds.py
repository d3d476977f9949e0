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

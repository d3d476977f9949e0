"""Marking inbox rows done: the one statement both doors use, the receiver after a sync-mode ingest
and the processor after an async one, so a done row always carries the same facts (its sync run,
attempts, when, and for sync mode the answer the client got, which repeats of the delivery reuse)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipelines.store.schema import inbox
from pipelines.vocabulary import InboxStatus


@dataclass(frozen=True)
class Done:
    inbox_id: int
    sync_run_id: int | None
    attempts: int
    response: dict[str, Any] | None = None  # the answer given in sync mode; None keeps the stored one


def mark_done(conn: sa.Connection, rows: Sequence[Done], now: datetime) -> None:
    """Move `rows` to `done` inside the caller's transaction (the one that ingested them)."""
    if not rows:
        return
    with_response = [row for row in rows if row.response is not None]
    without = [row for row in rows if row.response is None]
    plans: list[tuple[list[Done], dict[str, Any]]] = [(with_response, {"response": sa.bindparam("b_response")}), (without, {})]
    for batch, extra in plans:
        if not batch:
            continue
        conn.execute(
            inbox.update()
            .where(inbox.c.id == sa.bindparam("b_id"))
            .values(
                status=InboxStatus.DONE,
                sync_run_id=sa.bindparam("b_run"),
                attempts=sa.bindparam("b_attempts"),
                error=None,
                processed_at=now,
                **extra,
            ),
            [
                {
                    "b_id": row.inbox_id,
                    "b_run": row.sync_run_id,
                    "b_attempts": row.attempts,
                    **({"b_response": row.response} if row.response is not None else {}),
                }
                for row in batch
            ],
        )

"""At most one pull per integration at a time, across every process: the scheduled-poll worker, an
operator's backfill partitions, `crossdock pull`.

Why a lease in the store rather than Dagster's run tags: the pulls of one integration come from
different runs and from outside Dagster, and only the store sees them all. Two pulls of the same
integration would read the same pages twice and race on its cursor.

The lease is one `source_state` row (`pull.lease`): its value names the holder and `updated_at` is
its heartbeat. It is taken with one conditional statement (insert, or take over a row whose
heartbeat is older than `LEASE_TTL`), renewed by a background thread while the pull runs, and
deleted when it ends; a holder that died loses it after `LEASE_TTL`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import sqlalchemy as sa

from pipelines.clock import utcnow
from pipelines.sources.report import PullError
from pipelines.store.schema import source_state

LEASE_KEY = "pull.lease"
LEASE_TTL = timedelta(seconds=120)
RENEW_EVERY_SECONDS = 30.0


class PullBusy(PullError):
    """Another pull of the same integration holds the lease; the message says who."""


def _holder_text(holder: str) -> str:
    return holder.split("#", 1)[0]


def try_acquire(engine: sa.Engine, integration_id: int, holder: str, now: datetime | None = None) -> str | None:
    """Take the lease for `holder` (a unique string). None when taken; else who holds it."""
    now = now or utcnow()
    row = source_state.c
    with engine.begin() as conn:
        taken = conn.execute(
            source_state.update()
            .where(
                row.integration_id == integration_id, row.key == LEASE_KEY, sa.or_(row.updated_at < now - LEASE_TTL, row.value == holder)
            )
            .values(value=holder, updated_at=now)
        ).rowcount
        if taken:
            return None
        current = conn.execute(sa.select(row.value).where(row.integration_id == integration_id, row.key == LEASE_KEY)).scalar()
        if current is not None:
            return _holder_text(current)
        try:
            with conn.begin_nested():
                conn.execute(source_state.insert().values(integration_id=integration_id, key=LEASE_KEY, value=holder, updated_at=now))
        except sa.exc.IntegrityError:  # another holder inserted it a moment ago
            current = conn.execute(sa.select(row.value).where(row.integration_id == integration_id, row.key == LEASE_KEY)).scalar()
            return _holder_text(current or "another pull")
    return None


def renew(engine: sa.Engine, integration_id: int, holder: str) -> bool:
    """Push the heartbeat forward; False when the lease was lost (expired and taken over)."""
    with engine.begin() as conn:
        return bool(
            conn.execute(
                source_state.update()
                .where(source_state.c.integration_id == integration_id, source_state.c.key == LEASE_KEY, source_state.c.value == holder)
                .values(updated_at=utcnow())
            ).rowcount
        )


def release(engine: sa.Engine, integration_id: int, holder: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            source_state.delete().where(
                source_state.c.integration_id == integration_id, source_state.c.key == LEASE_KEY, source_state.c.value == holder
            )
        )


@contextmanager
def pull_lease(
    engine: sa.Engine,
    integration_id: int,
    name: str,
    holder: str,
    *,
    wait_seconds: float = 0.0,
    poll_seconds: float = 2.0,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the integration's pull lease for the block. Raises `PullBusy` when another holder keeps
    it for longer than `wait_seconds` (0: do not wait); `on_wait` hears once whom it waits for."""
    unique = f"{holder}#{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + wait_seconds
    told = False
    while (busy := try_acquire(engine, integration_id, unique)) is not None:
        if time.monotonic() >= deadline:
            raise PullBusy(f"{name} is already being pulled by {busy}; this pull did not start")
        if on_wait is not None and not told:
            on_wait(busy)
            told = True
        time.sleep(poll_seconds)
    stop = threading.Event()

    def keep_alive() -> None:
        while not stop.wait(RENEW_EVERY_SECONDS):
            try:
                renew(engine, integration_id, unique)
            except sa.exc.SQLAlchemyError:
                pass  # a store hiccup: the next renewal tries again, well within the TTL

    renewer = threading.Thread(target=keep_alive, name=f"pull-lease-{name}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        release(engine, integration_id, unique)

"""When each pull integration is due: when `poll_interval_seconds` has elapsed since its last poll
started. That time is kept in the store (`source_state`, key `poll.started_at`), beside the
integration's cursor, so it survives restarts, is shared by every process that polls, and means
the same thing whichever store the product runs on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from pipelines.integrations.model import Integration, StoredIntegration
from pipelines.sources.state import set_state
from pipelines.store.binds import connection
from pipelines.store.schema import source_state

PULL_TYPES = ("api", "db", "file")
POLL_STARTED_KEY = "poll.started_at"


def poll_interval(config: Integration) -> int:
    """Seconds between polls; a webhook integration is never polled, so its interval is moot."""
    return 0 if config.type == "webhook" else config.poll_interval_seconds


@dataclass(frozen=True)
class DuePoll:
    integration: StoredIntegration
    interval: int
    overdue_seconds: float  # how long past due it is (never polled: the interval itself)

    @property
    def name(self) -> str:
        return self.integration.name

    @property
    def kind(self) -> str:
        return self.integration.config.type


def pull_integrations(integrations: Iterable[StoredIntegration]) -> list[StoredIntegration]:
    """The active integrations that are polled (api, db, file)."""
    return [item for item in integrations if item.config.type in PULL_TYPES and item.config.is_active]


def due_polls(
    integrations: Iterable[StoredIntegration],
    now: datetime,
    last_started: dict[int, float],
    busy: Iterable[str] = (),
) -> list[DuePoll]:
    """The polls due at `now`, most overdue first: active pull integrations not `busy` (names) whose
    interval has elapsed since `last_started[id]` (Unix seconds; absent = never polled, due at once)."""
    skip = set(busy)
    due = []
    for item in pull_integrations(integrations):
        if item.name in skip:
            continue
        interval = poll_interval(item.config)
        last = last_started.get(item.id)
        overdue = interval if last is None else now.timestamp() - last - interval
        if overdue >= 0:
            due.append(DuePoll(item, interval, overdue))
    return sorted(due, key=lambda poll: -poll.overdue_seconds)


def seconds_until_next_poll(
    integrations: Iterable[StoredIntegration], now: datetime, last_started: dict[int, float], busy: Iterable[str] = ()
) -> float | None:
    """How long until the next poll of an integration not `busy` falls due (0 when one is due now);
    None when there is nothing to poll."""
    skip = set(busy)
    waits = []
    for item in pull_integrations(integrations):
        if item.name in skip:
            continue
        last = last_started.get(item.id)
        waits.append(0.0 if last is None else max(0.0, last + poll_interval(item.config) - now.timestamp()))
    return min(waits, default=None)


def last_poll_starts(bind: sa.Engine | sa.Connection) -> dict[int, float]:
    """When each integration's last scheduled poll started (integration id → Unix seconds)."""
    with connection(bind) as conn:
        rows = conn.execute(sa.select(source_state.c.integration_id, source_state.c.value).where(source_state.c.key == POLL_STARTED_KEY))
        return {row.integration_id: float(row.value) for row in rows if row.value is not None}


def mark_poll_started(engine: sa.Engine, integration_id: int, now: datetime) -> None:
    """Record that a scheduled poll of the integration starts now: its next is due one interval later."""
    with engine.begin() as conn:
        set_state(conn, integration_id, POLL_STARTED_KEY, now.timestamp())

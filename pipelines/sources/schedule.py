"""When each pull integration is due: when `poll_interval_seconds` has elapsed since its last poll
was launched (the caller keeps those times; the Dagster sensor keeps them in its cursor).

The run key `poll:<name>:<interval>:<slot>` counts intervals from the Unix epoch: two polls at least
one interval apart always get different keys, while a tick evaluated twice (a retried sensor tick,
a cursor lost in a crash) repeats its key, and Dagster launches it once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipelines.integrations.model import Integration, StoredIntegration

PULL_TYPES = ("api", "db", "file")
# api and db get 300 s from the model; a folder is cheap to look at, so drops are picked up sooner.
DEFAULT_INTERVAL = {"api": 300, "db": 300, "file": 60}


def poll_interval(config: Integration) -> int:
    return config.poll_interval_seconds or DEFAULT_INTERVAL.get(config.type, 300)


@dataclass(frozen=True)
class DuePoll:
    name: str
    kind: str
    interval: int
    slot: int

    @property
    def run_key(self) -> str:
        return f"poll:{self.name}:{self.interval}:{self.slot}"


def due_polls(
    integrations: list[StoredIntegration],
    now: datetime,
    busy: set[str] = frozenset(),
    last_launched: dict[str, float] | None = None,
) -> list[DuePoll]:
    """The polls to launch at `now`: active pull integrations not running (`busy`) whose interval has
    elapsed since `last_launched[name]` (Unix seconds; absent = never polled, due at once)."""
    last_launched = last_launched or {}
    due = []
    for item in integrations:
        config = item.config
        if config.type not in PULL_TYPES or not config.is_active or item.name in busy:
            continue
        interval = poll_interval(config)
        last = last_launched.get(item.name)
        if last is not None and now.timestamp() - last < interval:
            continue
        due.append(DuePoll(item.name, config.type, interval, int(now.timestamp()) // interval))
    return due

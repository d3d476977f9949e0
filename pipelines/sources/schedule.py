"""When each pull integration is due: one poll per `poll_interval_seconds` slot.

Slots are counted from the Unix epoch, so the run key `poll:<name>:<interval>:<slot>` is the same for
every sensor tick inside one interval: however often the sensor ticks (or restarts), Dagster launches
one run per slot and skips the repeats.
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


def due_polls(integrations: list[StoredIntegration], now: datetime, busy: set[str] = frozenset()) -> list[DuePoll]:
    """The polls to launch at `now`: active pull integrations not already running (`busy`)."""
    due = []
    for item in integrations:
        config = item.config
        if config.type not in PULL_TYPES or not config.is_active or item.name in busy:
            continue
        interval = poll_interval(config)
        due.append(DuePoll(item.name, config.type, interval, int(now.timestamp()) // interval))
    return due

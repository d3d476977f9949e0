"""A backfill window: the half-open UTC interval [start, end) a re-pull covers (one day per Dagster
date partition, or whatever `crossdock pull --since --until` says)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pipelines.clock import as_utc, iso


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start))
        object.__setattr__(self, "end", as_utc(self.end))
        if self.end <= self.start:
            raise ValueError(f"window end {iso(self.end)} must be after its start {iso(self.start)}")

    @classmethod
    def day(cls, day: date | str) -> Window:
        """The UTC day `day` (a date or YYYY-MM-DD), as Dagster's daily partitions are."""
        if isinstance(day, str):
            day = date.fromisoformat(day)
        start = datetime.combine(day, time.min, tzinfo=UTC)
        return cls(start, start + timedelta(days=1))

    def contains(self, moment: datetime) -> bool:
        return self.start <= as_utc(moment) < self.end

    def bound(self, moment: datetime, style: str) -> str:
        """One bound as a client API expects it: ISO 8601 (`Z`), a date, or Unix seconds."""
        if style == "date":
            return moment.date().isoformat()
        if style == "unix":
            return str(int(moment.timestamp()))
        return iso(moment)

    def to_dict(self) -> dict[str, str]:
        return {"start": iso(self.start), "end": iso(self.end)}

    def __str__(self) -> str:
        return f"[{iso(self.start)}, {iso(self.end)})"

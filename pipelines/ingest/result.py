"""What one ingest call reports back: the seed's response counts plus per-record detail."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pipelines.vocabulary import RecordVerdict

RecordStatus = RecordVerdict  # the name ingest code has used


@dataclass(slots=True)
class RecordResult:
    index: int
    status: RecordStatus
    external_id: str | None = None
    internal_id: int | None = None
    reasons: list[dict[str, str]] = field(default_factory=list)  # [{"field", "message"}]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status, "external_id": self.external_id}
        if self.internal_id is not None:
            out["internal_id"] = self.internal_id
        if self.reasons:
            out["errors"] = self.reasons
        return out


@dataclass(slots=True)
class SyncResult:
    integration: str
    source_kind: str
    results: list[RecordResult]
    sync_run_id: int | None = None
    duration_ms: float = 0.0

    def _count(self, status: RecordVerdict) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def total_received(self) -> int:
        return len(self.results)

    @property
    def created(self) -> int:
        return self._count(RecordVerdict.CREATED)

    @property
    def updated(self) -> int:
        return self._count(RecordVerdict.UPDATED)

    @property
    def unchanged(self) -> int:
        return self._count(RecordVerdict.UNCHANGED)

    @property
    def errors(self) -> int:
        return self._count(RecordVerdict.ERROR)

    @property
    def stale(self) -> int:
        return self._count(RecordVerdict.STALE)

    @property
    def internal_ids(self) -> list[int]:
        return [r.internal_id for r in self.results if r.internal_id is not None]

    def counts(self) -> dict[str, int]:
        """The seed's response body: total_received, created, updated, errors (+ unchanged, and stale:
        records older than the stored version, not applied), in one pass."""
        tally = Counter(r.status for r in self.results)
        return {
            "total_received": len(self.results),
            "created": tally[RecordVerdict.CREATED],
            "updated": tally[RecordVerdict.UPDATED],
            "errors": tally[RecordVerdict.ERROR],
            "unchanged": tally[RecordVerdict.UNCHANGED],
            "stale": tally[RecordVerdict.STALE],
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.counts(), "sync_run_id": self.sync_run_id, "results": [r.to_dict() for r in self.results]}

    def ranked_reasons(self, limit: int = 3) -> list[dict[str, Any]]:
        """The commonest record error reasons, commonest first: [{"field", "message", "count"}]."""
        tally = Counter((reason["field"], reason["message"]) for r in self.results for reason in r.reasons)
        ranked = sorted(tally.items(), key=lambda kv: -kv[1])[:limit]
        return [{"field": field_name, "message": message, "count": count} for (field_name, message), count in ranked]

    def error_summary(self, limit: int = 3) -> str:
        """The same reasons as one line for people: 'address: required field is missing (x3); ...',
        saying how many other reasons there are when there are more than `limit`."""
        every = self.ranked_reasons(limit=10_000)
        line = reasons_line(every[:limit])
        hidden = len(every) - limit
        return f"{line}; and {hidden} more reason(s)" if hidden > 0 else line


def reasons_line(reasons: list[dict[str, Any]] | None) -> str:
    """Ranked reasons as one line: 'field: message (xN); ...'."""
    return "; ".join(f"{r['field']}: {r['message']}" + (f" (x{r['count']})" if r.get("count", 1) > 1 else "") for r in reasons or [])

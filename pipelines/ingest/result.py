"""What one ingest call reports back: the seed's response counts plus per-record detail."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

RecordStatus = Literal["created", "updated", "unchanged", "error"]


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

    def _count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def total_received(self) -> int:
        return len(self.results)

    @property
    def created(self) -> int:
        return self._count("created")

    @property
    def updated(self) -> int:
        return self._count("updated")

    @property
    def unchanged(self) -> int:
        return self._count("unchanged")

    @property
    def errors(self) -> int:
        return self._count("error")

    @property
    def internal_ids(self) -> list[int]:
        return [r.internal_id for r in self.results if r.internal_id is not None]

    def counts(self) -> dict[str, int]:
        """The seed's response body: total_received, created, updated, errors (+ unchanged), in one pass."""
        tally = Counter(r.status for r in self.results)
        return {
            "total_received": len(self.results),
            "created": tally["created"],
            "updated": tally["updated"],
            "errors": tally["error"],
            "unchanged": tally["unchanged"],
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.counts(), "sync_run_id": self.sync_run_id, "results": [r.to_dict() for r in self.results]}

    def error_summary(self, limit: int = 3) -> str:
        """'campo faltante'-style one-liner for dashboards: the commonest reasons first."""
        reasons: dict[str, int] = {}
        for r in self.results:
            for reason in r.reasons:
                key = f"{reason['field']}: {reason['message']}"
                reasons[key] = reasons.get(key, 0) + 1
        ranked = sorted(reasons.items(), key=lambda kv: -kv[1])[:limit]
        return "; ".join(f"{k} (x{n})" if n > 1 else k for k, n in ranked)

"""What one pull did, summed over the ingest chunks it made: the figures Dagster records as
materialization metadata and `crossdock pull` prints."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pipelines.ingest import SyncResult
from pipelines.sources.window import Window
from pipelines.vocabulary import PullMode

COUNT_KEYS = ("total_received", "created", "updated", "unchanged", "errors")


class PullError(RuntimeError):
    """A pull could not finish (source unreachable, refused credentials, unreadable data...).
    The message says what and where, and never contains a secret; `report` holds what did land."""

    def __init__(self, message: str, report: PullReport | None = None):
        super().__init__(message)
        self.report = report


@dataclass
class PullReport:
    integration: str
    source_kind: str
    mode: PullMode
    window: Window | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    read: dict[str, int] = field(default_factory=dict)  # pages, requests, retries, rows, files...
    sync_run_ids: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error_summaries: list[str] = field(default_factory=list)
    cursor_before: Any = None
    cursor_after: Any = None
    started: float = field(default_factory=time.perf_counter)
    duration_ms: float = 0.0

    def add(self, result: SyncResult) -> None:
        for key, value in result.counts().items():
            self.counts[key] = self.counts.get(key, 0) + value
        if result.sync_run_id is not None:
            self.sync_run_ids.append(result.sync_run_id)
        summary = result.error_summary()
        if summary and len(self.error_summaries) < 5:
            self.error_summaries.append(summary)

    def bump(self, key: str, by: int = 1) -> None:
        self.read[key] = self.read.get(key, 0) + by

    def finish(self) -> PullReport:
        self.duration_ms = (time.perf_counter() - self.started) * 1000
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "integration": self.integration,
            "source_kind": self.source_kind,
            "mode": self.mode,
            **self.counts,
            **self.read,
            "duration_ms": round(self.duration_ms, 1),
            "sync_runs": len(self.sync_run_ids),
        }
        if self.window:
            out["window"] = str(self.window)
        if self.cursor_before is not None or self.cursor_after is not None:
            out["cursor_before"], out["cursor_after"] = self.cursor_before, self.cursor_after
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.error_summaries:
            out["error_reasons"] = "; ".join(self.error_summaries)
        return out

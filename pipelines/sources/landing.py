"""Landing one chunk of pulled records: ingest plus the source state that depends on it, atomically.

A cursor or watermark written in the same transaction as the ingest cannot run ahead of the records
after a crash: either both are stored, or neither and the next poll repeats the chunk (the upsert
makes the repeat harmless: unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from pipelines.clock import utcnow
from pipelines.ingest import SyncResult, ingest
from pipelines.ingest.prepare import PreparedRecord
from pipelines.integrations.model import StoredIntegration
from pipelines.sources.report import PullReport
from pipelines.store.binds import inserted_id
from pipelines.store.schema import sync_runs
from pipelines.vocabulary import SyncRunStatus


def land(
    engine: sa.Engine,
    integration: StoredIntegration,
    records: Sequence[Any],
    report: PullReport,
    *,
    details: dict[str, Any] | None = None,
    on_commit: Callable[[sa.Connection, SyncResult], None] | None = None,
    prepared: Sequence[PreparedRecord] | None = None,
) -> SyncResult:
    """Ingest `records` and run `on_commit` (e.g. store the cursor) in one transaction; add to `report`.
    `prepared` is `prepare_for(integration, records)` when the caller ran it ahead."""
    run_details = {"mode": report.mode, **({"window": report.window.to_dict()} if report.window else {}), **(details or {})}
    with engine.begin() as conn:
        result = ingest(conn, integration, records, source_kind=report.source_kind, details=run_details, prepared=prepared)
        if on_commit is not None:
            on_commit(conn, result)
    report.add(result)
    return result


def record_failed_pull(engine: sa.Engine, integration: StoredIntegration, report: PullReport, message: str) -> int:
    """A `failed` sync run, so dashboards and the freshness check see the failed poll and its reason."""
    now = utcnow()
    with engine.begin() as conn:
        return inserted_id(
            conn.execute(
                sync_runs.insert().values(
                    integration_id=integration.id,
                    source_kind=report.source_kind,
                    started_at=now,
                    finished_at=now,
                    status=SyncRunStatus.FAILED,
                    message=message[:2_000],
                    details={"mode": report.mode, **({"window": report.window.to_dict()} if report.window else {}), **report.read},
                )
            )
        )

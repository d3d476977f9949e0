"""The one ingest path every source uses: records -> map -> validate -> upsert -> SyncResult.

Webhooks, API polls, database extraction, file drops and inbox replays all call `ingest()`, so a
record is judged the same way whichever door it came through. Valid records land even when others
in the same batch fail; failures are stored with their reasons in `record_errors`.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import orjson
import sqlalchemy as sa

from pipelines.clock import utcnow
from pipelines.ingest.orders import OrderToStore, fingerprint, upsert_orders
from pipelines.ingest.prepare import PreparedRecord, prepare
from pipelines.ingest.result import RecordResult, SyncResult
from pipelines.ingest.sales import upsert_sale
from pipelines.integrations.model import StoredIntegration
from pipelines.mapping import CompiledMapping, compile_mapping
from pipelines.store.binds import inserted_id, transaction
from pipelines.store.schema import integrations, record_errors, sync_runs
from pipelines.targets import FIELDS, default_mapping
from pipelines.vocabulary import RecordVerdict, SyncRunStatus


@lru_cache(maxsize=256)
def _compile(mapping_json: bytes, target: str) -> CompiledMapping:
    return compile_mapping(orjson.loads(mapping_json), FIELDS[target])


def mapping_for(integration: StoredIntegration) -> CompiledMapping:
    """The integration's compiled mapping (its own, or its target's default), compiled once per process."""
    field_mapping = integration.config.field_mapping or default_mapping(integration.target)
    return _compile(orjson.dumps(field_mapping, option=orjson.OPT_SORT_KEYS), integration.target)


def _serialise_ingest(conn: sa.Connection, integration_id: int) -> None:
    """One ingest at a time per integration, so created/updated counts are exact under concurrency.
    SQLite already serialises writers (BEGIN IMMEDIATE). Elsewhere the integration's row is locked
    for the transaction: scoped to this store (unlike a server-wide advisory lock), and NO KEY UPDATE
    so rows that merely reference the integration (inbox, outbox) are never held up by it."""
    if conn.dialect.name != "sqlite":
        conn.execute(sa.select(integrations.c.id).where(integrations.c.id == integration_id).with_for_update(key_share=True))


def _rounds(valid: dict[int, PreparedRecord]) -> list[list[int]]:
    """Split indices so no external id repeats within a round: a batch that sends the same order
    twice is applied in order (second send = update or unchanged), never a unique-key clash."""
    rounds: list[list[int]] = []
    seen: dict[str, int] = {}
    for index, item in valid.items():
        external_id = item.landing()["external_id"]
        depth = seen.get(external_id, -1) + 1
        seen[external_id] = depth
        if depth == len(rounds):
            rounds.append([])
        rounds[depth].append(index)
    return rounds


def prepare_for(integration: StoredIntegration, records: Sequence[Any]) -> list[PreparedRecord]:
    """Map and validate `records` with the integration's mapping: ingest's first half, which touches no
    database. Pull sources run it ahead in their read-ahead thread, so it overlaps the previous chunk's
    writes and commit (SQLite and the network release the GIL while they work)."""
    with _collector_paused(len(records)):
        prepared = prepare(mapping_for(integration), integration.target, records)
        if integration.target == "order":
            for item in prepared:
                if item.clean is not None:
                    item.clean, item.digest = fingerprint(item.clean)
        return prepared


def ingest(
    bind: sa.Engine | sa.Connection,
    integration: StoredIntegration,
    records: Sequence[Any],
    *,
    source_kind: str,
    inbox_id: int | None = None,
    details: dict[str, Any] | None = None,
    keep_source: bool = True,
    prepared: Sequence[PreparedRecord] | None = None,
) -> SyncResult:
    """Map, validate and upsert `records` for `integration`; record a sync run; return the counts.

    Pass a Connection to make the ingest part of the caller's transaction (the receiver writes the
    inbox row and the orders atomically); pass an Engine to get a transaction of its own. `prepared`
    is `prepare_for(integration, records)` when the caller already ran it.
    """
    if prepared is not None and len(prepared) != len(records):
        raise ValueError(f"prepared has {len(prepared)} verdicts for {len(records)} records")
    with _collector_paused(len(records)):
        return _ingest(bind, integration, records, source_kind, inbox_id, details, keep_source, prepared)


@contextmanager
def _collector_paused(size: int) -> Iterator[None]:
    """Pause the cyclic garbage collector for large batches. Mapping allocates a few objects per
    field per record, none of them cyclic, yet each allocation burst triggers full collections that
    re-scan every live record: about 30% of a 100k-record ingest. Small batches are left alone."""
    if size < 1_000 or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _ingest(
    bind: sa.Engine | sa.Connection,
    integration: StoredIntegration,
    records: Sequence[Any],
    source_kind: str,
    inbox_id: int | None,
    details: dict[str, Any] | None,
    keep_source: bool,
    prepared: Sequence[PreparedRecord] | None,
) -> SyncResult:
    started = time.perf_counter()
    now = utcnow()
    results: dict[int, RecordResult] = {}
    valid: dict[int, PreparedRecord] = {}
    if prepared is None:
        prepared = prepare_for(integration, records)
    for item in prepared:
        if item.ok:
            valid[item.index] = item
        else:
            results[item.index] = RecordResult(
                index=item.index, status=RecordVerdict.ERROR, external_id=item.external_id, reasons=item.reasons
            )

    with transaction(bind) as conn:
        _serialise_ingest(conn, integration.id)
        run_id = inserted_id(
            conn.execute(
                sync_runs.insert().values(
                    integration_id=integration.id,
                    source_kind=source_kind,
                    started_at=now,
                    status=SyncRunStatus.RUNNING,
                    details=details,
                )
            )
        )
        for round_indices in _rounds(valid):
            if integration.target == "order":
                batch = [
                    OrderToStore(i, valid[i].landing(), valid[i].digest or "", records[i] if keep_source else None) for i in round_indices
                ]
                for stored in upsert_orders(conn, integration.id, batch, now):
                    results[stored.index] = stored
            else:
                for i in round_indices:
                    results[i] = upsert_sale(conn, integration.id, i, valid[i].landing(), records[i] if keep_source else None, now)
        ordered = [results[i] for i in range(len(records))]
        failures = [r for r in ordered if r.status == RecordVerdict.ERROR]
        not_kept = max(0, len(failures) - MAX_KEPT_ERRORS)
        failures = failures[:MAX_KEPT_ERRORS]
        if failures:
            conn.execute(
                record_errors.insert(),
                [
                    {
                        "sync_run_id": run_id,
                        "integration_id": integration.id,
                        "inbox_id": inbox_id,
                        "record_index": r.index,
                        "external_id": r.external_id,
                        "record": records[r.index] if isinstance(records[r.index], dict) else {"value": records[r.index]},
                        "reasons": r.reasons,
                        "created_at": now,
                    }
                    for r in failures
                ],
            )
        result = SyncResult(
            integration=integration.name,
            source_kind=source_kind,
            results=ordered,
            sync_run_id=run_id,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        conn.execute(
            sync_runs.update()
            .where(sync_runs.c.id == run_id)
            .values(
                finished_at=utcnow(),
                status=SyncRunStatus.OK,
                message=result.error_summary() or None,
                reasons=result.ranked_reasons() or None,
                **{k: v for k, v in result.counts().items()},
                **_run_details(details, ordered, result.stale, not_kept),
            )
        )
    return result


STALE_LISTED = 100
# Record errors kept per sync run: the first ones show every reason a batch has; a million copies of
# the same reason would only fill the store (the run keeps the count of those not kept).
MAX_KEPT_ERRORS = 1_000


def _run_details(details: dict[str, Any] | None, ordered: list[RecordResult], stale: int, not_kept: int) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if stale:
        extra["stale"] = _stale_list(ordered)
    if not_kept:
        extra["record_errors_not_kept"] = not_kept
    return {"details": {**(details or {}), **extra}} if extra else {}


def _stale_list(results: list[RecordResult]) -> list[dict[str, Any]]:
    """The records not applied because they were older than what is stored (the first STALE_LISTED)."""
    return [
        {"external_id": r.external_id, "reason": r.reasons[0]["message"] if r.reasons else "stale"}
        for r in results
        if r.status == RecordVerdict.STALE
    ][:STALE_LISTED]

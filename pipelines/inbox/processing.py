"""Processing the inbox: take pending rows oldest first, ingest each, dead-letter poison, replay on demand.

Why one transaction per row: the ingest of a row and the row's move to `done` (with its sync run id)
commit together, so a crash at any point leaves every row either fully ingested and `done`, or
untouched and still `pending` — a re-run finishes the work without losing or doubling anything.
Short transactions also keep SQLite's single write lock free for the receiver between rows.

Why there is no lease column: a row is claimed by locking it inside that transaction and checking it
is still `pending` (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite `BEGIN IMMEDIATE` already
serialises writers). Two overlapping runs therefore never ingest the same row twice, and a crashed
run leaves no stale claim behind to expire.

Framework-free: Dagster (assets/inbox_processing.py) and the CLI call these functions.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipelines.access import audit
from pipelines.access.audit import AuditAction
from pipelines.clock import as_utc, utcnow
from pipelines.inbox import DEAD, DONE, PENDING
from pipelines.inbox.body import UnreadableBody, read_body
from pipelines.inbox.done import Done, mark_done
from pipelines.ingest import SyncResult, ingest
from pipelines.integrations import IntegrationNotFound, StoredIntegration, get_integration_by_id
from pipelines.paging import Page, page_of
from pipelines.store.binds import connection
from pipelines.store.engine import reader
from pipelines.store.joins import integration_of, live
from pipelines.store.schema import inbox, integrations, sync_runs

DEFAULT_BATCH_SIZE = 200
# A database that keeps failing (locked, restarting) is not the payload's fault: the row stays
# pending and is retried by the next run, up to this many attempts, then it is dead-lettered.
MAX_TRANSIENT_ATTEMPTS = 5
# Written into each sync run's `details` so reporters can tell the processor's runs from the receiver's.
PROCESSED_BY = "inbox_processor"
TRANSIENT_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError)


class PoisonPayload(Exception):
    """This row can never be ingested as it is; the message says why (it becomes the row's `error`)."""


class InboxRowNotFound(LookupError):
    pass


class NotReplayable(ValueError):
    """The row exists but is in no state that replay applies to; the message says which state."""


@dataclass
class RowOutcome:
    """What happened to one inbox row in a batch."""

    inbox_id: int
    integration: str
    status: str  # done | dead
    result: SyncResult | None = None
    reason: str | None = None

    def ingested(self) -> SyncResult:
        """The ingest's result of a row that is done (a dead row has none)."""
        if self.result is None:
            raise ValueError(f"inbox row {self.inbox_id} was not ingested: {self.reason}")
        return self.result


@dataclass
class IntegrationTally:
    """One integration's share of a batch: the counts the asset catalog shows per integration."""

    rows: int = 0
    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    dead: int = 0
    ingest_ms: float = 0.0
    sync_run_ids: list[int] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)  # record error and dead-letter reasons

    def add(self, outcome: RowOutcome) -> None:
        self.rows += 1
        if outcome.status == DEAD:
            self.dead += 1
            self.reasons[f"dead letter: {outcome.reason}"] += 1
            return
        result = outcome.ingested()
        self.received += result.total_received
        self.created += result.created
        self.updated += result.updated
        self.unchanged += result.unchanged
        self.errors += result.errors
        self.ingest_ms += result.duration_ms
        if result.sync_run_id is not None:
            self.sync_run_ids.append(result.sync_run_id)
        for record in result.results:
            for reason in record.reasons:
                self.reasons[f"{reason['field']}: {reason['message']}"] += 1

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "received": self.received,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.errors,
            "dead": self.dead,
        }


@dataclass
class BatchReport:
    """Everything a processing call did, in the order it did it."""

    outcomes: list[RowOutcome] = field(default_factory=list)
    duration_ms: float = 0.0

    def per_integration(self) -> dict[str, IntegrationTally]:
        tallies: dict[str, IntegrationTally] = {}
        for outcome in self.outcomes:
            tallies.setdefault(outcome.integration, IntegrationTally()).add(outcome)
        return tallies

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


# --- processing ---------------------------------------------------------------------------------


def pending_ids(bind: sa.Engine | sa.Connection, *, limit: int) -> list[int]:
    """The next micro-batch: ids of up to `limit` pending rows, oldest first (ids grow with arrival).
    Reading them claims nothing; `process_row` claims each. Rows of an archived integration wait
    (held for a restore) rather than fail."""
    query = sa.select(inbox.c.id).join(*integration_of(inbox)).where(inbox.c.status == PENDING, live()).order_by(inbox.c.id).limit(limit)
    with connection(bind) as conn:
        return list(conn.execute(query).scalars())


def parse_body(body: bytes) -> list[Any]:
    """A stored webhook body's records; a body that cannot be read is poison, with the receiver's reason."""
    try:
        return read_body(body)[1]
    except UnreadableBody as exc:
        raise PoisonPayload(f"body is not readable: {exc}") from None


def process_row(
    conn: sa.Connection,
    inbox_id: int,
    *,
    integrations_by_id: dict[int, StoredIntegration] | None = None,
    details: dict[str, Any] | None = None,
) -> RowOutcome | None:
    """Claim, ingest and finish one pending row inside the caller's transaction.

    Returns None when the row is no longer pending (another run took it, or it was replayed and done
    meanwhile). Raises PoisonPayload for a row that can never be ingested as it is, and whatever the
    ingest raises; the caller rolls back and dead-letters (see `process_batch`)."""
    row = conn.execute(
        sa.select(inbox.c.id, inbox.c.integration_id, inbox.c.body, inbox.c.attempts)
        .where(inbox.c.id == inbox_id, inbox.c.status == PENDING)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return None
    integration = _integration(conn, row.integration_id, integrations_by_id)
    if not integration.is_active:
        raise PoisonPayload(f"integration {integration.name!r} is disabled; enable it, then replay")
    records = parse_body(row.body)
    result = ingest(
        conn,
        integration,
        records,
        source_kind="webhook",
        inbox_id=row.id,
        details={**(details or {}), "inbox_id": row.id, "processed_by": PROCESSED_BY},
    )
    mark_done(conn, [Done(row.id, result.sync_run_id, attempts=row.attempts + 1)], utcnow())
    return RowOutcome(inbox_id=row.id, integration=integration.name, status=DONE, result=result)


def process_batch(
    engine: sa.Engine,
    *,
    limit: int = DEFAULT_BATCH_SIZE,
    details: dict[str, Any] | None = None,
) -> BatchReport:
    """Process one micro-batch: up to `limit` pending rows, oldest first, each in its own transaction.

    A poison row is dead-lettered with its reason and the batch goes on. A database that is down or
    locked stops the batch (the exception propagates) with the row still pending, so a later run
    retries it; after MAX_TRANSIENT_ATTEMPTS such failures the row is dead-lettered instead."""
    started = time.perf_counter()
    report = BatchReport()
    integrations_by_id: dict[int, StoredIntegration] = {}  # loaded once per batch: changes apply next batch
    for inbox_id in pending_ids(reader(engine), limit=limit):  # a read: no lock while the inbox is empty
        try:
            with engine.begin() as conn:
                outcome = process_row(conn, inbox_id, integrations_by_id=integrations_by_id, details=details)
        except TRANSIENT_ERRORS as exc:
            _note_transient_failure(engine, inbox_id, exc)
            raise
        except PoisonPayload as exc:
            outcome = _dead_letter(engine, inbox_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - a payload that breaks ingest must not block the rows behind it
            outcome = _dead_letter(engine, inbox_id, f"unexpected error while ingesting: {_describe(exc)}")
        if outcome is not None:
            report.outcomes.append(outcome)
    report.duration_ms = (time.perf_counter() - started) * 1000
    return report


def follow(
    engine: sa.Engine,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    idle_seconds: float = 0.0,
    budget_seconds: float = 240.0,
    poll_seconds: float = 0.5,
    details: dict[str, Any] | None = None,
    on_batch: Callable[[BatchReport], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[float], None] = time.sleep,
) -> BatchReport:
    """Process micro-batches until the inbox has been empty for `idle_seconds`, or `budget_seconds`
    have passed; `on_batch` hears of each batch that did something, as it happens.

    Why linger: starting a Dagster run costs seconds (a new process), so a run that keeps taking rows
    for a while after the inbox empties turns the next webhooks' latency from a run start into one
    poll. `idle_seconds=0` drains what is pending and returns. The budget makes every call end, even
    under a flood, so each run stays a bounded piece of work."""
    started = clock()
    last_work = started
    report = BatchReport()
    while True:
        batch = process_batch(engine, limit=batch_size, details=details)
        if batch.outcomes:
            report.outcomes.extend(batch.outcomes)
            last_work = clock()
            if on_batch is not None:
                on_batch(batch)
        now = clock()
        if now - started >= budget_seconds:
            break
        if len(batch.outcomes) >= batch_size:
            continue  # more may be waiting right now
        if now - last_work >= idle_seconds:
            break
        wait(poll_seconds)
    report.duration_ms = (clock() - started) * 1000
    return report


def newest_pending_id(bind: sa.Engine | sa.Connection) -> int | None:
    with connection(bind) as conn:
        return conn.execute(
            sa.select(sa.func.max(inbox.c.id)).join(*integration_of(inbox)).where(inbox.c.status == PENDING, live())
        ).scalar()


def _integration(conn: sa.Connection, integration_id: int, cache: dict[int, StoredIntegration] | None) -> StoredIntegration:
    if cache is not None and integration_id in cache:
        return cache[integration_id]
    try:
        integration = get_integration_by_id(conn, integration_id)
    except IntegrationNotFound:
        raise PoisonPayload(f"integration {integration_id} no longer exists") from None
    if cache is not None:
        cache[integration_id] = integration
    return integration


def _dead_letter(engine: sa.Engine, inbox_id: int, reason: str) -> RowOutcome | None:
    """Move a still-pending row to `dead` with its reason, counting the attempt."""
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(inbox.c.id, inbox.c.attempts, integrations.c.name)
            .join(*integration_of(inbox), isouter=True)
            .where(inbox.c.id == inbox_id, inbox.c.status == PENDING)
        ).first()
        if row is None:
            return None
        conn.execute(
            inbox.update().where(inbox.c.id == inbox_id).values(status=DEAD, error=reason, attempts=row.attempts + 1, processed_at=utcnow())
        )
    return RowOutcome(inbox_id=inbox_id, integration=row.name or "(deleted)", status=DEAD, reason=reason)


def _describe(exc: Exception, limit: int = 500) -> str:
    """`Type: first line` of an exception: SQLAlchemy appends the statement and its parameters on
    further lines, which would copy payload data into the row's error."""
    first = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:limit]}"


def _note_transient_failure(engine: sa.Engine, inbox_id: int, exc: Exception) -> None:
    """Count the attempt and keep the row pending, or dead-letter it after too many; best effort,
    since the database that just failed may still be failing."""
    try:
        with engine.begin() as conn:
            attempts = (conn.execute(sa.select(inbox.c.attempts).where(inbox.c.id == inbox_id)).scalar() or 0) + 1
            gave_up = attempts >= MAX_TRANSIENT_ATTEMPTS
            reason = f"database error on {attempts} attempts, gave up: " if gave_up else "database error, will retry: "
            conn.execute(
                inbox.update()
                .where(inbox.c.id == inbox_id, inbox.c.status == PENDING)
                .values(status=DEAD if gave_up else PENDING, error=reason + _describe(exc), attempts=attempts)
            )
    except TRANSIENT_ERRORS:
        pass


# --- replay -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxRow:
    """One inbox row as operators see it (the body is left out: it can be large)."""

    id: int
    integration: str
    status: str
    received_at: datetime
    attempts: int
    error: str | None
    sync_run_id: int | None
    record_errors: int  # record errors of its sync run (0 when none or not processed)
    delivery_id: str | None
    replay_count: int = 0
    replayed_at: datetime | None = None
    replayed_by: str | None = None


def _entries_query() -> sa.Select:
    return (
        sa.select(
            inbox.c.id,
            integrations.c.name.label("integration"),
            inbox.c.status,
            inbox.c.received_at,
            inbox.c.attempts,
            inbox.c.error,
            inbox.c.sync_run_id,
            inbox.c.delivery_id,
            sa.func.coalesce(sync_runs.c.errors, 0).label("record_errors"),
            inbox.c.replay_count,
            inbox.c.replayed_at,
            inbox.c.replayed_by,
        )
        .join(*integration_of(inbox))
        .join(sync_runs, sync_runs.c.id == inbox.c.sync_run_id, isouter=True)
    )


def _entry(row: sa.Row) -> InboxRow:
    return InboxRow(
        id=row.id,
        integration=row.integration,
        status=row.status,
        received_at=as_utc(row.received_at),
        attempts=row.attempts,
        error=row.error,
        sync_run_id=row.sync_run_id,
        record_errors=row.record_errors,
        delivery_id=row.delivery_id,
        replay_count=row.replay_count,
        replayed_at=as_utc(row.replayed_at),
        replayed_by=row.replayed_by,
    )


def page_entries(
    bind: sa.Engine | sa.Connection,
    *,
    status: str | None = None,
    integration_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[InboxRow]:
    """Inbox rows, newest first, a page at a time, optionally of one status and/or integration."""
    query = _entries_query()
    if status is not None:
        query = query.where(inbox.c.status == status)
    if integration_id is not None:
        query = query.where(inbox.c.integration_id == integration_id)
    with connection(bind) as conn:
        return page_of(conn, query, inbox.c.id, cursor=cursor, limit=limit, convert=_entry)


def list_entries(
    bind: sa.Engine | sa.Connection,
    *,
    status: str | None = None,
    integration_id: int | None = None,
    limit: int = 50,
) -> list[InboxRow]:
    """The newest inbox rows (the first page of `page_entries`)."""
    return page_entries(bind, status=status, integration_id=integration_id, limit=limit).items


def _replayable(include_record_errors: bool) -> sa.ColumnElement[bool]:
    dead = inbox.c.status == DEAD
    if not include_record_errors:
        return dead
    return sa.or_(dead, sa.and_(inbox.c.status == DONE, sync_runs.c.errors > 0))


def replay(
    engine: sa.Engine,
    *,
    actor: str,
    inbox_id: int | None = None,
    integration_id: int | None = None,
    since: datetime | None = None,
    include_record_errors: bool = False,
    dry_run: bool = False,
    now: datetime | None = None,
) -> list[InboxRow]:
    """Send rows back to `pending` so the processor ingests them again, recording `actor` as who did
    it; returns them as they were.

    By id: that row, which must be dead (or done with record errors, when included). By integration:
    its dead rows received at or after `since`, plus done rows whose sync run had record errors when
    `include_record_errors` (e.g. an identifier code registered after the sale arrived). Re-ingesting
    is idempotent: the upsert turns already-landed records into `unchanged`."""
    if (inbox_id is None) == (integration_id is None):
        raise ValueError("replay takes an inbox id or an integration, not both or neither")
    query = _entries_query().where(_replayable(include_record_errors)).order_by(inbox.c.id)
    if inbox_id is not None:
        query = query.where(inbox.c.id == inbox_id)
    else:
        query = query.where(inbox.c.integration_id == integration_id)
        if since is not None:
            query = query.where(inbox.c.received_at >= as_utc(since))
    with engine.begin() as conn:
        chosen = [_entry(row) for row in conn.execute(query)]
        if inbox_id is not None and not chosen:
            _explain_not_replayable(conn, inbox_id, include_record_errors)
        if not dry_run:
            for status, ids in _by_status(chosen).items():
                # The status guard keeps a concurrent processor's move (e.g. a dead row replayed twice) exact.
                conn.execute(
                    inbox.update()
                    .where(inbox.c.id.in_(ids), inbox.c.status == status)
                    .values(
                        status=PENDING,
                        processed_at=None,
                        replay_count=inbox.c.replay_count + 1,
                        replayed_at=as_utc(now) or utcnow(),
                        replayed_by=actor,
                    )
                )
            for entry in chosen:  # a done row sent back is a re-ingest; a dead one a replay
                audit.record(
                    conn,
                    actor,
                    AuditAction.REINGESTED if entry.status == DONE else AuditAction.REPLAYED,
                    f"inbox:{entry.id}",
                    {"integration": entry.integration, "status": entry.status},
                )
    return chosen


def _by_status(entries: Iterable[InboxRow]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for entry in entries:
        grouped.setdefault(entry.status, []).append(entry.id)
    return grouped


def _explain_not_replayable(conn: sa.Connection, inbox_id: int, include_record_errors: bool) -> None:
    row = conn.execute(_entries_query().where(inbox.c.id == inbox_id)).first()
    if row is None:
        raise InboxRowNotFound(f"no inbox row {inbox_id}")
    if row.status == DONE and row.record_errors:
        raise NotReplayable(
            f"inbox row {inbox_id} is done with {row.record_errors} record error(s); pass --with-record-errors to ingest it again"
        )
    explanations = {
        PENDING: "is pending: the processor will take it, there is nothing to replay",
        DONE: "is done and its sync run had no record errors",
    }
    raise NotReplayable(f"inbox row {inbox_id} {explanations.get(row.status, f'is {row.status}: never processed')}")

"""The receiver's side of the inbox: make a batch of requests durable in one transaction.

Every request is written here before it is acknowledged, and its answer is decided here too, in the
same transaction:
- `async` entries become `pending` rows (the Dagster processor takes them from there): answer 202;
- `sync` entries are ingested at once (`pipelines.ingest.ingest` on the same connection), so the inbox
  row, the orders and the sync run commit together or not at all: answer 200 with the seed's counts,
  or 422 when every record was invalid (a partly valid batch is 200: its valid records landed, and the
  invalid ones are reported per record and kept in `record_errors`);
- `rejected` entries (bad credentials, inactive integration, malformed JSON...) are kept for diagnosis
  only: body cut to `REJECTED_BODY_BYTES`, at most `KEEP_REJECTED` per integration (see
  `prune_rejected`), never processed, never deduplicated.

Many concurrent requests share one transaction (group commit, driven by the receiver): the cost of a
commit is paid once per batch instead of once per request. A repeated delivery id is answered with the
original answer marked `duplicate` when the body is the same, and 409 when it differs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from pipelines.clock import utcnow
from pipelines.inbox import DONE, PENDING, REJECTED
from pipelines.inbox.done import Done, mark_done
from pipelines.ingest import SyncResult, ingest
from pipelines.integrations.model import StoredIntegration, verification_of
from pipelines.integrations.providers import rules
from pipelines.store.binds import inserted_id
from pipelines.store.schema import inbox, record_errors

log = logging.getLogger(__name__)

REJECTED_BODY_BYTES = 4_096
KEEP_REJECTED = 1_000

# Headers worth keeping with a request: content description, provider event/delivery/signature headers
# (a signature is a MAC, not a secret: keeping it lets the request be re-verified). Never credentials:
# X-API-Key, Authorization, X-Webhook-Secret and cookies are left out by construction (allow-list).
KEPT_HEADERS: frozenset[str] = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "user-agent",
        "x-forwarded-for",
        "x-request-id",
        "idempotency-key",
        "x-webhook-id",
        "x-webhook-signature",
        "x-autentikapp-signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "svix-id",
        "svix-timestamp",
        "svix-signature",
        "stripe-signature",
        "x-shopify-hmac-sha256",
        "x-shopify-topic",
        "x-shopify-shop-domain",
        "x-shopify-webhook-id",
        "x-shopify-event-id",
        "x-shopify-triggered-at",
        "x-shopify-api-version",
        "x-hub-signature-256",
        "x-github-delivery",
        "x-github-event",
        "x-github-hook-id",
        "x-wc-webhook-signature",
        "x-wc-webhook-delivery-id",
        "x-wc-webhook-topic",
        "x-wc-webhook-source",
        "x-wc-webhook-id",
        "x-wc-webhook-event",
        "x-wc-webhook-resource",
    }
)

# `ignored`: a verified delivery the integration does not ingest (a provider ping, an event it does
# not map): stored done with its answer, never processed.
Mode = Literal["async", "sync", "rejected", "ignored"]
ACCEPTED_BODY: dict[str, Any] = {"accepted": True, "status": PENDING}


def kept_headers(headers: Iterable[tuple[str, str]], **extra: str) -> dict[str, str]:
    """The allow-listed request headers (lower-cased), plus Crossdock's own `x-crossdock-*` notes."""
    kept = {lowered: value for name, value in headers if (lowered := name.lower()) in KEPT_HEADERS}
    kept.update({f"x-crossdock-{key.replace('_', '-')}": value for key, value in extra.items()})
    return kept


@dataclass
class IncomingRequest:
    """One request as it will be stored. `records` are the parsed body (sync entries need them)."""

    integration: StoredIntegration
    body: bytes
    headers: dict[str, str]
    mode: Mode
    verified: bool = True
    delivery_id: str | None = None
    records: list[Any] | None = None
    error: str | None = None


@dataclass
class Outcome:
    """The answer to one stored request."""

    inbox_id: int
    status_code: int
    body: dict[str, Any] = field(default_factory=dict)
    duplicate: bool = False

    def payload(self) -> dict[str, Any]:
        out = {**self.body, "inbox_id": self.inbox_id}
        if self.duplicate:
            out["duplicate"] = True
        return out


def write_batch(engine: sa.Engine, entries: Sequence[IncomingRequest], now: datetime | None = None) -> list[Outcome | None]:
    """Store `entries` in one transaction and return each one's answer (None for rejected entries).

    Raises whatever the database raises when the transaction cannot commit: then nothing of the batch
    is stored and nothing may be acknowledged."""
    now = now or utcnow()
    outcomes: list[Outcome | None] = [None] * len(entries)
    with engine.begin() as conn:
        rejected = [entry for entry in entries if entry.mode == "rejected"]
        if rejected:
            conn.execute(inbox.insert(), [_rejected_row(entry, now) for entry in rejected])
        accepted = [(i, entry) for i, entry in enumerate(entries) if entry.mode != "rejected"]
        earlier = _earlier_deliveries(conn, [entry for _, entry in accepted])
        fresh: list[tuple[int, IncomingRequest]] = []
        first_in_batch: dict[tuple[int, str], int] = {}
        repeats_in_batch: list[tuple[int, int]] = []
        for i, entry in accepted:
            if entry.delivery_id is not None:
                key = (entry.integration.id, entry.delivery_id)
                if key in earlier:
                    outcomes[i] = _repeat(earlier[key], entry)
                    continue
                if key in first_in_batch:
                    repeats_in_batch.append((i, first_in_batch[key]))
                    continue
                first_in_batch[key] = i
            fresh.append((i, entry))
        ids = _insert(conn, [entry for _, entry in fresh], now)
        raced = [(i, entry) for (i, entry), inbox_id in zip(fresh, ids, strict=True) if inbox_id is None]
        if raced:
            stored = _earlier_deliveries(conn, [entry for _, entry in raced])
            for i, entry in raced:
                outcomes[i] = _repeat(stored[(entry.integration.id, entry.delivery_id or "")], entry)
        sync_work: list[tuple[int, IncomingRequest, int]] = []
        for (i, entry), inbox_id in zip(fresh, ids, strict=True):
            if inbox_id is None:
                continue
            if entry.mode == "async":
                outcomes[i] = Outcome(inbox_id, 202, dict(ACCEPTED_BODY))
            elif entry.mode == "ignored":
                outcomes[i] = Outcome(inbox_id, 200, _ignored_body(entry))
            else:
                sync_work.append((i, entry, inbox_id))
        # One ingest per integration (and configuration) in the batch, in id order: ingest takes a
        # per-integration lock on PostgreSQL, and a fixed order keeps two receivers' batches from
        # deadlocking on each other. One ingest for many requests pays its fixed cost (sync run, lookups,
        # statements) once, which is what keeps sync acknowledgements fast under concurrency.
        groups: dict[tuple[int, datetime], list[tuple[int, IncomingRequest, int]]] = {}
        for item in sorted(sync_work, key=lambda item: (item[1].integration.id, item[2])):
            groups.setdefault((item[1].integration.id, item[1].integration.updated_at), []).append(item)
        for group in groups.values():
            for i, outcome in _ingest_now(conn, group, now):
                outcomes[i] = outcome
        for i, first in repeats_in_batch:
            original = outcomes[first]
            assert original is not None
            outcomes[i] = _repeat_of(original, entries[first].body, entries[i])
    return outcomes


_INSERT_COLUMNS = (
    "integration_id",
    "received_at",
    "source_kind",
    "delivery_id",
    "headers",
    "body",
    "verified",
    "status",
    "attempts",
    "response",
)
_ASYNC_RESPONSE: dict[str, Any] = {"status_code": 202, "body": ACCEPTED_BODY}


def _insert(conn: sa.Connection, entries: list[IncomingRequest], now: datetime) -> list[int | None]:
    """Insert accepted rows; their ids, in order. None for a row whose delivery id another receiver
    stored first, between our look for earlier deliveries and this insert (only on PostgreSQL, where
    several receivers write at once): that request is answered as the duplicate it is, and the rest of
    the batch is not affected. This is the receiver's hottest write, so on SQLite it binds through the
    driver directly (with SQLAlchemy's own bind processors, applied once per batch where the value is
    shared): every microsecond here is held under the GIL the event loop needs."""
    if not entries:
        return []
    rows = [_ignored_row(entry, now) if entry.mode == "ignored" else _accepted_row(entry, now) for entry in entries]
    if conn.dialect.name == "sqlite":
        if any(entry.mode == "ignored" for entry in entries):
            return [inserted_id(conn.execute(inbox.insert().values(**row))) for row in rows]
        return list(_insert_sqlite(conn, rows))
    ids: list[int | None] = [None] * len(rows)
    plain = [i for i, entry in enumerate(entries) if entry.delivery_id is None]
    if plain:
        statement = inbox.insert().returning(inbox.c.id, sort_by_parameter_order=True)
        for i, inbox_id in zip(plain, conn.execute(statement, [rows[i] for i in plain]).scalars(), strict=True):
            ids[i] = inbox_id
    keyed = [i for i, entry in enumerate(entries) if entry.delivery_id is not None]
    if keyed:
        for i, inbox_id in _insert_keyed(conn, entries, rows, keyed):
            ids[i] = inbox_id
    return ids


def _insert_keyed(
    conn: sa.Connection, entries: list[IncomingRequest], rows: list[dict[str, Any]], keyed: list[int]
) -> Iterable[tuple[int, int]]:
    """Rows with a delivery id, as multi-row INSERT ... ON CONFLICT DO NOTHING (SQLAlchemy's
    "insertmanyvalues": one statement per page of rows, not one per row), yielding (index, id) for
    each row stored. A row another receiver stored first is skipped by PostgreSQL, not an error, and
    simply returns nothing: RETURNING gives each stored row's key, so ids are matched by key, never
    by position (the keys are unique here: repeats within the batch were set aside before).

    In key order: PostgreSQL inserts a VALUES list in order, so two receivers inserting the same two
    delivery ids each take the first before the second and the later one just waits for the earlier
    (in opposite orders each would wait for the other's row: a deadlock)."""
    order = sorted(keyed, key=lambda i: (entries[i].integration.id, entries[i].delivery_id or ""))
    # Every row binds the same columns: an ignored row's `error` and `processed_at` are None elsewhere.
    columns = set().union(*(rows[i].keys() for i in order))
    params = [{column: rows[i].get(column) for column in columns} for i in order]
    statement = (
        postgresql.insert(inbox)
        .on_conflict_do_nothing(index_elements=[inbox.c.integration_id, inbox.c.delivery_id])
        .returning(inbox.c.id, inbox.c.integration_id, inbox.c.delivery_id)
    )
    by_key = {(entries[i].integration.id, entries[i].delivery_id): i for i in order}
    for inbox_id, integration_id, delivery_id in conn.execute(statement, params):
        yield by_key[(integration_id, delivery_id)], inbox_id


def _received(entry: IncomingRequest, now: datetime) -> dict[str, Any]:
    """The inbox columns every kept delivery has: whose, when, what came, and whether it was verified."""
    return {
        "integration_id": entry.integration.id,
        "received_at": now,
        "source_kind": "webhook",
        "delivery_id": entry.delivery_id,
        "headers": entry.headers,
        "body": entry.body,
        "verified": entry.verified,
        "attempts": 0,
    }


def _accepted_row(entry: IncomingRequest, now: datetime) -> dict[str, Any]:
    return {**_received(entry, now), "status": PENDING, "response": _ASYNC_RESPONSE if entry.mode == "async" else None}


_SQLITE_CHUNK = 256  # rows per INSERT: 2,560 bound values, far under SQLite's 32,766


def _bind_processor(column: str, dialect: sa.Dialect) -> Callable[[Any], Any]:
    """How the column's type turns a value into what the driver takes (itself, for plain types)."""
    processor = inbox.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    return processor if processor is not None else (lambda value: value)


def _insert_sqlite(conn: sa.Connection, rows: list[dict[str, Any]]) -> list[int]:
    """One multi-row INSERT per chunk: the driver releases the GIL once per statement rather than once
    per row, so the event loop's thread is not kept waiting to hand it back. Ids come from SQLite's
    documented rowid rule: with no rowid given, a new row gets one more than the largest rowid in the
    table, and this transaction holds the write lock (BEGIN IMMEDIATE), so a chunk's rows get
    consecutive ids in VALUES order, the last one being `lastrowid`."""
    dialect = conn.dialect
    process = {name: _bind_processor(name, dialect) for name in _INSERT_COLUMNS}
    received_at = process["received_at"](rows[0]["received_at"])
    async_response = process["response"](_ASYNC_RESPONSE)
    placeholders = f"({', '.join('?' * len(_INSERT_COLUMNS))})"
    driver = conn.connection.driver_connection
    if driver is None:
        raise RuntimeError("the SQLite connection is closed")
    cursor = driver.cursor()
    ids: list[int] = []
    try:
        for start in range(0, len(rows), _SQLITE_CHUNK):
            chunk = rows[start : start + _SQLITE_CHUNK]
            params: list[Any] = []
            for row in chunk:
                params += (
                    row["integration_id"],
                    received_at,
                    row["source_kind"],
                    row["delivery_id"],
                    process["headers"](row["headers"]),
                    row["body"],
                    row["verified"],
                    row["status"],
                    row["attempts"],
                    async_response if row["response"] is _ASYNC_RESPONSE else None,
                )
            cursor.execute(
                f"INSERT INTO inbox ({', '.join(_INSERT_COLUMNS)}) VALUES {', '.join([placeholders] * len(chunk))}",
                params,
            )
            last = cursor.lastrowid
            ids += range(last - len(chunk) + 1, last + 1)
    finally:
        cursor.close()
    return ids


def _ingest_now(conn: sa.Connection, group: list[tuple[int, IncomingRequest, int]], now: datetime) -> list[tuple[int, Outcome]]:
    """Ingest the sync requests of one integration inside the batch's transaction, as one ingest whose
    per-record results are split back per request (each answer counts only its own records; record
    errors point at their own inbox row and index). A failure of ours (not the client's) rolls back to
    a savepoint and leaves the rows pending for the Dagster processor: still durable, answered 202."""
    integration = group[-1][1].integration
    records: list[Any] = []
    spans: list[tuple[int, int, int, int]] = []  # (outcome index, inbox id, first record, end)
    for i, entry, inbox_id in group:
        spans.append((i, inbox_id, len(records), len(records) + len(entry.records or [])))
        records += entry.records or []
    inbox_ids = [inbox_id for _, inbox_id, _, _ in spans]
    savepoint = conn.begin_nested()
    try:
        result = ingest(
            conn,
            integration,
            records,
            source_kind="webhook",
            inbox_id=inbox_ids[0] if len(spans) == 1 else None,
            details={"inbox_ids": inbox_ids, "ack_mode": "sync"},
        )
        if len(spans) > 1 and result.errors and result.sync_run_id is not None:
            _point_errors_at_requests(conn, result.sync_run_id, spans)
        savepoint.commit()
    except Exception as exc:
        savepoint.rollback()
        log.exception("sync ingest of inbox rows %s failed; left pending for the processor", inbox_ids)
        body = {**ACCEPTED_BODY, "deferred": f"processing failed here and will be retried: {type(exc).__name__}"}
        conn.execute(inbox.update().where(inbox.c.id.in_(inbox_ids)).values(response={"status_code": 202, "body": body}))
        return [(i, Outcome(inbox_id, 202, body)) for i, inbox_id, _, _ in spans]
    answers = []
    for i, inbox_id, first, end in spans:
        own = SyncResult(
            integration=result.integration,
            source_kind=result.source_kind,
            sync_run_id=result.sync_run_id,
            results=[replace(r, index=r.index - first) for r in result.results[first:end]],
        )
        body = own.to_dict()
        all_invalid = bool(own.total_received) and own.errors == own.total_received
        # Providers retry (and end up disabling the endpoint) on anything but 2xx: their verified
        # deliveries are answered 200 with the rejected records listed; seed 000's contract keeps 422.
        status_code = 422 if all_invalid and not rules(verification_of(integration.config)).answers_2xx_for_invalid else 200
        if status_code == 422:
            body["detail"] = "no record was valid; each one's reasons are in results[].errors"
        answers.append((i, Outcome(inbox_id, status_code, body)))
    mark_done(
        conn,
        [
            Done(outcome.inbox_id, result.sync_run_id, attempts=1, response={"status_code": outcome.status_code, "body": outcome.body})
            for _, outcome in answers
        ],
        now,
    )
    return answers


def _point_errors_at_requests(conn: sa.Connection, sync_run_id: int, spans: list[tuple[int, int, int, int]]) -> None:
    """Record errors of a shared ingest: give each its own inbox row and its index in that row's body."""
    for _, inbox_id, first, end in spans:
        conn.execute(
            record_errors.update()
            .where(
                record_errors.c.sync_run_id == sync_run_id,
                record_errors.c.inbox_id.is_(None),
                record_errors.c.record_index >= first,
                record_errors.c.record_index < end,
            )
            .values(inbox_id=inbox_id, record_index=record_errors.c.record_index - first)
        )


def _earlier_deliveries(conn: sa.Connection, entries: list[IncomingRequest]) -> dict[tuple[int, str], sa.Row]:
    keyed = {(entry.integration.id, entry.delivery_id) for entry in entries if entry.delivery_id is not None}
    if not keyed:
        return {}
    rows = conn.execute(
        sa.select(inbox.c.id, inbox.c.integration_id, inbox.c.delivery_id, inbox.c.body, inbox.c.response).where(
            inbox.c.integration_id.in_({integration_id for integration_id, _ in keyed}),
            inbox.c.delivery_id.in_({delivery_id for _, delivery_id in keyed}),
        )
    )
    return {(row.integration_id, row.delivery_id): row for row in rows if (row.integration_id, row.delivery_id) in keyed}


def _repeat(row: sa.Row, entry: IncomingRequest) -> Outcome:
    original = row.response or _ASYNC_RESPONSE
    return _repeat_of(Outcome(row.id, original["status_code"], original["body"]), bytes(row.body), entry)


def _repeat_of(original: Outcome, original_body: bytes, entry: IncomingRequest) -> Outcome:
    if original_body == entry.body:
        return Outcome(original.inbox_id, original.status_code, original.body, duplicate=True)
    return Outcome(
        original.inbox_id,
        409,
        {"detail": f"delivery id {entry.delivery_id!r} was already received with a different body; send a new delivery id for new content"},
    )


def _ignored_body(entry: IncomingRequest) -> dict[str, Any]:
    return {"accepted": True, "ingested": False, "reason": entry.error}


def _ignored_row(entry: IncomingRequest, now: datetime) -> dict[str, Any]:
    return {
        **_received(entry, now),
        "status": DONE,
        "error": None,
        "processed_at": now,
        "response": {"status_code": 200, "body": _ignored_body(entry)},
    }


def _rejected_row(entry: IncomingRequest, now: datetime) -> dict[str, Any]:
    body = entry.body[:REJECTED_BODY_BYTES]
    headers = dict(entry.headers)
    if len(entry.body) > len(body):
        headers["x-crossdock-body-truncated-from"] = str(len(entry.body))
    return {
        **_received(entry, now),
        "delivery_id": None,  # a refused attempt must not block the genuine delivery that follows
        "headers": headers,
        "body": body,
        "status": REJECTED,
        "error": entry.error,
        "processed_at": now,
    }


def prune_rejected(engine: sa.Engine, integration_id: int, keep: int = KEEP_REJECTED) -> int:
    """Delete all but the newest `keep` rejected rows of an integration, so a flood of bad requests
    cannot fill the disk. Returns how many were deleted."""
    with engine.begin() as conn:
        cutoff = conn.execute(
            sa.select(inbox.c.id)
            .where(inbox.c.integration_id == integration_id, inbox.c.status == REJECTED)
            .order_by(inbox.c.id.desc())
            .offset(keep)
            .limit(1)
        ).scalar()
        if cutoff is None:
            return 0
        return conn.execute(
            inbox.delete().where(inbox.c.integration_id == integration_id, inbox.c.status == REJECTED, inbox.c.id <= cutoff)
        ).rowcount

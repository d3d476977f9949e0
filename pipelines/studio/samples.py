"""Sample payloads for the mapping studio and the backtest: pasted text, uploaded files, stored records.

Stored samples come from what clients really sent: the inbox (raw webhook bodies), the source
record kept beside every order or sale that landed, and the records that were rejected. A backtest
over those answers "what would this mapping have done to our real traffic".
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, NamedTuple

import orjson
import sqlalchemy as sa

from pipelines.clock import as_utc
from pipelines.inbox.processing import PoisonPayload, parse_body
from pipelines.store.schema import inbox, orders, record_errors, sales

MAX_BACKTEST = 10_000
StoredSource = Literal["inbox", "landed"]


class UnusableSample(ValueError):
    """The text cannot be read as records; the message says where."""


def parse_records(text: str) -> list[Any]:
    """Records from a JSON object (one record), a JSON array, or JSON Lines (one value per line)."""
    if not text.strip():
        raise UnusableSample("the sample is empty: give a JSON object, a JSON array or JSON Lines")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # more than one value: JSON Lines
            return _json_lines(text)
        raise UnusableSample(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    return document if isinstance(document, list) else [document]


def _json_lines(text: str) -> list[Any]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise UnusableSample(
                    f"invalid JSON Lines: line {number}, column {exc.colno}: {exc.msg} (JSON Lines needs one complete JSON value per line)"
                ) from None
    return records


def parse_upload(name: str, data: bytes) -> list[Any]:
    """An uploaded file's records (.json, .jsonl, .ndjson, .txt): UTF-8 text parsed by `parse_records`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnusableSample(f"{name}: not UTF-8 text (byte {exc.start})") from None
    try:
        return parse_records(text)
    except UnusableSample as exc:
        raise UnusableSample(f"{name}: {exc}") from None


class StoredRecord(NamedTuple):
    """One record as a client sent it, and where and when we have it from. A tuple: backtests make
    ten thousand of them, and a frozen dataclass costs several times more to build."""

    record: Any
    origin: str  # "inbox #12", "order #3", "rejected record #7"
    at: datetime | None


def _body_records(body: bytes) -> list[Any] | None:
    """The records of an inbox body exactly as the inbox processor reads them; None for a poison body."""
    try:
        return parse_body(body)
    except PoisonPayload:
        return None


def inbox_records(bind: sa.Engine, integration_id: int, limit: int) -> list[StoredRecord]:
    """Records from the newest inbox bodies of an integration (requests refused at the door excluded)."""
    query = (
        sa.select(inbox.c.id, inbox.c.body, inbox.c.received_at)
        .where(inbox.c.integration_id == integration_id, inbox.c.status != "rejected")
        .order_by(inbox.c.id.desc())
        .limit(limit)
    )
    found: list[StoredRecord] = []
    with bind.connect() as conn:
        for row in conn.execute(query):
            for record in _body_records(bytes(row.body)) or []:
                found.append(StoredRecord(record, f"inbox #{row.id}", as_utc(row.received_at)))
                if len(found) >= limit:
                    return found
    return found


def landed_records(bind: sa.Engine, integration_id: int, target: str, limit: int) -> list[StoredRecord]:
    """Source records kept beside the newest orders (or sales) of an integration."""
    table = orders if target == "order" else sales
    query = (
        sa.select(table.c.id, table.c.source_record, table.c.updated_at)
        .where(table.c.integration_id == integration_id, table.c.source_record.is_not(None))
        .order_by(table.c.updated_at.desc(), table.c.id.desc())
        .limit(limit)
    )
    noun = "order" if target == "order" else "sale"
    with bind.connect() as conn:
        return [StoredRecord(r.source_record, f"{noun} #{r.id}", as_utc(r.updated_at)) for r in conn.execute(query)]


def rejected_records(bind: sa.Engine, integration_id: int, limit: int) -> list[StoredRecord]:
    query = (
        sa.select(record_errors.c.id, record_errors.c.record, record_errors.c.created_at)
        .where(record_errors.c.integration_id == integration_id, record_errors.c.record.is_not(None))
        .order_by(record_errors.c.created_at.desc(), record_errors.c.id.desc())
        .limit(limit)
    )
    with bind.connect() as conn:
        return [StoredRecord(r.record, f"rejected record #{r.id}", as_utc(r.created_at)) for r in conn.execute(query)]


def stored_samples(bind: sa.Engine, integration_id: int, target: str, source: StoredSource, limit: int) -> list[StoredRecord]:
    """The studio's "pick a stored sample": the newest inbox bodies, or the newest landed records."""
    if source == "inbox":
        return inbox_records(bind, integration_id, limit)
    return landed_records(bind, integration_id, target, limit)


def backtest_payloads(bind: sa.Engine, integration_id: int, target: str, limit: int) -> list[StoredRecord]:
    """The newest `limit` (at most MAX_BACKTEST) distinct records this integration sent: those that
    landed and those that were rejected, newest first. Rejected ones matter most: they are what a
    new mapping is usually written to fix. Identical records count once."""
    limit = max(1, min(int(limit), MAX_BACKTEST))
    candidates = landed_records(bind, integration_id, target, limit) + rejected_records(bind, integration_id, limit)
    far_past = datetime.min.replace(tzinfo=None)
    candidates.sort(key=lambda item: item.at.replace(tzinfo=None) if item.at else far_past, reverse=True)
    seen: set[bytes] = set()
    chosen: list[StoredRecord] = []
    for item in candidates:
        key = orjson.dumps(item.record, option=orjson.OPT_SORT_KEYS)
        if key in seen:
            continue
        seen.add(key)
        chosen.append(item)
        if len(chosen) == limit:
            break
    return chosen

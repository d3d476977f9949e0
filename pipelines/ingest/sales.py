"""Sale ingest (Autentikapp): upsert the customer, upsert the sale, link each identifier to the customer.

Customers are matched by national id, else email, within the integration (the client's account);
the newest data wins for every field the sale carries. An identifier code we have never registered
makes the record an error, with nothing of it written, so replaying it after the codes are
registered links everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipelines.clock import as_utc
from pipelines.ingest.hashing import content_hash, normalise
from pipelines.ingest.orders import older, stale_reason
from pipelines.ingest.result import RecordResult, RecordStatus
from pipelines.store.binds import inserted_id
from pipelines.store.schema import customers, identifiers, sales
from pipelines.vocabulary import RecordVerdict

CUSTOMER_FIELDS = ("national_id", "email", "phone_number", "first_name", "last_name", "whatsapp_number")
IDENTIFYING_FIELDS = ("national_id", "email")  # matched in this order, as the Autentikapp guide says


def _matching_customers(conn: sa.Connection, integration_id: int, sale: dict[str, Any]) -> dict[str, sa.Row]:
    """{key: customer} for each identifying key (national_id, email) of the sale that matches one."""
    found = {}
    for key in IDENTIFYING_FIELDS:
        if sale.get(key):
            row = conn.execute(
                sa.select(customers).where(customers.c.integration_id == integration_id, customers.c[key] == sale[key])
            ).first()
            if row is not None:
                found[key] = row
    return found


def identity_conflict(matches: dict[str, sa.Row]) -> list[dict[str, str]]:
    """The sale's national id and email belong to two different customers: merging people is a
    person's decision, so the record waits (replayable) rather than guessing which one is right."""
    ids = {key: row.id for key, row in matches.items()}
    if len(set(ids.values())) < 2:
        return []
    return [
        {
            "field": "email",
            "message": f"national_id belongs to customer {ids['national_id']} but email to customer {ids['email']}; "
            "resolve the duplicate customer, then replay",
        }
    ]


def upsert_customer(conn: sa.Connection, integration_id: int, sale: dict[str, Any], current: sa.Row | None, now: datetime) -> int:
    """Create the customer, or update `current` with the sale's data: the newest data wins, by the
    sale's own `event_timestamp` (an event older than the one that last set the details is a replay or
    arrived late: it links its codes but never rolls the customer's phone or email back)."""
    values = {f: sale[f] for f in CUSTOMER_FIELDS if sale.get(f)}
    version = as_utc(sale["event_timestamp"]) if sale.get("event_timestamp") else None
    if current is None:
        return inserted_id(
            conn.execute(
                customers.insert().values(
                    integration_id=integration_id, created_at=now, updated_at=now, source_updated_at=version, **values
                )
            )
        )
    if older(version, as_utc(current.source_updated_at) if current.source_updated_at else None):
        return current.id
    changed = {k: v for k, v in values.items() if getattr(current, k) != v}
    if version is not None and (current.source_updated_at is None or as_utc(current.source_updated_at) != version):
        changed["source_updated_at"] = version
    if changed:
        conn.execute(customers.update().where(customers.c.id == current.id).values(updated_at=now, **changed))
    return current.id


def _codes(sale: dict[str, Any]) -> list[str]:
    return [item["identifier_code"] for item in sale.get("line_items") or [] if item.get("identifier_code")]


def unknown_codes(conn: sa.Connection, integration_id: int, sale: dict[str, Any]) -> list[dict[str, str]]:
    codes = _codes(sale)
    if not codes:
        return []
    known = set(
        conn.execute(
            sa.select(identifiers.c.code).where(identifiers.c.integration_id == integration_id, identifiers.c.code.in_(codes))
        ).scalars()
    )
    return [
        {"field": f"line_items[{i}].identifier_code", "message": f"unknown identifier code {item['identifier_code']!r}"}
        for i, item in enumerate(sale.get("line_items") or [])
        if item.get("identifier_code") and item["identifier_code"] not in known
    ]


def upsert_sale(conn: sa.Connection, integration_id: int, index: int, sale: dict[str, Any], source: Any, now: datetime) -> RecordResult:
    matches = _matching_customers(conn, integration_id, sale)
    reasons = unknown_codes(conn, integration_id, sale) + identity_conflict(matches)
    if reasons:
        return RecordResult(index=index, status=RecordVerdict.ERROR, external_id=sale["external_id"], reasons=reasons)
    current = matches.get("national_id") or matches.get("email")
    customer_id = upsert_customer(conn, integration_id, sale, current, now)
    clean = normalise(sale)
    digest = content_hash(clean)
    row = {
        "customer_id": customer_id,
        "event_type": clean.get("event_type"),
        "event_timestamp": clean.get("event_timestamp"),
        "currency": clean.get("currency"),
        "total_amount": clean.get("total_amount"),
        "line_items": [normalise(item) for item in clean.get("line_items") or []],
        "content_hash": digest,
        "source_record": source,
        "updated_at": now,
    }
    current = conn.execute(
        sa.select(sales.c.id, sales.c.content_hash, sales.c.event_timestamp).where(
            sales.c.integration_id == integration_id, sales.c.external_id == sale["external_id"]
        )
    ).first()
    stored_version = as_utc(current.event_timestamp) if current is not None and current.event_timestamp else None
    if current is not None and stored_version is not None and older(clean.get("event_timestamp"), stored_version):
        return RecordResult(
            index=index,
            status=RecordVerdict.STALE,
            external_id=sale["external_id"],
            internal_id=current.id,
            reasons=stale_reason(clean["event_timestamp"], stored_version),
        )
    status: RecordStatus
    if current is None:
        sale_id = inserted_id(
            conn.execute(sales.insert().values(integration_id=integration_id, external_id=sale["external_id"], created_at=now, **row))
        )
        status = RecordVerdict.CREATED
    elif current.content_hash != digest:
        sale_id = current.id
        conn.execute(sales.update().where(sales.c.id == sale_id).values(**row))
        status = RecordVerdict.UPDATED
    else:
        sale_id, status = current.id, RecordVerdict.UNCHANGED
    codes = _codes(sale)
    if codes:
        conn.execute(
            identifiers.update()
            .where(identifiers.c.integration_id == integration_id, identifiers.c.code.in_(codes))
            .where(
                sa.or_(
                    identifiers.c.customer_id.is_(None),
                    identifiers.c.customer_id != customer_id,
                    identifiers.c.sale_id.is_(None),
                    identifiers.c.sale_id != sale_id,
                )
            )
            .values(customer_id=customer_id, sale_id=sale_id, assigned_at=now)
        )
    return RecordResult(index=index, status=status, external_id=sale["external_id"], internal_id=sale_id)


@dataclass(frozen=True)
class Registration:
    """What registering a batch of codes did: codes are unique across accounts, so one already held by
    another account is reported, never moved."""

    added: int
    already_registered: int
    registered_to_another_account: list[str]


def register_identifiers(conn: sa.Connection, integration_id: int, codes: list[dict[str, Any]], now: datetime) -> Registration:
    """Register identifier codes for an account (bulk)."""
    wanted = {c["code"]: c for c in codes}
    owners: dict[str, int] = {}
    items = list(wanted)
    for start in range(0, len(items), 500):
        owners.update(
            conn.execute(
                sa.select(identifiers.c.code, identifiers.c.integration_id).where(identifiers.c.code.in_(items[start : start + 500]))
            )
            .tuples()
            .all()
        )
    new = [
        {"integration_id": integration_id, "code": code, "product_sku": spec.get("product_sku"), "created_at": now}
        for code, spec in wanted.items()
        if code not in owners
    ]
    if new:
        conn.execute(identifiers.insert(), new)
    elsewhere = sorted(code for code, owner in owners.items() if owner != integration_id)
    return Registration(len(new), len(owners) - len(elsewhere), elsewhere)

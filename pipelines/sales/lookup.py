"""Customers and identifier codes of an Autentikapp account (an integration with target `sale`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pipelines.clock import iso, utcnow
from pipelines.ingest.sales import Registration, register_identifiers
from pipelines.paging import Page, page_of
from pipelines.store.binds import connection
from pipelines.store.joins import integration_of
from pipelines.store.schema import customers, identifiers, integrations, sales

_CUSTOMER_FIELDS = ("national_id", "email", "phone_number", "first_name", "last_name", "whatsapp_number")


def page_customers(
    bind: sa.Engine | sa.Connection,
    *,
    account: str | None = None,
    national_id: str | None = None,
    email: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[dict[str, Any]]:
    """Customers matching every given filter, newest first, a page at a time, each with the identifier
    codes linked to it."""
    query = sa.select(customers, integrations.c.name.label("account")).join(*integration_of(customers))
    if account is not None:
        query = query.where(integrations.c.name == account)
    if national_id is not None:
        query = query.where(customers.c.national_id == national_id)
    if email is not None:
        query = query.where(sa.func.lower(customers.c.email) == email.lower())
    with connection(bind) as conn:
        page = page_of(conn, query, customers.c.id, cursor=cursor, limit=limit, convert=dict)
        codes: dict[int, list[str]] = {}
        if page.items:
            for customer_id, code in conn.execute(
                sa.select(identifiers.c.customer_id, identifiers.c.code)
                .where(identifiers.c.customer_id.in_([row["id"] for row in page.items]))
                .order_by(identifiers.c.id)
            ):
                codes.setdefault(customer_id, []).append(code)
    shown = [
        {
            "id": row["id"],
            "account": row["account"],
            **{f: row[f] for f in _CUSTOMER_FIELDS},
            "identifier_codes": codes.get(row["id"], []),
            "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"]),
        }
        for row in page.items
    ]
    return Page(shown, page.next_cursor, page.total)


def get_identifier(bind: sa.Engine | sa.Connection, code: str) -> dict[str, Any] | None:
    """An identifier code with its account, and the customer and sale it is linked to (None when unknown)."""
    query = (
        sa.select(
            identifiers,
            integrations.c.name.label("account"),
            sales.c.external_id.label("sale_external_id"),
            *[customers.c[f].label(f"customer_{f}") for f in _CUSTOMER_FIELDS],
        )
        .join(*integration_of(identifiers))
        .outerjoin(customers, customers.c.id == identifiers.c.customer_id)
        .outerjoin(sales, sales.c.id == identifiers.c.sale_id)
        .where(identifiers.c.code == code)
    )
    with connection(bind) as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        return None
    customer = None
    if row["customer_id"] is not None:
        customer = {"id": row["customer_id"], **{f: row[f"customer_{f}"] for f in _CUSTOMER_FIELDS}}
    return {
        "code": row["code"],
        "account": row["account"],
        "product_sku": row["product_sku"],
        "linked": customer is not None,
        "customer": customer,
        "sale_external_id": row["sale_external_id"],
        "assigned_at": iso(row["assigned_at"]),
        "created_at": iso(row["created_at"]),
    }


def register_codes(engine: sa.Engine, account_id: int, codes: list[dict[str, Any]]) -> Registration:
    """Register codes for an account; see `register_identifiers`."""
    with engine.begin() as conn:
        return register_identifiers(conn, account_id, codes, utcnow())

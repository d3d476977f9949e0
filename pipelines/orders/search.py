"""Finding orders and everything that happened to them: the admin app's order search and detail.

Read-only: status changes go through the order status machine, never through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipelines.callbacks.queries import CallbackEntry, order_callbacks
from pipelines.clock import as_utc
from pipelines.orders.history import StatusChange, status_history
from pipelines.store.joins import integration_of
from pipelines.store.schema import integrations, orders
from pipelines.targets import FIELDS
from pipelines.vocabulary import OrderStatus

ORDER_STATUSES: tuple[OrderStatus, ...] = tuple(OrderStatus)
SEARCH_LIMIT = 200


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class FoundOrder:
    """One row of the order search: what the admin app's table shows, times in UTC."""

    id: int
    integration: str
    external_id: str
    client_name: str
    address: str
    status: str
    created_at: datetime
    updated_at: datetime


def search_orders(
    bind: sa.Engine,
    *,
    integration: str | None = None,
    external_id: str | None = None,
    statuses: Sequence[str] | None = None,
    limit: int = SEARCH_LIMIT,
) -> list[FoundOrder]:
    """Orders matching every given filter, newest change first. `external_id` matches any part,
    ignoring case (clients paste ids with or without their prefix)."""
    query = (
        sa.select(
            orders.c.id,
            integrations.c.name.label("integration"),
            orders.c.external_id,
            orders.c.client_name,
            orders.c.address,
            orders.c.status,
            orders.c.created_at,
            orders.c.updated_at,
        )
        .join(*integration_of(orders))
        .order_by(orders.c.updated_at.desc(), orders.c.id.desc())
        .limit(limit)
    )
    if integration:
        query = query.where(integrations.c.name == integration)
    if external_id and external_id.strip():
        pattern = f"%{_like_escaped(external_id.strip().lower())}%"
        query = query.where(sa.func.lower(orders.c.external_id).like(pattern, escape="\\"))
    if statuses:
        query = query.where(orders.c.status.in_(list(statuses)))
    with bind.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [FoundOrder(**{**row, "created_at": as_utc(row["created_at"]), "updated_at": as_utc(row["updated_at"])}) for row in rows]


@dataclass
class OrderDetail:
    """An order with its source payload, the record it mapped to, its status history and callbacks."""

    order: dict[str, Any]
    integration: str
    source_record: Any
    mapped: dict[str, Any]
    history: list[StatusChange] = field(default_factory=list)
    callbacks: list[CallbackEntry] = field(default_factory=list)


def order_detail(bind: sa.Engine, order_id: int) -> OrderDetail | None:
    """The order with its payload and mapped record, its status history and its callbacks (each with
    every attempt), read through the status machine's and the outbox's own queries."""
    with bind.connect() as conn:
        row = (
            conn.execute(
                sa.select(orders, integrations.c.name.label("integration_name"))
                .join(*integration_of(orders))
                .where(orders.c.id == order_id)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        history = status_history(conn, order_id)
        callbacks = order_callbacks(conn, order_id)
    order = dict(row)
    for key in ("created_at", "updated_at", "scheduled_time", "eta", "delivered_at"):
        order[key] = as_utc(order[key])
    mapped = {name: order[name] for name in FIELDS["order"] if order.get(name) is not None}
    return OrderDetail(
        order=order,
        integration=order.pop("integration_name"),
        source_record=order.get("source_record"),
        mapped=mapped,
        history=history,
        callbacks=callbacks,
    )

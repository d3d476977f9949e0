"""Reading an order back: the order itself and the history of its status changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipelines.clock import as_utc
from pipelines.errors import OrderNotFound
from pipelines.store.binds import Bind, connection
from pipelines.store.joins import integration_of
from pipelines.store.schema import integrations, order_status_history, orders

_ORDER_COLUMNS = (
    orders.c.id,
    orders.c.external_id,
    orders.c.client_name,
    orders.c.address,
    orders.c.status,
    orders.c.eta,
    orders.c.delivered_at,
    orders.c.delivery_proof,
    orders.c.created_at,
    orders.c.updated_at,
)


@dataclass(frozen=True)
class OrderSummary:
    """An order as the status machine sees it: who it is for, where it stands, and when it moved."""

    id: int
    integration: str
    external_id: str
    client_name: str
    address: str
    status: str
    eta: datetime | None
    delivered_at: datetime | None
    delivery_proof: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StatusChange:
    """One move of an order's status, with who made it and what it carried (eta, delivery proof)."""

    id: int
    order_id: int
    from_status: str | None
    to_status: str
    changed_at: datetime
    actor: str
    details: dict[str, Any] | None


def get_order(bind: Bind, internal_id: int) -> OrderSummary:
    """The order with its integration's name (`internal_id` = `id`); OrderNotFound when there is none."""
    query = (
        sa.select(*_ORDER_COLUMNS, integrations.c.name.label("integration")).join(*integration_of(orders)).where(orders.c.id == internal_id)
    )
    with connection(bind) as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        raise OrderNotFound(f"no order with internal id {internal_id}")
    order = dict(row)
    for key in ("eta", "delivered_at", "created_at", "updated_at"):
        order[key] = as_utc(order[key])
    return OrderSummary(**order)


def status_history(bind: Bind, internal_id: int) -> list[StatusChange]:
    """Every status change of the order, oldest first, with who made it and what it carried."""
    query = sa.select(order_status_history).where(order_status_history.c.order_id == internal_id).order_by(order_status_history.c.id)
    with connection(bind) as conn:
        rows = conn.execute(query).mappings().all()
    return [StatusChange(**{**row, "changed_at": as_utc(row["changed_at"])}) for row in rows]

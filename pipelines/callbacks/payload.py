"""The callback body a client receives, exactly as the Logitrack plan's "Callback de Estados" shows it.

Every key is always present (null when it does not apply) so a client can read the document with one
fixed schema; `order.eta` is added for `in_route`, the one event that carries an ETA. Times are UTC
with a `Z` and whole seconds, as in the plan's example.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pipelines.clock import as_utc
from pipelines.vocabulary import OrderEvent


def payload_time(value: datetime | None) -> str | None:
    value = as_utc(value)
    return None if value is None else value.isoformat(timespec="seconds").replace("+00:00", "Z")


def delivery_proof(proof: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not proof:
        return None
    return {"signature_url": proof.get("signature_url"), "photo_url": proof.get("photo_url")}


def build_payload(event: str, order: Mapping[str, Any], changed_at: datetime) -> dict[str, Any]:
    """`order` needs id, external_id, status, eta, delivered_at, delivery_proof (an `orders` row works)."""
    body: dict[str, Any] = {
        "external_id": order["external_id"],
        "internal_id": order["id"],
        "status": order["status"],
        "delivered_at": payload_time(order["delivered_at"]),
        "delivery_proof": delivery_proof(order["delivery_proof"]),
    }
    if event == OrderEvent.IN_ROUTE:
        body["eta"] = payload_time(order["eta"])
    return {"event": event, "timestamp": payload_time(changed_at), "order": body}

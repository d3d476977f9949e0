"""Setting an order's status from the Orders page: only the moves the status machine allows from where
the order is (`next_statuses`), each asking for what it carries: an ETA for in_route, when and the proof
for delivered, a confirmation for cancelled. The machine (`change_status`) judges; this form only asks.

The change runs in the button's callback, before the page is drawn again, so the status history and
the callbacks below the form already include it, and the outcome is shown once at the top of the form.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from app import auth
from app.auth import actor
from app.order_detail import STATUS_LABELS
from app.store import engine
from pipelines.access.policy import Action
from pipelines.clock import utcnow
from pipelines.errors import OrderNotFound, StatusChangeRejected
from pipelines.orders.search import OrderDetail
from pipelines.orders.status import StatusChange, change_status, next_statuses
from pipelines.vocabulary import OrderEvent, OrderStatus, OutboxStatus

FLASH_KEY = "orders.set.outcome"
CHANGED_KEY = "orders.changed"  # the order just changed: the Orders page keeps it open

_HINTS = {
    OrderEvent.ASSIGNED: "A driver has the order.",
    OrderEvent.IN_ROUTE: "On its way: give the estimated arrival.",
    OrderEvent.DELIVERED: "Handed over: when, and the proof the driver captured (at least one URL).",
    OrderEvent.CANCELLED: "Stopped for good: cancelled is final.",
}


def _label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def _utc(day, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=UTC)


def _outcome(change: StatusChange, integration: str) -> tuple[str, str]:
    """(kind, message) for a change that happened: says whether the client will be told."""
    moved = f"**{change.external_id}**: {_label(change.from_status)} → {_label(change.to_status)}."
    if change.callback_status == OutboxStatus.PENDING:
        return "success", (f"{moved} Callback #{change.outbox_id} queued for {integration}: the next delivery pass sends it.")
    if change.callback_status == "disabled":
        return "warning", (
            f"{moved} Callback #{change.outbox_id} kept but not sent: callbacks to {integration} are "
            "stopped. Resume them on the Dead letters page once the client's endpoint works."
        )
    return "success", (
        f"{moved} No callback queued: {integration} is not subscribed to {change.to_status} "
        "(its callback URL and events are set on the Integrations page)."
    )


def _apply(order_id: int, external_id: str, integration: str, to_status: str, prefix: str) -> None:
    """Button callback: make the change with what the form holds; remember the outcome to show."""
    state = st.session_state
    options: dict = {}
    if to_status == OrderStatus.IN_ROUTE:
        options["eta"] = _utc(state[f"{prefix}.eta_date"], state[f"{prefix}.eta_time"])
    elif to_status == OrderStatus.DELIVERED:
        if not state[f"{prefix}.now"]:
            options["delivered_at"] = _utc(state[f"{prefix}.at_date"], state[f"{prefix}.at_time"])
        proof = {"signature_url": state[f"{prefix}.signature"] or None, "photo_url": state[f"{prefix}.photo"] or None}
        options["proof"] = proof if any(proof.values()) else None
    try:
        change = change_status(engine(), order_id, to_status, actor=actor(), **options)
    except StatusChangeRejected as exc:
        outcome = ("error", f"Not changed: {exc}.")
    except OrderNotFound:
        outcome = ("error", f"Not changed: {external_id} no longer exists (its integration was deleted).")
    else:
        outcome = _outcome(change, integration)
        state[CHANGED_KEY] = order_id
    state[FLASH_KEY] = {"order_id": order_id, "kind": outcome[0], "text": outcome[1]}


def _show_outcome(order_id: int) -> None:
    flash = st.session_state.get(FLASH_KEY)
    if flash and flash["order_id"] == order_id:
        st.session_state.pop(FLASH_KEY)
        getattr(st, flash["kind"])(flash["text"])


def render_status_form(detail: OrderDetail) -> None:
    """The "Set status" box for one order: the legal moves from its status and what each needs."""
    if not auth.can(Action.SET_ORDER_STATUS):
        st.caption("Setting a status needs the operator role.")
        return
    order = detail.order
    status = order["status"]
    with st.container(border=True):
        st.markdown("**Set status**")
        _show_outcome(order["id"])
        moves = next_statuses(status)
        if not moves:
            st.caption(f"{_label(status)} is final: this order's status cannot change any more.")
            return
        # Keys carry the status, so the widgets of the next move start fresh after a change.
        prefix = f"orders.set.{order['id']}.{status}"
        to_status = st.segmented_control(
            f"From {_label(status)} to", moves, format_func=_label, default=moves[0], required=True, key=f"{prefix}.to"
        )
        st.caption(_HINTS[to_status])
        now = utcnow()
        if to_status == OrderStatus.IN_ROUTE:
            soon = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
            day, moment = st.columns(2)
            day.date_input("ETA date (UTC)", value=soon.date(), key=f"{prefix}.eta_date")
            moment.time_input("ETA time (UTC)", value=soon.time(), step=timedelta(minutes=15), key=f"{prefix}.eta_time")
        elif to_status == OrderStatus.DELIVERED:
            if not st.toggle(
                "Delivered just now", value=True, key=f"{prefix}.now", help="Off: give the date and time of the delivery (UTC)."
            ):
                day, moment = st.columns(2)
                day.date_input("Delivered on (UTC)", value=now.date(), max_value=now.date(), key=f"{prefix}.at_date")
                moment.time_input(
                    "Delivered at (UTC)",
                    value=now.time().replace(second=0, microsecond=0),
                    step=timedelta(minutes=1),
                    key=f"{prefix}.at_time",
                )
            signature, photo = st.columns(2)
            signature.text_input("Signature URL", key=f"{prefix}.signature", placeholder="https://…/signature.png")
            photo.text_input("Photo URL", key=f"{prefix}.photo", placeholder="https://…/photo.jpg")
        confirmed = True
        if to_status == OrderStatus.CANCELLED:
            confirmed = st.checkbox(f"Yes, cancel {order['external_id']}: this cannot be undone", key=f"{prefix}.confirm")
        st.button(
            f"Mark as {_label(to_status).lower()}",
            type="primary",
            disabled=not confirmed,
            key=f"{prefix}.go",
            icon=":material/cancel:" if to_status == OrderStatus.CANCELLED else ":material/check:",
            on_click=_apply,
            args=(order["id"], order["external_id"], detail.integration, to_status, prefix),
        )

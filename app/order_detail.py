"""One order in full: the payload the client sent, the record it became, its status history and the
callbacks sent about it. Read-only; the page passes the status form in as `actions`, drawn under the
status it changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd
import streamlit as st

from app.ui import attempts_table, json_text, when
from pipelines.clock import as_utc
from pipelines.orders.search import OrderDetail
from pipelines.vocabulary import OrderStatus

STATUS_LABELS = {
    OrderStatus.PENDING: "Pending",
    OrderStatus.ASSIGNED: "Assigned",
    OrderStatus.IN_ROUTE: "In route",
    OrderStatus.DELIVERED: "Delivered",
    OrderStatus.CANCELLED: "Cancelled",
}


def _short(value: datetime | None) -> str:
    """'25 Nov 14:30': fits a metric's third of the page (the full date is in its help and the history)."""
    return as_utc(value).strftime("%d %b %H:%M") if value else "—"


def render_order_detail(detail: OrderDetail, actions: Callable[[OrderDetail], None] | None = None) -> None:
    order = detail.order
    st.subheader(f"{order['external_id']}  ·  internal id {order['id']}")
    st.caption(f"Integration **{detail.integration}** · created {when(order['created_at'])} · last change {when(order['updated_at'])}")
    one, two, three = st.columns(3)
    one.metric("Status", STATUS_LABELS.get(order["status"], order["status"]))
    two.metric("ETA (UTC)", _short(order["eta"]), help=when(order["eta"]) if order["eta"] else None)
    three.metric("Delivered at (UTC)", _short(order["delivered_at"]), help=when(order["delivered_at"]) if order["delivered_at"] else None)
    if actions:
        actions(detail)

    source, mapped = st.columns(2)
    with source:
        st.markdown("**Original payload** (as the client sent it)")
        if detail.source_record is None:
            st.info("This integration's source does not keep the original payload.")
        else:
            st.json(detail.source_record, expanded=True)
    with mapped:
        st.markdown("**Mapped record** (what the mapping made of it)")
        st.json(detail.mapped, expanded=True)
        if order.get("delivery_proof"):
            st.markdown("**Delivery proof**")
            st.json(order["delivery_proof"], expanded=True)

    st.markdown("**Status history**")
    if detail.history:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "When": when(h.changed_at),
                        "From": h.from_status or "",
                        "To": h.to_status,
                        "By": h.actor,
                        "Details": json_text(h.details),
                    }
                    for h in detail.history
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption(f"No status change yet: {order['status']} since {when(order['created_at'])}.")

    st.markdown("**Callbacks sent**")
    if not detail.callbacks:
        st.caption("None: callbacks are sent on status changes, to integrations with a callback URL.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Event": c.event,
                    "Status": c.status,
                    "Attempts": c.attempts,
                    "Last HTTP status": c.last_status_code,
                    "Last error": c.last_error or "",
                    "Queued": when(c.created_at),
                    "Delivered": when(c.delivered_at),
                }
                for c in detail.callbacks
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    for callback in detail.callbacks:
        with st.expander(f"{callback.event} callback #{callback.id}: payload and attempts"):
            st.json(callback.payload, expanded=True)
            if callback.attempt_log:
                attempts_table(callback.attempt_log)
            else:
                st.caption("Not attempted yet.")

"""Setting an order's status on the Orders page (AppTest): only the legal moves are offered, each move
records who made it and queues its callback, a refused move says why, final statuses offer nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from pipelines.callbacks import order_callbacks
from pipelines.orders.history import get_order, status_history
from pipelines.orders.status import change_status
from tests.apptest import log_in, start, texts
from tests.callback_helpers import make_integration

CALLBACK_URL = "https://api.cliente.com/logitrack/updates"


def _open_order(name: str = "ana"):
    """A session logged in as `name`, on the Orders page with the first listed order open."""
    at = start()
    at.text_input(key="login.name").input(name)
    at = log_in(at)
    at.switch_page("app_pages/orders.py").run()
    at.session_state["orders.table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    return at.run()


def _history(at):
    return next(d.value for d in at.dataframe if "By" in d.value.columns)


def test_the_seed_flow_from_the_orders_page_records_the_user_and_queues_callbacks(app_store):
    _, ids = make_integration(app_store, CALLBACK_URL)
    order_id = ids["PED-001"]
    at = _open_order()
    prefix = f"orders.set.{order_id}.pending"
    assert at.segmented_control(key=f"{prefix}.to").options == ["Assigned", "Cancelled"]

    at.button(key=f"{prefix}.go").click().run()
    assert not at.exception
    assert get_order(app_store, order_id).status == "assigned"
    (success,) = texts(at.success)
    assert "**PED-001**: Pending → Assigned." in success and "queued for cliente_abc" in success
    history = _history(at)  # the detail below the form already shows the change
    assert history[["From", "To", "By"]].to_dict("records") == [{"From": "pending", "To": "assigned", "By": "streamlit:ana"}]
    assert "Showing the order you just changed" in " ".join(texts(at.caption))

    prefix = f"orders.set.{order_id}.assigned"
    assert at.segmented_control(key=f"{prefix}.to").options == ["In route", "Cancelled"]
    at.date_input(key=f"{prefix}.eta_date").set_value(date(2030, 1, 15)).run()
    at.time_input(key=f"{prefix}.eta_time").set_value(time(15, 0)).run()
    at.button(key=f"{prefix}.go").click().run()
    order = get_order(app_store, order_id)
    assert (order.status, order.eta) == ("in_route", datetime(2030, 1, 15, 15, 0, tzinfo=UTC))

    prefix = f"orders.set.{order_id}.in_route"
    at.text_input(key=f"{prefix}.photo").input("https://cdn.example.com/photo/PED-001.jpg").run()
    at.button(key=f"{prefix}.go").click().run()
    order = get_order(app_store, order_id)
    assert order.status == "delivered"
    assert order.delivery_proof == {"signature_url": None, "photo_url": "https://cdn.example.com/photo/PED-001.jpg"}
    assert [c.event for c in order_callbacks(app_store, order_id)] == ["assigned", "in_route", "delivered"]
    assert [h.actor for h in status_history(app_store, order_id)] == ["streamlit:ana"] * 3
    callbacks = next(d.value for d in at.dataframe if "Event" in d.value.columns)
    assert callbacks["Event"].tolist() == ["assigned", "in_route", "delivered"]

    # Delivered is final: no move is offered any more.
    assert not at.get("button_group")
    assert "Delivered is final" in " ".join(texts(at.caption))
    assert not at.exception


def test_delivered_without_proof_is_refused_with_the_reason(app_store):
    _, ids = make_integration(app_store, CALLBACK_URL)
    order_id = ids["PED-001"]
    change_status(app_store, order_id, "assigned", actor="cli")
    change_status(app_store, order_id, "in_route", actor="cli", eta=datetime(2030, 1, 15, 15, tzinfo=UTC))
    at = _open_order()
    prefix = f"orders.set.{order_id}.in_route"
    at.button(key=f"{prefix}.go").click().run()
    assert texts(at.error) == ["Not changed: delivered needs a delivery proof: signature_url and/or photo_url."]
    at.text_input(key=f"{prefix}.signature").input("ftp://cdn.example.com/sig.png").run()
    at.button(key=f"{prefix}.go").click().run()
    assert texts(at.error) == ["Not changed: delivery_proof.signature_url: must be an http:// or https:// URL."]

    # A delivery time given by hand (no later than today: the date picker ends there).
    today = datetime.now(UTC).date()
    at.text_input(key=f"{prefix}.signature").input("https://cdn.example.com/sig.png").run()
    at.toggle(key=f"{prefix}.now").set_value(False).run()
    assert at.date_input(key=f"{prefix}.at_date").max == today
    at.time_input(key=f"{prefix}.at_time").set_value(time(0, 0)).run()
    at.button(key=f"{prefix}.go").click().run()
    order = get_order(app_store, order_id)
    assert (order.status, order.delivered_at) == ("delivered", datetime.combine(today, time(0, 0), UTC))
    assert order.delivery_proof == {"signature_url": "https://cdn.example.com/sig.png", "photo_url": None}
    assert not at.exception


def test_a_move_made_elsewhere_meanwhile_is_refused_with_the_reason(app_store):
    _, ids = make_integration(app_store, CALLBACK_URL)
    order_id = ids["PED-001"]
    at = _open_order()
    change_status(app_store, order_id, "cancelled", actor="api:dispatch")  # another door, while the form is open
    at.button(key=f"orders.set.{order_id}.pending.go").click().run()
    assert texts(at.error) == ["Not changed: cannot go from cancelled to assigned: cancelled is final."]
    assert get_order(app_store, order_id).status == "cancelled"
    assert not at.exception


def test_cancelling_needs_a_confirmation_and_says_when_no_callback_goes_out(app_store):
    _, ids = make_integration(app_store, None)  # no callback URL: nobody to tell
    order_id = ids["PED-001"]
    at = _open_order()
    prefix = f"orders.set.{order_id}.pending"
    at.segmented_control(key=f"{prefix}.to").set_value("cancelled").run()
    assert at.button(key=f"{prefix}.go").disabled
    at.checkbox(key=f"{prefix}.confirm").check().run()
    at.button(key=f"{prefix}.go").click().run()
    assert get_order(app_store, order_id).status == "cancelled"
    (success,) = texts(at.success)
    assert "No callback queued: cliente_abc is not subscribed to cancelled" in success
    assert order_callbacks(app_store, order_id) == []

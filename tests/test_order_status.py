"""The order status machine and its transactional outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from pipelines.callbacks.replay import resume_callbacks
from pipelines.orders.history import get_order, status_history
from pipelines.orders.status import (
    OrderNotFound,
    StatusChangeRejected,
    change_status,
    check_move,
)
from pipelines.store.schema import callback_outbox, integrations, order_status_history, orders
from tests.callback_helpers import PROOF, make_integration, outbox_rows

SINK = "https://api.cliente.com/logitrack/updates"
ETA = datetime(2024, 1, 15, 15, 0, tzinfo=UTC)
NOW = datetime(2024, 1, 15, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "to", "reason"),
    [
        ("pending", "in_route", "cannot go from pending to in_route (from pending the next status is assigned or cancelled)"),
        ("pending", "delivered", "cannot go from pending to delivered (from pending the next status is assigned or cancelled)"),
        ("assigned", "delivered", "cannot go from assigned to delivered (from assigned the next status is cancelled or in_route)"),
        ("delivered", "in_route", "cannot go from delivered to in_route: delivered is final"),
        ("cancelled", "assigned", "cannot go from cancelled to assigned: cancelled is final"),
        ("delivered", "cancelled", "cannot go from delivered to cancelled: delivered is final"),
        ("assigned", "assigned", "the order is already assigned"),
        ("in_route", "pending", "an order cannot be moved back to pending"),
        ("pending", "lost", "unknown status 'lost'; use one of assigned, in_route, delivered, cancelled"),
    ],
)
def test_illegal_moves_are_rejected_with_the_reason(current, to, reason):
    assert check_move(current, to) == reason


@pytest.mark.parametrize(
    ("current", "to"),
    [
        ("pending", "assigned"),
        ("assigned", "in_route"),
        ("in_route", "delivered"),
        ("pending", "cancelled"),
        ("assigned", "cancelled"),
        ("in_route", "cancelled"),
    ],
)
def test_legal_moves(current, to):
    assert check_move(current, to) is None


def test_the_seed_flow_records_history_and_queues_each_callback(store):
    stored, ids = make_integration(store, SINK)
    order = ids["PED-001"]
    change_status(store, order, "assigned", actor="cli:ana", now=NOW)
    moved = change_status(store, order, "in_route", actor="api:admin", eta=ETA, now=NOW + timedelta(minutes=1))
    done = change_status(
        store,
        order,
        "delivered",
        actor="streamlit:supervisor",
        delivered_at=datetime(2024, 1, 15, 15, 28, tzinfo=UTC),
        proof=PROOF,
        now=NOW + timedelta(minutes=2),
    )
    assert (moved.from_status, moved.to_status, moved.callback_status) == ("assigned", "in_route", "pending")
    assert done.outbox_id and done.webhook_id.startswith("msg_")

    history = status_history(store, order)
    assert [(h.from_status, h.to_status, h.actor) for h in history] == [
        ("pending", "assigned", "cli:ana"),
        ("assigned", "in_route", "api:admin"),
        ("in_route", "delivered", "streamlit:supervisor"),
    ]
    assert history[1].details == {"eta": "2024-01-15T15:00:00Z"}
    shown = get_order(store, order)
    assert shown.status == "delivered" and shown.delivery_proof == PROOF
    assert shown.delivered_at == datetime(2024, 1, 15, 15, 28, tzinfo=UTC)

    rows = outbox_rows(store, order_id=order)
    assert [r["event"] for r in rows] == ["assigned", "in_route", "delivered"]
    assert all(r["status"] == "pending" and r["integration_id"] == stored.id for r in rows)
    assert len({r["webhook_id"] for r in rows}) == 3
    # The seed's payload, key for key; `eta` only on in_route.
    assert rows[2]["payload"] == {
        "event": "delivered",
        "timestamp": "2024-01-15T15:32:00Z",
        "order": {
            "external_id": "PED-001",
            "internal_id": order,
            "status": "delivered",
            "delivered_at": "2024-01-15T15:28:00Z",
            "delivery_proof": PROOF,
        },
    }
    assert rows[1]["payload"]["order"]["eta"] == "2024-01-15T15:00:00Z"
    assert rows[1]["payload"]["order"]["delivered_at"] is None and rows[1]["payload"]["order"]["delivery_proof"] is None
    assert "eta" not in rows[0]["payload"]["order"]


def test_only_subscribed_events_are_queued(store):
    _, ids = make_integration(store, SINK, events=["delivered"])
    order = ids["PED-001"]
    assert change_status(store, order, "assigned", actor="cli").outbox_id is None
    assert change_status(store, order, "in_route", actor="cli", eta=ETA).callback_status is None
    assert change_status(store, order, "delivered", actor="cli", proof={"photo_url": "https://x.test/p.jpg"}).outbox_id
    assert [r["event"] for r in outbox_rows(store)] == ["delivered"]


def test_without_a_callback_url_changes_queue_nothing(store):
    _, ids = make_integration(store, None)
    change = change_status(store, ids["PED-001"], "cancelled", actor="cli")
    assert change.to_status == "cancelled" and change.outbox_id is None
    assert outbox_rows(store) == []


def test_what_each_status_carries_is_checked(store):
    _, ids = make_integration(store, SINK)
    order = ids["PED-001"]
    with pytest.raises(StatusChangeRejected, match="an ETA goes with in_route, not assigned"):
        change_status(store, order, "assigned", actor="cli", eta=ETA)
    change_status(store, order, "assigned", actor="cli")
    with pytest.raises(StatusChangeRejected, match=r"in_route needs an ETA \(eta\)"):
        change_status(store, order, "in_route", actor="cli")
    change_status(store, order, "in_route", actor="cli", eta=ETA)
    with pytest.raises(StatusChangeRejected, match="delivered needs a delivery proof: signature_url and/or photo_url"):
        change_status(store, order, "delivered", actor="cli")
    with pytest.raises(StatusChangeRejected, match="delivery_proof.photo_url: must be an http:// or https:// URL"):
        change_status(store, order, "delivered", actor="cli", proof={"photo_url": "file:///etc/passwd"})
    with pytest.raises(StatusChangeRejected, match="delivery_proof.selfie_url: Extra inputs are not permitted"):
        change_status(store, order, "delivered", actor="cli", proof={"selfie_url": "https://x.test/a.jpg"})
    with pytest.raises(StatusChangeRejected, match="is in the future"):
        change_status(store, order, "delivered", actor="cli", proof=PROOF, delivered_at=datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(StatusChangeRejected, match="needs an actor"):
        change_status(store, order, "delivered", actor=" ", proof=PROOF)
    # None of the rejected attempts left a trace.
    assert [h.to_status for h in status_history(store, order)] == ["assigned", "in_route"]
    assert [r["event"] for r in outbox_rows(store)] == ["assigned", "in_route"]
    # delivered_at defaults to the moment of the change.
    done = change_status(store, order, "delivered", actor="cli", proof={"signature_url": "https://x.test/s.png"}, now=NOW)
    assert done.delivered_at == NOW
    assert outbox_rows(store)[-1]["payload"]["order"]["delivery_proof"] == {"signature_url": "https://x.test/s.png", "photo_url": None}


def test_unknown_order(store):
    with pytest.raises(OrderNotFound, match="no order with internal id 999"):
        change_status(store, 999, "assigned", actor="cli")


def test_naive_times_are_utc(store):
    _, ids = make_integration(store, SINK)
    order = ids["PED-001"]
    change_status(store, order, "assigned", actor="cli")
    change = change_status(store, order, "in_route", actor="cli", eta=datetime(2024, 1, 15, 16, 0))
    assert change.eta == datetime(2024, 1, 15, 16, 0, tzinfo=UTC)


def test_with_callbacks_stopped_the_callback_is_kept_disabled_and_resumed_later(store):
    stored, ids = make_integration(store, SINK)
    with store.begin() as conn:
        conn.execute(integrations.update().values(callbacks_disabled_reason="410 Gone"))
    change = change_status(store, ids["PED-001"], "assigned", actor="cli")
    assert change.callback_status == "disabled"
    assert [(r["status"], r["last_error"]) for r in outbox_rows(store)] == [("disabled", "410 Gone")]
    assert resume_callbacks(store, "cliente_abc", actor="cli") == 1
    assert [r["status"] for r in outbox_rows(store)] == ["pending"]


def _install_failing_outbox_trigger(conn: sa.Connection) -> None:
    """A real database failure of the outbox insert (no mocks): the store refuses the row."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_outbox BEFORE INSERT ON callback_outbox BEGIN SELECT RAISE(ABORT, 'outbox refused'); END"
        )
    else:
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse_outbox() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql("CREATE TRIGGER refuse_outbox BEFORE INSERT ON callback_outbox FOR EACH ROW EXECUTE FUNCTION refuse_outbox()")


def test_no_change_without_its_callback(store):
    """When the outbox write fails, the status change and its history roll back with it."""
    _, ids = make_integration(store, SINK)
    with store.begin() as conn:
        _install_failing_outbox_trigger(conn)
    with pytest.raises(sa.exc.DatabaseError, match="outbox refused"):
        change_status(store, ids["PED-001"], "assigned", actor="cli")
    assert get_order(store, ids["PED-001"]).status == "pending"
    assert status_history(store, ids["PED-001"]) == []
    assert outbox_rows(store) == []


def test_no_callback_without_its_change(store):
    """A failure later in the caller's transaction (a unique-constraint violation) takes the queued
    callback back with the change."""
    _, ids = make_integration(store, SINK)
    with pytest.raises(sa.exc.IntegrityError), store.begin() as conn:
        change = change_status(conn, ids["PED-001"], "assigned", actor="api:admin")
        assert change.outbox_id is not None  # queued inside the transaction...
        row = conn.execute(sa.select(orders).where(orders.c.id == ids["PED-001"])).mappings().one()
        conn.execute(orders.insert().values({**row, "id": None}))  # duplicate (integration, external_id)
    assert outbox_rows(store) == []  # ...and gone with it
    assert get_order(store, ids["PED-001"]).status == "pending"
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(order_status_history)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(callback_outbox)).scalar_one() == 0

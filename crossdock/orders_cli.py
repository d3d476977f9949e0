"""`crossdock orders ...`: change an order's status (queueing its callback) and show its history.

Exit status: 0 done, 1 refused (unknown order, illegal move), 2 unusable input (bad date, unknown status).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import typer

from crossdock.access_cli import acting
from crossdock.cli_common import fail, json_default, parse_time
from pipelines.access.policy import Action
from pipelines.clock import iso
from pipelines.vocabulary import OrderEvent, OutboxStatus

if TYPE_CHECKING:  # annotations only: the CLI imports the store's code when a command runs
    from pipelines.callbacks.queries import CallbackAttempt

app = typer.Typer(
    help="Order status: move orders along (assigned, in_route, delivered, cancelled) and show their history.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("set-status")
def set_status(
    internal_id: int = typer.Argument(..., help="the order's internal id"),
    status: str = typer.Argument(..., help="assigned | in_route | delivered | cancelled"),
    eta: str = typer.Option(None, "--eta", help="in_route: estimated arrival, ISO 8601"),
    delivered_at: str = typer.Option(None, "--delivered-at", help="delivered: when (default now), ISO 8601"),
    signature_url: str = typer.Option(None, "--signature-url", help="delivered: URL of the recipient's signature"),
    photo_url: str = typer.Option(None, "--photo-url", help="delivered: URL of the delivery photo"),
    actor: str = typer.Option(None, "--actor", help="who makes the change (default cli:<your user>)"),
) -> None:
    """Move an order to a new status; its callback is queued when the integration subscribed to the event."""
    from pipelines.errors import OrderNotFound, StatusChangeRejected
    from pipelines.orders.status import change_status
    from pipelines.store import connect

    if status not in tuple(OrderEvent):
        fail(f"unknown status {status!r}; use one of {', '.join(OrderEvent)}", 2)
    proof = None
    if signature_url or photo_url:
        proof = {"signature_url": signature_url, "photo_url": photo_url}
    try:
        change = change_status(
            connect(),
            internal_id,
            status,
            actor=acting(Action.SET_ORDER_STATUS, actor),
            eta=parse_time("--eta", eta),
            delivered_at=parse_time("--delivered-at", delivered_at),
            proof=proof,
        )
    except OrderNotFound as exc:
        fail(str(exc))
    except StatusChangeRejected as exc:
        fail(f"order {internal_id}: {exc}")
    typer.echo(f"order {change.internal_id} ({change.external_id}): {change.from_status} -> {change.to_status}")
    if change.callback_status == OutboxStatus.PENDING:
        typer.echo(f"callback queued: id {change.outbox_id}, webhook-id {change.webhook_id}")
    elif change.callback_status == "disabled":
        typer.echo(f"callback kept but not sent: callbacks for this integration are stopped (id {change.outbox_id})")
    else:
        typer.echo("no callback: the integration is not subscribed to this event")


@app.command("show")
def show(
    internal_id: int = typer.Argument(..., help="the order's internal id"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Show an order's status, its history (who changed what) and its callbacks with every attempt."""
    from pipelines.callbacks import order_callbacks
    from pipelines.errors import OrderNotFound
    from pipelines.orders.history import get_order, status_history
    from pipelines.store import connect

    engine = connect()
    try:
        order = get_order(engine, internal_id)
        history = status_history(engine, internal_id)
        callbacks = order_callbacks(engine, internal_id)
    except OrderNotFound as exc:
        fail(str(exc))
    if as_json:
        document = {
            "order": asdict(order),
            "history": [asdict(change) for change in history],
            "callbacks": [asdict(callback) for callback in callbacks],
        }
        typer.echo(json.dumps(document, default=json_default, ensure_ascii=False, indent=2))
        return
    typer.echo(f"order {order.id} ({order.external_id}) of {order.integration}: {order.status}")
    typer.echo(f"  client: {order.client_name}, {order.address}")
    if order.eta:
        typer.echo(f"  eta: {iso(order.eta)}")
    if order.delivered_at:
        typer.echo(f"  delivered at {iso(order.delivered_at)}, proof: {json.dumps(order.delivery_proof)}")
    typer.echo("history:")
    if not history:
        typer.echo("  (no status changes yet)")
    for entry in history:
        extra = f" {json.dumps(entry.details)}" if entry.details else ""
        typer.echo(f"  {iso(entry.changed_at)}  {entry.from_status} -> {entry.to_status}  by {entry.actor}{extra}")
    typer.echo("callbacks:")
    if not callbacks:
        typer.echo("  (none)")
    for callback in callbacks:
        typer.echo(
            f"  #{callback.id} {callback.event}: {callback.status}, {callback.attempts} attempt(s), webhook-id {callback.webhook_id}"
        )
        for attempt in callback.attempt_log:
            typer.echo(f"    {iso(attempt.attempted_at)}  {describe_attempt(attempt)}")


def describe_attempt(attempt: CallbackAttempt) -> str:
    code = f"HTTP {attempt.status_code}" if attempt.status_code is not None else "no response"
    parts = [code]
    if attempt.latency_ms is not None:
        parts.append(f"{attempt.latency_ms:.0f} ms")
    if attempt.error:
        parts.append(attempt.error)
    if attempt.response_excerpt:
        parts.append(f"body: {attempt.response_excerpt[:80]!r}")
    return ", ".join(parts)

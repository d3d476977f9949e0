"""`crossdock callbacks ...`: list the outbox, replay dead letters, resume after a 410, and run one
delivery pass (for operators without Dagster running).

Exit status: 0 done, 1 refused (unknown id or integration, not replayable), 2 unusable input.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import typer

from crossdock.access_cli import acting
from crossdock.cli_common import fail, json_default, parse_time
from pipelines.access.policy import Action
from pipelines.clock import iso

app = typer.Typer(
    help="Status callbacks to client systems: the outbox, dead letters, replay, delivery.", no_args_is_help=True, rich_markup_mode=None
)


@app.command("list")
def list_(
    integration: str = typer.Option(None, "--integration", "-i", help="only this integration"),
    status: str = typer.Option(None, "--status", "-s", help="pending | delivered | dead | disabled"),
    limit: int = typer.Option(50, "--limit", min=1, max=1_000, help="callbacks per page, newest first"),
    cursor: str = typer.Option(None, "--cursor", help="the page after the one that printed this cursor"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """List callbacks, newest first, a page at a time; integrations whose callbacks are stopped are named
    with the reason."""
    from pipelines.callbacks import CALLBACK_STATUSES, callback_summary
    from pipelines.callbacks.queries import page_callbacks
    from pipelines.integrations import IntegrationNotFound
    from pipelines.paging import InvalidCursor
    from pipelines.store import connect

    if status is not None and status not in CALLBACK_STATUSES:
        fail(f"--status: unknown status {status!r}; use one of {', '.join(CALLBACK_STATUSES)}", 2)
    engine = connect()
    try:
        page = page_callbacks(engine, integration=integration, status=status, cursor=cursor, limit=limit)
    except IntegrationNotFound as exc:
        fail(str(exc))
    except InvalidCursor as exc:
        fail(str(exc), 2)
    rows = page.items
    stopped = [s for s in callback_summary(engine) if s.disabled_reason and integration in (None, s.integration)]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "callbacks": [asdict(row) for row in rows],
                    "next_cursor": page.next_cursor,
                    "total": page.total,
                    "stopped": {s.integration: s.disabled_reason for s in stopped},
                },
                default=json_default,
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for summary in stopped:
        typer.echo(f"callbacks to {summary.integration} are STOPPED: {summary.disabled_reason}")
    if not rows:
        typer.echo("no callbacks" + (f" for {integration}" if integration else "") + (f" in status {status}" if status else ""))
        return
    typer.echo(f"{'ID':>6} {'INTEGRATION':<18} {'ORDER':<14} {'EVENT':<10} {'STATUS':<10} {'TRIES':>5}  WHEN / LAST RESULT")
    for row in rows:
        when = row.delivered_at if row.status == "delivered" else row.next_attempt_at
        label = "delivered" if row.status == "delivered" else "next" if row.status == "pending" else "queued"
        if row.status in ("dead", "disabled"):
            when, label = row.created_at, "queued"
        last = f"HTTP {row.last_status_code}" if row.last_status_code is not None else ""
        if row.last_error and row.status != "delivered":
            last = row.last_error if row.last_error.startswith("HTTP") else f"{last} {row.last_error}".strip()
        if len(last) > 70:
            last = last[:69] + "…"
        typer.echo(
            f"{row.id:>6} {row.integration:<18.18} {row.external_id:<14.14} {row.event:<10} {row.status:<10} "
            f"{row.attempts:>5}  {label} {iso(when)}  {last}"
        )
    if page.next_cursor:
        typer.echo(f"{len(rows)} of {page.total} shown; next page: --cursor {page.next_cursor}")


@app.command("replay")
def replay(
    id_: int = typer.Option(None, "--id", help="one callback (dead or disabled) by its id"),
    integration: str = typer.Option(None, "--integration", "-i", help="every dead letter of this integration"),
    since: str = typer.Option(None, "--since", help="with --integration: only callbacks queued at or after this ISO time"),
    actor: str = typer.Option(None, "--actor", help="who replays (default cli:<your user>)"),
) -> None:
    """Re-queue dead letters: one by --id, or an integration's (optionally --since a time)."""
    from pipelines.callbacks import CallbackNotFound, ReplayRejected, replay_callback, replay_dead_callbacks
    from pipelines.integrations import IntegrationNotFound
    from pipelines.store import connect

    if (id_ is None) == (integration is None):
        fail("give either --id N or --integration NAME", 2)
    if since is not None and integration is None:
        fail("--since goes with --integration", 2)
    engine = connect()
    who = acting(Action.REPLAY, actor)
    try:
        if id_ is not None:
            replayed = replay_callback(engine, id_, actor=who)
            typer.echo(f"callback {id_} re-queued (webhook-id {replayed.webhook_id}); the next delivery pass sends it")
            return
        count = replay_dead_callbacks(engine, integration, parse_time("--since", since), actor=who)
    except (CallbackNotFound, IntegrationNotFound, ReplayRejected) as exc:
        fail(str(exc))
    typer.echo(f"{count} dead callback(s) of {integration} re-queued" + (f" (queued since {since})" if since else ""))


@app.command("resume")
def resume(
    integration: str = typer.Argument(..., help="the integration whose callbacks a 410 stopped"),
    actor: str = typer.Option(None, "--actor", help="who resumes (default cli:<your user>)"),
) -> None:
    """Lift a 410 stop once the client's endpoint works again: its stopped callbacks are re-queued in order."""
    from pipelines.callbacks import resume_callbacks
    from pipelines.integrations import IntegrationNotFound, get_integration
    from pipelines.store import connect

    engine = connect()
    try:
        reason = get_integration(engine, integration).callbacks_disabled_reason
        count = resume_callbacks(engine, integration, actor=acting(Action.REPLAY, actor))
    except IntegrationNotFound as exc:
        fail(str(exc))
    state = "resumed" if reason else "were not stopped"
    typer.echo(f"callbacks to {integration} {state}; {count} stopped callback(s) re-queued")


@app.command("deliver")
def deliver(
    integration: str = typer.Option(None, "--integration", "-i", help="only this integration"),
    max_seconds: float = typer.Option(None, "--max-seconds", min=0.1, help="stop claiming new callbacks after this long"),
    workers: int = typer.Option(16, "--workers", min=1, max=256, help="callbacks sent at once (across orders)"),
) -> None:
    """Run one delivery pass: send every due callback (in order per order), record each attempt."""
    from connectors.callback_sender import deliver_due
    from pipelines.integrations import IntegrationNotFound, get_integration
    from pipelines.store import connect

    engine = connect()
    integration_ids = None
    if integration is not None:
        try:
            integration_ids = [get_integration(engine, integration).id]
        except IntegrationNotFound as exc:
            fail(str(exc))
    report = deliver_due(engine, workers=workers, integration_ids=integration_ids, max_seconds=max_seconds)
    typer.echo(report.summary())
    for row in report.rows():
        typer.echo(
            f"  {row['integration']}: {row['delivered']} delivered, {row['retried']} to retry, {row['dead']} dead, "
            f"{row['disabled']} stopped by 410; latency p50 {row['latency_p50_ms']} ms, p95 {row['latency_p95_ms']} ms"
        )

"""`crossdock replay` and `crossdock inbox list`: operators' hands on the inbox.

Exit status: 0 done (also when nothing matched), 1 the row or integration does not exist or the row
is in no replayable state, 2 unusable options.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from crossdock.access_cli import acting, require
from pipelines.access.policy import Action
from pipelines.vocabulary import InboxStatus

if TYPE_CHECKING:  # annotations only: the CLI imports these when a command runs
    from pipelines.inbox.processing import InboxRow

STATUSES: tuple[InboxStatus, ...] = tuple(InboxStatus)

app = typer.Typer(
    help="Look into the webhook inbox (what clients pushed, and what became of it).", no_args_is_help=True, rich_markup_mode=None
)


def register(root: typer.Typer) -> None:
    """Add `inbox ...` and `replay` to the main CLI."""
    root.add_typer(app, name="inbox")
    root.command("replay")(replay_command)


def _integration_id(name: str | None) -> int | None:
    from crossdock.integrations_cli import fail
    from pipelines.integrations import IntegrationNotFound, get_integration
    from pipelines.store import connect

    if name is None:
        return None
    try:
        return get_integration(connect(), name).id
    except IntegrationNotFound as exc:
        fail(str(exc))


def _since(value: str | None) -> datetime | None:
    from crossdock.integrations_cli import fail

    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since {value!r} is not an ISO 8601 date or time (e.g. 2025-09-13 or 2025-09-13T14:30:00Z)", 2)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # naive means UTC


def _one_line(text: str | None, width: int = 70) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _note(entry: InboxRow) -> str:
    from pipelines.inbox import DONE

    if entry.status == DONE:
        note = f"{entry.record_errors} record error(s)" if entry.record_errors else ""
    else:
        note = _one_line(entry.error)
    if entry.replay_count:
        replayed = f"replayed {entry.replay_count}x, last by {entry.replayed_by} at {entry.replayed_at:%Y-%m-%d %H:%M}"
        note = f"{note}; {replayed}" if note else replayed
    return note


def _table(entries: list[InboxRow]) -> None:

    typer.echo(f"{'ID':>7}  {'INTEGRATION':<20} {'STATUS':<8} {'RECEIVED (UTC)':<19} {'TRIES':>5} {'RUN':>6}  NOTE")
    for e in entries:
        typer.echo(
            f"{e.id:>7}  {e.integration:<20} {e.status:<8} {e.received_at:%Y-%m-%d %H:%M:%S} {e.attempts:>5} "
            f"{e.sync_run_id if e.sync_run_id is not None else '-':>6}  {_note(e)}"
        )


def _as_json(entry: InboxRow) -> dict:

    return {
        "id": entry.id,
        "integration": entry.integration,
        "status": entry.status,
        "received_at": entry.received_at.isoformat(),
        "attempts": entry.attempts,
        "error": entry.error,
        "sync_run_id": entry.sync_run_id,
        "record_errors": entry.record_errors,
        "delivery_id": entry.delivery_id,
        "replay_count": entry.replay_count,
        "replayed_by": entry.replayed_by,
        "replayed_at": entry.replayed_at.isoformat() if entry.replayed_at else None,
    }


@app.command("list")
def list_command(
    status: str = typer.Option(None, "--status", help=f"only rows in this state: {', '.join(STATUSES)}"),
    integration: str = typer.Option(None, "--integration", "-i", help="only this integration's rows"),
    limit: int = typer.Option(50, "--limit", min=1, max=1_000, help="rows per page, newest first"),
    cursor: str = typer.Option(None, "--cursor", help="the page after the one that printed this cursor"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """List inbox rows, newest first, a page at a time: state, attempts, sync run, and why a row died."""
    from crossdock.integrations_cli import fail
    from pipelines.inbox.processing import page_entries
    from pipelines.paging import InvalidCursor
    from pipelines.store import connect

    if status is not None and status not in STATUSES:
        fail(f"--status must be one of {', '.join(STATUSES)}, not {status!r}", 2)
    try:
        require(Action.VIEW_DEAD_LETTERS)
        page = page_entries(connect(), status=status, integration_id=_integration_id(integration), cursor=cursor, limit=limit)
    except InvalidCursor as exc:
        fail(str(exc), 2)
    if as_json:
        typer.echo(
            json.dumps(
                {"rows": [_as_json(e) for e in page.items], "next_cursor": page.next_cursor, "total": page.total},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if not page.items:
        typer.echo("the inbox has no such rows")
        return
    _table(page.items)
    if page.next_cursor:
        typer.echo(f"{len(page.items)} of {page.total} shown; next page: --cursor {page.next_cursor}")


def replay_command(
    inbox_id: int = typer.Option(None, "--id", help="replay this inbox row"),
    integration: str = typer.Option(None, "--integration", "-i", help="replay this integration's dead rows"),
    since: str = typer.Option(None, "--since", help="with --integration: only rows received at or after this ISO time"),
    with_record_errors: bool = typer.Option(
        False, "--with-record-errors", help="also re-ingest done rows whose sync run had record errors"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="list what would be replayed, change nothing"),
    actor: str = typer.Option(None, "--actor", help="who replays (default cli:<your user>)"),
) -> None:
    """Send dead-lettered inbox rows (and, if asked, rows with record errors) back for processing.

    Re-ingesting is idempotent: records that already landed come back as unchanged."""
    from crossdock.integrations_cli import fail
    from pipelines.inbox.processing import InboxRowNotFound, NotReplayable, replay
    from pipelines.store import connect

    if (inbox_id is None) == (integration is None):
        fail("give either --id N or --integration NAME", 2)
    if since is not None and integration is None:
        fail("--since only applies with --integration", 2)
    try:
        entries = replay(
            connect(),
            actor=acting(Action.REPLAY, actor),
            inbox_id=inbox_id,
            integration_id=_integration_id(integration),
            since=_since(since),
            include_record_errors=with_record_errors,
            dry_run=dry_run,
        )
    except (InboxRowNotFound, NotReplayable) as exc:
        fail(str(exc))
    if not entries:
        kinds = "dead or record-error rows" if with_record_errors else "dead rows"
        typer.echo(f"nothing to replay: {integration} has no {kinds}" + (f" since {since}" if since else ""))
        return
    typer.echo(f"{'would replay' if dry_run else 'replayed'} {len(entries)} inbox row(s):")
    _table(entries)
    if not dry_run:
        typer.echo("they are pending again; the inbox sensor hands them to the next processing run")

"""`crossdock pull NAME [--since --until]`: one pull, now, outside the schedule (a first test of a new
integration, or a backfill from a terminal). Exit status: 0 pulled, 1 the pull failed, 2 unusable input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import typer

from pipelines.clock import utcnow

if TYPE_CHECKING:  # annotations only: the CLI imports these when a command runs
    from pipelines.sources import PullReport, Window


def _moment(text: str, option: str) -> datetime:
    """YYYY-MM-DD (midnight UTC) or an ISO 8601 date-time (naive = UTC)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (2024-01-15) or date-time (2024-01-15T08:00:00Z)", param_hint=option) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def window_from(since: str | None, until: str | None) -> Window | None:
    from pipelines.sources import Window

    if since is None:
        if until is not None:
            raise typer.BadParameter("--until needs --since", param_hint="--until")
        return None
    start = _moment(since, "--since")
    end = _moment(until, "--until") if until else (start + timedelta(days=1) if len(since) == 10 else utcnow())
    if end <= start:
        raise typer.BadParameter("--until must be after --since", param_hint="--until")
    return Window(start, end)


def summary(report: PullReport) -> str:

    c, r = report.counts, report.read
    scope = f"window {report.window}" if report.window else "incremental"
    parts = [
        f"{report.integration} ({report.source_kind}, {scope}): {c['total_received']} received, "
        f"{c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged, {c['errors']} errors"
    ]
    read = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in r.items() if value)
    if read:
        parts.append(f"  read: {read}")
    if report.cursor_after is not None:
        parts.append(f"  cursor: {report.cursor_before} -> {report.cursor_after}")
    parts.append(f"  took {report.duration_ms / 1000:.2f} s")
    parts.extend(f"  warning: {w}" for w in report.warnings)
    parts.extend(f"  invalid records: {e}" for e in report.error_summaries)
    return "\n".join(parts)


def pull(
    name: str = typer.Argument(..., help="the integration to pull (type api, db or file)"),
    since: str = typer.Option(None, "--since", help="re-pull a window from this date or date-time (UTC)"),
    until: str = typer.Option(None, "--until", help="window end, exclusive (default: one day after a date, else now)"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable report"),
) -> None:
    """Pull one api/db/file integration now: what is new since its cursor, or a --since/--until window."""
    from connectors.pull import pull as run_pull
    from crossdock.access_cli import require
    from pipelines.access.policy import Action
    from pipelines.integrations import IntegrationNotFound
    from pipelines.secrets import SecretKeyError
    from pipelines.sources import PullError
    from pipelines.store import connect

    require(Action.BACKFILL)
    window = window_from(since, until)
    try:
        report = run_pull(connect(), name, window=window)
    except IntegrationNotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except SecretKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except PullError as exc:
        typer.echo(f"error: {name}: {exc}", err=True)
        if exc.report and exc.report.sync_run_ids:
            typer.echo(summary(exc.report), err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, default=str) if as_json else summary(report))

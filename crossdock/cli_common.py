"""Small things every `crossdock` sub-command shares: clear errors with exit codes, time options, the actor."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any

import typer

from pipelines.clock import iso


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def parse_time(option: str, value: str | None) -> datetime | None:
    """ISO 8601 (`2024-01-15T15:28:00Z`, a naive time is UTC), or exit 2 naming the option."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option}: not an ISO 8601 date-time: {value!r} (e.g. 2024-01-15T15:28:00Z)", 2)


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers; the door is still known
        return "cli"


def json_default(value: Any) -> Any:
    """`json.dumps(default=...)` for store rows: times as ISO 8601 with a Z."""
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(type(value).__name__)

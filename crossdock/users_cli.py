"""`crossdock users ...` and `crossdock tokens ...`: local accounts of the admin app and API tokens.

Passwords are never taken as options (they would land in shell history): `add` and `reset-password`
print a one-time password, to hand over once; it must be changed at the first log-in.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

import typer

from crossdock.access_cli import require
from crossdock.cli_common import fail, json_default, parse_time
from pipelines.access.policy import Action, Role

users_app = typer.Typer(
    help="Local accounts of the admin app: add, list, disable, enable, set-role, reset-password.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
tokens_app = typer.Typer(help="Admin API tokens: add (shown once), list, revoke.", no_args_is_help=True, rich_markup_mode=None)
ROLES = ", ".join(Role)


def _accounts():
    from pipelines.access import users

    return users


def _engine():
    from pipelines.store import connect

    return connect()


@users_app.command("add")
def add(
    username: str = typer.Argument(..., help="lowercase letters, digits and . _ @ -"),
    role: str = typer.Option(..., "--role", "-r", help=ROLES),
) -> None:
    """Create an account; prints its one-time password (changed at the first log-in)."""
    actor = require(Action.MANAGE_USERS)
    users = _accounts()
    password = users.one_time_password()
    try:
        with _engine().begin() as conn:
            users.add(conn, username, role, password, actor=actor)
    except users.AccountError as exc:
        fail(str(exc), 2)
    typer.echo(f"created user {username} ({role}); one-time password: {password}")


@users_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="machine-readable")) -> None:
    """Every account: role, disabled, locked out (after too many wrong passwords), last log-in."""
    require(Action.MANAGE_USERS)
    users = _accounts()
    with _engine().connect() as conn:
        accounts = users.listing(conn)
    now = datetime.now().astimezone()
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "username": u.username,
                        "role": u.role.value,
                        "disabled": u.disabled,
                        "locked_until": u.locked_until if u.locked(now) else None,
                        "failed_logins": u.failed_logins,
                        "last_login_at": u.last_login_at,
                    }
                    for u in accounts
                ],
                default=json_default,
                indent=2,
            )
        )
        return
    if not accounts:
        typer.echo("no users yet (crossdock up creates the first admin)")
    for u in accounts:
        state = "disabled" if u.disabled else f"LOCKED until {u.locked_until:%Y-%m-%d %H:%M} UTC" if u.locked(now) else "active"
        last = f"{u.last_login_at:%Y-%m-%d %H:%M} UTC" if u.last_login_at else "never"
        typer.echo(f"{u.username:<24} {u.role.value:<9} {state:<32} last log-in {last}")


def _change(username: str, what: str, **kwargs: object) -> None:
    actor = require(Action.MANAGE_USERS)
    users = _accounts()
    try:
        with _engine().begin() as conn:
            if what == "role":
                users.set_role(conn, username, str(kwargs["role"]), actor=actor)
            else:
                users.set_disabled(conn, username, what == "disable", actor=actor)
    except users.AccountError as exc:
        fail(str(exc), 2)


@users_app.command("disable")
def disable(username: str) -> None:
    """Disable an account: its sessions end and its API tokens are revoked."""
    _change(username, "disable")
    typer.echo(f"disabled user {username}")


@users_app.command("enable")
def enable(username: str) -> None:
    """Let a disabled account log in again."""
    _change(username, "enable")
    typer.echo(f"enabled user {username}")


@users_app.command("set-role")
def set_role(username: str, role: str = typer.Option(..., "--role", "-r", help=ROLES)) -> None:
    """Change an account's role."""
    _change(username, "role", role=role)
    typer.echo(f"user {username} is now {role}")


@users_app.command("reset-password")
def reset_password(username: str) -> None:
    """Give an account a new one-time password (printed), lift a lockout and end its sessions."""
    actor = require(Action.MANAGE_USERS)
    users = _accounts()
    try:
        with _engine().begin() as conn:
            password = users.reset_password(conn, username, actor=actor)
    except users.AccountError as exc:
        fail(str(exc), 2)
    typer.echo(f"new one-time password for {username}: {password}")


@tokens_app.command("add")
def add_token(
    name: str = typer.Argument(..., help="unique: letters, digits and . _ -"),
    role: str = typer.Option(..., "--role", "-r", help=ROLES),
    user: str = typer.Option(None, "--user", "-u", help="the user it acts for (default: a service token)"),
    expires: str = typer.Option(None, "--expires", help="ISO 8601 expiry (default: until revoked)"),
) -> None:
    """Create an admin API token; it is printed once and stored only as a digest."""
    from pipelines.access import tokens
    from pipelines.clock import as_utc

    actor = require(Action.MANAGE_TOKENS)
    expires_at = parse_time("--expires", expires)
    try:
        with _engine().begin() as conn:
            token = tokens.create(conn, name, role, actor=actor, username=user, expires_at=as_utc(expires_at) if expires_at else None)
    except tokens.TokenError as exc:
        fail(str(exc), 2)
    typer.echo(f"created token {name} ({role}); it is shown this once:\n{token}")


@tokens_app.command("list")
def list_tokens(as_json: bool = typer.Option(False, "--json", help="machine-readable")) -> None:
    """Every token (never its secret): role, owner, expiry, last use, revoked."""
    from pipelines.access import tokens

    require(Action.MANAGE_TOKENS)
    with _engine().connect() as conn:
        rows = tokens.listing(conn)
    if as_json:
        typer.echo(json.dumps([asdict(row) for row in rows], default=json_default, indent=2))
        return
    if not rows:
        typer.echo("no tokens yet (the bootstrap CROSSDOCK_ADMIN_TOKEN is not listed)")
    for row in rows:
        state = "revoked" if row.revoked_at else "live"
        used = f"{row.last_used_at:%Y-%m-%d %H:%M} UTC" if row.last_used_at else "never"
        typer.echo(f"{row.name:<24} {row.role:<9} {row.user or '(service)':<16} {state:<8} last used {used}")


@tokens_app.command("revoke")
def revoke_token(name: str) -> None:
    """Revoke a token: it is refused from the next request on."""
    from pipelines.access import tokens

    actor = require(Action.MANAGE_TOKENS)
    try:
        with _engine().begin() as conn:
            tokens.revoke(conn, name, actor=actor)
    except tokens.TokenError as exc:
        fail(str(exc), 2)
    typer.echo(f"revoked token {name}")

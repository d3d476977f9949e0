"""`crossdock`: the single command that runs and operates Crossdock."""
from __future__ import annotations

from pathlib import Path

import typer

from crossdock import integrations_cli
from crossdock import pull_command
from crossdock import inbox_cli
from crossdock import callbacks_cli, orders_cli

app = typer.Typer(
    name="crossdock",
    help="Crossdock: take orders and sales in from client systems, send status back.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(integrations_cli.app, name="integrations")
app.command("pull")(pull_command.pull)
inbox_cli.register(app)
app.add_typer(orders_cli.app, name="orders")
app.add_typer(callbacks_cli.app, name="callbacks")


@app.command("map")
def map_(
    mapping: Path = typer.Option(..., "--mapping", "-m", help="JSON/YAML with a field_mapping (or a whole integration)"),
    sample: Path = typer.Option(..., "--sample", "-s", help="payload file: one record or an array"),
    target: str = typer.Option(None, "--target", "-t", help="validate against order or sale"),
) -> None:
    """Preview a mapping on a payload file: mapped records on stdout, per-field errors on stderr.

    Exit 0 when every record is valid, 1 when any is not, 2 for unusable input."""
    from crossdock.map_command import map_command

    raise typer.Exit(map_command(mapping, sample, target))


@app.command("migrate")
def migrate() -> None:
    """Create or upgrade the store's schema (every command does this on its own; this just does only that)."""
    from pipelines import settings
    from pipelines.store import connect

    connect()
    typer.echo(f"store is current: {_safe_url(settings.database_url())}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    app()

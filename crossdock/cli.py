"""`crossdock`: the single command that runs and operates Crossdock."""

from __future__ import annotations

from pathlib import Path

import typer

from crossdock import callbacks_cli, inbox_cli, integrations_cli, orders_cli, pull_command, users_cli

app = typer.Typer(
    name="crossdock",
    help="Crossdock: take orders and sales in from client systems, send status back.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help and errors: rich would add a third of a second to every start of the CLI.
    rich_markup_mode=None,
)
app.add_typer(integrations_cli.app, name="integrations")
app.command("pull")(pull_command.pull)
inbox_cli.register(app)
app.add_typer(orders_cli.app, name="orders")
app.add_typer(callbacks_cli.app, name="callbacks")
app.add_typer(users_cli.users_app, name="users")
app.add_typer(users_cli.tokens_app, name="tokens")


@app.command("map")
def map_(
    mapping: Path = typer.Option(..., "--mapping", "-m", help="JSON/YAML with a field_mapping (or a whole integration)"),
    sample: Path = typer.Option(..., "--sample", "-s", help="payload file: one record or an array"),
    target: str = typer.Option(None, "--target", "-t", help="validate against order or sale"),
) -> None:
    """Preview a mapping on a payload file: records as ingest would store them on stdout, per-field errors on stderr.

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


@app.command("receiver")
def receiver() -> None:
    """Run the webhook receiver and admin API on CROSSDOCK_HOST:CROSSDOCK_PORT (default 127.0.0.1:8085)."""
    from crossdock.ports import PortBusy
    from crossdock.receiver_cmd import serve
    from pipelines.settings import SettingError

    try:
        serve()
    except (PortBusy, SettingError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("role")
def role(
    name: str = typer.Argument(..., help="migrate, receiver, dagster-code-server, dagster-webserver, dagster-daemon or streamlit"),
) -> None:
    """Run one service of the product on its own, as a container of docker-compose.yml does: `migrate`
    (one-shot: the store's migrations and Dagster's instance) or a long-running server in its place."""
    from crossdock.roles import RoleError, run
    from pipelines.settings import SettingError

    try:
        run(name)
    except (RoleError, SettingError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("health")
def health(name: str = typer.Argument("receiver", help="the role to probe (as for `crossdock role`)")) -> None:
    """Probe one role on this machine (a container's HEALTHCHECK): exit 0 when healthy, 1 when not."""
    from crossdock.roles import RoleError
    from crossdock.roles import health as probe
    from pipelines.settings import SettingError

    try:
        healthy, reason = probe(name)
    except (RoleError, SettingError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{name}: {'healthy' if healthy else 'unhealthy'}: {reason}", err=not healthy)
    raise typer.Exit(0 if healthy else 1)


@app.command("demo")
def demo() -> None:
    """Create the demo data (idempotent): an Autentikapp demo account with registered identifier codes,
    and the demo API, database and file-drop integrations (`crossdock up` also runs the demo client API
    they poll); print how to create the seed's cliente_abc and send to both seeds."""
    from crossdock.demo import print_demo, seed_demo
    from crossdock.demo_pull import print_pull_demo, seed_pull_demo
    from crossdock.up import demo_api_url
    from pipelines import settings
    from pipelines.store import connect

    engine = connect()
    print_demo(seed_demo(engine))
    print_pull_demo(seed_pull_demo(engine, demo_api_url(), settings.home()))


@app.command("up")
def up() -> None:
    """Start everything: receiver, Dagster (webserver + daemon), the Streamlit app and the demo client
    API, with demo data. Ctrl-C stops all of it."""
    from crossdock.up import run_up

    raise typer.Exit(run_up())


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    """Run a command; a store that cannot be used is one line on stderr and exit 1, never a traceback."""
    from pipelines.settings import private_files

    private_files()
    try:
        app()
    except Exception as exc:
        message = _store_problem(exc)
        if message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        raise SystemExit(1) from None


def _store_problem(exc: Exception) -> str | None:
    """What to tell the user when `exc` says the store cannot be used, or None. Imports the store's
    libraries only here: they are loaded already when one of them raised."""
    import sqlalchemy as sa

    from pipelines import settings
    from pipelines.store.engine import StoreEncodingError
    from pipelines.store.migrate import StoreOutdated

    if isinstance(exc, (StoreOutdated, StoreEncodingError)):
        return str(exc)
    if isinstance(exc, sa.exc.OperationalError):
        reason = str(exc.orig or exc).strip().splitlines()[0]
        return (
            f"the store {_safe_url(settings.database_url())} cannot be used: {reason} "
            "(check CROSSDOCK_DATABASE_URL and that the database is running)"
        )
    return None

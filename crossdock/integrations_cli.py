"""`crossdock integrations ...`: add from a file, list, show (secrets masked), disable, enable, delete
(archive), archived, restore, purge, and the client's integration guide."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crossdock.access_cli import require
from pipelines.access.policy import Action

if TYPE_CHECKING:  # annotations only: the CLI imports these when a command runs
    from pipelines.integrations import Integration

app = typer.Typer(
    help="Configure integrations (client systems sending or serving orders and sales).", no_args_is_help=True, rich_markup_mode=None
)


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_integration_file(path: Path) -> Integration:
    """An Integration from a JSON/YAML file, or exit 2 listing every wrong field and why."""
    from pydantic import ValidationError

    from crossdock.files import UnusableFile, read_document
    from pipelines.errors import validation_issues
    from pipelines.integrations import parse_integration

    try:
        document = read_document(path)
    except UnusableFile as exc:
        fail(str(exc), 2)
    if not isinstance(document, dict):
        fail(f"{path}: expected an object with the integration's fields, got {type(document).__name__}", 2)
    try:
        return parse_integration(document)
    except ValidationError as exc:
        lines = [f"  {i['field']}: {i['message']}" for i in validation_issues(exc)]
        fail(f"{path}: invalid integration\n" + "\n".join(lines), 2)


@app.command("add")
def add(file: Path = typer.Option(..., "--file", "-f", help="integration as JSON or YAML")) -> None:
    """Create an integration from a file (the Logitrack plan's configuration JSON works as is)."""
    from pipelines.integrations import IntegrationExists, MappingRejected, create_integration
    from pipelines.store import connect

    actor = require(Action.MANAGE_INTEGRATIONS)
    config = load_integration_file(file)
    try:
        stored = create_integration(connect(), config, actor=actor)
    except IntegrationExists as exc:
        fail(str(exc))
    except MappingRejected as exc:
        fail(f"{file}: field_mapping does not compile\n" + "\n".join(f"  {i['field']}: {i['message']}" for i in exc.issues), 2)
    typer.echo(f"created integration {stored.name} ({stored.config.type}, target {stored.target})")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """List integrations with type, target and whether they are active."""
    from pipelines.integrations import list_integrations, masked_config
    from pipelines.store import connect

    require(Action.VIEW_INTEGRATIONS)
    items = _guard(lambda: list_integrations(connect()))
    if as_json:
        typer.echo(json.dumps([masked_config(i) for i in items], ensure_ascii=False, indent=2))
        return
    if not items:
        typer.echo("no integrations yet: add one with `crossdock integrations add --file FILE`")
        return
    typer.echo(f"{'NAME':<24} {'TYPE':<8} {'TARGET':<7} STATUS")
    for item in items:
        typer.echo(f"{item.name:<24} {item.config.type:<8} {item.target:<7} {'active' if item.is_active else 'disabled'}")


@app.command("show")
def show(name: str) -> None:
    """Show one integration's configuration, secrets masked."""
    from pipelines.integrations import get_integration, masked_config
    from pipelines.store import connect

    require(Action.VIEW_INTEGRATIONS)
    stored = _guard(lambda: get_integration(connect(), name))
    typer.echo(json.dumps(masked_config(stored), ensure_ascii=False, indent=2))


@app.command("disable")
def disable(name: str) -> None:
    """Stop accepting and pulling for an integration (webhooks get 403)."""
    from pipelines.integrations import set_active
    from pipelines.store import connect

    actor = require(Action.ENABLE_INTEGRATION)
    _guard(lambda: set_active(connect(), name, False, actor=actor))
    typer.echo(f"disabled {name}")


@app.command("enable")
def enable(name: str) -> None:
    """Resume an integration."""
    from pipelines.integrations import set_active
    from pipelines.store import connect

    actor = require(Action.ENABLE_INTEGRATION)
    _guard(lambda: set_active(connect(), name, True, actor=actor))
    typer.echo(f"enabled {name}")


@app.command("delete")
def delete(
    name: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask"),
    force: bool = typer.Option(False, "--force", hidden=True, help="accepted for older scripts; nothing to force"),
) -> None:
    """Delete (archive) an integration: it stops receiving and pulling, and everything it received stays,
    restorable with `crossdock integrations restore` until purged (`purge`, or the retention period)."""
    from pipelines.integrations import archive_integration
    from pipelines.settings import current
    from pipelines.store import connect

    actor = require(Action.MANAGE_INTEGRATIONS)
    if not yes and not typer.confirm(f"Delete (archive) {name}? It stays restorable for {current().archive_retention_days} day(s)."):
        fail("not deleted")
    held = _guard(lambda: archive_integration(connect(), name, actor=actor))
    suffix = f"; held until restored: {', '.join(f'{n} {what}' for what, n in held.items())}" if held else ""
    typer.echo(f"archived {name} (restore with `crossdock integrations restore {name}`){suffix}")


@app.command("archived")
def archived(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """List deleted (archived) integrations: when and by whom, restorable until purged."""
    from pipelines.integrations import archived_view
    from pipelines.store import connect

    require(Action.MANAGE_INTEGRATIONS)
    items = _guard(lambda: archived_view(connect()))
    if as_json:
        typer.echo(json.dumps([{**asdict(i), "archived_at": i.archived_at.isoformat()} for i in items], ensure_ascii=False, indent=2))
        return
    if not items:
        typer.echo("no archived integrations")
        return
    typer.echo(f"{'NAME':<24} {'TYPE':<8} {'TARGET':<7} {'ARCHIVED AT':<26} BY")
    for item in items:
        typer.echo(
            f"{item.name:<24} {item.type:<8} {item.target:<7} {item.archived_at.isoformat(timespec='seconds'):<26} {item.archived_by or ''}"
        )


@app.command("restore")
def restore(name: str) -> None:
    """Restore a deleted (archived) integration, with all its data, as it was."""
    from pipelines.integrations import restore_integration
    from pipelines.store import connect

    actor = require(Action.MANAGE_INTEGRATIONS)
    _guard(lambda: restore_integration(connect(), name, actor=actor))
    typer.echo(f"restored {name}")


@app.command("purge")
def purge(
    name: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask"),
    force: bool = typer.Option(False, "--force", help="purge even with acknowledged webhooks or callbacks waiting"),
) -> None:
    """Really delete an archived integration and all its orders, runs, inbox rows and callbacks (no undo).
    Refused while it holds acknowledged webhooks or callbacks not yet delivered, unless --force."""
    from pipelines.integrations import IntegrationBusy, purge_integration
    from pipelines.store import connect

    actor = require(Action.PURGE)
    if not yes and typer.prompt(f"Purge {name} and all its data for good? Type its name to confirm", default="") != name:
        fail("not purged")
    try:
        _guard(lambda: purge_integration(connect(), name, force=force, actor=actor))
    except IntegrationBusy as exc:
        fail(f"{exc}. Restore it and let them finish, or pass --force to discard them.")
    typer.echo(f"purged {name}")


@app.command("guide")
def guide(
    name: str,
    fmt: str = typer.Option("md", "--format", help="md, html or pdf"),
    lang: str = typer.Option("es", "--lang", help="es (Spanish) or en (English)"),
    output: Path = typer.Option(
        None, "--output", "-o", help="file to write (default: stdout for md/html, crossdock-guide-NAME-LANG.pdf for pdf)"
    ),
) -> None:
    """Write the client's integration guide: endpoint, signing, payload schema, answers, retries,
    callbacks and tested code in curl, Python, Node.js and PHP. It holds no secret."""
    import sys

    from connectors.guide_render import FORMATS, RenderFailed, file_name, render
    from pipelines.guide import LANGS, build_guide
    from pipelines.integrations import get_integration
    from pipelines.store import connect

    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})", 2)
    if lang not in LANGS:
        fail(f"--lang must be one of {', '.join(LANGS)} (got {lang!r})", 2)
    stored = _guard(lambda: get_integration(connect(), name))
    document = build_guide(stored.config, lang)  # type: ignore[arg-type]
    try:
        data = render(document, fmt)  # type: ignore[arg-type]
    except RenderFailed as exc:
        fail(str(exc))
    if output is None and fmt != "pdf":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    target = output or Path(file_name(document, fmt))  # type: ignore[arg-type]
    try:
        target.write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    typer.echo(f"wrote {target} ({len(data):,} bytes)", err=True)


def _guard(action):
    from pipelines.integrations import IntegrationNotFound
    from pipelines.secrets import SecretKeyError

    try:
        return action()
    except IntegrationNotFound as exc:
        fail(str(exc))
    except SecretKeyError as exc:
        fail(str(exc))

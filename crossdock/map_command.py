"""`crossdock map`: preview a field mapping on a payload file, exactly as ingest would judge it.

The records printed are what ingest would store: after the target's coercion (a latitude sent as
"14.59" prints as the number 14.59, an amount as a number, a date-time in ISO 8601 UTC), not the raw
results of the expressions. A rejected record prints its valid fields the same way and its failing
ones as the mapping produced them; the reasons go to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from crossdock.files import UnusableFile, read_document, read_records
from pipelines.ingest.prepare import prepare
from pipelines.mapping import MappingError, compile_mapping
from pipelines.studio.preview import stored_values
from pipelines.targets import FIELDS, TARGETS

EXIT_VALID, EXIT_INVALID, EXIT_UNUSABLE = 0, 1, 2


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _mapping_and_target(document: Any, path: Path) -> tuple[dict[str, Any], str | None]:
    """A whole integration file or `{"field_mapping": ...}` gives its mapping (and target); any other
    object is taken as the mapping itself."""
    if not isinstance(document, dict):
        raise UnusableFile(f"{path}: expected an object with a field_mapping, got {type(document).__name__}")
    if "field_mapping" in document:
        mapping = document["field_mapping"]
        if not isinstance(mapping, dict):
            raise UnusableFile(f"{path}: field_mapping must be an object of target field -> expression")
        target = document.get("target")
        return mapping, target if isinstance(target, str) else None
    return document, None


def _show_mapping_error(exc: MappingError, path: Path) -> None:
    _say(f"error: {path}: the mapping does not compile")
    for issue in exc.issues:
        _say(f"  {issue.field}: {issue.message}")
        if issue.expression is not None and issue.position is not None:
            _say(f"      {issue.expression}")
            _say(f"      {' ' * issue.position}^")


def map_command(mapping_path: Path, sample_path: Path, target: str | None) -> int:
    try:
        mapping, file_target = _mapping_and_target(read_document(mapping_path), mapping_path)
        records, single = read_records(sample_path)
    except UnusableFile as exc:
        _say(f"error: {exc}")
        return EXIT_UNUSABLE
    chosen = target or file_target or "order"
    if chosen not in TARGETS:
        _say(f"error: unknown target {chosen!r}: expected one of {', '.join(TARGETS)}")
        return EXIT_UNUSABLE
    try:
        compiled = compile_mapping(mapping, FIELDS[chosen])
    except MappingError as exc:
        _show_mapping_error(exc, mapping_path)
        return EXIT_UNUSABLE

    prepared = prepare(compiled, chosen, records)
    output = [stored_values(chosen, item) for item in prepared]
    typer.echo(json.dumps(output[0] if single else output, ensure_ascii=False, indent=2))
    invalid = 0
    for item in prepared:
        label = "record" if single else f"record {item.index}"
        for reason in item.reasons:
            _say(f"{label}: {reason['field']}: {reason['message']}")
        missing = [f for f in compiled.fields if f not in item.mapped and isinstance(item.source, dict)]
        if missing and item.ok:
            _say(f"{label}: note: no value for {', '.join(missing)} (source path absent or null)")
        invalid += not item.ok
    if invalid:
        _say(f"{invalid} of {len(prepared)} record(s) invalid for target {chosen}")
        return EXIT_INVALID
    return EXIT_VALID

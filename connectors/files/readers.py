"""Records out of a dropped file, a chunk at a time: CSV, JSON Lines and Parquet through DuckDB,
XLSX through openpyxl (DuckDB's excel extension would have to be downloaded at run time, and
nothing in Crossdock downloads anything while running)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from connectors.files.encoding import NATIVE, normalise, sniff_encoding, transcode_to_utf8
from pipelines.integrations.file_settings import FileSettings

SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}


class UnreadableFile(ValueError):
    """The file cannot be read as configured; the message is the reason written next to it in failed/."""


def file_format(path: Path, settings: FileSettings) -> str:
    if settings.format != "auto":
        return settings.format
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UnreadableFile(f"unsupported file type {path.suffix or '(none)'}: expected one of {', '.join(sorted(SUFFIXES))}")
    return kind


def duckdb_connection() -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB that never installs or loads an extension on its own: CSV, JSON and Parquet
    readers are built into the wheel; anything else must fail rather than reach the network."""
    return duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})


def read_chunks(path: Path, settings: FileSettings) -> Iterator[list[dict[str, Any]]]:
    kind = file_format(path, settings)
    if kind == "xlsx":
        yield from _xlsx(path, settings)
        return
    with tempfile.TemporaryDirectory(prefix="crossdock-drop-") as scratch:
        if kind == "csv":
            sql, params = _csv_query(path, settings, Path(scratch))
        elif kind == "jsonl":
            sql, params = "SELECT * FROM read_json($path, format = 'newline_delimited')", {"path": str(path)}
        elif kind == "json":
            sql, params = "SELECT * FROM read_json($path)", {"path": str(path)}
        else:
            sql, params = "SELECT * FROM read_parquet($path)", {"path": str(path)}
        connection = duckdb_connection()
        try:
            cursor = connection.execute(sql, params)
            columns = [d[0] for d in cursor.description]
            while rows := cursor.fetchmany(settings.chunk_size):
                yield [dict(zip(columns, row, strict=True)) for row in rows]
        except duckdb.Error as exc:
            raise UnreadableFile(_first_lines(exc)) from None
        finally:
            connection.close()


def _csv_query(path: Path, settings: FileSettings, scratch: Path) -> tuple[str, dict[str, Any]]:
    options = settings.csv
    try:
        encoding = sniff_encoding(path) if options.encoding == "auto" else normalise(options.encoding)
    except ValueError as exc:
        raise UnreadableFile(str(exc)) from None
    if encoding not in NATIVE:
        try:
            path = transcode_to_utf8(path, encoding, scratch / "utf8.csv")
        except (UnicodeDecodeError, ValueError) as exc:
            raise UnreadableFile(f"not {encoding} text: {exc}") from None
        encoding = "utf-8"
    params: dict[str, Any] = {"path": str(path), "encoding": encoding, "all_varchar": options.all_text}
    if options.delimiter is not None:
        params["delim"] = options.delimiter
    if options.header is not None:
        params["header"] = options.header
    named = ", ".join(f"{name} = ${name}" for name in params if name != "path")
    return f"SELECT * FROM read_csv($path, {named})", params


def _xlsx(path: Path, settings: FileSettings) -> Iterator[list[dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a damaged or non-XLSX file
        raise UnreadableFile(f"not a readable XLSX workbook: {exc}") from None
    try:
        if settings.sheet is not None and settings.sheet not in workbook.sheetnames:
            raise UnreadableFile(f"no sheet {settings.sheet!r}; sheets: {', '.join(workbook.sheetnames)}")
        sheet = workbook[settings.sheet] if settings.sheet else workbook.worksheets[0]
        header: list[str] | None = None
        chunk: list[dict[str, Any]] = []
        for values in sheet.iter_rows(values_only=True):
            if all(v is None or v == "" for v in values):
                continue
            if header is None:
                header = [str(v).strip() if v is not None else f"column{i + 1}" for i, v in enumerate(values)]
                continue
            chunk.append({name: value for name, value in zip(header, values, strict=False)})
            if len(chunk) >= settings.chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    finally:
        workbook.close()


def _first_lines(exc: Exception, limit: int = 6) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return " | ".join(lines[:limit])

"""How a file integration picks up exports dropped in a folder (CSV, XLSX, JSON Lines, Parquet).

Where: every integration's folder lies inside the drops root (`CROSSDOCK_DROPS_ROOT`, default
`<home>/drops`), once `..` and symbolic links in its path are resolved, and its pattern is a file-name
glob that cannot reach out of it. Both are refused when the integration is saved, and checked again by
every pull: the root or the file system may have changed since (`connectors.files.drops`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, ValidationInfo, field_validator

from pipelines import settings as crossdock_settings
from pipelines.integrations.stored_context import is_stored

FileFormat = Literal["auto", "csv", "xlsx", "jsonl", "parquet"]
DROPS_ROOT_VARIABLE = crossdock_settings.variable("drops_root")


def drops_root() -> Path:
    """The folder file integrations' folders must be in: `CROSSDOCK_DROPS_ROOT`, default `<home>/drops`
    (absolute, symbolic links resolved; not created here)."""
    current = crossdock_settings.current()
    root = current.drops_root if current.drops_root is not None else current.home / "drops"
    return Path(os.path.realpath(root.expanduser()))


def folder_path(folder: str | None, integration_name: str, root: Path | None = None) -> Path:
    """The real path of an integration's folder: `folder` (absolute, `~/…`, or relative to the drops
    root, `root` or else `drops_root()`), default `<drops root>/<integration name>`, with `..` and
    symbolic links resolved. Raises ValueError saying why when that is not a folder inside the drops
    root, or when it holds Crossdock's home (the store and the keys) or lies in it outside its `drops/`
    (possible only with a root that holds the home)."""
    if folder is not None and "\0" in folder:
        raise ValueError("must not contain a NUL character")
    root = root or drops_root()
    chosen = _expand_home(folder.strip()) if folder and folder.strip() else Path(integration_name)
    asked = root / chosen  # an absolute `chosen` replaces the root
    real = Path(os.path.realpath(asked))
    shown = repr(folder) if folder else f"the default folder {asked}"
    resolves = f" (it resolves to {real})" if real != Path(os.path.normpath(asked)) else ""
    if real == root:
        raise ValueError(f"{shown} is the drops root itself{resolves}: give the integration a folder of its own inside it")
    if not real.is_relative_to(root):
        raise ValueError(
            f"{shown} is outside the drops root {root}{resolves}: files are only picked up from folders "
            f"inside it ({DROPS_ROOT_VARIABLE} sets it)"
        )
    home = Path(os.path.realpath(crossdock_settings.current().home.expanduser()))
    if home.is_relative_to(real):
        raise ValueError(f"{shown} holds Crossdock's home {home}{resolves}: its store and keys must never be picked up")
    if home.is_relative_to(root) and real.is_relative_to(home) and not real.is_relative_to(home / "drops"):
        raise ValueError(f"{shown} is inside Crossdock's home {home}{resolves}, outside its drops/ folder")
    return real


def _expand_home(folder: str) -> Path:
    """`folder` with a leading `~` or `~user` expanded; ValueError (not pathlib's RuntimeError, which
    reached the admin API as a 500) when that names no home this machine knows."""
    try:
        return Path(folder).expanduser()
    except RuntimeError:
        user = folder[1:].split("/", 1)[0]
        whose = f"there is no user {user!r}" if user else "this process has no home folder"
        raise ValueError(
            f"{folder!r} starts with '~{user}', but {whose} to expand it to: give a folder relative to the drops root, or an absolute one"
        ) from None


def check_pattern(pattern: str) -> str:
    """`pattern` if it is a glob of file names in the folder (no separator, no `..`); else ValueError."""
    if not pattern or "/" in pattern or "\\" in pattern or ".." in pattern or "\0" in pattern:
        raise ValueError(
            f"{pattern!r} is not a file-name pattern: it matches names inside the integration's folder "
            "(e.g. *.csv) and may not contain '/', '\\' or '..'"
        )
    return pattern


class CsvOptions(BaseModel):
    """Left empty, everything is sniffed: delimiter and header by DuckDB, encoding from the bytes."""

    model_config = ConfigDict(extra="forbid")

    delimiter: str | None = Field(None, min_length=1, max_length=1, description="none = sniffed")
    encoding: str = Field("auto", description="auto (UTF-8, UTF-16 with BOM, else Windows-1252/Latin-1) or a codec name")
    header: StrictBool | None = Field(None, description="none = sniffed")
    all_text: StrictBool = Field(True, description="read every column as text so ids keep leading zeros; the mapping converts types")


class FileSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    folder: str | None = Field(
        None,
        description="watched folder, inside the drops root (CROSSDOCK_DROPS_ROOT, default <home>/drops) once `..` and "
        "symbolic links are resolved; a relative folder is relative to that root; default <drops root>/<integration>",
    )
    pattern: str = Field("*", description="file-name glob of the files to pick up in the folder, e.g. `*.csv` (no `/`, `\\` or `..`)")
    format: FileFormat = Field("auto", description="auto = by extension (.csv .txt .tsv .xlsx .jsonl .ndjson .json .parquet)")
    csv: CsvOptions = Field(default_factory=CsvOptions)
    sheet: str | None = Field(None, description="XLSX sheet to read; none = the first")
    chunk_size: StrictInt = Field(10_000, ge=1, le=200_000, description="records ingested at a time")
    min_age_seconds: StrictFloat = Field(
        2.0, ge=0, le=3_600, description="leave files younger than this alone: the exporter may still be writing"
    )

    @field_validator("folder")
    @classmethod
    def _inside_drops_root(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = value.strip() if value is not None else None
        if not value or is_stored(info):
            return value or None
        folder_path(value, "")
        return value

    @field_validator("pattern")
    @classmethod
    def _file_name_glob(cls, value: str, info: ValidationInfo) -> str:
        return value if is_stored(info) else check_pattern(value)

"""How a file integration picks up exports dropped in a folder (CSV, XLSX, JSON Lines, Parquet)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FileFormat = Literal["auto", "csv", "xlsx", "jsonl", "parquet"]


class CsvOptions(BaseModel):
    """Left empty, everything is sniffed: delimiter and header by DuckDB, encoding from the bytes."""

    model_config = ConfigDict(extra="forbid")

    delimiter: str | None = Field(None, min_length=1, max_length=1, description="none = sniffed")
    encoding: str = Field("auto", description="auto (UTF-8, UTF-16 with BOM, else Windows-1252/Latin-1) or a codec name")
    header: bool | None = Field(None, description="none = sniffed")
    all_text: bool = Field(
        True, description="read every column as text so ids keep leading zeros; the mapping converts types"
    )


class FileSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    folder: str | None = Field(None, description="watched folder; default .crossdock/drops/<integration>")
    pattern: str = Field("*", description="glob of files to pick up")
    format: FileFormat = Field("auto", description="auto = by extension (.csv .txt .tsv .xlsx .jsonl .ndjson .json .parquet)")
    csv: CsvOptions = Field(default_factory=CsvOptions)
    sheet: str | None = Field(None, description="XLSX sheet to read; none = the first")
    chunk_size: int = Field(10_000, ge=1, le=200_000, description="records ingested at a time")
    min_age_seconds: float = Field(
        2.0, ge=0, le=3_600, description="leave files younger than this alone: the exporter may still be writing"
    )

"""How a file integration picks up exports dropped in a folder."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FileSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    folder: str | None = Field(None, description="watched folder; default .crossdock/drops/<integration>")
    pattern: str = Field("*", description="glob of files to pick up")
    format: Literal["auto", "csv", "xlsx", "jsonl", "parquet"] = "auto"

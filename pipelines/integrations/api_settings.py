"""How an API integration polls the client's REST endpoint."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apikey_header: str = Field("X-API-Key", description="header carrying auth_value when auth_type is apikey")
    pagination: Literal["none", "offset", "page", "cursor", "next_url", "link_header"] = "none"
    records_path: str | None = Field(None, description="dot path to the list of records in a page; none = the body")
    page_size: int = Field(100, ge=1, le=10_000)
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    cursor_field: str | None = Field(None, description="record field for incremental sync, e.g. updated_at")
    cursor_param: str | None = Field(None, description="query parameter receiving the last cursor value")

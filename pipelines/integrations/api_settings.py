"""How an API integration polls the client's REST endpoint: pagination, where the records are, the
incremental cursor, the backfill window, and how hard to retry a flaky server.

Defaults fit the Logitrack plan's example as is (one GET, the body is the list of orders), so a client
configured exactly like the seed needs no `api` section at all.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Pagination = Literal["none", "offset", "page", "cursor", "next_url", "link_header"]


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apikey_header: str = Field("X-API-Key", min_length=1, description="header carrying auth_value when auth_type is apikey")
    pagination: Pagination = "none"
    records_path: str | None = Field(None, description="dot path to the list of records in a page; none = the body")
    page_size: int = Field(100, ge=1, le=10_000, description="records asked for per page (offset and page styles)")
    # offset/limit style
    offset_param: str = "offset"
    limit_param: str = "limit"
    # page-number style
    page_param: str = "page"
    page_size_param: str | None = Field("per_page", description="query parameter for the page size; none = not sent")
    first_page: int = Field(1, ge=0, le=1)
    # cursor-in-body style
    next_cursor_path: str = Field("next_cursor", description="dot path to the next page's cursor in the body")
    cursor_request_param: str = Field("cursor", description="query parameter receiving that cursor")
    # next-URL-in-body style
    next_url_path: str = Field("next", description="dot path to the next page's URL in the body")
    max_pages: int = Field(10_000, ge=1, le=1_000_000, description="stop (with a warning) after this many pages")
    # incremental sync
    cursor_field: str | None = Field(None, description="record field for incremental sync, e.g. updated_at")
    cursor_param: str | None = Field(None, description="query parameter receiving the last cursor value")
    cursor_start: str | None = Field(None, description="cursor value for the very first poll (none = everything)")
    # backfill windows (Dagster date partitions, `crossdock pull --since --until`)
    window_start_param: str | None = Field(None, description="query parameter receiving a backfill window's start")
    window_end_param: str | None = Field(None, description="query parameter receiving a backfill window's end (exclusive)")
    window_format: Literal["iso", "date", "unix"] = Field("iso", description="how window bounds are written")
    # resilience
    timeout_seconds: float = Field(30.0, gt=0, le=600, description="longest one request may take, the whole body included")
    max_retries: int = Field(5, ge=0, le=20, description="retries of a page on 5xx, 429, timeouts and connection errors")
    backoff_seconds: float = Field(1.0, ge=0, le=60, description="first retry wait; doubles each retry")
    max_backoff_seconds: float = Field(60.0, ge=0, le=3_600, description="cap of any single wait, Retry-After included")
    ingest_batch_size: int = Field(10_000, ge=100, le=200_000, description="records buffered before each ingest")

    @model_validator(mode="after")
    def _consistent(self) -> ApiSettings:
        if self.cursor_param and not self.cursor_field:
            raise ValueError("cursor_param needs a cursor_field (the record field whose last value is sent)")
        if self.window_end_param and not self.window_start_param:
            raise ValueError("window_end_param needs a window_start_param")
        return self

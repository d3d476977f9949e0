"""Poll one API integration: walk its pages, ingest them in batches, and keep the incremental cursor.

Two modes. Incremental (the schedule): send the last cursor value (`api.cursor_param`), and store the
newest `api.cursor_field` value seen once every page has landed, in the same transaction as the last
batch. Window (a backfill): send the window bounds (`api.window_start_param`/`window_end_param`), keep
only records whose cursor field falls in the window, and leave the incremental cursor alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from connectors.rest.cursor import instant, later
from connectors.rest.http import HttpClient
from connectors.rest.pages import PageWalk
from connectors.rest.paths import MISSING, dig
from connectors.rest.stop import StopReason
from pipelines.integrations.model import ApiIntegration, StoredIntegration
from pipelines.sources import PullError, PullReport, Window, get_state, set_state
from pipelines.sources.landing import land
from pipelines.vocabulary import PullMode

CURSOR_KEY = "cursor"
# Paging that ended here has read all the API will give for this query, so the cursor may move. A
# repeated page counts: the API ignores the paging parameters and serves one page whatever is asked,
# so the only way forward is the cursor (the next poll asks for what follows the newest record read).
# A link loop or the page limit leave pages unread: the cursor stays, and the next poll reads them.
CURSOR_MAY_ADVANCE = frozenset({StopReason.LAST_PAGE, StopReason.PAGE_REPEATED})


def poll_api(
    engine: sa.Engine,
    integration: StoredIntegration,
    *,
    window: Window | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PullReport:
    """Pull what is new (or what falls in `window`) from the integration's API into the store."""
    config = integration.config_as(ApiIntegration)
    api = config.api
    report = PullReport(integration.name, "api", PullMode.of(window), window)
    params: dict[str, Any] = {}
    cursor = None
    if window:
        if not api.window_start_param and not api.cursor_field:
            raise PullError(
                f"{integration.name} cannot re-pull a window: set api.window_start_param/api.window_end_param "
                "(query parameters the API filters by) or api.cursor_field (filtered here)",
                report,
            )
        if api.window_start_param:
            params[api.window_start_param] = window.bound(window.start, api.window_format)
        if api.window_end_param:
            params[api.window_end_param] = window.bound(window.end, api.window_format)
    else:
        cursor = get_state(engine, integration.id, CURSOR_KEY) or api.cursor_start
        report.cursor_before = cursor
        if cursor is not None and api.cursor_param:
            params[api.cursor_param] = cursor

    client = HttpClient(config, sleep=sleep)
    newest = cursor
    outside = 0
    buffer: list[Any] = []
    pages = PageWalk(client, api, config.endpoint, params)
    try:
        for page in pages:
            report.bump("pages")
            records = page.records
            if api.cursor_field:
                if window:
                    kept = [r for r in records if _in_window(r, api.cursor_field, window)]
                    outside += len(records) - len(kept)
                    records = kept
                else:
                    for record in records:
                        value = dig(record, api.cursor_field) if isinstance(record, dict) else MISSING
                        if value is not MISSING:
                            newest = later(newest, value)
            buffer.extend(records)
            if len(buffer) >= api.ingest_batch_size:
                land(engine, integration, buffer, report, details=_details(report, client))
                buffer = []
    except PullError as exc:
        exc.report = report
        raise
    finally:
        report.read.update(requests=client.requests, retries=client.retries)
    if outside:
        report.read["outside_window"] = outside
    assert pages.stop is not None, "a walk that raised nothing has stopped for a reason"
    if warning := pages.warning():
        report.warnings.append(warning)
    complete = pages.stop.reason in CURSOR_MAY_ADVANCE

    def store_cursor(conn: sa.Connection, _result) -> None:
        if not window and complete and newest is not None and newest != cursor:
            set_state(conn, integration.id, CURSOR_KEY, newest)
            report.cursor_after = newest

    if not complete and not window:
        report.warnings.append("cursor kept where it was: the pages were not all read")
    details = {**_details(report, client), "stopped": pages.stop.reason.value}
    land(engine, integration, buffer, report, details=details, on_commit=store_cursor)
    if report.cursor_after is None:
        report.cursor_after = cursor
    return report.finish()


def _details(report: PullReport, client: HttpClient) -> dict[str, Any]:
    return {"pages": report.read.get("pages", 0), "requests": client.requests, "retries": client.retries}


def _in_window(record: Any, field: str, window: Window) -> bool:
    if not isinstance(record, dict):
        return False
    value = dig(record, field)
    moment = None if value is MISSING else instant(value)
    return moment is not None and window.contains(moment)

"""Walking a client API page by page: one loop for every pagination style. It fetches a page, finds its
records, and asks the style's paginator for the next request; it alone guards against servers that
ignore the paging parameters (the same page forever), loop their cursors or links (a request already
made), or never end (`api.max_pages`). When the walk is over, `stop` says why, as a value."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import orjson

from connectors.rest.http import HttpClient, safe_url
from connectors.rest.paginators import Page, PageRequest, Paginator, paginator_for
from connectors.rest.paths import MISSING, dig
from connectors.rest.stop import Stop, StopReason
from pipelines.integrations.api_settings import ApiSettings
from pipelines.sources import PullError


def split_endpoint(endpoint: str) -> tuple[str, dict[str, str]]:
    """`https://x/orders?status=pending` -> (`https://x/orders`, {"status": "pending"})."""
    parts = urlsplit(endpoint)
    return urlunsplit(parts._replace(query="")), dict(parse_qsl(parts.query, keep_blank_values=True))


def records_of(body: Any, records_path: str | None, url: str, number: int) -> list[Any]:
    """The page's records at `records_path`, with a precise complaint when they are not there."""
    found = dig(body, records_path)
    if found is None:
        return []
    if isinstance(found, list):
        return found
    where = f"GET {safe_url(url)} page {number}"
    if found is MISSING:
        raise PullError(f"{where}: no {records_path!r} in the response{_suggest(body)}")
    if records_path is None:
        raise PullError(f"{where}: the response is a JSON object, not a list of records{_suggest(body)}")
    raise PullError(f"{where}: {records_path!r} is not a list of records")


def _suggest(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    lists = [key for key, value in body.items() if isinstance(value, list)]
    return f"; set api.records_path to one of: {', '.join(lists)}" if lists else ""


def _digest(records: list[Any]) -> bytes:
    return hashlib.blake2b(orjson.dumps(records, option=orjson.OPT_NON_STR_KEYS), digest_size=16).digest()


class PageWalk:
    """Iterate once over the pages of `endpoint` (its own query kept, `params` added); afterwards `stop`
    says why the walk ended and `warning()` says it in words. Errors (HTTP, records not where
    `records_path` says) propagate as PullError and leave `stop` None: the walk did not finish."""

    def __init__(
        self,
        client: HttpClient,
        settings: ApiSettings,
        endpoint: str,
        params: dict[str, Any],
        *,
        max_pages: int | None = None,
        paginator: Paginator | None = None,
    ):
        self.client = client
        self.settings = settings
        self.endpoint = endpoint
        self.params = params
        self.max_pages = max_pages or settings.max_pages
        self.paginator = paginator or paginator_for(settings)
        self.stop: Stop | None = None

    def warning(self) -> str | None:
        """What a report should say about how paging ended; None for a walk that ran out of pages."""
        if self.stop is None:
            return None
        return self.stop.warning(self.settings.pagination.style, self.max_pages)

    def __iter__(self) -> Iterator[Page]:
        base_url, endpoint_params = split_endpoint(self.endpoint)
        request: PageRequest | None = self.paginator.first(PageRequest(base_url, {**endpoint_params, **self.params}))
        made: set[str] = set()
        previous: bytes | None = None  # digest of the last page that had records
        number = 0
        while request is not None:
            number += 1
            identity = request.identity()
            if identity in made:
                self.stop = Stop(StopReason.LINK_LOOP, number)
                return
            made.add(identity)
            body, response = self.client.get_json(request.url, request.params)
            page = Page(number, records_of(body, self.settings.records_path, request.url, number), body, request, response)
            digest = None
            if page.records and previous is not None:
                digest = _digest(page.records)
                if digest == previous:
                    self.stop = Stop(StopReason.PAGE_REPEATED, number)
                    return
            request = self.paginator.next(page)
            yield page
            if request is None:
                self.stop = Stop(StopReason.LAST_PAGE, number)
            elif number >= self.max_pages:
                self.stop = Stop(StopReason.MAX_PAGES, number)
                return
            elif page.records:
                previous = digest or _digest(page.records)

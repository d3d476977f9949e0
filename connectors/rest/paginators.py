"""One paginator per pagination style: how the first page is asked for, and what the next request is
given the page just read (or None: that page was the last).

A paginator knows only its style. Fetching, finding the records, and the guards against servers that
repeat a page, loop their links or never end live once in the page walk (connectors/rest/pages.py).

Unlike dlt's paginators, these keep no state between pages: the next request is computed from the page
and the request that fetched it (an offset is the last offset plus the records read). A walk can thus
never see a paginator half-updated, and the walk's loop guard compares the very requests paginators make.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, assert_never
from urllib.parse import urljoin

import requests

from connectors.rest.paths import MISSING, dig
from pipelines.integrations.api_settings import (
    ApiSettings,
    CursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    NoPagination,
    OffsetPagination,
    PagePagination,
)


@dataclass(frozen=True)
class PageRequest:
    """A GET: the URL and its query parameters (requests encodes them)."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)

    def with_params(self, **changes: Any) -> PageRequest:
        return PageRequest(self.url, {**self.params, **changes})

    def identity(self) -> str:
        """The same page asked for twice has the same identity, whatever the order of its parameters."""
        return self.url + "?" + "&".join(f"{k}={v}" for k, v in sorted(self.params.items()))


@dataclass(frozen=True)
class Page:
    """One page as read: its number (from 1), its records, the whole body and response, and the request."""

    number: int
    records: list[Any]
    body: Any
    request: PageRequest
    response: requests.Response


class Paginator(Protocol):
    def first(self, request: PageRequest) -> PageRequest:
        """The first page's request: the endpoint's own, with this style's parameters added."""
        ...

    def next(self, page: Page) -> PageRequest | None:
        """The request for the page after `page`, or None when `page` is the last."""
        ...


class SinglePage:
    """`none`: one GET is everything."""

    def first(self, request: PageRequest) -> PageRequest:
        return request

    def next(self, page: Page) -> PageRequest | None:
        return None


@dataclass(frozen=True)
class OffsetPaginator:
    """`offset`: ask for `page_size` records from an offset; a short page is the last."""

    settings: OffsetPagination
    page_size: int

    def first(self, request: PageRequest) -> PageRequest:
        return request.with_params(**{self.settings.offset_param: 0, self.settings.limit_param: self.page_size})

    def next(self, page: Page) -> PageRequest | None:
        if len(page.records) < self.page_size:
            return None
        offset = page.request.params[self.settings.offset_param] + len(page.records)
        return page.request.with_params(**{self.settings.offset_param: offset})


@dataclass(frozen=True)
class PageNumberPaginator:
    """`page`: ask for page N (of `page_size` when the API takes a size); an empty page is the last, and
    so is a short one when the size was asked for (otherwise the API's own size is unknown)."""

    settings: PagePagination
    page_size: int

    def first(self, request: PageRequest) -> PageRequest:
        params: dict[str, Any] = {self.settings.page_param: self.settings.first_page}
        if self.settings.page_size_param:
            params[self.settings.page_size_param] = self.page_size
        return request.with_params(**params)

    def next(self, page: Page) -> PageRequest | None:
        if not page.records or (self.settings.page_size_param and len(page.records) < self.page_size):
            return None
        return page.request.with_params(**{self.settings.page_param: page.request.params[self.settings.page_param] + 1})


@dataclass(frozen=True)
class CursorPaginator:
    """`cursor`: the body names the next page's cursor; send it back, the rest of the query unchanged."""

    settings: CursorPagination

    def first(self, request: PageRequest) -> PageRequest:
        return request

    def next(self, page: Page) -> PageRequest | None:
        token = dig(page.body, self.settings.next_cursor_path)
        if token is MISSING or token is None or token == "":
            return None
        return page.request.with_params(**{self.settings.cursor_request_param: token})


@dataclass(frozen=True)
class NextUrlPaginator:
    """`next_url`: the body holds the next page's URL, which carries its own query."""

    settings: NextUrlPagination

    def first(self, request: PageRequest) -> PageRequest:
        return request

    def next(self, page: Page) -> PageRequest | None:
        link = dig(page.body, self.settings.next_url_path)
        if link is MISSING or link is None or link == "":
            return None
        return PageRequest(urljoin(page.request.url, str(link)))


class LinkHeaderPaginator:
    """`link_header`: RFC 8288 `Link: <…>; rel="next"`, which carries its own query."""

    def first(self, request: PageRequest) -> PageRequest:
        return request

    def next(self, page: Page) -> PageRequest | None:
        link = page.response.links.get("next", {}).get("url")
        if not link:
            return None
        return PageRequest(urljoin(page.request.url, link))


def paginator_for(api: ApiSettings) -> Paginator:
    """The paginator for the integration's pagination style."""
    style = api.pagination
    if isinstance(style, NoPagination):
        return SinglePage()
    if isinstance(style, OffsetPagination):
        return OffsetPaginator(style, api.page_size)
    if isinstance(style, PagePagination):
        return PageNumberPaginator(style, api.page_size)
    if isinstance(style, CursorPagination):
        return CursorPaginator(style)
    if isinstance(style, NextUrlPagination):
        return NextUrlPaginator(style)
    if isinstance(style, LinkHeaderPagination):
        return LinkHeaderPaginator()
    assert_never(style)

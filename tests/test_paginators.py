"""The page walk against a real loopback API, one pagination style at a time: the requests each
paginator makes, where each style decides it has read the last page, and why a walk stopped
(`StopReason`) when the server misbehaves: a page repeated, a link already followed, the page limit."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.rest.http import HttpClient
from connectors.rest.pages import PageWalk
from connectors.rest.paginators import (
    CursorPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    SinglePage,
    paginator_for,
)
from connectors.rest.stop import StopReason
from pipelines.integrations import parse_integration
from pipelines.integrations.api_settings import ApiSettings
from tests.conftest import load_example
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api


def _walk(base_url: str, api: dict[str, Any], params: dict[str, Any] | None = None, **walk: Any) -> PageWalk:
    document = load_example("api_polling_integration.json")
    document["endpoint"] = f"{base_url}/orders?status=pending"
    document["api"] = api
    config = parse_integration(document)
    return PageWalk(HttpClient(config), config.api, config.endpoint, params or {}, **walk)


def _read(walk: PageWalk) -> list[int]:
    """The number of records on each page walked."""
    return [len(page.records) for page in walk]


STYLES = [
    ("none", {}, SinglePage),
    ("offset", {"pagination": "offset", "records_path": "data"}, OffsetPaginator),
    ("page", {"pagination": "page", "records_path": "data"}, PageNumberPaginator),
    ("cursor", {"pagination": "cursor", "records_path": "orders", "next_cursor_path": "meta.next_cursor"}, CursorPaginator),
    ("next_url", {"pagination": "next_url", "records_path": "results"}, NextUrlPaginator),
    ("link_header", {"pagination": "link_header"}, LinkHeaderPaginator),
]


@pytest.mark.parametrize(("style", "settings", "paginator"), STYLES)
def test_each_style_has_its_own_paginator(style, settings, paginator):
    assert isinstance(paginator_for(ApiSettings.model_validate(settings)), paginator)


@pytest.mark.parametrize(("style", "settings", "_paginator"), STYLES[1:])
def test_each_style_reads_to_its_last_page(style, settings, _paginator):
    api = ClientApi(seed_orders(250), style=style)
    with serve_client_api(api) as url:
        walk = _walk(url, settings)
        assert _read(walk) == [100, 100, 50]
    assert walk.stop is not None and walk.stop.reason is StopReason.LAST_PAGE and walk.stop.page == 3
    assert walk.warning() is None
    assert len(api.requests) == 3
    assert api.requests[0]["query"]["status"] == "pending"  # the endpoint's own query
    if style in ("offset", "page", "cursor"):  # kept on every page; a next link carries its own query
        assert all(r["query"]["status"] == "pending" for r in api.requests)


def test_no_pagination_is_one_request():
    api = ClientApi(seed_orders(250))
    with serve_client_api(api) as url:
        walk = _walk(url, {})
        assert _read(walk) == [250]
    assert walk.stop.reason is StopReason.LAST_PAGE and walk.warning() is None
    assert api.requests == [{"path": "/orders", "query": {"status": "pending"}}]


def test_offset_sends_offset_and_limit_and_stops_on_a_short_page():
    api = ClientApi(seed_orders(120), style="offset")
    with serve_client_api(api) as url:
        walk = _walk(url, {"pagination": "offset", "records_path": "data", "page_size": 50})
        assert _read(walk) == [50, 50, 20]
    assert [(r["query"]["offset"], r["query"]["limit"]) for r in api.requests] == [("0", "50"), ("50", "50"), ("100", "50")]


def test_offset_stops_on_an_empty_page_after_a_full_one():
    api = ClientApi(seed_orders(100), style="offset")
    with serve_client_api(api) as url:
        walk = _walk(url, {"pagination": "offset", "records_path": "data"})
        assert _read(walk) == [100, 0]
    assert walk.stop.reason is StopReason.LAST_PAGE


def test_offset_parameters_go_by_the_configured_names():
    """This server only knows `offset`/`limit`, so it answers `skip`/`take` with its first page again:
    the repeat guard ends the walk instead of reading that page forever."""
    api = ClientApi(seed_orders(300), style="offset")
    with serve_client_api(api) as url:
        walk = _walk(url, {"pagination": {"style": "offset", "offset_param": "skip", "limit_param": "take"}, "records_path": "data"})
        assert _read(walk) == [100]
    assert [(r["query"]["skip"], r["query"]["take"]) for r in api.requests] == [("0", "100"), ("100", "100")]
    assert walk.stop.reason is StopReason.PAGE_REPEATED


def test_page_numbers_start_at_first_page_and_send_the_size():
    api = ClientApi(seed_orders(120), style="page")
    with serve_client_api(api) as url:
        walk = _walk(url, {"pagination": "page", "records_path": "data", "page_size": 50})
        assert _read(walk) == [50, 50, 20]
    assert [(r["query"]["page"], r["query"]["per_page"]) for r in api.requests] == [("1", "50"), ("2", "50"), ("3", "50")]


def test_page_numbers_without_a_size_parameter_read_until_an_empty_page():
    """The API's own page size is unknown, so a short page proves nothing: only an empty one ends it."""
    api = ClientApi(seed_orders(250), style="page")
    with serve_client_api(api) as url:
        walk = _walk(url, {"pagination": "page", "records_path": "data", "page_size_param": None, "page_size": 30})
        assert _read(walk) == [100, 100, 50, 0]
    assert all("per_page" not in r["query"] for r in api.requests)
    assert walk.stop.reason is StopReason.LAST_PAGE


def test_cursor_is_sent_back_with_the_rest_of_the_query():
    api = ClientApi(seed_orders(150), style="cursor")
    with serve_client_api(api) as url:
        walk = _walk(
            url,
            {
                "pagination": "cursor",
                "records_path": "orders",
                "next_cursor_path": "meta.next_cursor",
                "cursor_field": "updated_at",
                "cursor_param": "updated_since",
            },
            params={"updated_since": "2024-01-15T08:00:00Z"},
        )
        assert _read(walk) == [100, 50]
    assert "cursor" not in api.requests[0]["query"] and "cursor" in api.requests[1]["query"]
    assert all(r["query"]["updated_since"] == "2024-01-15T08:00:00Z" for r in api.requests)


def test_a_server_that_ignores_paging_stops_on_the_repeated_page():
    api = ClientApi(seed_orders(300), style="offset", ignore_paging=True)
    with serve_client_api(api) as url:
        walk = _walk(url, {"pagination": "offset", "records_path": "data"})
        assert _read(walk) == [100]  # the repeat is never handed on
    assert walk.stop.reason is StopReason.PAGE_REPEATED and walk.stop.page == 2
    assert walk.warning() == ("stopped at page 2: same records as page 1 (does the API ignore the offset pagination parameters?)")
    assert len(api.requests) == 2


def test_a_cursor_pointing_back_stops_as_a_link_loop_before_asking_again():
    api = ClientApi(seed_orders(300), style="cursor", loop_cursor=True)
    with serve_client_api(api) as url:
        walk = _walk(url, {"pagination": "cursor", "records_path": "orders", "next_cursor_path": "meta.next_cursor"})
        assert _read(walk) == [100, 100]
    assert walk.stop.reason is StopReason.LINK_LOOP and walk.stop.page == 3
    assert walk.warning() == "stopped at page 3: the server sent back a page link already followed"
    assert len(api.requests) == 2


def test_max_pages_stops_a_walk_with_pages_to_go():
    api = ClientApi(seed_orders(250), style="link_header")
    with serve_client_api(api) as url:
        walk = _walk(url, {"pagination": "link_header", "max_pages": 2})
        assert _read(walk) == [100, 100]
    assert walk.stop.reason is StopReason.MAX_PAGES and walk.stop.page == 2
    assert walk.warning() == "stopped after api.max_pages = 2 pages; the rest waits for the next poll"
    assert len(api.requests) == 2


def test_the_last_page_at_max_pages_is_a_clean_end():
    api = ClientApi(seed_orders(200), style="next_url")
    with serve_client_api(api) as url:
        walk = _walk(url, {"pagination": "next_url", "records_path": "results", "max_pages": 2})
        assert _read(walk) == [100, 100]
    assert walk.stop.reason is StopReason.LAST_PAGE and walk.warning() is None


def test_a_walk_limited_to_one_page_knows_whether_more_were_there():
    """What the connection test relies on to say "only the first page was fetched" only when true."""
    for count, reason in ((250, StopReason.MAX_PAGES), (40, StopReason.LAST_PAGE)):
        api = ClientApi(seed_orders(count), style="page")
        with serve_client_api(api) as url:
            walk = _walk(url, {"pagination": "page", "records_path": "data"}, max_pages=1)
            assert _read(walk) == [min(count, 100)]
        assert walk.stop.reason is reason and len(api.requests) == 1

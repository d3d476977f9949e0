"""Walking a client API page by page, in each pagination style the integration can name, with a guard
against servers that ignore the paging parameters (the same page forever) or loop their cursors."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import orjson

from connectors.rest.http import HttpClient, safe_url
from pipelines.integrations.api_settings import ApiSettings
from pipelines.sources import PullError

_MISSING = object()


@dataclass
class Page:
    number: int
    records: list[Any]


def split_endpoint(endpoint: str) -> tuple[str, dict[str, str]]:
    """`https://x/orders?status=pending` -> (`https://x/orders`, {"status": "pending"})."""
    parts = urlsplit(endpoint)
    return urlunsplit(parts._replace(query="")), dict(parse_qsl(parts.query, keep_blank_values=True))


def dig(body: Any, path: str | None) -> Any:
    """The value at a dot path (`data.orders`), or _MISSING."""
    if not path:
        return body
    node = body
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def records_of(body: Any, settings: ApiSettings, url: str, number: int) -> list[Any]:
    """The page's records at `records_path`, with a precise complaint when they are not there."""
    found = dig(body, settings.records_path)
    if found is None:
        return []
    if isinstance(found, list):
        return found
    where = f"GET {safe_url(url)} page {number}"
    if found is _MISSING:
        raise PullError(f"{where}: no {settings.records_path!r} in the response{_suggest(body)}")
    if settings.records_path is None:
        raise PullError(f"{where}: the response is a JSON object, not a list of records{_suggest(body)}")
    raise PullError(f"{where}: {settings.records_path!r} is not a list of records")


def _suggest(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    lists = [key for key, value in body.items() if isinstance(value, list)]
    return f"; set api.records_path to one of: {', '.join(lists)}" if lists else ""


def iter_pages(
    client: HttpClient, settings: ApiSettings, endpoint: str, params: dict[str, Any], warnings: list[str]
) -> Iterator[Page]:
    """Yield pages until the style's end condition; append a warning (and stop) when a page repeats
    or `max_pages` is reached, so a misbehaving server cannot keep a poll running forever."""
    base_url, endpoint_params = split_endpoint(endpoint)
    query: dict[str, Any] = {**endpoint_params, **params}
    style = settings.pagination
    url: str | None = base_url
    offset, page_no = 0, settings.first_page
    seen_requests: set[str] = set()
    previous_digest: str | None = None
    for number in range(1, settings.max_pages + 1):
        if style == "offset":
            query.update({settings.offset_param: offset, settings.limit_param: settings.page_size})
        elif style == "page":
            query[settings.page_param] = page_no
            if settings.page_size_param:
                query[settings.page_size_param] = settings.page_size
        request_id = url + "?" + "&".join(f"{k}={v}" for k, v in sorted(query.items()))
        if request_id in seen_requests:
            warnings.append(f"stopped at page {number}: the server sent back a page link already followed")
            return
        seen_requests.add(request_id)
        body, response = client.get_json(url, query)
        records = records_of(body, settings, url, number)
        if records and style != "none":
            digest = hashlib.blake2b(orjson.dumps(records, option=orjson.OPT_NON_STR_KEYS), digest_size=16).hexdigest()
            if digest == previous_digest:
                warnings.append(
                    f"stopped at page {number}: same records as page {number - 1} (does the API ignore the "
                    f"{style} pagination parameters?)"
                )
                return
            previous_digest = digest
        yield Page(number, records)
        if style == "none" or not records and style in ("offset", "page"):
            return
        if style == "offset":
            if len(records) < settings.page_size:
                return
            offset += len(records)
        elif style == "page":
            if settings.page_size_param and len(records) < settings.page_size:
                return
            page_no += 1
        elif style == "cursor":
            token = dig(body, settings.next_cursor_path)
            if token in (None, "", _MISSING):
                return
            query[settings.cursor_request_param] = token
        elif style == "next_url":
            link = dig(body, settings.next_url_path)
            if link in (None, "", _MISSING):
                return
            url, query = urljoin(url, str(link)), {}
        elif style == "link_header":
            link = response.links.get("next", {}).get("url")
            if not link:
                return
            url, query = urljoin(url, link), {}
    warnings.append(f"stopped after api.max_pages = {settings.max_pages} pages; the rest waits for the next poll")

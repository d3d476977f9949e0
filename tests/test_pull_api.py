"""REST polling against a real loopback server: the seed's configuration, every pagination style,
auth, retries (429 + Retry-After, 500s, a timeout) with an injected sleeper, the repeat guard, the
incremental cursor and whether it moves for each reason paging stopped. Runs on SQLite and PostgreSQL
stores."""

from __future__ import annotations

from datetime import UTC

import pytest
import sqlalchemy as sa

from connectors.rest import poll_api
from pipelines.integrations import create_integration, get_integration, parse_integration
from pipelines.sources import PullError, Window, get_state
from pipelines.store.schema import orders, sync_runs
from tests.conftest import load_example
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api

SEED_MAPPING = load_example("api_polling_integration.json")["field_mapping"]


def _integration(engine, base_url: str, name: str = "ClienteXYZ", **changes):
    """The seed's API integration JSON, as is, pointed at the loopback server."""
    document = load_example("api_polling_integration.json")
    document["endpoint"] = f"{base_url}/orders?status=pending"
    document["name"] = name
    document.update(changes)
    return create_integration(engine, parse_integration(document))


def _count(engine, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(orders).where(*where)).scalar_one()


class Sleeper:
    """Records the waits the poller asks for instead of waiting them."""

    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_seed_configuration_pulls_then_an_unchanged_poll_creates_nothing(store):
    api = ClientApi(seed_orders(25))
    with serve_client_api(api) as url:
        integration = _integration(store, url)
        first = poll_api(store, integration)
        second = poll_api(store, integration)
    assert first.counts["created"] == 25 and first.counts["errors"] == 0
    assert second.counts["created"] == 0 and second.counts["unchanged"] == 25
    assert api.requests[0]["query"] == {"status": "pending"}  # the endpoint's own query is kept
    with store.connect() as conn:
        row = conn.execute(sa.select(orders).where(orders.c.external_id == "ORD-00003")).one()
    assert (row.client_name, row.address, row.latitude, row.longitude) == (
        "Cliente 3",
        "Zona 3, Guatemala Ciudad",
        14.59,
        -90.52,
    )


@pytest.mark.parametrize(
    ("style", "settings"),
    [
        ("offset", {"pagination": "offset", "records_path": "data"}),
        ("page", {"pagination": "page", "records_path": "data"}),
        ("cursor", {"pagination": "cursor", "records_path": "orders", "next_cursor_path": "meta.next_cursor"}),
        ("next_url", {"pagination": "next_url", "records_path": "results"}),
        ("link_header", {"pagination": "link_header"}),
    ],
)
def test_every_pagination_style_reads_every_page(sqlite_store, style, settings):
    api = ClientApi(seed_orders(250), style=style)
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url, api=settings)
        report = poll_api(sqlite_store, integration)
    assert report.counts["created"] == 250
    assert report.read["pages"] == 3  # 100 + 100 + 50: a short page is the last
    assert _count(sqlite_store) == 250
    assert not report.warnings


def test_auth_styles_reach_the_api(sqlite_store):
    cases = [
        (("X-Client-Key", "k-123"), {"auth_type": "apikey", "auth_value": "k-123", "api": {"apikey_header": "X-Client-Key"}}),
        (("basic", "logitrack:s3cret"), {"auth_type": "basic", "auth_value": "logitrack:s3cret"}),
    ]
    for number, (server_auth, changes) in enumerate(cases):
        api = ClientApi(seed_orders(3), auth=server_auth)
        with serve_client_api(api) as url:
            integration = _integration(sqlite_store, url, name=f"auth{number}", **changes)
            assert poll_api(sqlite_store, integration).counts["created"] == 3


def test_refused_credentials_fail_with_a_clear_message_and_a_failed_run_is_visible(sqlite_store):
    api = ClientApi(seed_orders(3), auth=("bearer", "another-token"))
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url)
        with pytest.raises(PullError) as caught:
            poll_api(sqlite_store, integration)
    message = str(caught.value)
    assert "HTTP 401" in message and "refused the credentials" in message
    assert "sk_live_xxxxx" not in message


def test_429_with_retry_after_then_500s_are_retried_with_the_asked_waits(sqlite_store):
    api = ClientApi(seed_orders(5), faults=[(429, {"Retry-After": "7"}), 500, 502])
    sleeper = Sleeper()
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url, api={"backoff_seconds": 0.5})
        report = poll_api(sqlite_store, integration, sleep=sleeper)
    assert sleeper.waits == [7.0, 1.0, 2.0]  # Retry-After honoured, then exponential backoff (0.5 * 2^n)
    assert report.read["retries"] == 3 and report.read["requests"] == 4
    assert report.counts["created"] == 5


def test_retry_after_longer_than_allowed_gives_up_until_the_next_poll(sqlite_store):
    api = ClientApi(seed_orders(5), faults=[(503, {"Retry-After": "3600"})])
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url)
        with pytest.raises(PullError, match="retry after 3600 s"):
            poll_api(sqlite_store, integration, sleep=Sleeper())


@pytest.mark.parametrize("fault", ["slow", "drip"])
def test_a_timeout_is_retried(sqlite_store, fault):
    """`slow` answers after the timeout; `drip` answers at once but sends its body a byte at a time,
    each byte well within the timeout, the whole not: the timeout bounds the response, not each
    socket read, so a dripping server cannot hold a poll."""
    api = ClientApi(seed_orders(4), faults=[fault])
    sleeper = Sleeper()
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url, api={"timeout_seconds": 0.3})
        report = poll_api(sqlite_store, integration, sleep=sleeper)
    assert report.read["retries"] == 1 and len(sleeper.waits) == 1
    assert report.counts["created"] == 4


def test_persistent_500s_give_up_after_max_retries_and_keep_the_cursor(sqlite_store):
    api = ClientApi(seed_orders(5), faults=[500] * 3)
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url, api={"max_retries": 2, "cursor_field": "updated_at", "cursor_param": "updated_since"})
        with pytest.raises(PullError, match="HTTP 500; gave up after 2 retries"):
            poll_api(sqlite_store, integration, sleep=Sleeper())
    assert get_state(sqlite_store, integration.id, "cursor") is None


def test_connection_refused_is_explained(sqlite_store):
    with serve_client_api(ClientApi([])) as url:
        pass  # the server is gone: its port refuses connections
    integration = _integration(sqlite_store, url, api={"max_retries": 1})
    with pytest.raises(PullError, match="connection failed"):
        poll_api(sqlite_store, integration, sleep=Sleeper())


def test_a_server_that_ignores_paging_is_stopped_by_the_repeat_guard(sqlite_store):
    api = ClientApi(seed_orders(300), style="page", ignore_paging=True)
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url, api={"pagination": "page", "records_path": "data"})
        report = poll_api(sqlite_store, integration)
    assert report.read["pages"] == 1 and len(api.requests) == 2
    assert "same records as page 1" in report.warnings[0]
    assert report.counts["created"] == 100


def test_a_looping_cursor_is_stopped(sqlite_store):
    api = ClientApi(seed_orders(150), style="cursor", loop_cursor=True)
    with serve_client_api(api) as url:
        integration = _integration(
            sqlite_store, url, api={"pagination": "cursor", "records_path": "orders", "next_cursor_path": "meta.next_cursor"}
        )
        report = poll_api(sqlite_store, integration)
    assert any("already followed" in w for w in report.warnings)
    assert report.read["pages"] == 2


INCREMENTAL = {"pagination": "page", "records_path": "data", "cursor_field": "updated_at", "cursor_param": "updated_since"}


def _stopped(engine) -> str:
    """Why paging stopped, as the last sync run of the poll recorded it."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sync_runs.c.details).order_by(sync_runs.c.id.desc()).limit(1)).scalar_one()["stopped"]


def test_the_cursor_advances_after_a_clean_last_page(sqlite_store):
    api = ClientApi(seed_orders(250), style="page")
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url, api=INCREMENTAL)
        report = poll_api(sqlite_store, integration)
    assert _stopped(sqlite_store) == "last_page" and report.warnings == []
    assert report.cursor_after == api.orders[-1]["updated_at"] == get_state(sqlite_store, integration.id, "cursor")


def test_the_cursor_stays_when_max_pages_stopped_the_poll(sqlite_store):
    api = ClientApi(seed_orders(250), style="page")
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url, api={**INCREMENTAL, "max_pages": 2})
        report = poll_api(sqlite_store, integration)
    assert _stopped(sqlite_store) == "max_pages"
    assert report.counts["created"] == 200  # what was read landed...
    assert get_state(sqlite_store, integration.id, "cursor") is None and report.cursor_after is None  # ...the cursor stayed
    assert report.warnings == [
        "stopped after api.max_pages = 2 pages; the rest waits for the next poll",
        "cursor kept where it was: the pages were not all read",
    ]


def test_the_cursor_stays_when_a_link_loop_stopped_the_poll(sqlite_store):
    api = ClientApi(seed_orders(250), style="cursor", loop_cursor=True)
    settings = {**INCREMENTAL, "pagination": "cursor", "records_path": "orders", "next_cursor_path": "meta.next_cursor"}
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url, api=settings)
        report = poll_api(sqlite_store, integration)
    assert _stopped(sqlite_store) == "link_loop" and report.read["pages"] == 2
    assert get_state(sqlite_store, integration.id, "cursor") is None
    assert report.warnings[-1] == "cursor kept where it was: the pages were not all read"


def test_a_repeated_page_moves_the_cursor_so_the_next_poll_gets_further(sqlite_store):
    """An API that ignores the paging parameters serves one page whatever is asked: everything this
    query will give was read, and only a moved cursor lets the next poll ask for what follows."""
    api = ClientApi(seed_orders(150), style="page", ignore_paging=True)
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url, api=INCREMENTAL)
        first = poll_api(sqlite_store, integration)
        assert _stopped(sqlite_store) == "page_repeated"
        assert first.cursor_after == api.orders[99]["updated_at"] == get_state(sqlite_store, integration.id, "cursor")
        assert "cursor kept where it was: the pages were not all read" not in first.warnings
        second = poll_api(sqlite_store, integration)
    assert (second.counts["created"], second.counts["unchanged"]) == (50, 1)  # the boundary order comes back
    assert _stopped(sqlite_store) == "last_page" and second.cursor_after == api.orders[-1]["updated_at"]


def test_records_path_mistakes_are_explained(sqlite_store):
    api = ClientApi(seed_orders(3), style="page")
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url)  # no records_path, but the body is {"data": [...]}
        with pytest.raises(PullError, match="set api.records_path to one of: data"):
            poll_api(sqlite_store, integration)


def test_incremental_cursor_resumes_from_the_newest_updated_at(store):
    api = ClientApi(seed_orders(10), style="page")
    settings = {"pagination": "page", "records_path": "data", "cursor_field": "updated_at", "cursor_param": "updated_since"}
    with serve_client_api(api) as url:
        integration = _integration(store, url, api=settings)
        first = poll_api(store, integration)
        newest = api.orders[-1]["updated_at"]
        assert first.cursor_after == newest == get_state(store, integration.id, "cursor")
        api.orders.extend(seed_orders(13)[10:])  # three new orders, later updated_at
        second = poll_api(store, get_integration(store, "ClienteXYZ"))
    assert api.requests[-1]["query"]["updated_since"] == newest
    assert (second.counts["created"], second.counts["unchanged"]) == (3, 1)  # the boundary order comes back
    assert second.cursor_after == api.orders[-1]["updated_at"]


def test_a_failed_page_leaves_the_cursor_so_nothing_is_skipped(sqlite_store):
    api = ClientApi(seed_orders(250), style="page")
    settings = {
        "pagination": "page",
        "records_path": "data",
        "cursor_field": "updated_at",
        "cursor_param": "updated_since",
        "max_retries": 0,
        "ingest_batch_size": 100,
    }
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url, api=settings)
        api.faults = [None, None, 500]  # pages 1 and 2 answer, page 3 fails
        with pytest.raises(PullError):
            poll_api(sqlite_store, integration)
        assert _count(sqlite_store) == 200  # what was read landed...
        assert get_state(sqlite_store, integration.id, "cursor") is None  # ...but the cursor did not move
        again = poll_api(sqlite_store, integration)
    assert (again.counts["created"], again.counts["unchanged"]) == (50, 200)


def test_window_mode_sends_the_bounds_and_keeps_only_that_day(sqlite_store):
    api = ClientApi(seed_orders(96, step=__import__("datetime").timedelta(hours=1)), style="page")
    settings = {
        "pagination": "page",
        "records_path": "data",
        "cursor_field": "updated_at",
        "cursor_param": "updated_since",
        "window_start_param": "updated_since",
        "window_end_param": "updated_until",
    }
    with serve_client_api(api) as url:
        integration = _integration(sqlite_store, url, api=settings)
        report = poll_api(sqlite_store, integration, window=Window.day("2024-01-16"))
    assert api.requests[0]["query"]["updated_since"] == "2024-01-16T00:00:00Z"
    assert api.requests[0]["query"]["updated_until"] == "2024-01-17T00:00:00Z"
    assert report.counts["created"] == 24 and report.mode == "window"
    assert get_state(sqlite_store, integration.id, "cursor") is None  # a backfill never moves the cursor
    with sqlite_store.connect() as conn:
        details = conn.execute(sa.select(sync_runs.c.details)).scalar_one()
    assert details["window"] == {"start": "2024-01-16T00:00:00Z", "end": "2024-01-17T00:00:00Z"}


def test_retry_after_as_seconds_or_an_http_date():
    from datetime import datetime

    from connectors.retry_after import retry_after_seconds

    now = datetime(2024, 1, 15, 15, 30, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Mon, 15 Jan 2024 15:32:30 GMT", now) == 150.0
    assert retry_after_seconds("Mon, 15 Jan 2024 15:00:00 GMT", now) == 0.0  # already past: retry now
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None

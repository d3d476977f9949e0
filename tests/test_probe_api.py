"""Testing an api integration's connection against a real loopback API: the first page only, as the
first poll would ask for it, with the first record mapped; refused credentials, server errors, a
timeout, a wrong records path and a closed port each reported with the reason, never a secret."""

from __future__ import annotations

import socket

from connectors.rest.probe import probe_api
from pipelines.integrations import Integration, parse_integration
from tests.conftest import load_example
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api


def _config(base_url: str, **changes) -> Integration:
    """The seed's API integration JSON, pointed at the loopback server; not saved anywhere."""
    document = load_example("api_polling_integration.json")
    document["endpoint"] = f"{base_url}/orders?status=pending"
    document.update(changes)
    return parse_integration(document)


def test_the_seed_api_answers_with_records_that_would_land():
    api = ClientApi(seed_orders(25))
    with serve_client_api(api) as url:
        probe = probe_api(_config(url))
    assert (probe.ok, probe.reachable, probe.status, probe.error) == (True, True, "HTTP 200 OK", None)
    assert probe.source == f"GET {url}/orders"
    assert probe.records == 25 and probe.first == seed_orders(25)[0]
    assert probe.verdict.ok and probe.verdict.mapped == {
        "external_id": "ORD-00000",
        "client_name": "Cliente 0",
        "address": "Zona 0, Guatemala Ciudad",
        "latitude": 14.59,
        "longitude": -90.52,
    }
    assert api.requests == [{"path": "/orders", "query": {"status": "pending"}}]


def test_only_the_first_page_is_fetched_with_the_pagination_parameters():
    api = ClientApi(seed_orders(250), style="offset")
    with serve_client_api(api) as url:
        probe = probe_api(
            _config(
                url,
                api={
                    "pagination": "offset",
                    "records_path": "data",
                    "page_size": 50,
                    "cursor_field": "updated_at",
                    "cursor_param": "updated_since",
                    "cursor_start": "2024-01-15T10:00:00Z",
                },
            )
        )
    assert probe.ok and probe.records == 50
    assert api.requests == [
        {"path": "/orders", "query": {"status": "pending", "offset": "0", "limit": "50", "updated_since": "2024-01-15T10:00:00Z"}}
    ]
    assert probe.first["order_number"] == "ORD-00004"  # the first poll starts at cursor_start
    assert "only the first page was fetched (offset pagination)" in probe.notes


def test_a_paged_api_with_a_single_page_is_not_said_to_have_more():
    api = ClientApi(seed_orders(30), style="cursor")
    with serve_client_api(api) as url:
        probe = probe_api(_config(url, api={"pagination": "cursor", "records_path": "orders", "next_cursor_path": "meta.next_cursor"}))
    assert probe.ok and probe.records == 30 and len(api.requests) == 1
    assert not any("only the first page" in note for note in probe.notes)


def test_the_first_page_is_asked_for_as_the_nested_pagination_says():
    api = ClientApi(seed_orders(250), style="page")
    with serve_client_api(api) as url:
        probe = probe_api(_config(url, api={"pagination": {"style": "page", "first_page": 1}, "page_size": 20, "records_path": "data"}))
    assert probe.ok and probe.records == 20
    assert api.requests == [{"path": "/orders", "query": {"status": "pending", "page": "1", "per_page": "20"}}]
    assert "only the first page was fetched (page pagination)" in probe.notes


def test_refused_credentials_are_reported_without_the_secret():
    with serve_client_api(ClientApi(seed_orders(3))) as url:
        probe = probe_api(_config(url, auth_value="sk_live_wrong_key_123"))
    assert (probe.ok, probe.reachable, probe.status) == (False, True, "HTTP 401 Unauthorized")
    assert probe.error == (
        f"GET {url}/orders: HTTP 401 Unauthorized: the client API refused the credentials (auth_type bearer); check auth_value"
    )
    assert "sk_live_wrong" not in repr(probe)


def test_a_server_error_is_reported_once_instead_of_retried():
    api = ClientApi(seed_orders(3), faults=[500])
    with serve_client_api(api) as url:
        probe = probe_api(_config(url))
    assert (probe.ok, probe.reachable, probe.status) == (False, True, "HTTP 500 Internal Server Error")
    assert probe.error == f"GET {url}/orders: HTTP 500 (a poll retries this up to 5 times before giving up)"
    assert len(api.requests) == 1


def test_no_answer_within_the_timeout():
    api = ClientApi(seed_orders(3), faults=["slow"])
    with serve_client_api(api) as url:
        probe = probe_api(_config(url), timeout=0.3)
    assert (probe.ok, probe.reachable, probe.status) == (False, False, None)
    assert probe.error == f"GET {url}/orders: no complete answer within 0.3 s (a poll retries this up to 5 times before giving up)"


def test_a_wrong_records_path_names_the_lists_there_are():
    with serve_client_api(ClientApi(seed_orders(3), style="page")) as url:
        probe = probe_api(_config(url, api={"pagination": "page", "records_path": "orders"}))
    assert (probe.ok, probe.reachable, probe.status) == (False, True, "HTTP 200 OK")
    assert probe.error == f"GET {url}/orders page 1: no 'orders' in the response; set api.records_path to one of: data"


def test_a_closed_port_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        probe = probe_api(_config(f"http://127.0.0.1:{port}"))
    assert (probe.ok, probe.reachable) == (False, False)
    assert probe.error.startswith(f"GET http://127.0.0.1:{port}/orders: connection failed (connection refused)")


def test_a_record_the_mapping_cannot_land_shows_why():
    orders = seed_orders(2)
    del orders[0]["customer"]
    with serve_client_api(ClientApi(orders)) as url:
        probe = probe_api(_config(url))
    assert probe.ok and not probe.verdict.ok
    assert probe.verdict.reasons == [{"field": "client_name", "message": "required field is missing (customer.name gave no value)"}]


def test_an_api_that_wants_credentials_when_none_are_configured_says_so():
    with serve_client_api(ClientApi(seed_orders(3))) as url:
        probe = probe_api(_config(url, auth_type="none", auth_value=None))
    assert probe.error == f"GET {url}/orders: HTTP 401 Unauthorized: the client API wants credentials; set auth_type and auth_value"

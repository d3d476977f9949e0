"""What the API fuzz (tests/test_api_fuzz.py) found, one plain test each: values the store cannot hold are
the caller's 4xx, never a 500; every error is the documented JSON body; the OpenAPI documents every status
the receiver answers."""

from __future__ import annotations

import pytest
import requests

from connectors.receiver.app import create_app
from pipelines import settings
from pipelines.paging import encode_cursor
from tests.receiver_helpers import integration, running

HUGE = [2**63, 2**64, 0]  # past SQLite's INTEGER, past 64 bits, below the first id
ID_ROUTES = [
    ("POST", "/inbox/{id}/replay"),
    ("POST", "/orders/{id}/status"),
    ("GET", "/orders/{id}/callbacks"),
    ("POST", "/callbacks/{id}/replay"),
]
LISTS = ["/integrations", "/orders", "/customers", "/callbacks", "/inbox", "/audit"]


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token()}"}


def test_path_ids_the_store_cannot_hold_are_422(sqlite_store, admin):
    with running(sqlite_store) as url:
        answers = {
            (method, path, number): requests.request(
                method, url + path.format(id=number), headers=admin, json={"status": "assigned"}, timeout=30
            )
            for method, path in ID_ROUTES
            for number in HUGE
        }
    for (method, path, number), answer in answers.items():
        assert answer.status_code == 422, (method, path, number, answer.status_code, answer.text)
        body = answer.json()
        fields = [issue["field"] for issue in body["errors"]]
        assert any(field.startswith("path.") for field in fields), (path, body)


@pytest.mark.parametrize("number", [2**63, 2**70])
def test_config_integers_past_64_bits_are_422_on_create_and_patch(sqlite_store, admin, number):
    integration(sqlite_store, "existing")
    config = {
        "name": "big",
        "type": "webhook",
        "auth_type": "apikey",
        "auth_value": "secreto_compartido",
        "callbacks": {"retry_schedule_seconds": [number]},
    }
    with running(sqlite_store) as url:
        created = requests.post(f"{url}/integrations", headers=admin, json=config, timeout=30)
        patched = requests.patch(
            f"{url}/integrations/existing", headers=admin, timeout=30, json={"callbacks": {"retry_schedule_seconds": [number]}}
        )
        listed = requests.get(f"{url}/integrations", headers=admin, timeout=30)
    for answer in (created, patched):
        assert answer.status_code == 422, answer.text
        assert any("retry_schedule_seconds" in issue["field"] for issue in answer.json()["errors"]), answer.json()
    assert [row["name"] for row in listed.json()] == ["existing"]


@pytest.mark.parametrize("path", LISTS)
def test_a_cursor_past_the_store_s_ids_is_400(sqlite_store, admin, path):
    with running(sqlite_store) as url:
        answer = requests.get(f"{url}{path}", headers=admin, params={"cursor": encode_cursor(2**64)}, timeout=30)
    assert answer.status_code == 400, answer.text
    assert "is not one this list gave out" in answer.json()["detail"]


def test_a_number_is_not_a_date_time(sqlite_store, admin):
    integration(sqlite_store)
    with running(sqlite_store) as url:
        since = requests.post(f"{url}/integrations/cliente_abc/callbacks/replay", params={"since": "12345"}, headers=admin, timeout=30)
        eta = requests.post(f"{url}/orders/1/status", json={"status": "in_route", "eta": 1700000000}, headers=admin, timeout=30)
    for answer in (since, eta):
        assert answer.status_code == 422, answer.text
        assert "ISO 8601" in answer.json()["errors"][0]["message"]


def test_a_trailing_slash_is_a_json_404_not_an_empty_redirect(sqlite_store, admin):
    with running(sqlite_store) as url:
        answer = requests.get(f"{url}/integrations/", headers=admin, allow_redirects=False, timeout=30)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"detail": "Not Found"}


def test_405_allows_every_method_of_the_path(sqlite_store, admin):
    with running(sqlite_store) as url:
        answer = requests.put(f"{url}/integrations", headers=admin, timeout=30)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD, POST"
    assert answer.json() == {"detail": "Method Not Allowed"}


def test_every_error_the_openapi_documents_is_the_error_body():
    spec = create_app().openapi()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            assert "400" in answers, (method, path)  # a request the server cannot parse, on any path
            if operation.get("security"):
                assert {"401", "422", "503"} <= answers.keys(), (method, path)
            for code, answer in answers.items():
                if code.startswith("4") and not (path.startswith(("/webhook", "/v1/webhooks", "/staging/")) and code == "422"):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)


def test_lists_document_their_cursor_400():
    spec = create_app().openapi()
    for path in LISTS:
        assert "not one this list gave out" in spec["paths"][path]["get"]["responses"]["400"]["description"]

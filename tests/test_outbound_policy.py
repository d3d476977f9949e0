"""The outbound policy (docs/how-to/operator/outbound-and-drops.md), against real loopback servers: what a URL may name when it is
saved (admin API answers 422), what an address reached at connect time may be (polls, their pages and
redirects, Test connection, callbacks), credentials kept to the endpoint's origin, header names, and
what of a response is read back into messages.

The test session allows loopback (tests/conftest.py); each test that needs the policy closed sets
CROSSDOCK_OUTBOUND_ALLOW itself.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import pytest
import requests
from pydantic import ValidationError

from connectors.callback_sender import CallbackSender
from connectors.outbound import OutboundRefused, guarded_session
from connectors.rest import poll_api
from connectors.rest.probe import probe_api
from pipelines import settings
from pipelines.callbacks import order_callbacks
from pipelines.errors import validation_issues
from pipelines.integrations import create_integration, get_integration, list_integrations, parse_integration
from pipelines.integrations.api_settings import ApiSettings
from pipelines.orders.status import change_status
from pipelines.outbound import check_url, excerpt
from pipelines.sources import PullError
from tests.apptest import open_page, texts
from tests.callback_helpers import FakeClock, make_integration, outbox_rows
from tests.callback_sink import CallbackSink, Reply
from tests.conftest import load_example
from tests.receiver_helpers import running
from tests.servers import serve_http

ALLOW = "CROSSDOCK_OUTBOUND_ALLOW"
TOKEN = "sk_live_do-not-leak-4242"
RECORD = {"order_number": "ORD-1", "customer": {"name": "Ana"}, "shipping_address": {"full": "Zona 1", "lat": 14.6, "lng": -90.5}}


class Api:
    """A client API on loopback that records what it was sent and answers from `routes`: a path to
    (status, headers, body)."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes]] | None = None):
        self.routes = routes or {}
        self.seen: list[dict[str, str]] = []

    @contextmanager
    def serve(self) -> Iterator[str]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                status, headers, body = api.routes.get(self.path.split("?")[0], (404, {}, b"{}"))
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                pass

        with serve_http(Handler) as url:
            yield url


def _page(records: list, **extra) -> tuple[int, dict[str, str], bytes]:
    return 200, {}, json.dumps({"data": records, **extra}).encode()


def _document(endpoint: str, **changes) -> dict:
    document = load_example("api_polling_integration.json")
    document.update(endpoint=endpoint, auth_value=TOKEN, **changes)
    return document


def _saved(engine, endpoint: str, **changes):
    return create_integration(engine, parse_integration(_document(endpoint, **changes)))


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


# --- what is refused when a URL is saved -------------------------------------------------------------


NEVER = [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata service"),
    ("http://METADATA.GOOGLE.INTERNAL./", "cloud metadata service"),
    ("http://[fd00:ec2::254]/", "cloud metadata address"),
    ("http://0.0.0.0:6379/", "unspecified address"),
]
DISGUISES = ["http://0x7f000001/", "http://2130706433/", "http://0177.0.0.1/", "http://127.1:8090/"]


@pytest.mark.parametrize(("url", "why"), NEVER)
def test_link_local_and_metadata_are_refused_even_when_allow_listed(monkeypatch, url, why):
    monkeypatch.setenv(ALLOW, "0.0.0.0/0,::/0,169.254.0.0/16,fe80::/10,metadata.google.internal")
    with pytest.raises(ValueError, match=why) as refused:
        check_url(url)
    assert "never sends requests there" in str(refused.value)


@pytest.mark.parametrize("url", DISGUISES)
def test_numeric_disguises_of_an_address_are_refused_even_when_it_is_allowed(url):
    with pytest.raises(ValueError, match="in disguise: write addresses in the usual dotted form"):
        check_url(url)


def test_loopback_and_private_need_the_allow_list_and_only_the_ports_it_names(monkeypatch):
    monkeypatch.setenv(ALLOW, "")
    for url in (
        "http://127.0.0.1:8090/",
        "http://[::1]:8090/",
        "http://localhost:3000/",
        "http://10.1.2.3/",
        "http://192.168.1.10:8080/",
        "http://100.64.0.1/",
    ):
        with pytest.raises(ValueError, match=f"only when {ALLOW} lists it"):
            check_url(url)
    monkeypatch.setenv(ALLOW, "127.0.0.1:8090,10.0.0.0/8")
    assert check_url("http://127.0.0.1:8090/orders") and check_url("http://10.1.2.3/")
    with pytest.raises(ValueError, match=f"e.g. {ALLOW}=127.0.0.1:3000"):
        check_url("http://127.0.0.1:3000/")  # the receiver's admin API, Dagster, Redis… stay closed
    assert check_url("https://api.clientexyz.com/orders")  # public names are judged when connecting


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("callback_url", "http://169.254.169.254/"),
        ("callback_url", "http://0x7f000001:6379/"),
        ("callback_url", "https://user:pa55word@hooks.example.com/in"),
        ("endpoint", "http://metadata.google.internal/computeMetadata/v1/"),
        ("endpoint", "http://2130706433/orders"),
    ],
)
def test_the_admin_api_answers_422_naming_the_field(sqlite_store, monkeypatch, field, value):
    monkeypatch.setenv(ALLOW, "")
    document = _document("https://api.clientexyz.com/orders") if field == "endpoint" else {**load_example("cliente_abc_integration.json")}
    document[field] = value
    admin = {"Authorization": f"Bearer {settings.admin_token()}"}
    with running(sqlite_store) as url:
        answer = requests.post(f"{url}/integrations", json=document, headers=admin, timeout=30)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert "pa55word" not in answer.text


def test_credentials_in_a_callback_url_are_refused_with_a_clear_message():
    document = {**load_example("cliente_abc_integration.json"), "callback_url": "https://ops:pa55word@hooks.example.com/"}
    with pytest.raises(ValidationError) as refused:
        parse_integration(document)
    issues = validation_issues(refused.value)
    assert [i["field"] for i in issues] == ["callback_url"]
    assert "must not carry credentials (user:password@)" in issues[0]["message"] and "pa55word" not in str(issues)


@pytest.mark.parametrize(
    "name",
    [
        "Metadata-Flavor",
        "Host",
        "host",
        "Connection",
        "Transfer-Encoding",
        "X-Forwarded-For",
        "Proxy-Authorization",
        "Content-Length",
        "X-API-Key: x",
        "X-Key\r\nHost",
        "Bad Header",
    ],
)
def test_header_names_that_steer_the_request_are_refused(name):
    with pytest.raises(ValidationError):
        ApiSettings(apikey_header=name)
    assert ApiSettings(apikey_header="X-Api-Token").apikey_header == "X-Api-Token"


# --- what is refused at connect time -----------------------------------------------------------------


def test_a_saved_endpoint_that_resolves_to_a_refused_address_later_fails_the_pull_without_retries(sqlite_store, monkeypatch):
    api = Api({"/orders": _page([RECORD])})
    with api.serve() as url:
        stored = _saved(sqlite_store, f"{url}/orders", api={"records_path": "data"})
        monkeypatch.setenv(ALLOW, "")  # the allow list changed since: loading still works, connecting does not
        stored = get_integration(sqlite_store, stored.name)
        with pytest.raises(PullError) as failed:
            poll_api(sqlite_store, stored, sleep=pytest.fail)
    assert "refused by the outbound policy: 127.0.0.1 is a loopback address" in str(failed.value)
    assert f"{ALLOW}=127.0.0.1:{_port(url)}" in str(failed.value)
    assert api.seen == []


def test_the_address_is_judged_after_resolution_so_a_name_cannot_smuggle_a_refused_one(monkeypatch):
    """A name the saved URL passes (it is not an address) resolves, when connecting, to loopback, as a
    rebinding DNS server would answer: the address connected to is judged, not the name."""
    api = Api({"/orders": _page([RECORD])})
    real = socket.getaddrinfo

    def rebinding_dns(host, *args, **kwargs):  # the resolver: outside Crossdock
        return real("127.0.0.1" if host == "orders.rebind.example" else host, *args, **kwargs)

    with api.serve() as url:
        config = parse_integration(_document(f"http://orders.rebind.example:{_port(url)}/orders", api={"records_path": "data"}))
        monkeypatch.setenv(ALLOW, "")
        monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
        probe = probe_api(config)
        monkeypatch.setenv(ALLOW, f"127.0.0.1:{_port(url)}")
        allowed = probe_api(config)
    assert not probe.ok and "orders.rebind.example resolves to 127.0.0.1, which is a loopback address" in probe.error
    assert allowed.ok and len(api.seen) == 1


def test_test_connection_refuses_metadata_and_disguises_saved_before_the_policy(monkeypatch):
    for endpoint, why in [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata service"),
        ("http://0x7f000001:9/orders", "in disguise"),
    ]:
        config = parse_integration(_document(endpoint), stored=True)
        probe = probe_api(config)
        assert not probe.ok and not probe.reachable and why in probe.error, probe.error


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/iam/", "closed"])
def test_a_redirect_to_a_refused_address_is_not_followed(sqlite_store, monkeypatch, target):
    inner = Api({"/admin": _page([RECORD])})
    with inner.serve() as internal:
        location = target if target != "closed" else f"{internal}/admin"
        api = Api({"/orders": (302, {"Location": location}, b"")})
        with api.serve() as url:
            monkeypatch.setenv(ALLOW, f"127.0.0.1:{_port(url)}")  # the API's port only, not `internal`'s
            stored = _saved(sqlite_store, f"{url}/orders", api={"records_path": "data"})
            with pytest.raises(PullError, match="refused by the outbound policy"):
                poll_api(sqlite_store, stored, sleep=pytest.fail)
    assert len(api.seen) == 1 and inner.seen == []


def test_a_callback_to_an_address_refused_when_it_is_sent_is_a_failed_attempt_with_the_reason(sqlite_store, monkeypatch):
    sink = CallbackSink()
    clock = FakeClock()
    with sink.serve() as url:
        _stored, ids = make_integration(sqlite_store, url)
        change_status(sqlite_store, ids["PED-001"], "assigned", actor="cli", now=clock.now)
        monkeypatch.setenv(ALLOW, "")
        with CallbackSender(sqlite_store, clock=clock, workers=2, flush_interval=0.05) as sender:
            report = sender.deliver_due()
    assert report.total("delivered") == 0 and sink.received == []
    row = outbox_rows(sqlite_store)[0]
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["last_error"].startswith("refused by the outbound policy: 127.0.0.1 is a loopback address")


def test_later_channels_get_the_same_policy_from_guarded_session(monkeypatch):
    monkeypatch.setenv(ALLOW, "")
    with Api({"/hook": _page([])}).serve() as url, guarded_session() as session:
        with pytest.raises(OutboundRefused, match="loopback address"):
            session.post(f"{url}/hook", json={}, timeout=5)
        with pytest.raises(OutboundRefused, match="link-local"):
            session.get("http://169.254.169.254/", timeout=5)


# --- credentials stay with the configured origin -----------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        {"auth_type": "bearer"},
        {"auth_type": "apikey"},
        {"auth_type": "apikey", "api": {"apikey_header": "X-Token", "records_path": "data"}},
    ],
)
def test_a_next_url_on_another_host_gets_no_credentials(sqlite_store, auth):
    elsewhere = Api({"/steal": _page([{**RECORD, "order_number": "ORD-2"}])})
    with elsewhere.serve() as other:
        api = Api({"/orders": _page([RECORD], next=f"{other}/steal"), "/orders2": _page([])})
        with api.serve() as url:
            settings_ = {"records_path": "data", "pagination": {"style": "next_url", "next_url_path": "next"}}
            if "api" in auth:
                settings_.update(auth["api"])
            stored = _saved(sqlite_store, f"{url}/orders", auth_type=auth["auth_type"], api=settings_)
            poll_api(sqlite_store, stored)
    header = settings_.get("apikey_header", "X-API-Key").lower() if auth["auth_type"] == "apikey" else "authorization"
    assert TOKEN in api.seen[0][header]
    assert len(elsewhere.seen) == 1 and header not in elsewhere.seen[0]
    assert TOKEN not in json.dumps(elsewhere.seen)


def test_a_redirect_to_another_host_gets_no_credentials_and_the_same_origin_keeps_them(sqlite_store):
    elsewhere = Api({"/steal": _page([RECORD])})
    with elsewhere.serve() as other:
        api = Api(
            {
                "/orders": (302, {"Location": f"{other}/steal"}, b""),
                "/moved": (301, {"Location": "/orders-v2"}, b""),
                "/orders-v2": _page([RECORD]),
            }
        )
        with api.serve() as url:
            for path in ("/orders", "/moved"):
                stored = _saved(
                    sqlite_store, f"{url}{path}", name=f"api{path.strip('/')}", auth_type="apikey", api={"records_path": "data"}
                )
                assert poll_api(sqlite_store, stored).counts["errors"] == 0
    assert [s["path"] for s in api.seen] == ["/orders", "/moved", "/orders-v2"]
    assert all(s["x-api-key"] == TOKEN for s in api.seen)
    assert len(elsewhere.seen) == 1 and "x-api-key" not in elsewhere.seen[0] and "authorization" not in elsewhere.seen[0]


# --- what is read back of a response -----------------------------------------------------------------


def test_an_error_response_is_read_back_short_and_without_the_credential(sqlite_store):
    echo = f"unauthorized request with Authorization: Bearer {TOKEN} " + "x" * 5_000
    api = Api({"/orders": (400, {}, echo.encode())})
    with api.serve() as url:
        stored = _saved(sqlite_store, f"{url}/orders?key=query-secret", api={"records_path": "data"})
        with pytest.raises(PullError) as failed:
            poll_api(sqlite_store, stored)
    message = str(failed.value)
    assert TOKEN not in message and "query-secret" not in message and "Bearer ***" in message
    assert len(message) < 250


def test_a_callback_response_is_kept_short_and_without_the_secret(sqlite_store):
    sink = CallbackSink()
    clock = FakeClock()
    with sink.serve() as url:
        stored, ids = make_integration(sqlite_store, url)
        secret = stored.config.callback_secret.get_secret_value()
        sink.plan(Reply(500, body=f"bad signature for secret {secret} ".encode() + b"y" * 3_000))
        change_status(sqlite_store, ids["PED-001"], "assigned", actor="cli", now=clock.now)
        with CallbackSender(sqlite_store, clock=clock, workers=2, flush_interval=0.05) as sender:
            sender.deliver_due()
    logged = order_callbacks(sqlite_store, ids["PED-001"])[0].attempt_log[0]
    assert logged.status_code == 500 and secret not in logged.response_excerpt
    assert logged.response_excerpt.startswith("bad signature for secret ***") and len(logged.response_excerpt) <= 200


def test_excerpts_mask_a_secret_cut_at_the_limit_and_fold_control_characters():
    text = "a" * 118 + TOKEN
    assert TOKEN[:2] not in excerpt(text.encode(), (TOKEN,))[110:]
    assert excerpt(b"line one\r\nline\x00two") == "line one line two"


def test_the_admin_app_refuses_a_metadata_endpoint_naming_the_field(app_store):
    document = _document("http://metadata.google.internal/computeMetadata/v1/")
    at = open_page("integrations")
    at.segmented_control(key="intg.view").set_value("Import JSON").run()
    at.text_area(key="intg.import.text").input(json.dumps(document)).run()
    assert any("**endpoint**: refused: metadata.google.internal is a cloud metadata service" in e for e in texts(at.error)), texts(at.error)
    assert list_integrations(app_store) == [] and not at.exception


def test_crossdock_up_opens_the_demo_client_api_and_nothing_else(monkeypatch):
    from crossdock.up import demo_outbound_allow

    monkeypatch.setenv("CROSSDOCK_DEMO_API_PORT", "8123")
    assert demo_outbound_allow("") == "127.0.0.1:8123"
    assert demo_outbound_allow("10.0.0.0/8, 127.0.0.1:8123") == "10.0.0.0/8,127.0.0.1:8123"
    monkeypatch.setenv(ALLOW, demo_outbound_allow(""))
    assert check_url("http://127.0.0.1:8123/orders?status=pending")
    for other in ("http://127.0.0.1:8000/integrations", "http://127.0.0.1:3000/graphql", "http://127.0.0.1:6379/", "http://[::1]:8123/"):
        with pytest.raises(ValueError, match="only when"):
            check_url(other)


def test_through_a_proxy_the_destination_is_still_judged(monkeypatch):
    proxy = Api({"http://orders.client.invalid/orders": _page([RECORD])})  # a proxy is asked for the absolute URL
    with proxy.serve() as proxy_url:
        for variable in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv(ALLOW, "")  # the proxy is the operator's: it needs no allow-list entry
        refused = probe_api(parse_integration(_document("http://169.254.169.254/latest/meta-data/"), stored=True))
        public = probe_api(parse_integration(_document("http://orders.client.invalid/orders", api={"records_path": "data"})))
    assert "link-local" in refused.error
    assert public.ok and [seen["path"] for seen in proxy.seen] == ["http://orders.client.invalid/orders"]


def test_the_admin_apps_test_connection_shows_the_refusal(app_store, monkeypatch):
    api = Api({"/orders": _page([RECORD])})
    with api.serve() as url:
        stored = _saved(app_store, f"{url}/orders", api={"records_path": "data"})
        monkeypatch.setenv(ALLOW, "")
        at = open_page("integrations")
        at.button(key=f"intg.probe.{stored.id}.test").click().run()
    assert not at.exception and api.seen == []
    assert any("refused by the outbound policy: 127.0.0.1 is a loopback address" in e for e in texts(at.error)), texts(at.error)
    assert TOKEN not in json.dumps(texts(at.error))


def test_a_denied_header_stored_before_the_deny_list_is_never_sent(sqlite_store):
    api = Api({"/orders": _page([RECORD])})
    with api.serve() as url:
        document = _document(f"{url}/orders", auth_type="apikey", api={"records_path": "data", "apikey_header": "Metadata-Flavor"})
        config = parse_integration(document, stored=True)
        probe = probe_api(config)
    assert not probe.ok and probe.error.startswith("api.apikey_header Metadata-Flavor cannot carry a credential")
    assert api.seen == []


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO"])
def test_a_redirect_to_another_scheme_is_a_clear_pull_error(sqlite_store, location):
    api = Api({"/orders": (302, {"Location": location}, b"")})
    with api.serve() as url:
        stored = _saved(sqlite_store, f"{url}/orders", api={"records_path": "data"})
        with pytest.raises(PullError, match="only http and https URLs are followed"):
            poll_api(sqlite_store, stored, sleep=pytest.fail)

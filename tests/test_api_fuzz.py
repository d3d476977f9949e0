"""Schemathesis against a live receiver: every answer the API gives is documented in its own OpenAPI
(`/openapi.json`): no server errors, no body that contradicts its schema, no undocumented status code,
no request the schema allows refused, none it forbids accepted, a correct `Allow` on 405.

The receiver runs as deployed (`crossdock receiver`, its own process on a free loopback port) on a store
of its own in a temporary home, so nothing the fuzz deletes or changes reaches another test, with a known admin token
and data for the routes to find: the seed's `cliente_abc` (API key, sync acks, a callback URL) with its
orders, a dead callback, a dead inbox row, and an Autentikapp account. Two tests:

- stateless: each operation on its own, through schemathesis's examples, coverage (boundaries, missing
  and wrong parameters, undeclared methods, no token) and fuzzing phases, every check on;
- stateful: sequences that follow the OpenAPI links (create an integration, then read, change or delete
  it; list orders, then change one's status and read its callbacks; replay what a list shows), each
  starting from the seeded store.

Webhook requests are signed as their integration expects (the API key for `/webhook/cliente_abc`, the
account's HMAC for Autentikapp) so their bodies reach parsing, mapping and ingest, not just the 401.

Bounded in time: a fixed seed, derandomized generation, no example database, `MAX_EXAMPLES` per
operation and `STATEFUL_EXAMPLES` scenarios: about 3,500 requests in about a minute on two cores.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
import sqlalchemy as sa
from schemathesis.core import NotSet
from schemathesis.specs.openapi import stateful

from connectors.callback_sender import CallbackSender
from connectors.receiver.app import create_app
from pipelines.inbox.processing import process_batch
from pipelines.integrations import create_integration, parse_integration
from pipelines.orders.status import change_status
from pipelines.store.engine import make_engine
from pipelines.store.migrate import upgrade
from pipelines.vocabulary import OrderEvent
from tests.callback_helpers import make_integration, order_records, outbox_rows
from tests.callback_sink import CallbackSink, Reply
from tests.inbox_rows import insert_pending
from tests.processes import crossdock, free_port, stop, wait_for_http

TOKEN = "fuzz-admin-token"
API_KEY = "secreto_compartido"  # cliente_abc's, from examples/cliente_abc_integration.json
ACCOUNT_SECRET = "whsec_fuzz"
SEED = 20_251_126
pytestmark = pytest.mark.e2e  # a process of the product: `make test`, not `make test-fast`
MAX_EXAMPLES = 20
STATEFUL_EXAMPLES = 20
STATEFUL_STEPS = 6

ORDERS_WEBHOOK = "/webhook/{integration}"
SALES_WEBHOOK = "/v1/webhooks/inbound/{account_id}"

# Where a schema-valid request may still be refused, and why the schema cannot say so.
LISTS = ["GET /integrations", "GET /orders", "GET /customers", "GET /callbacks", "GET /inbox", "GET /audit"]
CROSS_FIELD = ["POST /integrations", "PATCH /integrations/{name}", "POST /identifiers", "POST /orders/{internal_id}/status"]
ACCEPTED = ["2xx", "401", "403", "404", "409", "429", "5xx"]

CONFIG = {
    "seed": SEED,
    "headers": {"Authorization": f"Bearer {TOKEN}"},
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
    "checks": {"enabled": True},
    "operations": [
        # The webhook routes of the seeded integrations: their bodies get past authentication.
        # A sync integration validates each record against its own mapping (422 when none is valid, the
        # reasons per record); the documented body is the default mapping's shape, not those rules.
        {
            "include-path": ORDERS_WEBHOOK,
            "parameters": {"integration": "cliente_abc"},
            "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}},
        },
        {"include-path": SALES_WEBHOOK, "parameters": {"account_id": "cuenta"}},
        # A cursor is opaque: any string matches its schema, and only the ones a list gave out are
        # accepted (400 otherwise).
        {"include-name": LISTS, "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}}},
        # Rules across fields (auth_type needs auth_value, secret formats, what each status carries, an
        # account's target) are validated (422 with the reason); JSON Schema in the spec does not carry them.
        {"include-name": CROSS_FIELD, "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}}},
    ],
}


@pytest.fixture(scope="module", autouse=True)
def crossdock_home(tmp_path_factory) -> Iterator[Path]:
    """One home for the module (overrides conftest's per-test one): the receiver under test serves every
    test here, and reads the admin token and the secrets key from the environment on each request."""
    home = tmp_path_factory.mktemp("fuzz") / "home"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CROSSDOCK_HOME", str(home))
        env.setenv("CROSSDOCK_DATABASE_URL", f"sqlite:///{home / 'crossdock.db'}")
        env.setenv("CROSSDOCK_ADMIN_TOKEN", TOKEN)
        env.delenv("CROSSDOCK_SECRET_KEY", raising=False)
        env.setenv("CROSSDOCK_OUTBOUND_ALLOW", "127.0.0.1,[::1]")  # the seeded callbacks' sink listens on loopback
        yield home


def seed(engine: sa.Engine) -> None:
    """Something for every route to find: orders, a dead callback, a dead inbox row, an account."""
    sink = CallbackSink(default=Reply(500))
    with sink.serve() as url:
        stored, ids = make_integration(engine, url, callbacks={"retry_schedule_seconds": []}, orders=order_records(3))
        change_status(engine, ids["PED-001"], OrderEvent.ASSIGNED, actor="seed")
        with CallbackSender(engine) as sender:
            sender.deliver_due()  # 500 with no retries left: dead, replayable
    assert [row["status"] for row in outbox_rows(engine)] == ["dead"]
    change_status(engine, ids["PED-002"], OrderEvent.CANCELLED, actor="seed")  # a pending callback
    insert_pending(engine, stored.id, b'{"external_id": "PED-9", ')
    assert process_batch(engine).count("dead") == 1
    create_integration(
        engine,
        parse_integration(
            {
                "name": "cuenta",
                "type": "webhook",
                "target": "sale",
                "webhook": {"ack_mode": "async", "verification": "autentikapp", "signing_secrets": [ACCOUNT_SECRET]},
            }
        ),
    )


@pytest.fixture(scope="module")
def seeded(crossdock_home) -> Iterator[Callable[[], None]]:
    """The seeded store, and a way back to it. Each stateful scenario starts from the same data, so the
    same requests get the same answers: hypothesis replays the start of scenarios it generated and
    checks that they draw alike, and a scenario run after another that had made a token, deleted an
    integration or replayed a callback got a 409 or 404 where it first had a 201 or 200, followed other
    links, and failed as FlakyStrategyDefinition. Restored with SQLite's online backup, which takes the
    store's locks, under the running receiver (which reads the store on every admin request; its webhook
    routes' integration cache re-checks the store within a second)."""
    engine = make_engine()
    upgrade(engine)
    seed(engine)
    engine.dispose()
    database = crossdock_home / "crossdock.db"
    snapshot = sqlite3.connect(":memory:")
    with contextlib.closing(sqlite3.connect(database)) as live:
        live.backup(snapshot)

    def restore() -> None:
        with contextlib.closing(sqlite3.connect(database, timeout=30)) as live:
            snapshot.backup(live)

    try:
        yield restore
    finally:
        snapshot.close()


@pytest.fixture(scope="module")
def receiver(crossdock_home, seeded) -> Iterator[str]:
    """`crossdock receiver` as deployed (its own process, uvicorn's protocol and all) on a free loopback
    port, over the module's seeded store; stopped (SIGTERM, then SIGKILL) after the module."""
    port = free_port()
    log = (crossdock_home / "receiver.log").open("wb")
    proc = crossdock("receiver", env={"CROSSDOCK_PORT": str(port)}, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", proc, deadline_s=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc, timeout=30)
        log.close()
    assert "Traceback" not in (crossdock_home / "receiver.log").read_text(errors="replace"), "the receiver logged a traceback"


# The app's own spec, loaded at collection so each operation is a test of its own (schemathesis's
# fixture-based loader needs pytest < 9); `test_the_served_spec_is_the_one_tested` ties it to the live one.
schema = schemathesis.openapi.from_dict(create_app().openapi(), config=schemathesis.Config.from_dict(CONFIG))


def request_options(case: schemathesis.Case, base_url: str) -> dict[str, Any]:
    """How to send `case` to the receiver: webhook requests signed as their integration expects, over
    the exact bytes schemathesis sends (whatever media type or malformed body it generated)."""
    if case.operation.path not in (ORDERS_WEBHOOK, SALES_WEBHOOK) or isinstance(case.body, NotSet):
        return {"base_url": base_url}
    serialized = case.as_transport_kwargs(base_url=base_url)
    prepared = requests.Request(
        **{key: serialized[key] for key in ("method", "url", "data", "json", "files", "headers") if key in serialized}
    ).prepare()
    body = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode()
    if case.operation.path == ORDERS_WEBHOOK:
        credentials = {"X-API-Key": API_KEY}
    else:
        credentials = {"X-Autentikapp-Signature": hmac.new(ACCOUNT_SECRET.encode(), body, hashlib.sha256).hexdigest()}
    content_type = prepared.headers.get("Content-Type")
    return {"base_url": base_url, "data": body, "headers": {**credentials, **({"Content-Type": content_type} if content_type else {})}}


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /integrations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \x01\r\n\r\n",  # a control character
        b"GET /integrations/a b HTTP/1.1\r\nHost: x\r\n\r\n",  # a space in the path
        b"POST /webhook/cliente_abc HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
    ],
    ids=["control character", "space in path", "Content-Length"],
)
def test_an_unparsable_request_is_answered_with_the_json_error_body(receiver, raw):
    """requests sends a header value with a control character as is; uvicorn answered it in plain text."""
    host, port = receiver.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(raw)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body)["detail"].startswith("malformed HTTP request")


def test_the_served_spec_is_the_one_tested(receiver):
    served = requests.get(f"{receiver}/openapi.json", timeout=30)
    assert served.status_code == 200 and served.json() == create_app().openapi()


@schema.parametrize()
def test_every_answer_is_documented(case, receiver):
    case.call_and_validate(**request_options(case, receiver))


def test_workflows_that_follow_the_links(receiver, seeded, monkeypatch):
    """Scenarios start from the operations schemathesis deems likely to succeed with generated data. It
    reads `GET /orders`'s `external_id` as a reference to an "External" resource no operation produces
    and leaves the list out of them, so no scenario listed orders and followed them to a status change
    and its callbacks: the list is made a start too."""
    likely_root = stateful.is_likely_root_transition
    monkeypatch.setattr(
        stateful, "is_likely_root_transition", lambda operation, *args: operation.label == "GET /orders" or likely_root(operation, *args)
    )

    class Workflows(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            seeded()
            self.renamed_to: set[str] = set()
            super().setup()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return request_options(case, receiver)

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            if case.operation.label == "PATCH /integrations/{name}" and response.status_code == 200:
                self.renamed_to.add(response.json()["name"].lower())

        def validate_response(
            self, response: schemathesis.Response, case: schemathesis.Case, additional_checks: list | None = None, **kwargs: Any
        ) -> None:
            """`PATCH /integrations/{name}` renames too: an integration renamed to the name of one this
            scenario deleted is found there again, which schemathesis's use-after-free check (it knows only
            POST and PUT as re-creating a resource) would report as the deleted one still served."""
            name = (case.path_parameters or {}).get("name")
            if case.path.startswith("/integrations/{name}") and str(name).lower() in self.renamed_to:
                case.validate_response(
                    response,
                    additional_checks=additional_checks,
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                    excluded_checks=[schemathesis.checks.use_after_free],
                )
            else:
                super().validate_response(response, case, additional_checks, **kwargs)

    links = sum(
        len(answer.get("links", {}))
        for operations in schema.raw_schema["paths"].values()
        for operation in operations.values()
        for answer in operation["responses"].values()
    )
    assert links >= 10, "the receiver's OpenAPI lost its links: the stateful phase would test nothing"
    assert {"GET /orders", "POST /integrations", "GET /inbox", "GET /callbacks"} <= Workflows._root_labels
    try:
        Workflows.run(
            settings=hypothesis.settings(
                max_examples=STATEFUL_EXAMPLES,
                stateful_step_count=STATEFUL_STEPS,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
        )
    finally:
        seeded()  # the seed again for whatever runs after

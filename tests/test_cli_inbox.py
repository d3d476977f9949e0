"""`crossdock replay` and `crossdock inbox list` as an operator runs them: real subprocesses, real store."""

from __future__ import annotations

import json

import sqlalchemy as sa

from pipelines.clock import utcnow
from pipelines.inbox import DEAD, PENDING
from pipelines.inbox.processing import process_batch
from pipelines.ingest.sales import register_identifiers
from pipelines.integrations import WebhookIntegration, create_integration
from pipelines.store.schema import inbox
from tests.conftest import load_example
from tests.inbox_rows import insert_pending
from tests.test_cli_integrations import crossdock


def status_of(engine, inbox_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.select(inbox.c.status).where(inbox.c.id == inbox_id)).scalar_one()


def test_list_and_replay_a_dead_letter(sqlite_store):
    integration = create_integration(sqlite_store, WebhookIntegration(name="cliente_abc"))
    good = insert_pending(sqlite_store, integration.id, load_example("webhook_order.json"))
    dead = insert_pending(sqlite_store, integration.id, b'{"external_id": ')
    process_batch(sqlite_store)

    listed = crossdock("inbox", "list", "--status", "dead")
    assert listed.returncode == 0, listed.stderr
    assert f"{dead:>7}  cliente_abc" in listed.stdout and "body is not readable: malformed JSON" in listed.stdout
    assert f"{good:>7}  " not in listed.stdout
    as_json = json.loads(crossdock("inbox", "list", "--integration", "cliente_abc", "--json").stdout)
    assert [(r["id"], r["status"]) for r in as_json["rows"]] == [(dead, "dead"), (good, "done")]
    assert (as_json["total"], as_json["next_cursor"]) == (2, None)
    first_page = crossdock("inbox", "list", "--integration", "cliente_abc", "--limit", "1")
    cursor = first_page.stdout.rsplit("--cursor ", 1)[1].strip()
    assert "1 of 2 shown" in first_page.stdout
    second_page = crossdock("inbox", "list", "--integration", "cliente_abc", "--limit", "1", "--cursor", cursor)
    assert f"{good:>7}  " in second_page.stdout and "next page" not in second_page.stdout

    preview = crossdock("replay", "--integration", "cliente_abc", "--dry-run")
    assert preview.returncode == 0 and "would replay 1 inbox row(s)" in preview.stdout
    assert status_of(sqlite_store, dead) == DEAD

    replayed = crossdock("replay", "--id", str(dead), "--actor", "cli:ana")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 inbox row(s)" in replayed.stdout and "pending again" in replayed.stdout
    assert status_of(sqlite_store, dead) == PENDING
    listed = crossdock("inbox", "list", "--status", "pending")
    assert "replayed 1x, last by cli:ana at " in listed.stdout

    again = crossdock("replay", "--id", str(dead))
    assert again.returncode == 1 and "is pending: the processor will take it" in again.stderr


def test_replay_with_record_errors_after_registering_the_code(sqlite_store):
    account = create_integration(sqlite_store, WebhookIntegration(name="autentik_demo", target="sale"))
    inbox_id = insert_pending(sqlite_store, account.id, load_example("autentikapp_sale.json"))
    process_batch(sqlite_store)  # done, with an unknown identifier code as a record error
    nothing = crossdock("replay", "--integration", "autentik_demo")
    assert nothing.returncode == 0 and "nothing to replay: autentik_demo has no dead rows" in nothing.stdout
    hint = crossdock("replay", "--id", str(inbox_id))
    assert hint.returncode == 1 and "pass --with-record-errors" in hint.stderr

    with sqlite_store.begin() as conn:
        register_identifiers(conn, account.id, [{"code": "a1b2c3d4-e5f6-7890-1234-567890abcdef"}], utcnow())
    replayed = crossdock("replay", "--integration", "autentik_demo", "--since", "2000-01-01", "--with-record-errors")
    assert replayed.returncode == 0, replayed.stderr
    assert "1 record error(s)" in replayed.stdout
    assert status_of(sqlite_store, inbox_id) == PENDING
    assert process_batch(sqlite_store).outcomes[0].result.created == 1


def test_bad_options_get_clear_answers(sqlite_store):
    create_integration(sqlite_store, WebhookIntegration(name="cliente_abc"))
    cases = {
        ("replay",): (2, "give either --id N or --integration NAME"),
        ("replay", "--id", "1", "--integration", "cliente_abc"): (2, "give either --id N or --integration NAME"),
        ("replay", "--integration", "cliente_abc", "--since", "yesterday"): (2, "--since 'yesterday' is not an ISO 8601"),
        ("replay", "--id", "1", "--since", "2025-01-01"): (2, "--since only applies with --integration"),
        ("replay", "--integration", "nadie"): (1, "no integration named 'nadie'"),
        ("replay", "--id", "999"): (1, "no inbox row 999"),
        ("inbox", "list", "--status", "lost"): (2, "--status must be one of pending, done, dead, rejected"),
    }
    for args, (code, message) in cases.items():
        result = crossdock(*args)
        assert (result.returncode, message in result.stderr) == (code, True), (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert crossdock("inbox", "list").stdout.strip() == "the inbox has no such rows"

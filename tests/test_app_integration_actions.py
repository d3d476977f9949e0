"""Actions on an integration (AppTest): "Test connection" for api and db integrations, saved or still in
the form, against a real loopback API and a real SQLite database; handing over the callback signing
secret (set the agreed one, or generate one offered only as a download), and rotating it while a
callback is queued, which is then delivered signed with the new secret and, during the rotation's
overlap, the previous one."""

from __future__ import annotations

import json

import sqlalchemy as sa
from standardwebhooks import Webhook

from connectors.callback_sender import CallbackSender
from connectors.demo.client_db import SEED_QUERY, client_orders_table, demo_rows
from pipelines.integrations import DbIntegration, create_integration, get_integration, list_integrations, parse_integration
from pipelines.orders.status import change_status
from tests.apptest import markdown_text, open_page, texts
from tests.callback_helpers import FakeClock, make_integration, secret_of
from tests.callback_sink import CallbackSink
from tests.conftest import load_example
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api

AGREED = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _api_document(base_url: str, **changes) -> dict:
    document = load_example("api_polling_integration.json")
    document["endpoint"] = f"{base_url}/orders?status=pending"
    document.update(changes)
    return document


def _everything_shown(at) -> str:
    """Every text the page draws (markdown, captions, code, JSON, alerts, widget labels and values)."""
    parts = [e.value for kind in ("markdown", "caption", "code", "json", "success", "info", "warning", "error") for e in getattr(at, kind)]
    parts += [str(w.value) for w in at.text_input] + [w.label for w in at.button]
    return "\n".join(parts)


def test_test_connection_of_a_saved_api_integration_shows_the_first_record_and_its_fate(app_store):
    with serve_client_api(ClientApi(seed_orders(25))) as url:
        stored = create_integration(app_store, parse_integration(_api_document(url)))
        at = open_page("integrations")
        at.button(key=f"intg.probe.{stored.id}.test").click().run()
    assert not at.exception
    (success,) = [s for s in texts(at.success) if s.startswith("Reachable")]
    assert success.startswith("Reachable (HTTP 200 OK): 25 record(s) on the first page, in ")
    first, mapped = (json.loads(j.value) for j in at.json[:2])
    assert first == seed_orders(25)[0]
    assert mapped["external_id"] == "ORD-00000" and mapped["address"] == "Zona 0, Guatemala Ciudad"
    assert "Would land: valid record." in texts(at.success)
    assert f"Tested `GET {url}/orders`" in texts(at.caption)


def test_refused_credentials_are_an_error_without_the_secret(app_store):
    with serve_client_api(ClientApi(seed_orders(3))) as url:
        stored = create_integration(app_store, parse_integration(_api_document(url, auth_value="sk_live_wrong_1234")))
        at = open_page("integrations")
        at.button(key=f"intg.probe.{stored.id}.test").click().run()
    (error,) = texts(at.error)
    assert error.startswith("Reached (HTTP 401 Unauthorized), but no records could be read:")
    assert "refused the credentials (auth_type bearer); check auth_value" in error
    assert "sk_live_wrong" not in _everything_shown(at)


def test_test_connection_in_the_new_integration_form_before_saving(app_store):
    api = ClientApi(seed_orders(3))
    with serve_client_api(api) as url:
        at = open_page("integrations")
        at.radio(key="intg.new.type").set_value("api").run()
        assert "Test connection appears once the form is valid." in texts(at.caption)
        at.text_input(key="intg.new.api.name").input("ClienteXYZ").run()
        at.selectbox(key="intg.new.api.auth_type").set_value("bearer").run()
        at.text_input(key="intg.new.api.auth_value").input("sk_live_xxxxx").run()
        at.text_input(key="intg.new.api.endpoint").input(f"{url}/orders").run()
        at.button(key="intg.new.api.test").click().run()
        assert not at.exception
        assert any(s.startswith("Reachable (HTTP 200 OK): 3 record(s)") for s in texts(at.success))
        # The default mapping reads the target's own fields: these records would be rejected, and why.
        assert any("Would be rejected:" in e and "**external_id**: required field is missing" in e for e in texts(at.error))
        assert list_integrations(app_store) == []  # testing saves nothing
        at.text_input(key="intg.new.api.endpoint").input(f"{url}/orders?status=pending").run()
        assert "The configuration changed since the last connection test: test again." in texts(at.caption)
    assert api.requests == [{"path": "/orders", "query": {}}]


def test_test_connection_of_a_db_integration_reads_a_few_rows(app_store, tmp_path):
    client = sa.create_engine(f"sqlite:///{tmp_path / 'erp.db'}")
    table = client_orders_table(sa.MetaData())
    table.metadata.create_all(client)
    with client.begin() as conn:
        conn.execute(table.insert(), demo_rows(12))
    stored = create_integration(
        app_store, DbIntegration(name="erp_cliente", db={"url": f"sqlite:///{tmp_path / 'erp.db'}", "query": SEED_QUERY})
    )
    at = open_page("integrations")
    at.button(key=f"intg.probe.{stored.id}.test").click().run()
    assert not at.exception
    assert any(s.startswith("Reachable (connected): 5 row(s) read, in ") for s in texts(at.success))
    assert any("only the first 5 rows were read" in c for c in texts(at.caption))
    first = json.loads(at.json[0].value)
    assert set(first) == {"external_id", "client_name", "address", "latitude", "longitude"}
    with client.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.logitrack_synced)).scalar_one() == 0
    client.dispose()


def test_set_the_callback_secret_agreed_with_the_client(app_store):
    stored, _ = make_integration(app_store, "https://api.cliente.com/logitrack/updates")
    at = open_page("integrations")
    assert f"**Callback signing secret**: `••••••••{secret_of(stored)[-4:]}`" in markdown_text(at)
    at.text_input(key=f"cbsecret.agreed.{stored.id}").input("not-a-whsec").run()
    at.button(key=f"cbsecret.save.{stored.id}").click().run()
    assert any("**callback_secret**: must be a Standard Webhooks secret: whsec_ followed by base64" in e for e in texts(at.error))
    assert secret_of(get_integration(app_store, "cliente_abc")) == secret_of(stored)

    at.text_input(key=f"cbsecret.agreed.{stored.id}").input(AGREED).run()
    at.button(key=f"cbsecret.save.{stored.id}").click().run()
    assert secret_of(get_integration(app_store, "cliente_abc")) == AGREED
    assert any(s.startswith("Saved: callbacks are signed with the secret agreed") for s in texts(at.success))
    assert at.text_input(key=f"cbsecret.agreed.{stored.id}").value == ""
    assert AGREED not in _everything_shown(at)
    assert not at.exception


def test_a_generated_secret_is_offered_as_a_download_and_queued_callbacks_go_out_signed_with_it(app_store):
    sink = CallbackSink()
    clock = FakeClock()
    with sink.serve() as url:
        stored, ids = make_integration(app_store, url)
        change_status(app_store, ids["PED-001"], "assigned", actor="cli", now=clock.now)  # queued, not sent yet

        at = open_page("integrations")
        assert at.button(key=f"cbsecret.generate.{stored.id}").disabled  # needs the confirmation
        at.checkbox(key=f"cbsecret.confirm.{stored.id}").check().run()
        at.button(key=f"cbsecret.generate.{stored.id}").click().run()
        assert not at.exception
        rotated = secret_of(get_integration(app_store, "cliente_abc"))
        assert rotated != secret_of(stored) and rotated.startswith("whsec_")
        (download,) = at.get("download_button")
        assert download.proto.label == "Download the new secret (text file)"
        assert rotated not in _everything_shown(at) and rotated[6:] not in _everything_shown(at)
        assert f"`••••••••{rotated[-4:]}`" in markdown_text(at)

        at.button(key=f"cbsecret.forget.{stored.id}").click().run()
        assert not at.get("download_button")
        overlap = f"Rotation overlap: the previous secret `••••••••{secret_of(stored)[-4:]}` also signs every callback"
        assert any(i.startswith(overlap) for i in texts(at.info))

        with CallbackSender(app_store, clock=clock, workers=1, flush_interval=0.05) as sender:
            sender.deliver_due()
    (received,) = sink.answered_ok()
    assert Webhook(rotated).verify(received.body, received.headers)["event"] == "assigned"
    assert Webhook(secret_of(stored)).verify(received.body, received.headers)["event"] == "assigned"  # overlap

    at.button(key=f"cbsecret.endoverlap.{stored.id}").click().run()
    assert get_integration(app_store, "cliente_abc").config.callbacks.previous_secret is None
    assert "Overlap ended: callbacks are signed with the current secret only." in texts(at.success)
    assert not any(i.startswith("Rotation overlap") for i in texts(at.info))
    assert not at.exception

"""The Integrations page (AppTest): a new user adds the seed's cliente_abc and gets its URL and curl;
forms validate as you type and name the wrong field; secrets are masked and kept when not retyped."""

from __future__ import annotations

import pytest

from pipelines.integrations import WebhookIntegration, create_integration, get_integration, list_integrations
from tests.apptest import markdown_text, open_page, texts
from tests.conftest import EXAMPLES


def _codes(at) -> str:
    return "\n".join(c.value for c in at.code)


def test_add_the_seeds_cliente_abc_and_get_its_curl(app_store, monkeypatch):
    monkeypatch.setenv("CROSSDOCK_PUBLIC_URL", "https://api.logitrack.app")
    at = open_page("integrations")
    assert any("No integrations yet" in i for i in texts(at.info))
    assert at.radio(key="intg.new.type").value == "webhook"
    at.text_input(key="intg.new.webhook.name").input("cliente_abc").run()
    at.selectbox(key="intg.new.webhook.auth_type").set_value("apikey").run()
    at.text_input(key="intg.new.webhook.auth_value").input("secreto_compartido").run()
    at.button(key="intg.new.webhook.create").click().run()
    assert not at.exception

    stored = get_integration(app_store, "cliente_abc")
    assert (stored.config.type, stored.config.auth_type) == ("webhook", "apikey")
    assert stored.config.auth_value.get_secret_value() == "secreto_compartido"
    assert at.selectbox(key="intg.selected").value == "cliente_abc"
    code = _codes(at)
    assert "URL: https://api.logitrack.app/webhook/cliente_abc" in code
    assert "curl -sS -X POST https://api.logitrack.app/webhook/cliente_abc" in code
    assert "-H 'X-API-Key: secreto_compartido'" in code  # complete, this once

    at.button(key="intg.reveal.done").click().run()
    code = _codes(at)
    assert "secreto_compartido" not in code and "-H 'X-API-Key: ••••••••'" in code
    assert "secreto_compartido" not in markdown_text(at) + "\n".join(j.value for j in at.json)


def test_an_autentikapp_account_gets_the_seed_004_url_and_a_signed_curl(app_store, monkeypatch):
    monkeypatch.setenv("CROSSDOCK_PUBLIC_URL", "https://api.logitrack.app")
    secret = "whsec_c2VjcmV0byBkZSBsYSBjdWVudGE"
    at = open_page("integrations")
    at.segmented_control(key="intg.view").set_value("Import JSON").run()
    at.text_area(key="intg.import.text").input(
        '{"name": "tienda_demo", "type": "webhook", "target": "sale", '
        f'"webhook": {{"ack_mode": "async", "verification": "autentikapp", "signing_secrets": ["{secret}"]}}}}'
    ).run()
    at.button(key="intg.import.create").click().run()
    assert not at.exception
    code = _codes(at)
    assert "URL: https://api.logitrack.app/v1/webhooks/inbound/tienda_demo" in code
    assert f"openssl dgst -sha256 -hmac {secret}" in code  # complete, this once
    assert '-H "X-Autentikapp-Signature: $PRESET_SIGNATURE"' in code
    assert "`X-Autentikapp-Signature: hex HMAC-SHA256 of the raw body" in markdown_text(at)

    at.button(key="intg.reveal.done").click().run()
    code = _codes(at)
    assert secret not in code and f"-hmac '••••••••{secret[-4:]}'" in code
    assert any(c.startswith(f"Replace `••••••••{secret[-4:]}` with the integration's secret") for c in texts(at.caption))


def test_fields_are_checked_as_you_type_with_the_field_named(app_store):
    at = open_page("integrations")
    at.text_input(key="intg.new.webhook.name").input("cliente abc!").run()
    assert "**name**: use letters, digits and _ . -" in markdown_text(at)
    at.text_input(key="intg.new.webhook.name").input("cliente_abc").run()
    assert "**name**" not in markdown_text(at)

    at.radio(key="intg.new.type").set_value("api").run()
    at.text_input(key="intg.new.api.name").input("ClienteXYZ").run()
    at.number_input(key="intg.new.api.poll_interval_seconds").set_value(5).run()
    assert "**poll_interval_seconds**: Input should be greater than or equal to 10" in markdown_text(at)
    at.number_input(key="intg.new.api.poll_interval_seconds").set_value(60).run()
    at.button(key="intg.new.api.create").click().run()
    assert "**endpoint**: an api integration needs an endpoint" in markdown_text(at)
    assert any("Not created: fix the fields marked in red." in e for e in texts(at.error))
    assert list_integrations(app_store) == []
    assert not at.exception


def test_duplicate_names_are_refused_on_the_name(app_store):
    create_integration(app_store, WebhookIntegration(name="cliente_abc"))
    at = open_page("integrations")
    at.segmented_control(key="intg.view").set_value("New integration").run()
    at.text_input(key="intg.new.webhook.name").input("CLIENTE_ABC").run()
    at.button(key="intg.new.webhook.create").click().run()
    assert any("**name**: an integration named 'CLIENTE_ABC' already exists: open it under Details" in e for e in texts(at.error))


def test_edit_without_retyping_the_secret_keeps_it(app_store):
    stored = create_integration(app_store, WebhookIntegration(name="cliente_abc", auth_type="apikey", auth_value="secreto_compartido"))
    at = open_page("integrations")
    prefix = f"intg.edit.{stored.id}"
    secret_box = at.text_input(key=f"{prefix}.auth_value")
    assert secret_box.value == "" and secret_box.placeholder == "stored ••••••••: leave empty to keep it"
    at.selectbox(key=f"{prefix}.webhook.ack_mode").set_value("async").run()
    at.text_input(key=f"{prefix}.callback_url").input("https://api.cliente.com/logitrack/updates").run()
    at.multiselect(key=f"{prefix}.callback_events").set_value(["assigned", "delivered"]).run()
    at.button(key=f"{prefix}.save").click().run()
    assert not at.exception
    after = get_integration(app_store, "cliente_abc").config
    assert after.webhook.ack_mode == "async" and after.callback_events == ["assigned", "delivered"]
    assert after.auth_value.get_secret_value() == "secreto_compartido"
    assert after.callback_secret is not None  # generated when callbacks were set

    at.selectbox(key=f"{prefix}.auth_type").set_value("bearer").run()
    at.text_input(key=f"{prefix}.auth_value").input("tok_nuevo").run()
    at.button(key=f"{prefix}.save").click().run()
    after = get_integration(app_store, "cliente_abc").config
    assert (after.auth_type, after.auth_value.get_secret_value()) == ("bearer", "tok_nuevo")
    assert "-H 'Authorization: Bearer tok_nuevo'" in _codes(at)  # shown complete once after it changed


def test_import_the_plans_json(app_store):
    at = open_page("integrations")
    at.segmented_control(key="intg.view").set_value("Import JSON").run()
    at.text_area(key="intg.import.text").input('{"name": "ClienteXYZ",\n "type": "api"').run()
    assert any(e.startswith("Not valid JSON or YAML at line 2") for e in texts(at.error))
    at.text_area(key="intg.import.text").input('{"name": "ClienteXYZ", "type": "api"}').run()
    assert any("**endpoint**: an api integration needs an endpoint" in e for e in texts(at.error))
    at.text_area(key="intg.import.text").input((EXAMPLES / "api_polling_integration.json").read_text()).run()
    assert any("Valid" in s for s in texts(at.success))
    at.button(key="intg.import.create").click().run()
    stored = get_integration(app_store, "ClienteXYZ")
    assert stored.config.poll_interval_seconds == 300 and stored.config.auth_value.get_secret_value() == "sk_live_xxxxx"
    assert any("polls `https://api.clientexyz.com/orders?status=pending` every 300 s" in m for m in texts(at.markdown))


def test_disable_enable_and_archive(app_store):
    stored = create_integration(app_store, WebhookIntegration(name="cliente_abc"))
    at = open_page("integrations")
    at.button(key="intg.disable").click().run()
    assert get_integration(app_store, "cliente_abc").is_active is False
    at.button(key="intg.enable").click().run()
    assert get_integration(app_store, "cliente_abc").is_active is True
    # Archiving is undone from the Archived view, so it asks for no typed name (purging does).
    at.button(key=f"intg.archive.go.{stored.id}").click().run()
    assert list_integrations(app_store) == []
    assert [i.id for i in list_integrations(app_store, archived=True)] == [stored.id]
    assert not at.exception


def test_every_problem_is_shown_at_once(app_store):
    at = open_page("integrations")
    at.radio(key="intg.new.type").set_value("api").run()
    at.text_input(key="intg.new.api.name").input("bad name!").run()
    at.button(key="intg.new.api.create").click().run()
    shown = markdown_text(at)
    assert "**name**: use letters, digits and _ . - (at most 64)" in shown
    assert "**endpoint**: an api integration needs an endpoint" in shown  # checked although the name is wrong


def test_a_fresh_new_integration_form_blames_no_field_before_anything_is_typed(app_store):
    create_integration(app_store, WebhookIntegration(name="cliente_abc"))
    at = open_page("integrations")
    at.segmented_control(key="intg.view").set_value("New integration").run()
    assert ":red[" not in markdown_text(at)
    at.radio(key="intg.new.type").set_value("api").run()
    assert ":red[" not in markdown_text(at)


def test_delete_archives_and_the_archived_section_restores_or_purges_with_the_name_typed(app_store):
    from pipelines.integrations import IntegrationNotFound, list_mapping_versions
    from tests.inbox_rows import insert_pending

    stored = create_integration(app_store, WebhookIntegration(name="cliente_abc"))
    insert_pending(app_store, stored.id, [{"external_id": "PED-9", "client_name": "Ana", "address": "Zona 1"}])
    at = open_page("integrations")
    assert any("1** acknowledged webhook(s) not yet processed" in i for i in texts(at.info))
    at.button(key=f"intg.archive.go.{stored.id}").click().run()
    assert not at.exception, at.exception
    assert list_integrations(app_store) == []
    assert [i.name for i in list_integrations(app_store, archived=True)] == ["cliente_abc"]

    at.segmented_control(key="intg.view").set_value("Archived").run()
    assert not at.exception, at.exception
    at.button(key="intg.archived.restore").click().run()
    assert [i.name for i in list_integrations(app_store)] == ["cliente_abc"]
    assert len(list_mapping_versions(app_store, "cliente_abc")) == 1  # restored as it was

    at = open_page("integrations")
    at.button(key=f"intg.archive.go.{stored.id}").click().run()
    at.segmented_control(key="intg.view").set_value("Archived").run()
    assert any("1** acknowledged webhook(s) not yet processed" in w for w in texts(at.warning))
    at.text_input(key="intg.purge.cliente_abc").input("cliente_abc").run()
    assert at.button(key="intg.purge.go.cliente_abc").disabled  # the name alone is not enough with work waiting
    at.checkbox(key="intg.purge.force.cliente_abc").check().run()
    at.button(key="intg.purge.go.cliente_abc").click().run()
    assert not at.exception, at.exception
    assert list_integrations(app_store, archived=True) == []
    with pytest.raises(IntegrationNotFound, match="no archived integration"):
        get_integration(app_store, "cliente_abc", archived=True)

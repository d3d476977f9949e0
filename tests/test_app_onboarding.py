"""Client onboarding on the Integrations page (AppTest): the guide downloads in the chosen language and
format, a staged integration shows its test deliveries and is promoted with one click, and the status
link is shown in full once."""

from __future__ import annotations

import json

from pipelines.access import audit
from pipelines.integrations import create_integration, get_integration, parse_integration
from pipelines.onboarding.staging import record_test_delivery
from tests.apptest import markdown_text, open_page, texts

SECRET = "secreto_compartido"


def _staged(store):
    return create_integration(
        store,
        parse_integration(
            {"name": "cliente_abc", "type": "webhook", "auth_type": "apikey", "auth_value": SECRET, "onboarding": {"stage": "staging"}}
        ),
    )


def test_the_guide_downloads_without_secrets(app_store, monkeypatch):
    monkeypatch.setenv("CROSSDOCK_PUBLIC_URL", "https://api.logitrack.app")
    _staged(app_store)
    at = open_page("integrations")
    at.selectbox(key="intg.guide.lang").set_value("en").run()
    at.selectbox(key="intg.guide.format").set_value("md").run()
    at.button(key="intg.guide.make").click().run()
    assert not at.exception
    ready = at.session_state["intg.guide"]
    text = ready["data"].decode()
    assert ready["file"] == "crossdock-guide-cliente_abc-en.md"
    assert "# Integration guide: cliente_abc" in text and "https://api.logitrack.app/staging/webhook/cliente_abc" in text
    assert SECRET not in text
    at.selectbox(key="intg.guide.format").set_value("pdf").run()
    at.button(key="intg.guide.make").click().run()
    assert at.session_state["intg.guide"]["data"].startswith(b"%PDF")


def test_a_staged_integration_shows_its_test_deliveries_and_is_promoted(app_store):
    stored = _staged(app_store)
    record_test_delivery(
        app_store,
        stored.id,
        headers={"content-type": "application/json"},
        body=b'[{"external_id": "PED-001"}]',
        verified=True,
        status_code=422,
        response={"staging": True, "valid": 0, "errors": 1, "results": []},
    )
    at = open_page("integrations")
    assert any("In staging" in w for w in texts(at.warning))
    assert "Test deliveries" in markdown_text(at)
    assert any('"external_id"' in str(j.value) or "PED-001" in str(j.value) for j in at.json)
    at.button(key="intg.promote").click().run()
    assert not at.exception
    assert get_integration(app_store, "cliente_abc").config.onboarding.stage == "production"
    with app_store.connect() as conn:  # the promotion is in the audit trail, with who pressed it
        edits = audit.entries(conn, action="integration.edited", subject="integration:cliente_abc").items
    promotion = [e for e in edits if "production" in json.dumps(e.details)]
    assert promotion and promotion[0].actor != "system"


def test_the_status_link_is_shown_in_full_once(app_store, monkeypatch):
    monkeypatch.setenv("CROSSDOCK_PUBLIC_URL", "https://api.logitrack.app")
    _staged(app_store)
    at = open_page("integrations")
    at.button(key="intg.status.new").click().run()
    assert not at.exception
    token = get_integration(app_store, "cliente_abc").config.onboarding.status_token.get_secret_value()
    full = f"https://api.logitrack.app/status/cliente_abc/{token}"
    assert full in [c.value for c in at.code]
    at.run()
    codes = [c.value for c in at.code]
    assert full not in codes and any(c.endswith(token[-4:]) and "•" in c for c in codes)

"""The integration guide: what it says comes from the integration and the receiver (its answers are the
ones the receiver really gives), it never holds a secret, its schema accepts its example, it speaks
Spanish or English, and its PDF renders into pages a person can read."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import jsonschema
import pytest
import requests
from pypdf import PdfReader

from connectors.guide_render import render, to_html
from connectors.receiver.app import create_app
from pipelines.guide import build_guide
from pipelines.guide.document import ANSWERS
from pipelines.integrations import Integration, create_integration, parse_integration, update_integration
from tests.conftest import load_example
from tests.receiver_helpers import integration, running
from tests.services import unavailable

SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CALLBACK = "whsec_QkFTRTY0U0VDUkVUS0VZRk9SVEVTVFM="
CONFIGS = {
    "apikey+callbacks": {
        "auth_type": "apikey",
        "auth_value": "secreto_compartido",
        "callback_url": "https://c.example/u",
        "callback_events": ["delivered"],
        "callback_secret": CALLBACK,
    },
    "hmac+shopify-mapping": {
        "auth_type": "hmac",
        "auth_value": "clave-hmac-larga",
        "field_mapping": load_example("shopify_mapping.json")["field_mapping"],
    },
    "autentikapp": {"target": "sale", "webhook": {"verification": "autentikapp", "signing_secrets": [SIGNING]}},
    "standard": {
        "auth_type": "basic",
        "auth_value": "user:pa55word",
        "webhook": {"verification": "standard_webhooks", "signing_secrets": [SIGNING]},
    },
    "api": {"type": "api", "endpoint": "https://api.clientexyz.com/orders", "auth_type": "bearer", "auth_value": "sk_live_x1"},
    "db": {"type": "db", "db": {"url": "mysql+pymysql://reader@db/erp", "password": "db-pass-secret", "query": "SELECT 1"}},
}


def _config(label: str) -> Integration:
    return parse_integration({"name": "cliente_abc", "type": "webhook", **CONFIGS[label]})


def _secrets(label: str) -> list[str]:
    found = []

    def walk(value):
        if isinstance(value, dict):
            for key, child in value.items():
                if key in ("auth_value", "signing_secrets", "callback_secret", "password"):
                    found.extend(child if isinstance(child, list) else [child])
                else:
                    walk(child)

    walk(CONFIGS[label])
    return found


@pytest.mark.parametrize("lang", ["es", "en"])
@pytest.mark.parametrize("label", list(CONFIGS))
def test_the_guide_holds_no_secret_and_its_schema_accepts_its_example(label, lang):
    guide = build_guide(_config(label), lang, base="https://hub.example")
    assert _secrets(label)
    for secret in _secrets(label):
        assert secret not in guide.markdown
        assert secret.split(":")[-1] not in guide.markdown
    jsonschema.validate(guide.payload.example, guide.payload.schema)
    blocks = re.findall(r"^```json\n(.*?)\n```$", guide.markdown, re.S | re.M)
    assert json.loads(blocks[0]) == guide.payload.schema and json.loads(blocks[1]) == guide.payload.example
    heading = {"es": "## 1. Endpoint", "en": "## 1. Endpoint"}[lang]
    assert heading in guide.markdown
    assert ("Lista de pruebas" if lang == "es" else "Test checklist") in guide.markdown


def test_the_guide_derives_the_payload_from_the_mapping():
    guide = build_guide(_config("hmac+shopify-mapping"), "en", base="https://hub.example")
    rows = {row.path: row.target_field for row in guide.payload.fields}
    assert rows["customer.first_name"] == "client_name" and rows["shipping_address.city"] == "address"
    assert guide.payload.computed["external_id"] == "format('shopify-{}', id)"
    sale = build_guide(_config("autentikapp"), "en", base="https://hub.example")
    record = sale.payload.schema
    assert record["properties"]["transaction_data"]["required"] == ["transaction_id"]
    items = record["properties"]["transaction_data"]["properties"]["line_items"]["items"]["properties"]
    assert "autentikapp_code" in items
    assert "https://hub.example/v1/webhooks/inbound/cliente_abc" in sale.markdown


def test_the_documented_answers_are_the_receivers(sqlite_store, monkeypatch):
    """Every code of the guide's table is one the receiver declares for the route, and each one a client
    can cause is caused here against a live receiver, for the reason the guide gives."""
    schema = create_app(engine=sqlite_store).openapi()
    declared = set(schema["paths"]["/webhook/{integration}"]["post"]["responses"])
    assert {code for code, _, _ in ANSWERS} == declared
    seen: dict[int, str] = {}
    stored = integration(sqlite_store, webhook={"max_body_bytes": 1024})
    headers = {"X-API-Key": "secreto_compartido"}
    good = {"external_id": "PED-001", "client_name": "Ana", "address": "Zona 1"}
    with running(sqlite_store, cache_ttl=0) as url:
        hook = f"{url}/webhook/{stored.name}"
        for name, call in {
            "ok": lambda: requests.post(hook, json=good, headers=headers),
            "malformed": lambda: requests.post(hook, data=b"{", headers={**headers, "Content-Type": "application/json"}),
            "credential": lambda: requests.post(hook, json=good, headers={"X-API-Key": "no"}),
            "unknown": lambda: requests.post(f"{url}/webhook/nobody", json=good, headers=headers),
            "replay": lambda: requests.post(hook, json={**good, "x": 1}, headers={**headers, "Idempotency-Key": "k1"}),
            "replay2": lambda: requests.post(hook, json={**good, "x": 2}, headers={**headers, "Idempotency-Key": "k1"}),
            "large": lambda: requests.post(hook, json=[good] * 40, headers=headers),
            "type": lambda: requests.post(hook, data=b"{}", headers={**headers, "Content-Type": "text/plain"}),
            "invalid": lambda: requests.post(hook, json=[{"external_id": "X"}], headers=headers),
        }.items():
            answer = call()
            seen[answer.status_code] = name
        update_integration(sqlite_store, stored.name, {"webhook": {"ack_mode": "async"}})
        seen[requests.post(hook, json={**good, "v": 2}, headers=headers).status_code] = "async"
        update_integration(sqlite_store, stored.name, {"onboarding": {"stage": "staging"}})
        staged = requests.post(hook, json=good, headers=headers)
        seen[staged.status_code] = "staged"
    assert staged.status_code == 403 and "staging" in staged.json()["detail"]
    assert {str(code) for code in seen} == {code for code, _, _ in ANSWERS} - {"429", "503"}, seen


def test_the_pdf_renders_readable_pages(tmp_path):
    guide = build_guide(_config("apikey+callbacks"), "es", base="https://api.logitrack.app")
    pdf = render(guide, "pdf")
    path = tmp_path / "guide.pdf"
    path.write_bytes(pdf)
    reader = PdfReader(path)
    assert len(reader.pages) >= 4
    first = reader.pages[0].extract_text()
    assert "Guía de integración: cliente_abc" in first and "https://api.logitrack.app/webhook/cliente_abc" in first
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "X-Crossdock-Signature" in text and "hash_hmac" in text
    if shutil.which("pdftoppm") is None:
        unavailable("pdftoppm is not installed (make guide-tools installs poppler-utils)")
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")], check=True)
    [png] = list(tmp_path.glob("page*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_the_html_is_self_contained():
    html = to_html(build_guide(_config("autentikapp"), "en", base="https://hub.example"))
    assert "<script" not in html and "http-equiv" not in html
    assert not re.search(r'(src|href)="https?://', html)  # nothing fetched when opened
    assert '<input type="checkbox" disabled>' in html and "<table>" in html


def test_an_unknown_language_is_refused():
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        build_guide(_config("apikey+callbacks"), "fr")  # type: ignore[arg-type]


def test_create_guide_for_stored_integration_reads_its_saved_configuration(sqlite_store):
    stored = create_integration(sqlite_store, _config("apikey+callbacks"))
    guide = build_guide(stored.config, "en", base="https://hub.example")
    assert "`https://c.example/u`" in guide.markdown and "`delivered`" in guide.markdown

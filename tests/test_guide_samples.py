"""The guide's code samples, taken from the generated Markdown and executed: each sending sample
against a live receiver on loopback (the record lands, or is accepted), each callback verifier as a
real server that Crossdock's callback sender delivers to (a genuine callback is accepted, a forged one
refused). If the guide and the product drift apart, these fail."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from connectors.callback_sender import SIGNATURE_HEADER, CallbackSender, signed_headers
from pipelines.guide import build_guide, staging_url
from pipelines.guide.samples import CALLBACK_SECRET_ENV, CREDENTIAL_ENV, LANGUAGES, SIGNING_SECRET_ENV, URL_ENV
from pipelines.ingest import ingest
from pipelines.integrations import create_integration, parse_integration
from pipelines.orders.status import change_status
from pipelines.store.schema import callback_outbox, inbox, orders, sales
from tests.conftest import load_example
from tests.guide_helpers import code_blocks, command, require_tools, run_sample
from tests.receiver_helpers import running

SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SHOPIFY_MAPPING = load_example("shopify_mapping.json")["field_mapping"]

# (label, integration fields, credential sent, signing secret sent, expected status)
CASES = [
    ("apikey", {"auth_type": "apikey", "auth_value": "secreto_compartido"}, "secreto_compartido", None, 200),
    ("hmac-mapped", {"auth_type": "hmac", "auth_value": "clave-hmac", "field_mapping": SHOPIFY_MAPPING}, "clave-hmac", None, 200),
    ("autentikapp", {"target": "sale", "webhook": {"verification": "autentikapp", "signing_secrets": [SIGNING]}}, None, SIGNING, 202),
    (
        "bearer-standard",
        {"auth_type": "bearer", "auth_value": "tok-123", "webhook": {"verification": "standard_webhooks", "signing_secrets": [SIGNING]}},
        "tok-123",
        SIGNING,
        200,
    ),
    (
        "basic-shopify",
        {"auth_type": "basic", "auth_value": "shop:pa55", "webhook": {"verification": "shopify", "signing_secrets": ["shpss_abc"]}},
        "shop:pa55",
        "shpss_abc",
        200,
    ),
    (
        "secret-stripe",
        {"auth_type": "webhook_secret", "auth_value": "s3cr3t", "webhook": {"verification": "stripe", "signing_secrets": [SIGNING]}},
        "s3cr3t",
        SIGNING,
        200,
    ),
    ("github", {"webhook": {"verification": "github", "signing_secrets": ["gh-secret"]}}, None, "gh-secret", 200),
    ("woocommerce", {"webhook": {"verification": "woocommerce", "signing_secrets": ["wc-secret"]}}, None, "wc-secret", 200),
]


def _env(credential: str | None, signing: str | None, **extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **extra}
    if credential:
        env[CREDENTIAL_ENV] = credential
    if signing:
        env[SIGNING_SECRET_ENV] = signing
    return env


def _count(engine: sa.Engine, table: sa.Table, integration_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.integration_id == integration_id)).scalar_one()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("label", "fields", "credential", "signing", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_guides_sending_sample_lands_the_example(sqlite_store, tmp_path, language, label, fields, credential, signing, expected):
    require_tools(language)
    config = parse_integration({"name": f"g_{label}_{language}", "type": "webhook", **fields})
    stored = create_integration(sqlite_store, config)
    with running(sqlite_store) as url:
        guide = build_guide(stored.config, "es", base=url)
        assert guide.payload.example_valid
        code = code_blocks(guide.markdown, "Autenticación")[language]
        for secret in (credential, signing):
            assert secret is None or secret not in guide.markdown  # secrets never appear, only their variables
        status, answer = run_sample(language, code, tmp_path, _env(credential, signing))
        assert status == expected, answer
        body = json.loads(answer)
        if expected == 200:
            assert body["total_received"] == body["created"] and body["errors"] == 0, body
            table = sales if stored.target == "sale" else orders
            assert _count(sqlite_store, table, stored.id) == body["created"] >= 1
        else:
            assert body["accepted"] is True
        with sqlite_store.connect() as conn:
            row = conn.execute(sa.select(inbox.c.verified, inbox.c.status).where(inbox.c.id == body["inbox_id"])).one()
        assert row.verified


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_guides_sending_sample_with_a_wrong_secret_is_refused(sqlite_store, tmp_path, language):
    require_tools(language)
    _, fields, _, _, _ = CASES[3]  # a credential and a signature: both must be computed right
    stored = create_integration(sqlite_store, parse_integration({"name": "g_wrong", "type": "webhook", **fields}))
    with running(sqlite_store) as url:
        code = code_blocks(build_guide(stored.config, "en", base=url).markdown, "Authentication")[language]
        status, answer = run_sample(language, code, tmp_path, _env("tok-123", "whsec_" + "A" * 32))
    assert status == 401
    assert "webhook-signature does not match" in json.loads(answer)["detail"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, deadline_s: float = 20) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the verifier exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # polling a condition with a deadline, not a fixed wait
    raise AssertionError(f"the verifier did not listen on {port} within {deadline_s} s")


def _start_verifier(language: str, code: str, folder: Path, secret: str) -> tuple[subprocess.Popen, str]:
    script = folder / {"python": "verify.py", "node": "verify.js", "php": "verify.php"}[language]
    script.write_text(code, encoding="utf-8")
    port = _free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), CALLBACK_SECRET_ENV: secret, "PORT": str(port)}
    argv = ["php", "-S", f"127.0.0.1:{port}", str(script)] if language == "php" else command(language, script)
    proc = subprocess.Popen(argv, env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_listening(port, proc)
    return proc, f"http://127.0.0.1:{port}/callbacks"


@pytest.mark.parametrize("language", ["python", "node", "php"])
def test_the_guides_callback_verifier_accepts_crossdocks_callbacks_and_refuses_forged_ones(sqlite_store, tmp_path, language):
    require_tools(language)
    document = {**load_example("cliente_abc_integration.json"), "name": f"cb_{language}"}
    config = parse_integration({**document, "callback_url": "http://127.0.0.1:9/placeholder"})
    code = code_blocks(build_guide(config, "es").markdown, "Callbacks")[language]
    secret = "whsec_" + "QkFTRTY0U0VDUkVUS0VZRk9SVEVTVFM="
    proc, url = _start_verifier(language, code, tmp_path, secret)
    try:
        stored = create_integration(
            sqlite_store,
            parse_integration({**document, "callback_url": url, "callback_events": ["assigned"], "callback_secret": secret}),
        )
        result = ingest(sqlite_store, stored, load_example("webhook_batch.json")[:1], source_kind="webhook")
        change_status(sqlite_store, result.internal_ids[0], "assigned", actor="test")
        with CallbackSender(sqlite_store, workers=1) as sender:
            sender.deliver_due()
        with sqlite_store.connect() as conn:
            row = conn.execute(
                sa.select(callback_outbox.c.status, callback_outbox.c.last_status_code).where(callback_outbox.c.integration_id == stored.id)
            ).one()
        assert (row.status, row.last_status_code) == ("delivered", 204)
        body = b'{"event":"delivered","order":{"external_id":"PED-001"}}'
        forged = signed_headers("whsec_" + "Rk9SR0VEU0VDUkVUS0VZRk9SVEVTVA==", "msg_1", body, datetime.now(UTC), "delivered")
        assert requests.post(url, data=body, headers=forged, timeout=10).status_code == 401
        genuine = signed_headers(secret, "msg_2", body, datetime.now(UTC), "delivered")
        assert requests.post(url, data=body, headers=genuine, timeout=10).status_code == 204
        rotated = signed_headers(
            "whsec_" + "TkVXU0VDUkVUS0VZRk9SUk9UQVRJT04=", "msg_3", body, datetime.now(UTC), "delivered", previous_secret=secret
        )
        assert requests.post(url, data=body, headers=rotated, timeout=10).status_code == 204  # mid-rotation
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_guides_shell_verifier_tells_genuine_from_forged(tmp_path):
    require_tools("curl")
    config = parse_integration({**load_example("cliente_abc_integration.json")})
    script = tmp_path / "verify.sh"
    script.write_text(code_blocks(build_guide(config, "en").markdown, "callbacks")["curl"], encoding="utf-8")
    secret = "whsec_" + "QkFTRTY0U0VDUkVUS0VZRk9SVEVTVFM="
    body = tmp_path / "body.json"
    body.write_bytes('{"event":"assigned","order":{"external_id":"PED-001","client":"María"}}'.encode())
    headers = signed_headers(secret, "msg_1", body.read_bytes(), datetime.now(UTC), "assigned")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), CALLBACK_SECRET_ENV: secret}
    good = subprocess.run(["bash", str(script), str(body), headers[SIGNATURE_HEADER]], env=env, capture_output=True, text=True, check=False)
    assert (good.returncode, good.stdout.strip()) == (0, "genuine")
    bad = subprocess.run(["bash", str(script), str(body), "0" * 64], env=env, capture_output=True, text=True, check=False)
    assert (bad.returncode, bad.stdout.strip()) == (1, "forged")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_same_samples_try_the_staging_url_and_store_nothing(sqlite_store, tmp_path, language):
    require_tools(language)
    stored = create_integration(
        sqlite_store,
        parse_integration(
            {
                "name": f"stage_{language}",
                "type": "webhook",
                "auth_type": "hmac",
                "auth_value": "clave-hmac",
                "onboarding": {"stage": "staging"},
            }
        ),
    )
    with running(sqlite_store) as url:
        guide = build_guide(stored.config, "en", base=url)
        code = code_blocks(guide.markdown, "Authentication")[language]
        staging = staging_url(stored.name, base=url)
        assert f"export {URL_ENV}={staging}" in guide.markdown
        refused, _ = run_sample(language, code, tmp_path, _env("clave-hmac", None))  # production waits for promotion
        status, answer = run_sample(language, code, tmp_path, _env("clave-hmac", None, **{URL_ENV: staging}))
    assert refused == 403
    body = json.loads(answer)
    assert (status, body["staging"], body["valid"], body["errors"]) == (200, True, 1, 0), body
    assert _count(sqlite_store, orders, stored.id) == 0

"""The curl example the Integrations page hands a client works as pasted: run with bash against a real
loopback server, it sends the seed's body with the header the integration's auth_type requires and
the signature its verification preset requires, which the receiver's own checks accept."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import subprocess
import time
from http.server import BaseHTTPRequestHandler

import pytest

from connectors.receiver.verify import Guard, Unauthorized
from pipelines.integrations import WebhookIntegration
from pipelines.onboarding.webhook_example import (
    ORDER_BODY,
    SALE_BODY,
    auth_header_line,
    curl_example,
    signature_header_line,
    webhook_url,
)
from tests.servers import serve_http


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Recorder.seen.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"total_received": 1, "created": 1, "updated": 0, "errors": 0}')

    def log_message(self, *_args):
        pass


def _send(monkeypatch, auth_type: str, secret: str, target: str = "order", **preset) -> tuple[str, dict[str, str], bytes]:
    if not (shutil.which("curl") and shutil.which("openssl")):
        pytest.skip("curl and openssl are needed to run the example")
    _Recorder.seen = []
    with serve_http(_Recorder) as base:
        monkeypatch.setenv("CROSSDOCK_PUBLIC_URL", base)
        script = curl_example("cliente_abc", auth_type, secret, target, **preset)
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"] == 1
    (request,) = _Recorder.seen
    return request


@pytest.mark.parametrize(
    "auth_type, header, value",
    [
        ("apikey", "X-API-Key", "secreto_compartido"),
        ("bearer", "Authorization", "Bearer secreto_compartido"),
        ("webhook_secret", "X-Webhook-Secret", "secreto_compartido"),
        ("basic", "Authorization", "Basic " + base64.b64encode(b"logitrack:s3cr3t 'x'").decode()),
    ],
)
def test_the_header_matches_the_auth_type(monkeypatch, auth_type, header, value):
    secret = "logitrack:s3cr3t 'x'" if auth_type == "basic" else "secreto_compartido"
    path, headers, body = _send(monkeypatch, auth_type, secret)
    assert path == "/webhook/cliente_abc"
    assert headers[header] == value
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == ORDER_BODY


def test_hmac_signs_the_exact_body(monkeypatch):
    secret = "whsec_it's a $ecret"
    _, headers, body = _send(monkeypatch, "hmac", secret, target="sale")
    assert headers["X-Webhook-Signature"] == hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert json.loads(body) == SALE_BODY


def test_no_auth_sends_no_credentials(monkeypatch):
    _, headers, _ = _send(monkeypatch, "none", "")
    assert not {"Authorization", "X-API-Key", "X-Webhook-Secret", "X-Webhook-Signature"} & set(headers)


def test_url_and_header_lines(monkeypatch):
    monkeypatch.setenv("CROSSDOCK_PUBLIC_URL", "https://api.logitrack.app/")
    assert webhook_url("cliente_abc") == "https://api.logitrack.app/webhook/cliente_abc"
    assert auth_header_line("apikey", "secreto_compartido") == "X-API-Key: secreto_compartido"
    assert auth_header_line("none", "") is None


# Standard Webhooks' published test secret; the others are what a person might type.
PRESET_SECRETS = {
    "autentikapp": "whsec_c2VjcmV0byBkZSBsYSBjdWVudGE",
    "hmac": "it's a $ecret",
    "github": "It's a Secret to Everybody",
    "shopify": "shpss_0123456789abcdef",
    "woocommerce": "wc secret with spaces",
    "stripe": "whsec_test_stripe_secret",
    "standard_webhooks": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}


@pytest.mark.parametrize("preset", sorted(PRESET_SECRETS))
def test_the_signature_satisfies_the_receivers_own_check(monkeypatch, preset):
    secret = PRESET_SECRETS[preset]
    target = "sale" if preset == "autentikapp" else "order"
    path, headers, body = _send(monkeypatch, "apikey", "secreto_compartido", target, verification=preset, signing_secret=secret)
    config = WebhookIntegration(
        name="cliente_abc",
        auth_type="apikey",
        auth_value="secreto_compartido",
        webhook={"verification": preset, "signing_secrets": [secret]},
    )
    lowered = {k.lower(): v for k, v in headers.items()}
    Guard.of(config).check(lowered, body, time.time())  # raises Unauthorized when the command signed wrongly
    wrong = WebhookIntegration(
        name="cliente_abc",
        auth_type="apikey",
        auth_value="secreto_compartido",
        webhook={"verification": preset, "signing_secrets": ["whsec_b3RoZXIgc2VjcmV0"]},
    )
    with pytest.raises(Unauthorized):
        Guard.of(wrong).check(lowered, body, time.time())
    assert path == ("/v1/webhooks/inbound/cliente_abc" if preset == "autentikapp" else "/webhook/cliente_abc")
    assert signature_header_line(preset, "••••1234").endswith("keyed with ••••1234")

"""The guide's code: sending a signed webhook and verifying a callback, in curl (shell), Python, Node.js
and PHP.

Every sample reads its secrets from environment variables (`CREDENTIAL_ENV`, `SIGNING_SECRET_ENV`,
`CALLBACK_SECRET_ENV`) and never contains one: the guide says where to get them. `URL_ENV`, when set,
points a sending sample at another URL (staging) than the production one it names. Each sending sample
signs the exact bytes it sends and prints the HTTP status on its first line and the answer's body
after it; each verifying sample is a small HTTP server (PORT, default 8000) answering 204 to a genuine
callback and 401 to anything else, except the shell one, which checks a saved body. The tests run all
of them against a live receiver and real callbacks, so what the guide shows is what works.

Only the Python standard library, Node.js's built-ins (18+) and PHP's core (no extensions) are used,
so a client can run a sample without installing anything.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from pipelines.integrations.model import WebhookIntegration
from pipelines.integrations.providers import default_events, rules
from pipelines.integrations.webhook_settings import BODY_SIGNATURE_PRESETS

CREDENTIAL_ENV = "CROSSDOCK_CREDENTIAL"
SIGNING_SECRET_ENV = "CROSSDOCK_SIGNING_SECRET"
CALLBACK_SECRET_ENV = "CROSSDOCK_CALLBACK_SECRET"
URL_ENV = "CROSSDOCK_URL"  # set to the staging URL to try the same code there
LANGUAGES = ("curl", "python", "node", "php")
CODE_FENCE = {"curl": "bash", "python": "python", "node": "javascript", "php": "php"}
SIGNATURE_HEADER = "X-Crossdock-Signature"  # the callback sender's header (connectors.callback_sender)
PREVIOUS_SIGNATURE_HEADER = "X-Crossdock-Signature-Previous"


@dataclass(frozen=True)
class SendSpec:
    """What a sending sample must do for one integration."""

    url: str
    body: str  # the JSON text sent, byte for byte
    auth_type: str
    preset: str
    event_header: tuple[str, str] | None  # (header, event) for providers that name the event in a header

    @property
    def needs_credential(self) -> bool:
        return self.auth_type != "none"

    @property
    def needs_signing_secret(self) -> bool:
        return self.preset != "none"


def send_spec(config: WebhookIntegration, url: str, example: object) -> SendSpec:
    preset = config.webhook.verification
    found = rules(preset)
    events = config.webhook.events or default_events(preset)
    header = None
    if found.event_header and events:
        header = (_header_case(found.event_header), events[0])
    body = json.dumps(example, ensure_ascii=False, indent=2)
    return SendSpec(url=url, body=body, auth_type=config.auth_type, preset=preset, event_header=header)


def _header_case(name: str) -> str:
    return "-".join("GitHub" if part == "github" else "WC" if part == "wc" else part.capitalize() for part in name.split("-"))


def send_sample(spec: SendSpec, language: str) -> str:
    return {"curl": _curl, "python": _python, "node": _node, "php": _php}[language](spec)


def verify_sample(language: str) -> str:
    return {"curl": VERIFY_SHELL, "python": VERIFY_PYTHON, "node": VERIFY_NODE, "php": VERIFY_PHP}[language]


# -- curl (bash + openssl) -------------------------------------------------------------------------


def _curl(spec: SendSpec) -> str:
    lines = ["#!/usr/bin/env bash", "set -euo pipefail", f'URL="${{{URL_ENV}:-{spec.url}}}"', f"BODY={shlex.quote(spec.body)}"]
    headers = ['-H "Content-Type: application/json"']
    cred, sign = f'"${CREDENTIAL_ENV}"', f'"${SIGNING_SECRET_ENV}"'
    if spec.auth_type == "apikey":
        headers.append(f'-H "X-API-Key: ${CREDENTIAL_ENV}"')
    elif spec.auth_type == "bearer":
        headers.append(f'-H "Authorization: Bearer ${CREDENTIAL_ENV}"')
    elif spec.auth_type == "basic":
        headers.append(f"-u {cred}")
    elif spec.auth_type == "webhook_secret":
        headers.append(f'-H "X-Webhook-Secret: ${CREDENTIAL_ENV}"')
    elif spec.auth_type == "hmac":
        lines.append(f"SIGNATURE=$(printf '%s' \"$BODY\" | openssl dgst -sha256 -hmac {cred} -r | cut -d' ' -f1)")
        headers.append('-H "X-Webhook-Signature: $SIGNATURE"')
    if spec.preset in BODY_SIGNATURE_PRESETS:
        header, encoding, prefix = BODY_SIGNATURE_PRESETS[spec.preset]
        digest = f"printf '%s' \"$BODY\" | openssl dgst -sha256 -hmac {sign}"
        digest += " -binary | base64" if encoding == "base64" else " -r | cut -d' ' -f1"
        lines.append(f"PRESET_SIGNATURE=$({digest})")
        headers.append(f'-H "{header}: {prefix}$PRESET_SIGNATURE"')
    elif spec.preset == "stripe":
        lines += [
            "TIMESTAMP=$(date +%s)",
            f"PRESET_SIGNATURE=$(printf '%s.%s' \"$TIMESTAMP\" \"$BODY\" \\\n  | openssl dgst -sha256 -hmac {sign} -r | cut -d' ' -f1)",
        ]
        headers.append('-H "Stripe-Signature: t=$TIMESTAMP,v1=$PRESET_SIGNATURE"')
    elif spec.preset == "standard_webhooks":
        lines += [
            'WEBHOOK_ID="msg_$(date +%s%N)"',
            "TIMESTAMP=$(date +%s)",
            f"KEY_HEX=$(printf '%s' \"${{{SIGNING_SECRET_ENV}#whsec_}}\" | base64 -d \\\n  | od -An -v -tx1 | tr -d ' \\n')",
            'PRESET_SIGNATURE=$(printf \'%s.%s.%s\' "$WEBHOOK_ID" "$TIMESTAMP" "$BODY" \\\n'
            '  | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KEY_HEX" -binary | base64)',
        ]
        headers += ['-H "webhook-id: $WEBHOOK_ID"', '-H "webhook-timestamp: $TIMESTAMP"', '-H "webhook-signature: v1,$PRESET_SIGNATURE"']
    if spec.event_header:
        headers.append(f'-H "{spec.event_header[0]}: {spec.event_header[1]}"')
    command = ['curl -sS -X POST "$URL"', *headers, '--data-binary "$BODY"', "-w '\\n%{http_code}\\n'"]
    lines.append("# prints the answer's body, then the HTTP status on the last line")
    lines.append(" \\\n  ".join(command))
    return "\n".join(lines)


# -- Python (standard library) ---------------------------------------------------------------------


def _python(spec: SendSpec) -> str:
    imports = {"os", "urllib.error", "urllib.request"}
    setup: list[str] = []
    headers = ['    "Content-Type": "application/json",']
    if spec.needs_credential:
        setup.append(f'CREDENTIAL = os.environ["{CREDENTIAL_ENV}"]')
    if spec.needs_signing_secret:
        setup.append(f'SIGNING_SECRET = os.environ["{SIGNING_SECRET_ENV}"]')
    extra: list[str] = []
    if spec.auth_type == "apikey":
        headers.append('    "X-API-Key": CREDENTIAL,')
    elif spec.auth_type == "bearer":
        headers.append('    "Authorization": f"Bearer {CREDENTIAL}",')
    elif spec.auth_type == "basic":
        imports.add("base64")
        headers.append('    "Authorization": "Basic " + base64.b64encode(CREDENTIAL.encode()).decode(),')
    elif spec.auth_type == "webhook_secret":
        headers.append('    "X-Webhook-Secret": CREDENTIAL,')
    elif spec.auth_type == "hmac":
        imports |= {"hashlib", "hmac"}
        headers.append('    "X-Webhook-Signature": hmac.new(CREDENTIAL.encode(), body, hashlib.sha256).hexdigest(),')
    if spec.preset in BODY_SIGNATURE_PRESETS:
        header, encoding, prefix = BODY_SIGNATURE_PRESETS[spec.preset]
        imports |= {"hashlib", "hmac"}
        digest = "hmac.new(SIGNING_SECRET.encode(), body, hashlib.sha256)"
        if encoding == "base64":
            imports.add("base64")
            value = f"base64.b64encode({digest}.digest()).decode()"
        else:
            value = f"{digest}.hexdigest()"
        headers.append(f'    "{header}": {value!s}' if not prefix else f'    "{header}": "{prefix}" + {value}')
        headers[-1] += ","
    elif spec.preset == "stripe":
        imports |= {"hashlib", "hmac", "time"}
        extra += [
            "timestamp = str(int(time.time()))",
            'stripe_signature = hmac.new(SIGNING_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()',
        ]
        headers.append('    "Stripe-Signature": f"t={timestamp},v1={stripe_signature}",')
    elif spec.preset == "standard_webhooks":
        imports |= {"base64", "hashlib", "hmac", "time", "uuid"}
        extra += [
            'webhook_id = f"msg_{uuid.uuid4().hex}"',
            "timestamp = str(int(time.time()))",
            'key = base64.b64decode(SIGNING_SECRET.removeprefix("whsec_"))',
            'signed = f"{webhook_id}.{timestamp}.".encode() + body',
            "signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()",
        ]
        headers += ['    "webhook-id": webhook_id,', '    "webhook-timestamp": timestamp,', '    "webhook-signature": f"v1,{signature}",']
    if spec.event_header:
        headers.append(f'    "{spec.event_header[0]}": "{spec.event_header[1]}",')
    lines = [
        *(f"import {name}" for name in sorted(imports)),
        "",
        f'URL = os.environ.get("{URL_ENV}", {spec.url!r})',
        *setup,
        "",
        "# The exact bytes that are signed are the bytes that are sent.",
        f'body = r"""{spec.body}""".encode("utf-8")',
        *extra,
        "headers = {",
        *headers,
        "}",
        'request = urllib.request.Request(URL, data=body, headers=headers, method="POST")',
        "try:",
        "    with urllib.request.urlopen(request, timeout=30) as response:",
        "        status, answer = response.status, response.read()",
        "except urllib.error.HTTPError as error:  # 4xx/5xx: the body says why",
        "    status, answer = error.code, error.read()",
        "print(status)",
        'print(answer.decode("utf-8"))',
    ]
    return "\n".join(lines)


# -- Node.js (18+, built-ins only) -----------------------------------------------------------------


def _node(spec: SendSpec) -> str:
    setup = []
    if spec.needs_credential:
        setup.append(f"const credential = process.env.{CREDENTIAL_ENV};")
    if spec.needs_signing_secret:
        setup.append(f"const signingSecret = process.env.{SIGNING_SECRET_ENV};")
    extra: list[str] = []
    headers = ["    'Content-Type': 'application/json',"]
    if spec.auth_type == "apikey":
        headers.append("    'X-API-Key': credential,")
    elif spec.auth_type == "bearer":
        headers.append("    Authorization: `Bearer ${credential}`,")
    elif spec.auth_type == "basic":
        headers.append("    Authorization: 'Basic ' + Buffer.from(credential).toString('base64'),")
    elif spec.auth_type == "webhook_secret":
        headers.append("    'X-Webhook-Secret': credential,")
    elif spec.auth_type == "hmac":
        headers.append("    'X-Webhook-Signature': crypto.createHmac('sha256', credential).update(body).digest('hex'),")
    if spec.preset in BODY_SIGNATURE_PRESETS:
        header, encoding, prefix = BODY_SIGNATURE_PRESETS[spec.preset]
        value = f"crypto.createHmac('sha256', signingSecret).update(body).digest('{encoding}')"
        headers.append(f"    '{header}': " + (f"'{prefix}' + {value}," if prefix else f"{value},"))
    elif spec.preset == "stripe":
        extra += [
            "  const timestamp = Math.floor(Date.now() / 1000).toString();",
            "  const stripeSignature = crypto.createHmac('sha256', signingSecret).update(`${timestamp}.`).update(body).digest('hex');",
        ]
        headers.append("    'Stripe-Signature': `t=${timestamp},v1=${stripeSignature}`,")
    elif spec.preset == "standard_webhooks":
        extra += [
            "  const webhookId = `msg_${crypto.randomUUID()}`;",
            "  const timestamp = Math.floor(Date.now() / 1000).toString();",
            "  const key = Buffer.from(signingSecret.replace(/^whsec_/, ''), 'base64');",
            "  const signature = crypto.createHmac('sha256', key).update(`${webhookId}.${timestamp}.`).update(body).digest('base64');",
        ]
        headers += ["    'webhook-id': webhookId,", "    'webhook-timestamp': timestamp,", "    'webhook-signature': `v1,${signature}`,"]
    if spec.event_header:
        headers.append(f"    '{spec.event_header[0]}': '{spec.event_header[1]}',")
    body_literal = spec.body.replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${")
    lines = [
        "const crypto = require('crypto');",
        "",
        f"const url = process.env.{URL_ENV} || {json.dumps(spec.url)};",
        *setup,
        "// The exact bytes that are signed are the bytes that are sent.",
        f"const body = Buffer.from(`{body_literal}`, 'utf8');",
        "",
        "(async () => {",
        *extra,
        "  const headers = {",
        *headers,
        "  };",
        "  const response = await fetch(url, { method: 'POST', headers, body });",
        "  console.log(response.status);",
        "  console.log(await response.text());",
        "})().catch((error) => { console.error(error); process.exit(1); });",
    ]
    return "\n".join(lines)


# -- PHP (core only: no curl extension needed) -----------------------------------------------------


def _php(spec: SendSpec) -> str:
    setup = []
    if spec.needs_credential:
        setup.append(f"$credential = getenv('{CREDENTIAL_ENV}');")
    if spec.needs_signing_secret:
        setup.append(f"$signingSecret = getenv('{SIGNING_SECRET_ENV}');")
    extra: list[str] = []
    headers = ["    'Content-Type: application/json',"]
    if spec.auth_type == "apikey":
        headers.append("    'X-API-Key: ' . $credential,")
    elif spec.auth_type == "bearer":
        headers.append("    'Authorization: Bearer ' . $credential,")
    elif spec.auth_type == "basic":
        headers.append("    'Authorization: Basic ' . base64_encode($credential),")
    elif spec.auth_type == "webhook_secret":
        headers.append("    'X-Webhook-Secret: ' . $credential,")
    elif spec.auth_type == "hmac":
        headers.append("    'X-Webhook-Signature: ' . hash_hmac('sha256', $body, $credential),")
    if spec.preset in BODY_SIGNATURE_PRESETS:
        header, encoding, prefix = BODY_SIGNATURE_PRESETS[spec.preset]
        value = (
            "base64_encode(hash_hmac('sha256', $body, $signingSecret, true))"
            if encoding == "base64"
            else "hash_hmac('sha256', $body, $signingSecret)"
        )
        headers.append(f"    '{header}: {prefix}' . {value},")
    elif spec.preset == "stripe":
        extra += ["$timestamp = (string) time();", "$stripeSignature = hash_hmac('sha256', $timestamp . '.' . $body, $signingSecret);"]
        headers.append("    'Stripe-Signature: t=' . $timestamp . ',v1=' . $stripeSignature,")
    elif spec.preset == "standard_webhooks":
        extra += [
            "$webhookId = 'msg_' . bin2hex(random_bytes(12));",
            "$timestamp = (string) time();",
            "$key = base64_decode(preg_replace('/^whsec_/', '', $signingSecret));",
            "$signature = base64_encode(hash_hmac('sha256', $webhookId . '.' . $timestamp . '.' . $body, $key, true));",
        ]
        headers += [
            "    'webhook-id: ' . $webhookId,",
            "    'webhook-timestamp: ' . $timestamp,",
            "    'webhook-signature: v1,' . $signature,",
        ]
    if spec.event_header:
        headers.append(f"    '{spec.event_header[0]}: {spec.event_header[1]}',")
    lines = [
        "<?php",
        f"$url = getenv('{URL_ENV}') ?: '{spec.url}';",
        *setup,
        "// The exact bytes that are signed are the bytes that are sent.",
        "$body = <<<'JSON'",
        spec.body,
        "JSON;",
        *extra,
        "$headers = [",
        *headers,
        "];",
        "$context = stream_context_create(['http' => [",
        "    'method' => 'POST', 'header' => implode(\"\\r\\n\", $headers), 'content' => $body,",
        "    'ignore_errors' => true, 'timeout' => 30,",
        "]]);",
        "$answer = file_get_contents($url, false, $context);",
        "preg_match('{HTTP/\\S+ (\\d{3})}', $http_response_header[0], $status);",
        'echo $status[1], "\\n", $answer, "\\n";',
    ]
    return "\n".join(lines)


# -- verifying callbacks ---------------------------------------------------------------------------

VERIFY_SHELL = f"""#!/usr/bin/env bash
# Usage: verify.sh BODY_FILE SIGNATURE [PREVIOUS_SIGNATURE]
# BODY_FILE: the callback's raw body as received; SIGNATURE: its {SIGNATURE_HEADER} header;
# PREVIOUS_SIGNATURE: its {PREVIOUS_SIGNATURE_HEADER} header, sent only during a secret rotation.
set -euo pipefail
EXPECTED=$(openssl dgst -sha256 -hmac "${CALLBACK_SECRET_ENV}" -r < "$1" | cut -d' ' -f1)
if [ "$EXPECTED" = "$2" ] || [ "$EXPECTED" = "${{3:-}}" ]; then
  echo genuine
else
  echo forged; exit 1
fi"""

VERIFY_PYTHON = f"""import hashlib
import hmac
import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["{CALLBACK_SECRET_ENV}"].encode()


def is_genuine(body: bytes, *signatures: str | None) -> bool:
    \"\"\"True when one of the signatures is the hex HMAC-SHA256 of the raw body.\"\"\"
    expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s.strip()) for s in signatures if s)


class Callback(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        signatures = (self.headers.get("{SIGNATURE_HEADER}"), self.headers.get("{PREVIOUS_SIGNATURE_HEADER}"))
        if not is_genuine(body, *signatures):
            self.send_response(401)
            self.end_headers()
            return
        event = json.loads(body)
        # Deduplicate on the webhook-id header: a retry carries the same one.
        print(self.headers.get("webhook-id"), event["event"], event["order"]["external_id"], flush=True)
        self.send_response(204)
        self.end_headers()


HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8000"))), Callback).serve_forever()"""

VERIFY_NODE = f"""const crypto = require('crypto');
const http = require('http');

const secret = process.env.{CALLBACK_SECRET_ENV};

function isGenuine(body, ...signatures) {{
  const expected = Buffer.from(crypto.createHmac('sha256', secret).update(body).digest('hex'));
  return signatures.some((s) => s && s.length === expected.length
    && crypto.timingSafeEqual(Buffer.from(s), expected));
}}

http.createServer((req, res) => {{
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {{
    const body = Buffer.concat(chunks);  // the raw bytes: never re-serialise before verifying
    if (!isGenuine(body, req.headers['{SIGNATURE_HEADER.lower()}'], req.headers['{PREVIOUS_SIGNATURE_HEADER.lower()}'])) {{
      res.writeHead(401).end();
      return;
    }}
    const event = JSON.parse(body);
    // Deduplicate on the webhook-id header: a retry carries the same one.
    console.log(req.headers['webhook-id'], event.event, event.order.external_id);
    res.writeHead(204).end();
  }});
}}).listen(Number(process.env.PORT || 8000), '127.0.0.1');"""

VERIFY_PHP = f"""<?php
// Run with: php -S 127.0.0.1:8000 verify.php
$secret = getenv('{CALLBACK_SECRET_ENV}');
$body = file_get_contents('php://input');  // the raw bytes: never re-encode before verifying
$expected = hash_hmac('sha256', $body, $secret);
$signatures = [$_SERVER['HTTP_{SIGNATURE_HEADER.upper().replace("-", "_")}'] ?? '',
               $_SERVER['HTTP_{PREVIOUS_SIGNATURE_HEADER.upper().replace("-", "_")}'] ?? ''];
$genuine = false;
foreach ($signatures as $signature) {{
    $genuine = $genuine || ($signature !== '' && hash_equals($expected, trim($signature)));
}}
if (!$genuine) {{
    http_response_code(401);
    exit;
}}
$event = json_decode($body, true);
// Deduplicate on the webhook-id header: a retry carries the same one.
error_log(($_SERVER['HTTP_WEBHOOK_ID'] ?? '') . ' ' . $event['event'] . ' ' . $event['order']['external_id']);
http_response_code(204);"""

"""What an operator hands a client: the webhook URL and a curl command that authenticates the way the
integration expects (seed 000, "Compartir Endpoint con Cliente").

The receiver checks, per `auth_type`: apikey -> `X-API-Key`, bearer -> `Authorization: Bearer`,
basic -> HTTP Basic, webhook_secret -> `X-Webhook-Secret`, hmac -> the hex HMAC-SHA256 of the raw
body in `X-Webhook-Signature`; then the `webhook.verification` preset's signature (Autentikapp,
GitHub, Shopify, WooCommerce, Stripe, Standard Webhooks). The example computes every signature with
openssl in the shell, timestamps included, so the command works as pasted.
"""

from __future__ import annotations

import json
import shlex
from urllib.parse import quote

from pipelines import settings
from pipelines.integrations.webhook_settings import BODY_SIGNATURE_PRESETS

AUTH_HEADERS = {
    "apikey": "X-API-Key",
    "bearer": "Authorization",
    "basic": "Authorization",
    "webhook_secret": "X-Webhook-Secret",
    "hmac": "X-Webhook-Signature",
}

# The seed's own example bodies: an order batch (seed 000 step 3) and an Autentikapp sale (seed 004).
ORDER_BODY = [
    {"external_id": "PED-001", "client_name": "María García", "address": "Zona 15, Guatemala", "latitude": 14.58, "longitude": -90.49}
]
SALE_BODY = {
    "event_type": "transaction.created",
    "event_timestamp": "2025-09-13T14:30:00Z",
    "customer_data": {"national_id": "123456789", "email": "cliente@email.com", "first_name": "Diego", "last_name": "López"},
    "transaction_data": {
        "transaction_id": "FACT-00123",
        "currency": "COP",
        "total_amount": 950000.00,
        "line_items": [
            {
                "product_sku": "BOLSO-CUERO-01",
                "quantity": 1,
                "unit_price": 950000.00,
                "autentikapp_code": "a1b2c3d4-e5f6-7890-1234-567890abcdef",
            }
        ],
    },
}


def webhook_url(name: str, verification: str = "none") -> str:
    """Where the client POSTs: /webhook/{name}, or seed 004's /v1/webhooks/inbound/{name} for an
    Autentikapp account (the route its own documentation gives)."""
    path = "v1/webhooks/inbound" if verification == "autentikapp" else "webhook"
    return f"{settings.public_receiver_url()}/{path}/{quote(name, safe='')}"


def signature_header_line(verification: str, secret: str) -> str | None:
    """The preset's signature header as a client configures it (for the 'Headers' list)."""
    if verification in BODY_SIGNATURE_PRESETS:
        header, encoding, prefix = BODY_SIGNATURE_PRESETS[verification]
        return f"{header}: {prefix}{encoding} HMAC-SHA256 of the raw body, keyed with {secret}"
    if verification == "stripe":
        return f"Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of 't.body'>, keyed with {secret}"
    if verification == "standard_webhooks":
        return f"webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256 of 'id.timestamp.body'>, keyed with {secret}"
    return None


def _openssl_hmac(printf_args: str, key: str, encoding: str) -> str:
    """Shell for the HMAC-SHA256 of `printf <printf_args>` keyed with the text `key`."""
    digest = f"printf {printf_args} | openssl dgst -sha256 -hmac {shlex.quote(key)}"
    return f"$({digest} -binary | base64)" if encoding == "base64" else f"$({digest} -r | cut -d' ' -f1)"


_BODY_ONLY = "'%s' \"$BODY\""
_STRIPE_SIGNED = '\'%s.%s\' "$TIMESTAMP" "$BODY"'
_STANDARD_SIGNED = '\'%s.%s.%s\' "$WEBHOOK_ID" "$TIMESTAMP" "$BODY"'


def _preset_signature(verification: str, secret: str) -> tuple[list[str], list[str]]:
    """(shell lines computing the preset's signature over $BODY, curl header options carrying it)."""
    if verification in BODY_SIGNATURE_PRESETS:
        header, encoding, prefix = BODY_SIGNATURE_PRESETS[verification]
        return ([f"PRESET_SIGNATURE={_openssl_hmac(_BODY_ONLY, secret, encoding)}"], [f'-H "{header}: {prefix}$PRESET_SIGNATURE"'])
    if verification == "stripe":  # keyed with the whole whsec_ text, as Stripe's libraries do
        return (
            ["TIMESTAMP=$(date +%s)", f"PRESET_SIGNATURE={_openssl_hmac(_STRIPE_SIGNED, secret, 'hex')}"],
            ['-H "Stripe-Signature: t=$TIMESTAMP,v1=$PRESET_SIGNATURE"'],
        )
    if verification == "standard_webhooks":  # keyed with the bytes the base64 after whsec_ encodes
        key = shlex.quote(secret.removeprefix("whsec_"))
        return (
            [
                'WEBHOOK_ID="msg_$(date +%s%N)"',
                "TIMESTAMP=$(date +%s)",
                f"KEY_HEX=$(printf '%s' {key} | base64 -d | od -An -v -tx1 | tr -d ' \\n')",
                f"PRESET_SIGNATURE=$(printf {_STANDARD_SIGNED} | openssl dgst -sha256 -mac HMAC "
                '-macopt "hexkey:$KEY_HEX" -binary | base64)',
            ],
            ['-H "webhook-id: $WEBHOOK_ID"', '-H "webhook-timestamp: $TIMESTAMP"', '-H "webhook-signature: v1,$PRESET_SIGNATURE"'],
        )
    return [], []


def example_body(target: str) -> str:
    return json.dumps(SALE_BODY if target == "sale" else ORDER_BODY, ensure_ascii=False, indent=2)


def auth_header_line(auth_type: str, secret: str) -> str | None:
    """The header as a client configures it (for the 'Headers' list beside the URL)."""
    header = AUTH_HEADERS.get(auth_type)
    if header is None:
        return None
    if auth_type == "bearer":
        return f"{header}: Bearer {secret}"
    if auth_type == "basic":
        return f"{header}: Basic base64({secret})"
    if auth_type == "hmac":
        return f"{header}: hex HMAC-SHA256 of the raw body, keyed with {secret}"
    return f"{header}: {secret}"


def curl_example(
    name: str, auth_type: str, secret: str, target: str = "order", verification: str = "none", signing_secret: str = ""
) -> str:
    """A bash snippet that sends the seed's example body to the integration's webhook.

    `secret` (the auth_value) and `signing_secret` (the preset's) are what go in the command: the real
    values when the operator chose to reveal them, their masks otherwise (the page then says which
    values to put in their place)."""
    url = shlex.quote(webhook_url(name, verification))
    body = example_body(target)
    lines = [f"BODY={shlex.quote(body)}"]
    headers = ['-H "Content-Type: application/json"']
    if auth_type == "hmac":
        lines.append(f"SIGNATURE={_openssl_hmac(_BODY_ONLY, secret, 'hex')}")
        headers.append('-H "X-Webhook-Signature: $SIGNATURE"')
    elif auth_type == "basic":
        headers.append(f"-u {shlex.quote(secret)}")
    elif auth_type == "bearer":
        headers.append(f"-H {shlex.quote(f'Authorization: Bearer {secret}')}")
    elif auth_type in AUTH_HEADERS:
        headers.append(f"-H {shlex.quote(f'{AUTH_HEADERS[auth_type]}: {secret}')}")
    signing_lines, signing_headers = _preset_signature(verification, signing_secret)
    lines += signing_lines
    headers += signing_headers
    command = [f"curl -sS -X POST {url}", *headers, '--data-binary "$BODY"']
    lines.append(" \\\n  ".join(command))
    return "\n".join(lines)

"""What an operator hands a client: the webhook URL and a curl command that authenticates the way the
integration expects (seed 000, "Compartir Endpoint con Cliente").

The receiver checks, per `auth_type`: apikey -> `X-API-Key`, bearer -> `Authorization: Bearer`,
basic -> HTTP Basic, webhook_secret -> `X-Webhook-Secret`, hmac -> the hex HMAC-SHA256 of the raw
body in `X-Webhook-Signature`. For hmac the example computes the signature with openssl, so the
command works as pasted.
"""
from __future__ import annotations

import json
import shlex
from urllib.parse import quote

from pipelines import settings

AUTH_HEADERS = {
    "apikey": "X-API-Key",
    "bearer": "Authorization",
    "basic": "Authorization",
    "webhook_secret": "X-Webhook-Secret",
    "hmac": "X-Webhook-Signature",
}

# The seed's own example bodies: an order batch (seed 000 step 3) and an Autentikapp sale (seed 004).
ORDER_BODY = [
    {"external_id": "PED-001", "client_name": "María García", "address": "Zona 15, Guatemala",
     "latitude": 14.58, "longitude": -90.49}
]
SALE_BODY = {
    "event_type": "transaction.created",
    "event_timestamp": "2025-09-13T14:30:00Z",
    "customer_data": {"national_id": "123456789", "email": "cliente@email.com", "first_name": "Diego",
                      "last_name": "López"},
    "transaction_data": {
        "transaction_id": "FACT-00123", "currency": "COP", "total_amount": 950000.00,
        "line_items": [{"product_sku": "BOLSO-CUERO-01", "quantity": 1, "unit_price": 950000.00,
                        "autentikapp_code": "a1b2c3d4-e5f6-7890-1234-567890abcdef"}],
    },
}


def webhook_url(name: str) -> str:
    """Where the client POSTs: the public receiver URL + /webhook/{name}."""
    return f"{settings.public_receiver_url()}/webhook/{quote(name, safe='')}"


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


def curl_example(name: str, auth_type: str, secret: str, target: str = "order") -> str:
    """A bash snippet that sends the seed's example body to the integration's webhook.

    `secret` is what goes in the command: the real value when the operator chose to reveal it, its
    mask otherwise (the command then says which value to put in its place)."""
    url = shlex.quote(webhook_url(name))
    body = example_body(target)
    lines = [f"BODY={shlex.quote(body)}"]
    headers = ['-H "Content-Type: application/json"']
    if auth_type == "hmac":
        lines.append(
            f"SIGNATURE=$(printf '%s' \"$BODY\" | openssl dgst -sha256 -hmac {shlex.quote(secret)} -r | cut -d' ' -f1)"
        )
        headers.append('-H "X-Webhook-Signature: $SIGNATURE"')
    elif auth_type == "basic":
        headers.append(f"-u {shlex.quote(secret)}")
    elif auth_type == "bearer":
        headers.append(f"-H {shlex.quote(f'Authorization: Bearer {secret}')}")
    elif auth_type in AUTH_HEADERS:
        headers.append(f"-H {shlex.quote(f'{AUTH_HEADERS[auth_type]}: {secret}')}")
    command = [f"curl -sS -X POST {url}", *headers, '--data-binary "$BODY"']
    lines.append(" \\\n  ".join(command))
    return "\n".join(lines)

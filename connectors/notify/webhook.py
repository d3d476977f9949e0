"""A generic webhook, signed exactly like status callbacks (`connectors.callback_sender.signed_headers`):
`X-Crossdock-Signature` (hex HMAC-SHA256 of the body) and Standard Webhooks headers (`webhook-id`
stable across retries of one notification, `webhook-timestamp`, `webhook-signature`), so a receiver
verifies alerts with the code it already has for callbacks."""

from __future__ import annotations

import orjson

from connectors.callback_sender import signed_headers
from connectors.notify.http import post_json
from pipelines.alerts.channels import WebhookSettings
from pipelines.alerts.outbox import AlertMessage
from pipelines.clock import utcnow


def send_webhook(settings: WebhookSettings, message: AlertMessage) -> str:
    body = orjson.dumps(message.payload())
    secret = settings.secret.get_secret_value() if settings.secret else ""
    headers = signed_headers(secret, message.delivery_id, body, utcnow(), message.event)
    headers.pop("User-Agent", None)
    status = post_json(settings.url, body, headers, settings.timeout_seconds)
    return f"webhook ({status})"

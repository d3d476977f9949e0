"""Who may push to an integration: its `auth_type` credential and its provider signature preset.

Framework-free on purpose: it sees a case-insensitive header mapping, the raw body and the time, so the
same checks serve the receiver, tests and any future intake. Every comparison is constant-time and runs
against every active secret (two during a rotation) without stopping at the first match, so timing
tells an attacker neither which byte nor which secret was wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from standardwebhooks import Webhook

from pipelines.integrations.model import WebhookIntegration
from pipelines.integrations.webhook_settings import BODY_SIGNATURE_PRESETS, TIMESTAMPED_PRESETS


class Unauthorized(Exception):
    """The request does not prove it comes from the client (401). The message says what was wrong,
    never what was expected."""


# Where each preset puts its delivery id; `Idempotency-Key` / `X-Webhook-Id` work for every integration.
DELIVERY_ID_HEADERS: dict[str, tuple[str, ...]] = {
    "standard_webhooks": ("webhook-id", "svix-id"),
    "github": ("x-github-delivery",),
    "shopify": ("x-shopify-webhook-id", "x-shopify-event-id"),
    "woocommerce": ("x-wc-webhook-delivery-id",),
}
GENERIC_DELIVERY_ID_HEADERS = ("idempotency-key", "x-webhook-id")


@dataclass(frozen=True)
class Guard:
    """An integration's checks with its secrets decoded once (the receiver caches one per integration)."""

    auth_type: str
    credentials: tuple[bytes, ...]
    preset: str
    signing_secrets: tuple[str, ...]
    tolerance_seconds: int

    @classmethod
    def of(cls, config: WebhookIntegration) -> Guard:
        webhook = config.webhook
        credentials = tuple(
            secret.get_secret_value().encode() for secret in (config.auth_value, webhook.previous_auth_value) if secret is not None
        )
        return cls(
            auth_type=config.auth_type,
            credentials=credentials,
            preset=webhook.verification,
            signing_secrets=tuple(secret.get_secret_value() for secret in webhook.signing_secrets),
            tolerance_seconds=webhook.tolerance_seconds,
        )

    def describe(self) -> str:
        """What was checked, for the inbox row (never a secret)."""
        return f"auth_type={self.auth_type}; verification={self.preset}"

    def check(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Raise `Unauthorized` unless both the credential and the signature are right."""
        if self.auth_type != "none":
            _AUTH_CHECKS[self.auth_type](self.credentials, headers, body)
        if self.preset != "none":
            keys = self.signing_secrets
            if self.preset in TIMESTAMPED_PRESETS:
                _PRESETS[self.preset](keys, headers, body, now, self.tolerance_seconds)
            else:
                _PRESETS[self.preset](keys, headers, body)


def delivery_id(preset: str, headers: Mapping[str, str], document: Any) -> str | None:
    """The provider's id for this delivery, used to answer a repeat without processing it twice."""
    if preset == "stripe" and isinstance(document, dict) and isinstance(document.get("id"), str):
        return document["id"]  # Stripe's event id (evt_...) lives in the body
    for name in DELIVERY_ID_HEADERS.get(preset, ()) + GENERIC_DELIVERY_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value.strip()
    return None


# -- comparisons -------------------------------------------------------------------------------------


def _matches_any(given: bytes, candidates: list[bytes] | tuple[bytes, ...]) -> bool:
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(given, candidate)
    return matched


def _hmac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()


def _header(headers: Mapping[str, str], name: str, shown: str) -> str:
    value = headers.get(name)
    if not value:
        raise Unauthorized(f"missing {shown} header")
    return value.strip()


# -- auth_type (seed 000's table) --------------------------------------------------------------------


def _apikey(credentials, headers, _body) -> None:
    if not _matches_any(_header(headers, "x-api-key", "X-API-Key").encode(), credentials):
        raise Unauthorized("X-API-Key is not valid for this integration")


def _bearer(credentials, headers, _body) -> None:
    scheme, _, token = _header(headers, "authorization", "Authorization: Bearer").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    if not _matches_any(token.strip().encode(), credentials):
        raise Unauthorized("bearer token is not valid for this integration")


def _basic(credentials, headers, _body) -> None:
    scheme, _, encoded = _header(headers, "authorization", "Authorization: Basic").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthorized("Authorization must be 'Basic <base64 user:password>'")
    try:
        pair = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Unauthorized("Authorization Basic value is not base64") from None
    if not _matches_any(pair, credentials):
        raise Unauthorized("user or password is not valid for this integration")


def _webhook_secret(credentials, headers, _body) -> None:
    if not _matches_any(_header(headers, "x-webhook-secret", "X-Webhook-Secret").encode(), credentials):
        raise Unauthorized("X-Webhook-Secret is not valid for this integration")


def _hex_signature(header: str, shown: str, prefix: str = ""):
    """A hex HMAC-SHA256 of the raw body in `header` (optionally after `prefix`, e.g. GitHub's sha256=)."""

    def check(keys, headers, body) -> None:
        given = _header(headers, header, shown)
        if prefix:
            if not given.startswith(prefix):
                raise Unauthorized(f"{shown} must start with {prefix!r}")
            given = given[len(prefix) :]
        elif given.startswith("sha256="):
            given = given[len("sha256=") :]
        try:
            digest = bytes.fromhex(given)
        except ValueError:
            raise Unauthorized(f"{shown} is not a hex HMAC-SHA256") from None
        if not _matches_any(digest, [_hmac(_key_bytes(key), body) for key in keys]):
            raise Unauthorized(f"{shown} does not match the body")

    return check


def _base64_signature(header: str, shown: str):
    """A base64 HMAC-SHA256 of the raw body (Shopify, WooCommerce)."""

    def check(keys, headers, body) -> None:
        try:
            digest = base64.b64decode(_header(headers, header, shown), validate=True)
        except (binascii.Error, ValueError):
            raise Unauthorized(f"{shown} is not a base64 HMAC-SHA256") from None
        if not _matches_any(digest, [_hmac(_key_bytes(key), body) for key in keys]):
            raise Unauthorized(f"{shown} does not match the body")

    return check


def _key_bytes(key: str | bytes) -> bytes:
    return key if isinstance(key, bytes) else key.encode()


def _hmac_auth(credentials, headers, body) -> None:
    _hex_signature("x-webhook-signature", "X-Webhook-Signature")(credentials, headers, body)


# -- timestamped presets -------------------------------------------------------------------------------


def _fresh(timestamp: str, shown: str, now: float, tolerance: int) -> int:
    try:
        seconds = int(timestamp)
    except ValueError:
        raise Unauthorized(f"{shown} is not a Unix timestamp") from None
    skew = now - seconds
    if skew > tolerance:
        raise Unauthorized(f"{shown} is {int(skew)} s old; the tolerance is {tolerance} s (replayed or delayed delivery)")
    if -skew > tolerance:
        raise Unauthorized(f"{shown} is {int(-skew)} s in the future; the tolerance is {tolerance} s (check the sender's clock)")
    return seconds


@lru_cache(maxsize=256)
def _standard_webhook(secret: str) -> Webhook:
    return Webhook(secret)


def _standard_webhooks(keys, headers, body, now, tolerance) -> None:
    """Standard Webhooks: `v1,<base64 HMAC>` entries (space-separated) over `id.timestamp.body`, signed
    with the base64 key after `whsec_`. Svix, the commonest sender, names the same three headers
    `svix-id`, `svix-timestamp` and `svix-signature`: either set is accepted (the `webhook-*` one wins).
    The `standardwebhooks` package computes the signature; the
    receiver applies its own tolerance and clock, which the package fixes at 5 minutes and wall time."""
    prefix = "webhook" if "webhook-id" in headers or "svix-id" not in headers else "svix"
    msg_id = _header(headers, f"{prefix}-id", f"{prefix}-id")
    timestamp = _fresh(_header(headers, f"{prefix}-timestamp", f"{prefix}-timestamp"), f"{prefix}-timestamp", now, tolerance)
    given = [
        part.partition(",")[2] for part in _header(headers, f"{prefix}-signature", f"{prefix}-signature").split() if part.startswith("v1,")
    ]
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise Unauthorized(f"{prefix}-signature does not match the body") from None
    signed_at = datetime.fromtimestamp(timestamp, tz=UTC)
    expected = [_standard_webhook(key).sign(msg_id=msg_id, timestamp=signed_at, data=text).partition(",")[2].encode() for key in keys]
    matched = False
    for signature in given:
        matched |= _matches_any(signature.encode(), expected)
    if not matched:
        raise Unauthorized(f"{prefix}-signature does not match the body")


def _stripe(keys, headers, body, now, tolerance) -> None:
    """Stripe: `t=<unix>,v1=<hex HMAC of 't.body'>[,v1=...]`, keyed with the whole `whsec_...` secret."""
    fields: dict[str, list[str]] = {}
    for part in _header(headers, "stripe-signature", "Stripe-Signature").split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    if not fields.get("t") or not fields.get("v1"):
        raise Unauthorized("Stripe-Signature needs t= and v1= elements")
    timestamp = _fresh(fields["t"][0], "Stripe-Signature timestamp", now, tolerance)
    signed = f"{timestamp}.".encode() + body
    expected = [_hmac(key.encode(), signed).hex().encode() for key in keys]
    matched = False
    for signature in fields["v1"]:
        matched |= _matches_any(signature.lower().encode(), expected)
    if not matched:
        raise Unauthorized("Stripe-Signature does not match the body")


_AUTH_CHECKS = {
    "apikey": _apikey,
    "bearer": _bearer,
    "basic": _basic,
    "webhook_secret": _webhook_secret,
    "hmac": _hmac_auth,
}


def _body_signature(header: str, encoding: str, prefix: str):
    """The check of a preset that signs the raw body alone (`BODY_SIGNATURE_PRESETS`)."""
    if encoding == "hex":
        return _hex_signature(header.lower(), header, prefix)
    return _base64_signature(header.lower(), header)


_PRESETS = {
    **{preset: _body_signature(*spec) for preset, spec in BODY_SIGNATURE_PRESETS.items()},
    "standard_webhooks": _standard_webhooks,
    "stripe": _stripe,
}

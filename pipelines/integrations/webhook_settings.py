"""How a webhook integration verifies and acknowledges what clients push.

Two independent checks can guard an integration, and both must pass when both are set:
- the integration's `auth_type` (seed 000's table: API key, bearer, basic, shared secret, HMAC of the
  body keyed with `auth_value`); `previous_auth_value` keeps the old credential working during a rotation;
- a provider signature `verification` preset keyed with `signing_secrets` (two during a rotation).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictInt, model_validator

# `none` trusts the integration's auth_type alone; the rest are provider signature schemes.
VerificationPreset = Literal["none", "hmac", "standard_webhooks", "stripe", "shopify", "github", "woocommerce", "autentikapp"]

# Schemes whose signature covers a timestamp, so a stale or future one can be refused.
TIMESTAMPED_PRESETS: frozenset[str] = frozenset({"standard_webhooks", "stripe"})

# Schemes that sign the raw body alone with the secret as text: (header, digest encoding, prefix).
# The receiver checks exactly these, and the client instructions compute exactly these.
BODY_SIGNATURE_PRESETS: dict[str, tuple[str, Literal["hex", "base64"], str]] = {
    "hmac": ("X-Webhook-Signature", "hex", ""),
    "autentikapp": ("X-Autentikapp-Signature", "hex", ""),
    "github": ("X-Hub-Signature-256", "hex", "sha256="),
    "shopify": ("X-Shopify-Hmac-Sha256", "base64", ""),
    "woocommerce": ("X-WC-Webhook-Signature", "base64", ""),
}


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ack_mode: Literal["sync", "async"] = Field(
        "sync", description="sync: process before answering 200 with counts; async: answer 202, process in Dagster"
    )
    verification: VerificationPreset = Field("none", description="signature scheme checked on every request")
    signing_secrets: list[SecretStr] = Field(
        default_factory=list,
        max_length=2,
        description="secrets for the signature scheme; two may be active during a rotation",
    )
    previous_auth_value: SecretStr | None = Field(
        None, description="the former auth_value, still accepted until cleared (credential rotation)"
    )
    events: list[str] | None = Field(
        None,
        description="provider events this integration ingests (X-Shopify-Topic, X-GitHub-Event, X-WC-Webhook-Topic, "
        "Stripe's and Standard Webhooks' `type`); others are answered 200 and recorded, not ingested. "
        "Default: the preset's order events (Shopify orders/create, orders/updated, orders/paid; "
        "WooCommerce order.created, order.updated; Stripe checkout.session.completed; GitHub and "
        "Standard Webhooks every event but pings)",
    )
    tolerance_seconds: StrictInt = Field(300, ge=1, le=86_400, description="max age/skew of a signed timestamp")
    max_body_bytes: StrictInt = Field(1_048_576, ge=1_024, le=64 * 1_048_576, description="413 above this size")
    max_records: StrictInt = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="records one request may carry; 413 above this (a huge array would hold the other requests up)",
    )

    @model_validator(mode="after")
    def _preset_needs_secret(self) -> WebhookSettings:
        if self.verification != "none" and not self.signing_secrets:
            raise ValueError(f"verification {self.verification!r} needs webhook.signing_secrets")
        return self

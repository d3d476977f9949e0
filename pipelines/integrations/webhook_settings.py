"""How a webhook integration verifies and acknowledges what clients push."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

# `none` trusts the integration's auth_type alone; the rest are provider signature schemes.
VerificationPreset = Literal[
    "none", "hmac", "standard_webhooks", "stripe", "shopify", "github", "woocommerce", "autentikapp"
]


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
    tolerance_seconds: int = Field(300, ge=1, le=86_400, description="max age/skew of a signed timestamp")
    max_body_bytes: int = Field(1_048_576, ge=1_024, le=64 * 1_048_576, description="413 above this size")

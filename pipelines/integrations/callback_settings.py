"""How status callbacks are delivered to an integration's `callback_url`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictFloat, StrictInt, field_validator
from pydantic.json_schema import JsonDict
from standardwebhooks import Webhook


def standard_webhooks_secret(value: SecretStr | None) -> SecretStr | None:
    """A callback signing secret as receivers' Standard Webhooks libraries need it (they base64-decode
    the part after `whsec_`); raises ValueError with the reason otherwise."""
    if value is not None:
        try:
            Webhook(value.get_secret_value())
        except Exception:  # noqa: BLE001 - the library raises several types for a malformed key
            raise ValueError("must be a Standard Webhooks secret: whsec_ followed by base64") from None
    return value


MANAGED: JsonDict = {"managed": True}  # a setting Crossdock maintains itself: forms do not offer it

# Svix's schedule: soon after a blip, then spreading out over a day before giving up.
DEFAULT_RETRY_SCHEDULE = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]


class CallbackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retry_schedule_seconds: list[Annotated[StrictInt, Field(ge=0, le=7 * 86_400)]] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE),
        max_length=20,
        description="wait before each retry; after the last one the callback is dead-lettered",
    )
    timeout_seconds: StrictFloat = Field(10.0, gt=0, le=120, description="a 2xx must arrive within this")
    # Spreads the retries of many callbacks that failed together (an outage) so they do not all hit
    # the client again in the same second when it comes back.
    jitter_ratio: StrictFloat = Field(0.2, ge=0, le=1, description="each retry waits its scheduled delay times a random factor in 1 ± this")
    max_retry_after_seconds: StrictInt = Field(
        36_000, ge=0, le=7 * 86_400, description="longest Retry-After (429/503) honoured; longer waits are cut to this"
    )
    # Rotation without a flag day: when `callback_secret` changes, the old secret moves here and every
    # callback carries a signature with each, so the client's system verifies with whichever it holds
    # until its team switches (Standard Webhooks lists several signatures in one header).
    rotation_overlap_hours: StrictFloat = Field(
        24.0, ge=0, le=720, description="after callback_secret changes, the old one keeps signing too for this long"
    )
    # Set by a rotation, not typed in (MANAGED: forms leave them out); PATCH previous_secret null ends it early.
    previous_secret: SecretStr | None = Field(
        None,
        description="the callback secret before the last rotation; set on rotation, clear it to stop early",
        json_schema_extra=MANAGED,
    )
    previous_secret_expires_at: datetime | None = Field(
        None, description="when callbacks stop carrying the previous secret's signature", json_schema_extra=MANAGED
    )

    @field_validator("previous_secret_expires_at", mode="before")
    @classmethod
    def _a_written_time(cls, value: object) -> object:
        # Not a number of seconds since 1970, which pydantic would also take: the schema says date-time.
        if value is not None and not isinstance(value, str | datetime):
            raise ValueError("must be an ISO 8601 date-time, e.g. 2026-01-15T10:00:00Z")
        return value

    @field_validator("previous_secret")
    @classmethod
    def _standard_webhooks_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return standard_webhooks_secret(value)

    def previous_signing_secret(self, now: datetime) -> str | None:
        """The previous secret while its overlap lasts (None once expired or cleared)."""
        if self.previous_secret is None or self.previous_secret_expires_at is None:
            return None
        return self.previous_secret.get_secret_value() if now < self.previous_secret_expires_at else None

"""An integration: one client system, how we reach it, how its records map onto ours, where status goes.

The field names follow the Logitrack plan's configuration examples verbatim (`name`, `type`,
`endpoint`, `auth_type`, `auth_value`, `poll_interval_seconds`, `field_mapping`, `is_active`,
`callback_url`, `callback_events`), so a client's JSON from that document is accepted as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from pipelines.integrations.api_settings import ApiSettings
from pipelines.integrations.callback_settings import CallbackSettings, standard_webhooks_secret
from pipelines.integrations.db_settings import DbSettings
from pipelines.integrations.file_settings import STORED as STORED  # re-exported: the context name callers use
from pipelines.integrations.file_settings import FileSettings
from pipelines.integrations.onboarding_settings import OnboardingSettings
from pipelines.integrations.webhook_settings import WebhookSettings
from pipelines.outbound import check_url
from pipelines.vocabulary import OrderEvent

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
IntegrationType = Literal["webhook", "api", "db", "file"]
Target = Literal["order", "sale"]
AuthType = Literal["none", "apikey", "bearer", "basic", "webhook_secret", "hmac"]
CallbackEvent = OrderEvent
# STORED: the validation context of a configuration read back from the store, `Integration.model_validate(data,
# context=STORED)`. The outbound policy is then left to connect time, so an integration saved under an
# allow list that has since changed still loads (and is refused when it connects, with the reason).


def _stored(info: ValidationInfo) -> bool:
    return bool(isinstance(info.context, dict) and info.context.get("stored"))


class Integration(BaseModel):
    """What a person configures. Secrets are `SecretStr` so they never print by accident."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(pattern=NAME_PATTERN, description="URL-safe, unique; appears in /webhook/{name}")
    type: IntegrationType
    target: Target = "order"
    endpoint: str | None = Field(None, description="client API URL (api) or informational for others")
    auth_type: AuthType = "none"
    auth_value: SecretStr | None = Field(None, description="API key, bearer token, user:password (basic) or shared secret")
    poll_interval_seconds: int | None = Field(None, ge=10, le=7 * 86_400)
    field_mapping: dict[str, Any] = Field(default_factory=dict, description="target field -> expression")
    is_active: bool = True
    callback_url: str | None = Field(None, description="where order status changes are POSTed")
    callback_events: list[CallbackEvent] = Field(default_factory=list)
    callback_secret: SecretStr | None = Field(None, description="signs callbacks; generated when callbacks are set")
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    db: DbSettings = Field(default_factory=DbSettings)
    file: FileSettings = Field(default_factory=FileSettings)
    onboarding: OnboardingSettings = Field(default_factory=OnboardingSettings)

    @field_validator("callback_url", "endpoint")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and info.field_name == "callback_url" and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        outbound = info.field_name == "callback_url" or info.data.get("type") == "api"
        if value and outbound and value.startswith(("http://", "https://")) and not _stored(info):
            check_url(value)  # what the outbound policy can refuse before DNS (pipelines.outbound)
        return value or None

    @field_validator("callback_secret")
    @classmethod
    def _standard_webhooks_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return standard_webhooks_secret(value)

    @field_validator("callback_events")
    @classmethod
    def _unique_events(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _type_needs(self) -> Integration:
        if self.type == "api":
            if not self.endpoint:
                raise ValueError("an api integration needs an endpoint")
            if not self.endpoint.startswith(("http://", "https://")):
                raise ValueError("endpoint must be an http:// or https:// URL")
            if self.poll_interval_seconds is None:
                self.poll_interval_seconds = 300
        if self.type == "db" and self.poll_interval_seconds is None:
            self.poll_interval_seconds = 300
        if self.auth_type not in ("none",) and self.auth_value is None:
            raise ValueError(f"auth_type {self.auth_type!r} needs an auth_value")
        if self.auth_type == "basic" and self.auth_value and ":" not in self.auth_value.get_secret_value():
            raise ValueError("basic auth_value must be 'user:password'")
        if self.callback_events and not self.callback_url:
            raise ValueError("callback_events need a callback_url")
        return self


@dataclass(frozen=True)
class StoredIntegration:
    """An integration as the store holds it: the configuration plus what the store assigned."""

    id: int
    config: Integration
    mapping_version: int
    created_at: datetime
    updated_at: datetime
    callbacks_disabled_reason: str | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def target(self) -> str:
        return self.config.target

    @property
    def is_active(self) -> bool:
        return self.config.is_active

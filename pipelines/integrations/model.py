"""An integration: one client system, how we reach it, how its records map onto ours, where status goes.

The field names follow the Logitrack plan's configuration examples verbatim (`name`, `type`,
`endpoint`, `auth_type`, `auth_value`, `poll_interval_seconds`, `field_mapping`, `is_active`,
`callback_url`, `callback_events`), so a client's JSON from that document is accepted as is.

`type` picks one of four kinds (webhook, api, db, file), each carrying only its own settings block: code
that reads `config.db` has first found out, and the type checker knows, that it holds a db integration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Self, TypeVar, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import DEFAULT_REF_TEMPLATE
from pydantic_core import InitErrorDetails, PydanticCustomError

from pipelines.integrations.api_settings import ApiSettings
from pipelines.integrations.callback_settings import CallbackSettings, standard_webhooks_secret
from pipelines.integrations.db_settings import DbSettings
from pipelines.integrations.file_settings import FileSettings
from pipelines.integrations.onboarding_settings import OnboardingSettings
from pipelines.integrations.stored_context import STORED, is_stored
from pipelines.integrations.webhook_settings import VerificationPreset, WebhookSettings
from pipelines.outbound import check_url
from pipelines.vocabulary import OrderEvent

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
IntegrationType = Literal["webhook", "api", "db", "file"]
Target = Literal["order", "sale"]
AuthType = Literal["none", "apikey", "bearer", "basic", "webhook_secret", "hmac"]
CallbackEvent = OrderEvent


class IntegrationBase(BaseModel):
    """What every kind of integration has: who it is, how it authenticates, its mapping, where status
    goes. Secrets are `SecretStr` so they never print by accident."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(pattern=NAME_PATTERN, description="URL-safe, unique; appears in /webhook/{name}")
    type: IntegrationType
    target: Target = "order"
    endpoint: str | None = Field(None, description="client API URL (api) or informational for others")
    auth_type: AuthType = "none"
    auth_value: SecretStr | None = Field(None, description="API key, bearer token, user:password (basic) or shared secret")
    field_mapping: dict[str, Any] = Field(default_factory=dict, description="target field -> expression")
    is_active: StrictBool = True
    callback_url: str | None = Field(None, description="where order status changes are POSTed")
    callback_events: list[CallbackEvent] = Field(default_factory=list)
    callback_secret: SecretStr | None = Field(None, description="signs callbacks; generated when callbacks are set")
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    onboarding: OnboardingSettings = Field(default_factory=OnboardingSettings)

    @field_validator("callback_url", "endpoint")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and info.field_name == "callback_url" and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        outbound = info.field_name == "callback_url" or info.data.get("type") == "api"
        if value and outbound and value.startswith(("http://", "https://")) and not is_stored(info):
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
    def _auth_and_callbacks(self) -> Self:
        if self.auth_type not in ("none",) and self.auth_value is None:
            raise ValueError(f"auth_type {self.auth_type!r} needs an auth_value")
        if self.auth_type == "basic" and self.auth_value and ":" not in self.auth_value.get_secret_value():
            raise ValueError("basic auth_value must be 'user:password'")
        if self.callback_events and not self.callback_url:
            raise ValueError("callback_events need a callback_url")
        return self


def _poll_interval(default: int) -> Any:
    return Field(
        default,
        ge=10,
        le=7 * 86_400,
        description=f"seconds between polls (default {default}; null resets it)",
        json_schema_extra=_null_allowed,
    )


def _null_allowed(schema: dict[str, Any]) -> None:
    """The schema says what `_Polled` accepts: an integer in range, or null for the default."""
    number = {key: schema.pop(key) for key in ("type", "minimum", "maximum") if key in schema}
    schema["anyOf"] = [number, {"type": "null"}]


class _Polled(IntegrationBase):
    """A kind Crossdock fetches from on a timer: `null` for the interval means "the default again"."""

    @field_validator("poll_interval_seconds", mode="before", check_fields=False)
    @classmethod
    def _null_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        return cls.model_fields[str(info.field_name)].default if value is None else value


class WebhookIntegration(IntegrationBase):
    """The client pushes to `/webhook/{name}`; `webhook` says how requests are verified and answered."""

    type: Literal["webhook"] = "webhook"
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)


class ApiIntegration(_Polled):
    """Crossdock polls the client's REST API at `endpoint`; `api` says how to page and resume."""

    type: Literal["api"] = "api"
    endpoint: str = Field(description="client API URL, polled every poll_interval_seconds")
    poll_interval_seconds: StrictInt = _poll_interval(300)
    api: ApiSettings = Field(default_factory=ApiSettings)

    @field_validator("endpoint", mode="before")
    @classmethod
    def _endpoint_given(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError(NEEDED[("api", "endpoint")])
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("endpoint must be an http:// or https:// URL")
        return value


class DbIntegration(_Polled):
    """Crossdock queries the client's database; `db` holds the connection, query and write-back."""

    type: Literal["db"] = "db"
    poll_interval_seconds: StrictInt = _poll_interval(300)
    db: DbSettings = Field(default_factory=DbSettings)


class FileIntegration(_Polled):
    """The client drops files in a folder (or we fetch them); a folder is cheap to look at, so its
    default interval is shorter."""

    type: Literal["file"] = "file"
    poll_interval_seconds: StrictInt = _poll_interval(60)
    file: FileSettings = Field(default_factory=FileSettings)


# The one configuration type: a tagged union on `type`, so each kind carries only its own settings.
Integration = Annotated[WebhookIntegration | ApiIntegration | DbIntegration | FileIntegration, Field(discriminator="type")]
PullIntegration = ApiIntegration | DbIntegration | FileIntegration
KINDS: dict[str, type[IntegrationBase]] = {
    "webhook": WebhookIntegration,
    "api": ApiIntegration,
    "db": DbIntegration,
    "file": FileIntegration,
}
_ADAPTER: TypeAdapter[Integration] = TypeAdapter(Integration)


class _Kind(BaseModel):
    """Only the tag, so a missing or unknown `type` is reported at `type` like any other field."""

    model_config = ConfigDict(extra="allow")
    type: IntegrationType


def parse_integration(data: Any, *, stored: bool = False) -> Integration:
    """A configuration from JSON-like data, as the kind its `type` names.

    Field paths in errors are the document's own (`webhook.ack_mode`, not `webhook.webhook.ack_mode`):
    the kind is chosen first, then validated. A field that belongs to another kind is named as such.
    With `stored`, the data was checked when saved: the outbound policy is left to connect time, and
    settings blocks of other kinds (every configuration once carried all four) are set aside.
    """
    if isinstance(data, IntegrationBase):
        return cast(Integration, data)
    if not isinstance(data, dict):
        return _ADAPTER.validate_python(data)  # not an object: pydantic says so
    try:
        kind = KINDS[_Kind.model_validate(data).type]
    except ValidationError as exc:
        raise _with_the_other_fields_checked(exc, data) from None
    if stored:
        data = fields_of(kind, data)
    try:
        return cast(Integration, kind.model_validate(data, context=STORED if stored else None))
    except ValidationError as exc:
        raise _with_foreign_fields_named(exc, kind) from None


def fields_of(kind: type[IntegrationBase], data: dict[str, Any]) -> dict[str, Any]:
    """The entries of `data` that `kind` has fields for: what a stored configuration, or one whose
    `type` changes, keeps when it is read as that kind."""
    return {key: value for key, value in data.items() if key in kind.model_fields}


def verification_of(config: Integration) -> VerificationPreset:
    """The provider signature scheme deliveries carry; only webhook integrations are pushed to."""
    return config.webhook.verification if config.type == "webhook" else "none"


def integration_schema(ref_template: str = DEFAULT_REF_TEMPLATE) -> dict[str, Any]:
    """The JSON schema of a configuration: one of the four kinds, told apart by `type`."""
    return _ADAPTER.json_schema(ref_template=ref_template)


# What a kind cannot do without, said as the reason rather than pydantic's "Field required".
NEEDED = {("api", "endpoint"): "an api integration needs an endpoint"}


def _with_foreign_fields_named(exc: ValidationError, kind: type[IntegrationBase]) -> ValidationError:
    """The kind's errors, with a field of another kind named as such and a missing one saying why it is needed."""
    tag = kind.model_fields["type"].default
    errors: list[InitErrorDetails] = []
    for error in exc.errors():
        field = str(error["loc"][0]) if len(error["loc"]) == 1 else None
        owners = [name for name, other in KINDS.items() if field in other.model_fields] if error["type"] == "extra_forbidden" else []
        if owners:
            message = f"{field} is for {_either(owners)} integrations, not {tag}"
            errors.append({"type": PydanticCustomError("wrong_kind", message), "loc": error["loc"], "input": error["input"]})
        elif error["type"] == "missing" and field is not None and (tag, field) in NEEDED:
            errors.append({"type": PydanticCustomError("needed", NEEDED[(tag, field)]), "loc": error["loc"], "input": error["input"]})
        else:
            errors.append(_as_given(error))
    return ValidationError.from_exception_data(exc.title, errors)


def _with_the_other_fields_checked(bad_type: ValidationError, data: dict[str, Any]) -> ValidationError:
    """Without a usable `type`, the rest of the document is still checked, so every mistake shows at
    once: as the kind that owns most of its fields, reporting only on fields the document has."""
    present = set(data) - {"type"}
    likeliest = max(KINDS.values(), key=lambda kind: len(present & set(kind.model_fields)))
    errors = [_as_given(e) for e in bad_type.errors()]
    try:
        likeliest.model_validate({**data, "type": likeliest.model_fields["type"].default})
    except ValidationError as exc:
        errors += [_as_given(e) for e in exc.errors() if e["loc"] and e["loc"][0] in present and e["type"] != "extra_forbidden"]
    return ValidationError.from_exception_data(bad_type.title, errors)


def _as_given(error: Any) -> InitErrorDetails:
    """A reported error as one to report again, unchanged."""
    return cast(InitErrorDetails, {key: error[key] for key in ("type", "loc", "input", "ctx") if key in error})


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


Kind = TypeVar("Kind", bound=IntegrationBase)


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

    def config_as(self, kind: type[Kind]) -> Kind:
        """The configuration as the kind a caller dispatched on `type` for; a mismatch is a bug, said plainly."""
        if not isinstance(self.config, kind):
            raise TypeError(f"{self.name} is a {self.config.type} integration, not {kind.__name__}")
        return self.config

    @property
    def target(self) -> str:
        return self.config.target

    @property
    def is_active(self) -> bool:
        return self.config.is_active

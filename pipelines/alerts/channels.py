"""Where alerts go: email over SMTP, Slack, Microsoft Teams and Google Chat incoming webhooks, and a
generic webhook signed like status callbacks.

Secrets (the SMTP password, a chat webhook's URL, which is its credential, the signing secret) are
encrypted at rest with the integrations' key (`pipelines.secrets`) and leave this module masked,
except through `channel_for_sending`, which the senders use. A channel's health (failing since when,
the last error) is written after every send, so a failing channel shows on the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from pipelines.access import audit
from pipelines.access.audit import AuditAction, field_diff
from pipelines.clock import as_utc, utcnow
from pipelines.integrations.repository import new_callback_secret
from pipelines.secrets import decrypt, encrypt, mask
from pipelines.store.binds import Bind, connection, inserted_id, transaction
from pipelines.store.schema import alert_channels

ChannelKind = Literal["email", "slack", "teams", "google_chat", "webhook"]
KIND_LABELS: dict[str, str] = {
    "email": "Email (SMTP)",
    "slack": "Slack",
    "teams": "Microsoft Teams",
    "google_chat": "Google Chat",
    "webhook": "Webhook (signed)",
}
Timeout = Annotated[float, Field(10.0, gt=0, le=30, description="seconds to wait for the server")]


def _address(value: str) -> str:
    _, address = parseaddr(value)
    if "@" not in address or " " in address:
        raise ValueError(f"{value!r} is not an email address")
    return value.strip()


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(min_length=1, description="SMTP server")
    port: int = Field(587, ge=1, le=65_535)
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls (port 587), ssl (implicit TLS, port 465), none (a relay on loopback only)"
    )
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(description="the From address")
    recipients: list[str] = Field(default_factory=list, description="who gets the alerts")
    ca_file: str | None = Field(None, description="a CA bundle for a server with a private certificate authority")
    timeout_seconds: Timeout = 10.0

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return _address(value)

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value if v.strip()]


class ChatSettings(BaseModel):
    """Slack, Teams and Google Chat incoming webhooks: the URL alone lets anyone post, so it is the secret."""

    model_config = ConfigDict(extra="forbid")
    url: SecretStr
    timeout_seconds: Timeout = 10.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    secret: SecretStr | None = Field(None, description="Standard Webhooks secret (whsec_…); generated when empty")
    timeout_seconds: Timeout = 10.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


SETTINGS: dict[str, type[BaseModel]] = {
    "email": EmailSettings,
    "slack": ChatSettings,
    "teams": ChatSettings,
    "google_chat": ChatSettings,
    "webhook": WebhookSettings,
}
SECRET_FIELDS = {"email": ("password",), "slack": ("url",), "teams": ("url",), "google_chat": ("url",), "webhook": ("secret",)}
PASSWORDS = frozenset({"password"})


class ChannelError(ValueError):
    """A channel that cannot be saved: the message names the field."""


class ChannelNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Channel:
    """A channel as the store holds it. `settings` is the full model, secrets included: only for senders."""

    id: int
    name: str
    kind: str
    enabled: bool
    settings: Any
    failing_since: datetime | None = None
    last_error: str | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({KIND_LABELS.get(self.kind, self.kind)})"


def _validate(kind: str, values: dict[str, Any]) -> BaseModel:
    if kind not in SETTINGS:
        raise ChannelError(f"unknown channel kind {kind!r} (one of {', '.join(SETTINGS)})")
    try:
        return SETTINGS[kind].model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or kind
        raise ChannelError(f"{where}: {error['msg']}") from None


def _split(kind: str, model: BaseModel) -> tuple[dict[str, Any], str | None]:
    dumped = model.model_dump(mode="python")
    secrets = {}
    for name in SECRET_FIELDS[kind]:
        value = dumped.pop(name, None)
        if value is not None:
            secrets[name] = value.get_secret_value()
    return dumped, encrypt(secrets)


def _row_to_channel(row: Any) -> Channel:
    values = {**(row.config or {}), **decrypt(row.secrets)}
    return Channel(
        id=row.id,
        name=row.name,
        kind=row.kind,
        enabled=row.enabled,
        settings=SETTINGS[row.kind].model_validate(values),
        failing_since=as_utc(row.failing_since),
        last_error=row.last_error,
        last_success_at=as_utc(row.last_success_at),
        last_failure_at=as_utc(row.last_failure_at),
    )


def save_channel(
    bind: Bind, name: str, kind: str, values: dict[str, Any], *, actor: str, enabled: bool = True, channel_id: int | None = None
) -> int:
    """Create (no `channel_id`) or update a channel. On update, a secret left empty or equal to its mask
    keeps the stored one, so a form can show masks and send them back untouched."""
    name = name.strip()
    if not name or len(name) > 64:
        raise ChannelError("name: 1 to 64 characters")
    values = dict(values)
    now = utcnow()
    before: dict[str, Any] = {}
    with transaction(bind) as conn:
        if channel_id is not None:
            row = conn.execute(sa.select(alert_channels).where(alert_channels.c.id == channel_id)).first()
            if row is None:
                raise ChannelNotFound(f"no channel {channel_id}")
            stored = decrypt(row.secrets) if row.kind == kind else {}
            before = {"name": row.name, "kind": row.kind, "enabled": bool(row.enabled), **(row.config or {}), **stored}
            for field_name in SECRET_FIELDS.get(kind, ()):
                given = values.get(field_name)
                if (not given or given == _masked(field_name, stored.get(field_name))) and field_name in stored:
                    values[field_name] = stored[field_name]
        if kind == "webhook" and not values.get("secret"):
            values["secret"] = new_callback_secret()
        config, secrets = _split(kind, _validate(kind, values))
        taken = conn.execute(sa.select(alert_channels.c.id).where(alert_channels.c.name == name)).scalar()
        if taken is not None and taken != channel_id:
            raise ChannelError(f"name: a channel called {name!r} exists already")
        fields = {
            "name": name,
            "kind": kind,
            "enabled": enabled,
            "config": config,
            "secrets": secrets,
            "updated_at": now,
            "updated_by": actor,
        }
        after = {"name": name, "kind": kind, "enabled": enabled, **config, **decrypt(secrets)}
        if channel_id is None:
            channel_id = inserted_id(conn.execute(alert_channels.insert().values(created_at=now, **fields)))
        else:
            conn.execute(alert_channels.update().where(alert_channels.c.id == channel_id).values(**fields))
        # Who changed which field; a secret's values are masked (the log says it changed, not to what).
        audit.record(
            conn,
            actor,
            AuditAction.CHANNEL_SAVED,
            f"channel:{name}",
            {"kind": kind, "changes": field_diff(before, after, set(SECRET_FIELDS.get(kind, ())))},
        )
        return channel_id


def _masked(field_name: str, secret: str | None) -> str | None:
    return mask(secret, password=field_name in PASSWORDS)


def delete_channel(bind: Bind, channel_id: int, *, actor: str) -> None:
    with transaction(bind) as conn:
        row = conn.execute(sa.select(alert_channels.c.name, alert_channels.c.kind).where(alert_channels.c.id == channel_id)).first()
        if row is None or conn.execute(alert_channels.delete().where(alert_channels.c.id == channel_id)).rowcount == 0:
            raise ChannelNotFound(f"no channel {channel_id}")
        audit.record(conn, actor, AuditAction.CHANNEL_DELETED, f"channel:{row.name}", {"kind": row.kind})


def channel_for_sending(bind: Bind, channel_id: int) -> Channel:
    with connection(bind) as conn:
        row = conn.execute(sa.select(alert_channels).where(alert_channels.c.id == channel_id)).first()
    if row is None:
        raise ChannelNotFound(f"no channel {channel_id}")
    return _row_to_channel(row)


@dataclass(frozen=True)
class ChannelView:
    """A channel as people see it: its settings with secrets masked, and whether sending to it works."""

    id: int
    name: str
    kind: str
    enabled: bool
    settings: dict[str, Any]
    failing_since: datetime | None
    last_error: str | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    updated_at: datetime | None
    updated_by: str | None


@dataclass(frozen=True)
class FailingChannel:
    """An enabled channel whose latest send failed: since when, and why."""

    id: int
    name: str
    kind: str
    failing_since: datetime | None
    last_error: str | None


def list_channels(bind: Bind) -> list[ChannelView]:
    """Every channel as people see it: settings with secrets masked, and its health."""
    with connection(bind) as conn:
        rows = conn.execute(sa.select(alert_channels).order_by(alert_channels.c.name)).all()
    out = []
    for row in rows:
        secrets = decrypt(row.secrets)
        shown = {**(row.config or {}), **{name: _masked(name, value) for name, value in secrets.items()}}
        out.append(
            ChannelView(
                id=row.id,
                name=row.name,
                kind=row.kind,
                enabled=row.enabled,
                settings=shown,
                failing_since=as_utc(row.failing_since),
                last_error=row.last_error,
                last_success_at=as_utc(row.last_success_at),
                last_failure_at=as_utc(row.last_failure_at),
                updated_at=as_utc(row.updated_at),
                updated_by=row.updated_by,
            )
        )
    return out


def record_outcome(bind: Bind, channel_id: int, error: str | None, now: datetime | None = None) -> None:
    """A send's verdict on the channel's health: the first failure starts `failing_since`, a success clears it."""
    now = now or utcnow()
    with transaction(bind) as conn:
        if error is None:
            values: dict[str, Any] = {"failing_since": None, "last_error": None, "last_success_at": now}
            conn.execute(alert_channels.update().where(alert_channels.c.id == channel_id).values(**values))
            return
        conn.execute(
            alert_channels.update()
            .where(alert_channels.c.id == channel_id)
            .values(failing_since=sa.func.coalesce(alert_channels.c.failing_since, now), last_error=error[:500], last_failure_at=now)
        )


def failing_channels(bind: Bind) -> list[FailingChannel]:
    """Enabled channels whose latest send failed: name, kind, since when, why."""
    with connection(bind) as conn:
        rows = conn.execute(
            sa.select(
                alert_channels.c.id,
                alert_channels.c.name,
                alert_channels.c.kind,
                alert_channels.c.failing_since,
                alert_channels.c.last_error,
            )
            .where(alert_channels.c.enabled.is_(True), alert_channels.c.failing_since.is_not(None))
            .order_by(alert_channels.c.name)
        ).all()
    return [FailingChannel(r.id, r.name, r.kind, as_utc(r.failing_since), r.last_error) for r in rows]

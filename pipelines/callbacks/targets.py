"""Where and how each integration's callbacks go, read once per delivery pass.

Configuration changes (a new `callback_url`, a rotated secret, another schedule) therefore take
effect on the next pass, and a pass never decrypts secrets per callback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from pipelines.integrations import list_integrations
from pipelines.integrations.callback_settings import CallbackSettings
from pipelines.store.schema import integrations


@dataclass(frozen=True)
class CallbackTarget:
    integration_id: int
    name: str
    url: str | None
    secret: str | None
    settings: CallbackSettings
    disabled_reason: str | None
    previous_secret: str | None = None  # also signs while a rotation's overlap lasts


def load_targets(engine: sa.Engine, now: datetime) -> dict[int, CallbackTarget]:
    """{integration id: target} for every integration (ones without a callback_url too: a queued
    callback may outlive its integration's callback configuration), as of `now`."""
    targets = {}
    for stored in list_integrations(engine):
        config = stored.config
        targets[stored.id] = CallbackTarget(
            integration_id=stored.id,
            name=stored.name,
            url=config.callback_url,
            secret=config.callback_secret.get_secret_value() if config.callback_secret else None,
            settings=config.callbacks,
            disabled_reason=stored.callbacks_disabled_reason,
            previous_secret=config.callbacks.previous_signing_secret(now),
        )
    return targets


@dataclass(frozen=True)
class Subscription:
    """Which status changes an integration wants to hear about, and whether it can hear now."""

    callback_url: str | None
    events: frozenset[str]
    disabled_reason: str | None

    def wants(self, event: str) -> bool:
        return bool(self.callback_url) and event in self.events


def subscription_of(conn: sa.Connection, integration_id: int) -> Subscription:
    """Read from the integration's plain `config` column (no secrets decrypted, no model validated):
    this runs inside every status change's transaction."""
    row = conn.execute(
        sa.select(integrations.c.config, integrations.c.callbacks_disabled_reason).where(integrations.c.id == integration_id)
    ).one()
    config = row.config or {}
    return Subscription(config.get("callback_url"), frozenset(config.get("callback_events") or ()), row.callbacks_disabled_reason)

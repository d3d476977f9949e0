"""Integrations as the receiver sees them, cached so a webhook costs no store read and no decryption.

An entry is re-checked against the store at most once per `ttl` seconds (one indexed read of
`updated_at`); only a changed integration is decrypted again. Changes made through this receiver's
admin API apply at once (`invalidate`); changes made elsewhere (CLI, Streamlit, another receiver)
apply within `ttl`. Unknown names are cached too, so a flood of bad URLs cannot hammer the store.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from connectors.receiver.verify import Guard
from pipelines.clock import as_utc
from pipelines.integrations import IntegrationNotFound, get_integration
from pipelines.integrations.model import StoredIntegration, WebhookIntegration
from pipelines.store.joins import live
from pipelines.store.schema import integrations


@dataclass(frozen=True)
class Known:
    """A live integration of any kind (the client's status page serves every kind)."""

    integration: StoredIntegration


@dataclass(frozen=True)
class PushTarget(Known):
    """A webhook integration, the kind clients push to, with its checks ready."""

    config: WebhookIntegration
    guard: Guard


@dataclass
class _Entry:
    value: Known | None
    checked: float


class IntegrationCache:
    def __init__(self, engine: sa.Engine, *, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.engine = engine
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._loading: dict[str, asyncio.Future] = {}

    async def get(self, name: str) -> Known | None:
        entry = self._entries.get(name)
        if entry is not None and self.clock() - entry.checked < self.ttl:
            return entry.value
        loading = self._loading.get(name)
        if loading is None:
            loading = asyncio.ensure_future(asyncio.to_thread(self._load, name, entry.value if entry else None))
            self._loading[name] = loading
            loading.add_done_callback(lambda _: self._loading.pop(name, None))
        value = await asyncio.shield(loading)
        self._entries[name] = _Entry(value, self.clock())
        return value

    def invalidate(self, *names: str) -> None:
        """Forget `names` (every entry when none is given): the next request reads the store."""
        if not names:
            self._entries.clear()
        for name in names:
            self._entries.pop(name, None)

    def _load(self, name: str, current: Known | None) -> Known | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(integrations.c.id, integrations.c.updated_at).where(integrations.c.name == name, live())).first()
            if row is None:
                return None
            if current is not None and current.integration.id == row.id and _same_time(current, row.updated_at):
                return current
            try:
                stored = get_integration(conn, name)
            except IntegrationNotFound:
                return None
        if isinstance(stored.config, WebhookIntegration):
            return PushTarget(stored, stored.config, Guard.of(stored.config))
        return Known(stored)


def _same_time(known: Known, updated_at) -> bool:
    return known.integration.updated_at == as_utc(updated_at)

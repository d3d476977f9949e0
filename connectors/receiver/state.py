"""What the receiver's routes share for the lifetime of the app: the store, the cached integrations,
the group committer and the clock (injectable, so timestamp tolerance is testable without waiting)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import Request

from connectors.receiver.group_commit import GroupCommitter
from connectors.receiver.integration_cache import IntegrationCache


@dataclass
class ReceiverState:
    engine: sa.Engine  # writes (the store's engine)
    reader: sa.Engine  # reads that must never wait for a writer
    integrations: IntegrationCache
    committer: GroupCommitter
    clock: Callable[[], float]


def receiver_state(request: Request) -> ReceiverState:
    return request.app.state.receiver

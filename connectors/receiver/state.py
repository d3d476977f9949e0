"""What the receiver's routes share for the lifetime of the app: the store, the cached integrations,
the group committer and the clock (injectable, so timestamp tolerance is testable without waiting)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from fastapi import Request

from connectors.receiver.group_commit import GroupCommitter
from connectors.receiver.integration_cache import IntegrationCache


@dataclass
class ReceiverState:
    engine: sa.Engine          # writes (the store's engine)
    reader: sa.Engine          # reads that must never wait for a writer
    integrations: IntegrationCache
    committer: GroupCommitter
    clock: Callable[[], float]


def reader_for(engine: sa.Engine) -> sa.Engine:
    """An engine for reads. The store's SQLite engine opens every transaction with BEGIN IMMEDIATE (right
    for writers), which would make a health check or an integration lookup queue behind any writer of
    any process for up to the busy timeout; in WAL mode a plain read needs no lock at all, so SQLite
    reads go through a plain engine. Other databases read through the store's engine."""
    if engine.dialect.name != "sqlite":
        return engine
    from pipelines.store.engine import json_dumps

    return sa.create_engine(engine.url, connect_args={"check_same_thread": False, "timeout": 5},
                            json_serializer=json_dumps, json_deserializer=orjson.loads)


def receiver_state(request: Request) -> ReceiverState:
    return request.app.state.receiver

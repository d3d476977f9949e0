"""The words Crossdock's records use for their states, once: every status, verdict and mode is a
member of one of these `StrEnum`s, and the order state machine is written here and nowhere else.

Why `StrEnum`: the members are the strings the store, the APIs and client systems already use
(`"in_route"`, `"dead"`), so they compare equal to stored values and serialize as themselves, while
code that misspells one fails at import instead of silently matching nothing. Imports nothing, so any
module (the CLI's option parsing included) can use it for free.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "pending"
    ASSIGNED = "assigned"
    IN_ROUTE = "in_route"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


#     pending → assigned → in_route → delivered
#        └──────────┴──────────┴──→ cancelled      (from any open status)
ORDER_MOVES: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.ASSIGNED, OrderStatus.CANCELLED}),
    OrderStatus.ASSIGNED: frozenset({OrderStatus.IN_ROUTE, OrderStatus.CANCELLED}),
    OrderStatus.IN_ROUTE: frozenset({OrderStatus.DELIVERED, OrderStatus.CANCELLED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}
FINAL_ORDER_STATUSES = frozenset(status for status, moves in ORDER_MOVES.items() if not moves)


class OrderEvent(StrEnum):
    """A status change a client can subscribe to: every status an order can move to."""

    ASSIGNED = OrderStatus.ASSIGNED.value
    IN_ROUTE = OrderStatus.IN_ROUTE.value
    DELIVERED = OrderStatus.DELIVERED.value
    CANCELLED = OrderStatus.CANCELLED.value


class InboxStatus(StrEnum):
    """A pushed request's life: acknowledged and `pending`, ingested (`done`), failed as a whole
    (`dead`, replayable), or refused before acknowledgement (`rejected`, kept for diagnosis)."""

    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"
    REJECTED = "rejected"


class OutboxStatus(StrEnum):
    """A status callback's life: waiting (`pending`), answered 2xx (`delivered`), given up on after
    the last retry (`dead`), or held because the endpoint answered 410 Gone (`disabled`)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    DISABLED = "disabled"


UNDELIVERABLE = frozenset({OutboxStatus.DEAD, OutboxStatus.DISABLED})


class AttemptVerdict(StrEnum):
    """What one delivery attempt decided for its callback."""

    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"
    DISABLED = "disabled"


class SyncRunStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"


class RecordVerdict(StrEnum):
    """What ingest did with one record: stored it new, changed it, found it the same, or refused it."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ERROR = "error"
    STALE = "stale"  # older than what is stored (by the source's own timestamp): recorded, not applied


class PullMode(StrEnum):
    """`incremental`: from the integration's cursor (scheduled polls); `window`: exactly one time
    window (backfills), leaving the cursor where it is."""

    INCREMENTAL = "incremental"
    WINDOW = "window"

    @classmethod
    def of(cls, window: object | None) -> PullMode:
        """The mode of a pull given its window (None: incremental)."""
        return cls.INCREMENTAL if window is None else cls.WINDOW

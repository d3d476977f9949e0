"""Why an order status change did not happen. Kept apart so callbacks and orders can both raise them."""
from __future__ import annotations


class OrderNotFound(LookupError):
    """No order with that internal id (HTTP 404, CLI exit 1)."""


class StatusChangeRejected(ValueError):
    """The move is not allowed, or lacks what it needs; the message is the reason (HTTP 409)."""

"""Watermarks kept as JSON with their type, so the next poll binds a datetime as a datetime (and a
number as a number) to the client's query, exactly as its driver returned it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any


def encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    return {"type": "plain", "value": value}


def decode(stored: Any) -> Any:
    if not isinstance(stored, dict) or "type" not in stored:
        return stored
    kind, value = stored["type"], stored["value"]
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "decimal":
        return Decimal(value)
    return value

"""Content hashes: an identical re-send must be recognised as unchanged, whatever the key order."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value.normalize())
    raise TypeError(f"cannot hash {type(value).__name__}")


def normalise(record: dict[str, Any]) -> dict[str, Any]:
    """Drop empty fields and make datetimes aware UTC, so equal content is equal bytes."""
    out = {}
    for key, value in record.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        out[key] = value
    return out


def content_hash(record: dict[str, Any]) -> str:
    payload = orjson.dumps(record, default=_default, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z)
    return hashlib.sha256(payload).hexdigest()

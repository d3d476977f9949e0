"""Type coercion for mapped values: the conversions client data needs most (numbers sent as text,
"sí"/"no" flags, dates in whatever format an ERP exports, Unix timestamps).

Every function takes None to None, so a missing source field stays missing rather than becoming an
error here; required-ness is the target's business. Anything else that cannot be converted raises
`CoercionError` with a message an analyst can act on.
"""
from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, overload

from dateutil import parser as date_parser


class CoercionError(ValueError):
    """A value that cannot become the requested type; the message names the value and the type."""


_TRUE = frozenset({"true", "t", "yes", "y", "si", "sí", "s", "1", "on", "verdadero"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off", "falso"})
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
# Below this a bare number is seconds since the epoch, above it milliseconds (year 5138 in seconds).
_MILLISECONDS_FROM = 100_000_000_000


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number_text(value: str) -> str:
    """Strip what people put around numbers: spaces, currency-free thousands separators like 1_000."""
    return value.strip().replace("_", "")


def to_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise CoercionError(f"cannot convert {_show(value)} to a number")
    if isinstance(value, (int, float, Decimal)):
        result = float(value)
    elif isinstance(value, str):
        text = _number_text(value)
        if not text:
            return None
        if not _NUMBER.match(text):
            raise CoercionError(f"cannot convert {_show(value)} to a number")
        result = float(text)
    else:
        raise CoercionError(f"cannot convert {type(value).__name__} {_show(value)} to a number")
    if math.isnan(result) or math.isinf(result):
        raise CoercionError(f"{_show(value)} is not a finite number")
    return result


def to_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = _number_text(value)
        if not text:
            return None
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
    try:
        number = to_float(value)
    except CoercionError:
        raise CoercionError(f"cannot convert {_show(value)} to an integer") from None
    if number is None or not number.is_integer():
        raise CoercionError(f"{_show(value)} is not a whole number")
    return int(number)


def to_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise CoercionError(f"cannot convert {_show(value)} to true/false (expected true/false, yes/no, sí/no, 1/0)")


def _from_epoch(number: float) -> datetime:
    if abs(number) >= _MILLISECONDS_FROM:
        number /= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise CoercionError(f"{number!r} is not a usable Unix timestamp") from None


def parse_datetime(value: Any, fmt: str | None = None) -> datetime | None:
    """ISO 8601 first (fast, exact), then Unix timestamps, then common formats day-first, as Latin
    American and European ERPs write them (15/01/2024 14:00). `fmt` (strptime) removes all guessing."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, bool):
        raise CoercionError(f"cannot convert {_show(value)} to a date/time")
    if isinstance(value, (int, float)):
        return _from_epoch(float(value))
    if not isinstance(value, str):
        raise CoercionError(f"cannot convert {type(value).__name__} {_show(value)} to a date/time")
    text = value.strip()
    if not text:
        return None
    if fmt:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            raise CoercionError(f"{_show(value)} does not match the date format {fmt!r}") from None
    if _NUMBER.match(text):
        return _from_epoch(float(text))
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        pass
    try:
        return date_parser.parse(text, dayfirst=True)
    except (ValueError, OverflowError):
        raise CoercionError(f"cannot read {_show(value)} as a date/time") from None


def iso_datetime(moment: datetime) -> str:
    """ISO 8601; aware values are given in UTC with a Z, naive ones stay naive (local to the client)."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return moment.isoformat()


def to_datetime_text(value: Any, fmt: str | None = None) -> str | None:
    moment = parse_datetime(value, fmt)
    return None if moment is None else iso_datetime(moment)


def to_date_text(value: Any, fmt: str | None = None) -> str | None:
    moment = parse_datetime(value, fmt)
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date().isoformat()


@overload
def to_text(value: None) -> None: ...
@overload
def to_text(value: Any) -> str: ...
def to_text(value: Any) -> str | None:
    """Scalars as people write them: 5678 not 5678.0, True as true; containers are not text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    raise CoercionError(f"expected a text or number value, got {type(value).__name__} {_show(value)}")

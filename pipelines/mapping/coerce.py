"""Type coercion for mapped values: the conversions client data needs most (numbers sent as text,
"sí"/"no" flags, dates in whatever format an ERP exports, Unix timestamps, amounts for exact decimal
arithmetic, time zones).

Every function takes None to None, so a missing source field stays missing rather than becoming an
error here; required-ness is the target's business. Anything else that cannot be converted raises
`CoercionError` with a message an analyst can act on.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil import parser as date_parser


class CoercionError(ValueError):
    """A value that cannot become the requested type; the message names the value and the type."""


_TRUE = frozenset({"true", "t", "yes", "y", "si", "sí", "s", "1", "on", "verdadero"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off", "falso"})
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
# Below this a bare number is seconds since the epoch, above it milliseconds (year 5138 in seconds).
_MILLISECONDS_FROM = 100_000_000_000
# Amounts from 10**40 up are refused: no order or sale needs them, and a client sending "1e999999" must
# not make a million-digit integer.
LARGEST_EXPONENT = 40
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")

# strptime's own patterns for the numeric directives (CPython's _strptime.TimeRE), so the fast parser
# below accepts exactly what `datetime.strptime` accepts; the tests compare the two on generated input.
_NUMERIC_DIRECTIVES = {
    "d": r"(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])",
    "f": r"(?P<f>[0-9]{1,6})",
    "H": r"(?P<H>2[0-3]|[0-1]\d|\d)",
    "m": r"(?P<m>1[0-2]|0[1-9]|[1-9])",
    "M": r"(?P<M>[0-5]\d|\d)",
    "S": r"(?P<S>6[0-1]|[0-5]\d|\d)",
    "y": r"(?P<y>\d\d)",
    "Y": r"(?P<Y>\d\d\d\d)",
    "%": "%",
}
_REGEX_CHARACTERS = re.compile(r"([\\.^$*+?\(\){}\[\]|])")
_SPACES = re.compile(r"\s+")


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


def _not_a_number(value: Any) -> CoercionError:
    hint = " (for a decimal comma or thousands separators, use replace() first)" if isinstance(value, str) and "," in value else ""
    return CoercionError(f"cannot convert {_show(value)} to a number{hint}")


def to_decimal(value: Any) -> Decimal | None:
    """The exact decimal a number or numeric text stands for. A float goes through its shortest text
    (19.99 is Decimal('19.99'), not the binary 19.98999999999999843...), so arithmetic on it has no
    binary artefacts. Empty text is no value, like None."""
    kind = type(value)
    if kind is int:
        number = Decimal(value)
    elif kind is float:
        if math.isnan(value) or math.isinf(value):
            raise CoercionError(f"{_show(value)} is not a finite number")
        number = Decimal(repr(value))
    elif kind is str:
        text = _number_text(value)
        if not text:
            return None
        if not _NUMBER.match(text):
            raise _not_a_number(value)
        number = Decimal(text)
    elif value is None:
        return None
    elif isinstance(value, Decimal) and value.is_finite():
        number = value
    elif isinstance(value, (bool, Decimal)):
        raise _not_a_number(value)
    else:
        raise CoercionError(f"cannot convert {type(value).__name__} {_show(value)} to a number")
    if number and number.adjusted() >= LARGEST_EXPONENT:
        raise CoercionError(f"{_show(value)} is too large a number")
    return number


def from_decimal(number: Decimal) -> int | float:
    """A JSON number for an exact result: a whole number as an int, anything else as the float nearest
    to it, whose text is the decimal itself up to 15 significant digits (59.97, never 59.970000000000006)."""
    if not number.is_finite():
        raise CoercionError(f"{number} is not a finite number")
    if number and number.adjusted() >= LARGEST_EXPONENT:  # e.g. a huge amount divided by a tiny one
        raise CoercionError(f"the result {number:.6E} is too large a number")
    if number == number.to_integral_value():
        return int(number)
    result = float(number)
    if math.isinf(result):
        raise CoercionError(f"{number} is too large a number")
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


_ZONE_NAMES: list[str] = []


def _closest_zone(name: str) -> str:
    if not _ZONE_NAMES:
        _ZONE_NAMES.extend(sorted(available_timezones()))
    folded = {zone.casefold(): zone for zone in _ZONE_NAMES}
    match = folded.get(name.casefold()) or next(iter(difflib.get_close_matches(name, _ZONE_NAMES, n=1)), None)
    return f" (did you mean {match!r}?)" if match else " (use an IANA name such as 'America/Guatemala', or an offset such as '-06:00')"


@lru_cache(maxsize=512)
def time_zone(name: str) -> tzinfo:
    """An IANA time zone ('America/Guatemala'), 'UTC', or a fixed offset ('-06:00', '+0530')."""
    text = name.strip()
    if text.upper() in ("UTC", "Z"):
        return UTC
    offset = _OFFSET.match(text)
    if offset:
        sign, hours, minutes = offset.groups()
        if int(hours) > 23 or int(minutes) > 59:
            raise CoercionError(f"{_show(name)} is not a valid UTC offset (from -23:59 to +23:59)")
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CoercionError(f"unknown time zone {_show(name)}{_closest_zone(text)}") from None


def parse_datetime(value: Any, fmt: str | None = None, zone: tzinfo | None = None) -> datetime | None:
    """ISO 8601 first (fast, exact), then Unix timestamps, then common formats day-first, as Latin
    American and European ERPs write them (15/01/2024 14:00). `fmt` (strptime) removes all guessing.

    `zone` is where the client's clock is: a date-time without an offset is read as local time there
    (a time that happens twice when clocks go back is the first one; one that clocks skip is read with
    the offset from before the change). Offsets in the value itself, and Unix timestamps, are absolute
    and win over `zone`."""
    moment = _parse_datetime(value, fmt)
    if zone is not None and moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment


def _numeric_parser(fmt: str) -> Callable[[str], datetime] | None:
    """`datetime.strptime(text, fmt)` for formats made of %d %m %Y %y %H %M %S %f and literal text,
    several times faster: strptime checks the locale and rebuilds its state on every call. None for
    any other format (names of months, %z, %p...), which strptime itself handles."""
    rest = _SPACES.sub(r"\\s+", _REGEX_CHARACTERS.sub(r"\\\1", fmt))
    pieces: list[str] = []
    seen: set[str] = set()
    while "%" in rest:
        at = rest.index("%")
        directive = rest[at + 1 : at + 2]
        if directive not in _NUMERIC_DIRECTIVES or directive in seen - {"%"}:
            return None
        seen.add(directive)
        pieces += [rest[:at], _NUMERIC_DIRECTIVES[directive]]
        rest = rest[at + 2 :]
    pattern = re.compile("".join([*pieces, rest]), re.IGNORECASE)

    def parse(text: str) -> datetime:
        found = pattern.match(text)
        if found is None or found.end() != len(text):
            raise ValueError(f"{text!r} does not match {fmt!r}")
        parts = found.groupdict()
        if "Y" in parts:
            year = int(parts["Y"])
        elif "y" in parts:
            short = int(parts["y"])
            year = short + (2000 if short <= 68 else 1900)  # strptime's pivot
        else:
            year = 1900
        fraction = int(parts["f"].ljust(6, "0")) if "f" in parts else 0
        return datetime(
            year,
            int(parts.get("m", 1)),
            int(parts.get("d", 1)),
            int(parts.get("H", 0)),
            int(parts.get("M", 0)),
            int(parts.get("S", 0)),
            fraction,
        )

    return parse


@lru_cache(maxsize=256)
def format_parser(fmt: str) -> Callable[[str], datetime]:
    """The parser for a strptime format: the fast one when it applies, strptime otherwise."""
    return _numeric_parser(fmt) or (lambda text: datetime.strptime(text, fmt))


def _parse_datetime(value: Any, fmt: str | None) -> datetime | None:
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
            return format_parser(fmt)(text)
        except ValueError as exc:
            if "out of range" in str(exc):  # it has the format's shape, but no such day or time exists
                raise CoercionError(f"{_show(value)} is not a real date/time ({exc})") from None
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


def to_datetime_text(value: Any, fmt: str | None = None, zone: tzinfo | None = None) -> str | None:
    """ISO 8601; with `zone`, always in UTC with a Z (a naive value is read as local time in `zone`)."""
    moment = parse_datetime(value, fmt, zone)
    return None if moment is None else iso_datetime(moment)


def to_date_text(value: Any, fmt: str | None = None, zone: tzinfo | None = None) -> str | None:
    """YYYY-MM-DD: the calendar date in `zone` (UTC without one) of an absolute moment, the date as
    written of a naive one."""
    moment = _parse_datetime(value, fmt)
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone or UTC)
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

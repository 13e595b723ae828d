"""Value conversions every vendor shares: instants into UTC, epoch numbers into timestamps, and a
vendor's loosely typed values into the typed columns a warehouse gets.

Each conversion says what it does with a value it cannot read: most give ``None`` (a typed column
that is null, the raw value kept in the record), and :func:`epoch_utc` raises, because there a
null would read as a fact ("no expiry"). Vendors add what is theirs (Tabnine's zero-based months,
Workato's accepted count names) on top.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Optional

import pendulum
from pendulum import DateTime

INTEGER_TEXT = re.compile(r"-?[0-9]+")
#: Epoch values from here on are milliseconds: 10**11 seconds is the year 5138, 10**11
#: milliseconds 1973, so a time after 2001 (10**9 s) is told apart by its magnitude.
MILLISECONDS_FROM = 10**11
#: And from here on neither: 10**14 milliseconds is the year 5138 again.
NEITHER_FROM = 10**14


def in_utc(value: Any) -> Optional[str]:
    """The instant of an ISO-8601 date-time with an offset, in UTC (``+00:00``): the ``<name>_utc``
    column beside a date-time counted in another zone, so that a warehouse whose timestamp columns
    drop the offset (PyAirbyte's DuckDB and PostgreSQL caches) still holds the instant. Null for
    anything else, a value without an offset included (its instant is unknown)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.utcoffset() is None:
        return None
    return moment.astimezone(timezone.utc).isoformat()


def utc_instant(value: Any) -> Optional[DateTime]:
    """An ISO-8601 instant (any offset, ``Z``, milliseconds; a bare date is its midnight in UTC) as
    a UTC date-time, or ``None`` when ``value`` is not one (free text, not a string)."""
    if not isinstance(value, str):
        return None
    try:
        moment = pendulum.parse(value)
    except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
        return None
    return moment.in_timezone("UTC") if isinstance(moment, DateTime) else None


def utc_z(iso: str) -> str:
    """An ISO-8601 instant as UTC with ``Z`` and whole seconds, e.g. ``2026-06-01T00:00:00Z``.

    ``Z`` keeps ``+`` out of a query string: a ``+00:00`` that reaches a server unescaped (a
    proxy that re-decodes, a hand-built URL) reads as a space.
    """
    moment = pendulum.parse(iso)
    assert isinstance(moment, DateTime)
    return moment.in_timezone("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_utc(value: Any) -> Optional[str]:
    """Epoch seconds or milliseconds (told apart by magnitude, :data:`MILLISECONDS_FROM`) as an
    ISO-8601 UTC timestamp (``2026-01-01T00:00:00+00:00``); ``None`` when absent.

    Raises ``ValueError`` for a value that is neither (or not a number): the caller names the
    field, since a null there would read as a fact.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or abs(value) >= NEITHER_FROM:
        raise ValueError(f"{value!r} is neither epoch seconds nor milliseconds")
    seconds = value / 1000 if abs(value) >= MILLISECONDS_FROM else value
    return pendulum.from_timestamp(seconds, tz="UTC").isoformat()


def as_count(value: Any) -> Optional[int]:
    """A count as an integer: integral numbers and digit strings; anything else is null."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and INTEGER_TEXT.fullmatch(value.strip()):
        return int(value)
    return None


def as_text(value: Any) -> Optional[str]:
    """A string as is, an integer as its digits (an id sent as a number); anything else is null."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def as_date_time(value: Any) -> Optional[str]:
    """An ISO-8601 date-time as sent; anything else (a bare date, free text) is null."""
    if not isinstance(value, str):
        return None
    try:
        moment = pendulum.parse(value)
    except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
        return None
    return value if isinstance(moment, DateTime) and "T" in value else None

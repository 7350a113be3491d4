"""Timestamps as Flatfile writes them: ISO-8601, UTC, milliseconds and a `Z` (`2021-03-01T20:22:52.000Z`).

Written this way they sort as text, which the ledger's pending index and the poller's checkpoint rely on.
Naive values (no offset) are taken as UTC everywhere.

Example:
    >>> moment = parse_timestamp("2021-03-01T20:22:52Z")
    >>> format_timestamp(moment)
    '2021-03-01T20:22:52.000Z'
    >>> parse_timestamp_or_none("yesterday") is None
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = ["as_utc", "format_timestamp", "parse_timestamp", "parse_timestamp_or_none", "utc_now_iso"]


def parse_timestamp(value: str) -> datetime:
    """An ISO-8601 date or date-time as an aware datetime; ValueError if `value` is not one.

    Example:
        >>> parse_timestamp("2021-03-01T20:22:52.000Z")
        datetime.datetime(2021, 3, 1, 20, 22, 52, tzinfo=datetime.timezone.utc)
        >>> parse_timestamp(" 2021-03-01 ").isoformat()
        '2021-03-01T00:00:00+00:00'
    """
    if not isinstance(value, str):
        raise ValueError(f"a timestamp must be a string, not {type(value).__name__}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return as_utc(datetime.fromisoformat(text))


def parse_timestamp_or_none(value: Any) -> datetime | None:
    """`parse_timestamp(value)`, or None when `value` is missing or unreadable (what Flatfile may send).

    Example:
        >>> parse_timestamp_or_none(None) is None
        True
    """
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def format_timestamp(moment: datetime) -> str:
    """`moment` in UTC with milliseconds and a `Z`, the way Flatfile writes timestamps.

    Example:
        >>> from datetime import timedelta, timezone
        >>> format_timestamp(datetime(2021, 3, 1, 21, 22, 52, 123456, tzinfo=timezone(timedelta(hours=1))))
        '2021-03-01T20:22:52.123Z'
    """
    return as_utc(moment).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now_iso(clock: Callable[[], float] = time.time) -> str:
    """The current time on `clock` (epoch seconds; default: this machine's) as `format_timestamp` writes it.

    Example:
        >>> utc_now_iso().endswith("Z")
        True
        >>> utc_now_iso(lambda: 1614630172.0)
        '2021-03-01T20:22:52.000Z'
    """
    return format_timestamp(datetime.fromtimestamp(clock(), UTC))


def as_utc(moment: datetime) -> datetime:
    """`moment` made timezone-aware: naive values are taken as UTC, aware ones are kept as they are.

    Example:
        >>> as_utc(datetime(2021, 3, 1)).tzinfo
        datetime.timezone.utc
    """
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

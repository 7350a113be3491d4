"""Timestamps: Flatfile's ISO-8601 format read and written, naive values taken as UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from flatfile_relay.timestamps import as_utc, format_timestamp, parse_timestamp, parse_timestamp_or_none, utc_now_iso


def test_parse_timestamp_reads_flatfile_timestamps_and_takes_naive_values_as_utc() -> None:
    assert parse_timestamp("2021-03-01T20:22:52.000Z") == datetime(2021, 3, 1, 20, 22, 52, tzinfo=UTC)
    assert parse_timestamp(" 2021-03-01T20:22:52 ").tzinfo is UTC
    offset = parse_timestamp("2021-03-01T20:22:52-05:00")
    assert offset.utcoffset() == timedelta(hours=-5)
    assert offset == datetime(2021, 3, 2, 1, 22, 52, tzinfo=UTC)  # the same instant
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_timestamp("not a time")


def test_utc_now_iso_has_milliseconds_and_a_z() -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    value = utc_now_iso()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value), value
    assert before <= parse_timestamp(value) <= datetime.now(UTC) + timedelta(seconds=1)


@pytest.mark.parametrize("value", [None, "", "  ", "yesterday", 1614630172, "2021-02-30T00:00:00Z"])
def test_parse_timestamp_or_none_gives_none_for_what_is_not_a_timestamp(value: Any) -> None:
    assert parse_timestamp_or_none(value) is None
    with pytest.raises(ValueError, match=r"isoformat|must be a string|day is out of range"):
        parse_timestamp(value)


def test_parse_timestamp_or_none_reads_what_parse_timestamp_reads() -> None:
    assert parse_timestamp_or_none("2021-03-01T20:22:52.000z") == datetime(2021, 3, 1, 20, 22, 52, tzinfo=UTC)


def test_format_timestamp_writes_utc_with_milliseconds_and_a_z() -> None:
    paris = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2021, 3, 1, 21, 22, 52, 123456, tzinfo=paris)) == "2021-03-01T20:22:52.123Z"
    assert format_timestamp(datetime(2021, 3, 1, 20, 22, 52)) == "2021-03-01T20:22:52.000Z"  # naive: UTC
    assert parse_timestamp(format_timestamp(datetime(2021, 3, 1, tzinfo=paris))) == datetime(
        2021, 2, 28, 23, tzinfo=UTC
    )


def test_as_utc_keeps_aware_values() -> None:
    paris = timezone(timedelta(hours=1))
    assert as_utc(datetime(2021, 3, 1, tzinfo=paris)).tzinfo is paris
    assert as_utc(datetime(2021, 3, 1)).tzinfo is UTC

"""whole_number: the one check of every whole number the relay is given."""

from __future__ import annotations

from typing import Any

import pytest

from flatfile_relay.checks import whole_number
from flatfile_relay.settings import SettingsError


@pytest.mark.parametrize(("value", "low", "high"), [(1, 1, None), (0, 0, None), (100, 1, 100), (60, 60, 86_400)])
def test_whole_numbers_within_bounds_pass(value: int, low: int, high: int | None) -> None:
    assert whole_number(value, "n", low=low, high=high) == value


@pytest.mark.parametrize(
    ("value", "low", "high", "words"),
    [
        (0, 1, None, "n must be a whole number of at least 1, got 0"),
        (-1, 0, None, "of at least 0, got -1"),
        (101, 1, 100, "n must be a whole number between 1 and 100, got 101"),
        (True, 0, None, "got True"),  # an int to Python, not a number to the relay
        (1.0, 1, None, "got 1.0"),
        ("3", 1, None, "got '3'"),
        (None, 1, None, "got None"),
        ("x" * 500, 1, None, "got '" + "x" * 63),
    ],
)
def test_anything_else_is_refused_naming_the_value_and_its_bounds(value: Any, low: int, high: int | None,
                                                                    words: str) -> None:
    with pytest.raises(ValueError, match=r"^n must be a whole number") as caught:
        whole_number(value, "n", low=low, high=high)
    assert words in str(caught.value)
    assert len(str(caught.value)) < 150  # a long value is cut


def test_the_caller_chooses_the_error() -> None:
    with pytest.raises(SettingsError, match="FLATFILE_PAGE_SIZE must be a whole number between 1 and 10"):
        whole_number(0, "FLATFILE_PAGE_SIZE", high=10, error=SettingsError)

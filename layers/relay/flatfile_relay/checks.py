"""Checks of the numbers the relay is given: one rule and one wording for every whole number it validates.

Page sizes, attempts, offsets, part indexes, token lifetimes, settings from the environment: each is a whole
number within bounds, and `True` is not a number (Python says it is an `int`). The error names the value's
meaning and its bounds; its class is the caller's (`ValueError` for an argument, `SettingsError` for an
environment variable, a client's `ConfigurationError`...).

Example:
    >>> whole_number(10, "page_size")
    10
    >>> whole_number(0, "page_size")
    Traceback (most recent call last):
    ...
    ValueError: page_size must be a whole number of at least 1, got 0
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_count", "whole_number"]


def whole_number(
    value: Any, name: str, *, low: int = 1, high: int | None = None, error: type[Exception] = ValueError
) -> int:
    """`value` when it is an `int` (not a bool) from `low` to `high` (inclusive; no upper bound when None).

    Raises `error` (default ValueError) naming `name`, the bounds and the value (its first 64 characters)
    otherwise.

    Example:
        >>> whole_number(0, "skip", low=0)
        0
        >>> whole_number(True, "take", high=100)
        Traceback (most recent call last):
        ...
        ValueError: take must be a whole number between 1 and 100, got True
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bounds = f"of at least {low}" if high is None else f"between {low} and {high}"
        raise error(f"{name} must be a whole number {bounds}, got {repr(value)[:64]}")
    return value


def is_count(value: Any) -> bool:
    """Whether `value` is a count an API may give: an `int` (not a bool) of at least 0.

    Example:
        >>> is_count(0), is_count(12), is_count(-1), is_count(True), is_count(3.0)
        (True, True, False, False, False)
    """
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0

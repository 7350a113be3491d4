"""A fake clock for code that takes a `clock` (a function returning epoch seconds)."""

from __future__ import annotations


class Clock:
    """Epoch seconds that move only when a test says so: `clock.advance(30)` or `clock.now = ...`."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

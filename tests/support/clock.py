"""A fake clock for code that takes a `clock` (a function returning epoch seconds) and a `sleep`."""

from __future__ import annotations


class Clock:
    """Epoch seconds that move only when a test says so: `clock.advance(30)`, `clock.now = ...`, or `clock.sleep(2)`
    (what a waiting caller does: the time moves on by the wait, which is recorded in `slept`)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

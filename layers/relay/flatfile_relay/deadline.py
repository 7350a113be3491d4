"""Deadline: the point in time by which a piece of work must stop.

Every Flatfile client call takes one, and so do the retries of SQS sends and ledger reads: requests are
capped by the time left and no retry waits past it. When a wait would cross it, the work stops at once
(`DeadlineExceededError`), leaving the Lambda time to save its progress.

Example:
    >>> deadline = Deadline.after(30)
    >>> 29 < deadline.remaining() <= 30
    True
    >>> Deadline.never().expired
    False
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

from flatfile_relay.errors import TransientError

__all__ = ["Deadline", "DeadlineExceededError", "LambdaContextLike"]


class DeadlineExceededError(TransientError):
    """The deadline passed, or would pass before the next attempt could start; resume next invocation.

    A `TransientError` ("try again later": the next invocation resumes the work) of the deadline's own, not
    Flatfile's: Flatfile requests, SQS sends and ledger reads all stop with it.
    """


class LambdaContextLike(Protocol):
    """What `Deadline.from_lambda_context` needs from the Lambda context object."""

    def get_remaining_time_in_millis(self) -> int: ...


class Deadline:
    """A point in time (on the monotonic clock, or on `clock`) after which work must stop."""

    __slots__ = ("_at", "_clock")

    def __init__(self, at: float, clock: Callable[[], float] = time.monotonic) -> None:
        """Prefer the class methods; `at` is a `clock()` value (`math.inf` for never); `clock` defaults to
        `time.monotonic` (tests may pass one whose time moves only when they say so).

        Example:
            >>> Deadline(10.0, clock=lambda: 6.0).remaining()
            4.0
        """
        if math.isnan(at):
            raise ValueError("a deadline cannot be NaN")
        self._at = at
        self._clock = clock

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        """The deadline `seconds` from now on `clock` (zero or negative: already expired).

        Example:
            >>> Deadline.after(0).expired
            True
            >>> Deadline.after(30, clock=lambda: 1000.0).remaining()
            30.0
        """
        return cls(clock() + seconds, clock)

    @classmethod
    def never(cls) -> Deadline:
        """A deadline that never comes (scripts and tests); `remaining()` is `math.inf`."""
        return cls(math.inf)

    @classmethod
    def from_lambda_context(
        cls, context: LambdaContextLike, reserve: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> Deadline:
        """The Lambda's own deadline minus `reserve` seconds kept to save progress and answer (on `clock`).

        Example:
            >>> class Context:
            ...     def get_remaining_time_in_millis(self) -> int:
            ...         return 60_000
            >>> 54 < Deadline.from_lambda_context(Context(), reserve=5).remaining() <= 55
            True
        """
        if reserve < 0:
            raise ValueError("reserve must be zero or more seconds")
        remaining = context.get_remaining_time_in_millis() / 1000.0
        return cls.after(remaining - reserve, clock)

    def share(self, parts: int) -> Deadline:
        """The deadline of the first of `parts` pieces of work done one after the other in the time left: an
        equal share of it from now (`never()` stays never). The next piece, asking for `parts - 1` shares,
        gets what the first left unused too.

        Example:
            >>> Deadline(10.0, clock=lambda: 6.0).share(2).remaining()
            2.0
        """
        if parts < 1:
            raise ValueError("a deadline is shared by one piece of work or more")
        return Deadline(self._clock() + self.remaining() / parts, self._clock)

    def remaining(self) -> float:
        """Seconds left, never negative (`math.inf` for `never()`)."""
        return max(0.0, self._at - self._clock())

    @property
    def expired(self) -> bool:
        """True once no time is left."""
        return self.remaining() <= 0.0

    def check(self, doing: str = "the work") -> None:
        """Raise `DeadlineExceededError` if the deadline has passed.

        Example:
            >>> Deadline.after(-1).check("paging batches")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            flatfile_relay.deadline.DeadlineExceededError: Stopped paging batches: ...
        """
        if self.expired:
            raise DeadlineExceededError(
                f"Stopped {doing}: the deadline passed (the Lambda's time is nearly up). "
                "The work resumes at the next invocation; if this keeps happening, raise the function "
                "timeout."
            )

    def cap(self, seconds: float) -> float:
        """`seconds`, or the time left if that is shorter.

        Example:
            >>> Deadline.after(2).cap(30) <= 2
            True
        """
        return min(seconds, self.remaining())

    def __repr__(self) -> str:
        remaining = self.remaining()
        return "Deadline.never()" if math.isinf(remaining) else f"Deadline(remaining={remaining:.3f}s)"

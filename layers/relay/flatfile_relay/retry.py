"""One retry loop for the whole relay: attempts, a backoff between them, and a deadline no wait crosses.

Flatfile requests (`flatfile.transport`), export-job sends (`jobs.send_jobs`) and ledger reads
(`ledger.Ledger.get_many`) all retry through `retry`. An attempt returns its result, which ends the loop, or
`Again`: what went wrong, and the wait the other side asked for if it did (HTTP `Retry-After`). Before the
next attempt the loop decides the wait (`next_wait`): the asked wait, else the backoff's; it stops instead
when the attempts are used up, when an asked wait is longer than `max_wait`, or when the wait would reach
the deadline (or the deadline passed meanwhile). Then it returns `GaveUp`, which says why, and the caller
turns that into its own error (or, with a partial result, its own answer). The loop never raises.

Time comes from outside: the deadline reads its own clock (`Deadline(at, clock)`), and the loop waits with
`sleep`; tests pass a fake clock whose `sleep` moves its time.

Example:
    >>> answers = iter([Again("HTTP 503"), Again("HTTP 503", wait=2.0), "ok"])
    >>> slept = []
    >>> retry(lambda attempt: next(answers), attempts=5, backoff=Backoff(0.5, 20.0, rand=lambda: 0.5),
    ...       sleep=slept.append)
    'ok'
    >>> slept
    [0.25, 2.0]
"""

from __future__ import annotations

import enum
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from flatfile_relay.backoff import backoff_delay

__all__ = ["Again", "Backoff", "GaveUp", "Stop", "TimeLeft", "next_wait", "retry"]

T = TypeVar("T")


class TimeLeft(Protocol):
    """What the loop needs of a deadline (`flatfile_relay.deadline.Deadline` is one)."""

    def remaining(self) -> float:
        """Seconds left, never negative (`math.inf`: no deadline)."""
        ...


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter (`backoff.backoff_delay`): `Backoff(base, cap)(attempt)`.

    Example:
        >>> Backoff(0.5, 20.0, rand=lambda: 1.0)(3)
        2.0
    """

    base: float
    cap: float
    rand: Callable[[], float] = random.random

    def __call__(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return backoff_delay(attempt, base=self.base, cap=self.cap, rand=self.rand)


@dataclass(frozen=True)
class Again:
    """An attempt failed in a way worth trying again.

    Attributes:
        reason: what went wrong, short (`HTTP 503`, `ReadTimeout`, `3 entries not accepted`).
        wait: the seconds the other side asked to wait (`Retry-After`); None: the backoff decides.
        cause: the error that explains it, if any (callers chain it to their own).
        status: the other side's status code, if it answered.
    """

    reason: str
    wait: float | None = None
    cause: BaseException | None = None
    status: int | None = None


class Stop(enum.Enum):
    """Why `retry` gave up."""

    ATTEMPTS = "attempts"  # every attempt failed
    TOO_LONG = "too-long"  # the other side asked for a wait longer than `max_wait`
    DEADLINE = "deadline"  # the next wait would reach the deadline, or the deadline passed


@dataclass(frozen=True)
class GaveUp:
    """What `retry` returns when it stops without a result.

    Attributes:
        stop: why.
        attempts: the attempts made.
        last: the last attempt's failure.
        wait: the wait it would not make (None when the attempts ran out or the deadline had passed).
        remaining: the seconds the deadline had left then.
    """

    stop: Stop
    attempts: int
    last: Again
    wait: float | None = None
    remaining: float = math.inf


def next_wait(
    attempt: int, failed: Again, *, attempts: int, backoff: Callable[[int], float], deadline: TimeLeft | None = None,
    max_wait: float = math.inf,
) -> float | GaveUp:
    """The seconds to wait after failed attempt number `attempt`, or `GaveUp` when there is to be no next one:
    the attempts are used up, the other side asked for longer than `max_wait`, or the wait would reach the
    deadline. The wait is the other side's (`failed.wait`), else the backoff's.

    Example:
        >>> next_wait(1, Again("HTTP 503"), attempts=5, backoff=Backoff(0.5, 20.0, rand=lambda: 1.0))
        0.5
        >>> next_wait(1, Again("HTTP 429", wait=3600.0), attempts=5, backoff=Backoff(0.5, 20.0), max_wait=300.0).stop
        <Stop.TOO_LONG: 'too-long'>
    """
    if attempt >= attempts:
        return GaveUp(Stop.ATTEMPTS, attempt, failed)
    wait = backoff(attempt) if failed.wait is None else failed.wait
    if failed.wait is not None and wait > max_wait:
        return GaveUp(Stop.TOO_LONG, attempt, failed, wait)
    remaining = math.inf if deadline is None else deadline.remaining()
    if wait >= remaining:
        return GaveUp(Stop.DEADLINE, attempt, failed, wait, remaining)
    return wait


def retry(
    attempt: Callable[[int], T | Again],
    *,
    attempts: int,
    backoff: Callable[[int], float],
    deadline: TimeLeft | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_wait: float = math.inf,
    on_retry: Callable[[int, Again, float], None] | None = None,
) -> T | GaveUp:
    """Call `attempt(1)`, `attempt(2)`, ... until one returns something else than `Again`; return that.

    Between attempts: `next_wait` decides, `on_retry(attempt, failed, wait)` is told (to log, to count),
    then `sleep(wait)`. The first attempt is always made (a caller that must not start once the deadline has
    passed checks that first); every later one only while the deadline has not passed. Errors `attempt`
    raises propagate at once: only `Again` is retried.

    Returns the first result, or `GaveUp` (why, the attempts made, the last failure).
    """
    number = 1
    while True:
        outcome = attempt(number)
        if not isinstance(outcome, Again):
            return outcome
        wait = next_wait(number, outcome, attempts=attempts, backoff=backoff, deadline=deadline, max_wait=max_wait)
        if isinstance(wait, GaveUp):
            return wait
        if on_retry is not None:
            on_retry(number, outcome, wait)
        sleep(wait)
        if deadline is not None and deadline.remaining() <= 0.0:
            return GaveUp(Stop.DEADLINE, number, outcome, remaining=0.0)
        number += 1

"""Backoff between retries: capped exponential growth with full jitter.

Every retry loop of the relay (Flatfile requests, SQS sends, ledger reads) waits `backoff_delay` between
attempts and never waits past its deadline: when the wait is not shorter than `deadline.remaining()`, it
stops instead of sleeping. Full jitter spreads the retries of many concurrent Lambdas apart.

Example:
    >>> backoff_delay(3, base=0.5, cap=20.0, rand=lambda: 0.5)
    1.0
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["backoff_delay"]


def backoff_delay(
    attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): full jitter.

    A uniform draw in `[0, min(cap, base * 2 ** (attempt - 1)))`.

    Example:
        >>> backoff_delay(1, base=0.5, cap=20.0, rand=lambda: 0.999)
        0.4995
        >>> backoff_delay(30, base=0.5, cap=20.0, rand=lambda: 0.999)
        19.98
    """
    exponent = min(attempt - 1, 62)  # avoid float overflow on absurd attempt numbers
    return rand() * min(cap, base * 2.0**exponent)

"""retry: the one retry loop (attempts, backoff, the other side's wait, a deadline no wait crosses)."""

from __future__ import annotations

import pytest
from support.clock import Clock

from flatfile_relay.deadline import Deadline
from flatfile_relay.retry import Again, Backoff, GaveUp, Stop, next_wait, retry

HALF = Backoff(0.5, 20.0, rand=lambda: 0.5)


class Scripted:
    """An attempt function answering `outcomes` in turn (raising those that are exceptions); `calls` collects
    the attempt numbers it was called with."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[int] = []

    def __call__(self, number: int) -> object:
        self.calls.append(number)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_the_first_result_ends_the_loop_without_a_wait() -> None:
    clock = Clock()
    assert retry(lambda number: "done", attempts=3, backoff=HALF, sleep=clock.sleep) == "done"
    assert clock.slept == []


def test_failures_are_retried_after_the_backoff_or_the_wait_the_other_side_asked_for() -> None:
    clock = Clock()
    attempt = Scripted(Again("HTTP 503"), Again("HTTP 429", wait=3.0), Again("HTTP 503"), "ok")
    told: list[tuple[int, str, float]] = []
    outcome = retry(attempt, attempts=6, backoff=HALF, sleep=clock.sleep,
                    on_retry=lambda number, failed, wait: told.append((number, failed.reason, wait)))
    assert outcome == "ok"
    assert attempt.calls == [1, 2, 3, 4]
    assert clock.slept == [0.25, 3.0, 1.0]  # half of 0.5, the asked 3 s, half of 2
    assert told == [(1, "HTTP 503", 0.25), (2, "HTTP 429", 3.0), (3, "HTTP 503", 1.0)]


def test_the_attempts_run_out_without_a_wait_after_the_last() -> None:
    clock = Clock()
    failed = Again("HTTP 503", status=503)
    outcome = retry(lambda number: failed, attempts=3, backoff=HALF, sleep=clock.sleep)
    assert outcome == GaveUp(Stop.ATTEMPTS, 3, failed)
    assert clock.slept == [0.25, 0.5]


def test_an_asked_wait_longer_than_max_wait_gives_up_at_once_and_the_backoff_is_not_held_to_it() -> None:
    clock = Clock()
    outcome = retry(lambda number: Again("HTTP 429", wait=3600.0), attempts=5, backoff=HALF, sleep=clock.sleep,
                    max_wait=300.0)
    assert isinstance(outcome, GaveUp)
    assert (outcome.stop, outcome.attempts, outcome.wait) == (Stop.TOO_LONG, 1, 3600.0)
    assert clock.slept == []
    backoff = Backoff(500.0, 500.0, rand=lambda: 1.0)
    assert next_wait(1, Again("x"), attempts=5, backoff=backoff, deadline=Deadline.never(), max_wait=300.0) == 500.0


def test_no_wait_reaches_the_deadline_on_an_injected_clock() -> None:
    clock = Clock(1000.0)
    deadline = Deadline(1002.0, clock=clock)  # two seconds left on the fake clock
    attempt = Scripted(Again("HTTP 503"), Again("HTTP 503"), Again("HTTP 503"), Again("HTTP 503"), "late")
    outcome = retry(attempt, attempts=6, backoff=Backoff(0.5, 20.0, rand=lambda: 1.0),
                    deadline=deadline, sleep=clock.sleep)
    assert isinstance(outcome, GaveUp)
    assert outcome.stop is Stop.DEADLINE
    assert clock.slept == [0.5, 1.0]  # the next wait, 2 s, would reach the deadline (0.5 s left)
    assert (outcome.attempts, outcome.wait, outcome.remaining) == (3, 2.0, 0.5)
    assert attempt.calls == [1, 2, 3]


def test_a_wait_that_overran_the_deadline_makes_no_further_attempt() -> None:
    clock = Clock(1000.0)
    deadline = Deadline(1001.0, clock=clock)

    def oversleep(seconds: float) -> None:
        clock.sleep(seconds + 5)

    attempt = Scripted(Again("HTTP 503"), "never")
    outcome = retry(attempt, attempts=3, backoff=HALF, deadline=deadline, sleep=oversleep)
    assert isinstance(outcome, GaveUp)
    assert (outcome.stop, outcome.attempts, outcome.wait) == (Stop.DEADLINE, 1, None)
    assert attempt.calls == [1]


def test_the_first_attempt_is_made_even_past_the_deadline() -> None:
    attempt = Scripted("sent")
    assert retry(attempt, attempts=3, backoff=HALF, deadline=Deadline.after(-1)) == "sent"
    assert attempt.calls == [1]


def test_errors_an_attempt_raises_are_not_retried() -> None:
    attempt = Scripted(ValueError("a bug"), "never")
    with pytest.raises(ValueError, match="a bug"):
        retry(attempt, attempts=3, backoff=HALF)
    assert attempt.calls == [1]


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    assert [Backoff(0.5, 2.0, rand=lambda: 1.0)(attempt) for attempt in range(1, 5)] == [0.5, 1.0, 2.0, 2.0]
    assert 0 <= Backoff(0.5, 2.0)(3) < 2.0

"""Deadline: construction, remaining time, expiry, capping."""

from __future__ import annotations

import math
import time

import pytest
from support.clock import Clock

from flatfile_relay.deadline import Deadline, DeadlineExceededError


class FakeLambdaContext:
    """The one method of the Lambda context that Deadline uses."""

    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def test_after() -> None:
    deadline = Deadline.after(10)
    assert 9.5 < deadline.remaining() <= 10
    assert not deadline.expired
    deadline.check()


def test_after_zero_or_negative_is_expired() -> None:
    for seconds in (0, -5):
        deadline = Deadline.after(seconds)
        assert deadline.remaining() == 0.0
        assert deadline.expired


def test_expires_as_time_passes() -> None:
    deadline = Deadline.after(0.05)
    time.sleep(0.06)
    assert deadline.expired
    with pytest.raises(DeadlineExceededError, match="Stopped paging"):
        deadline.check("paging")


def test_a_deadline_on_another_clock_moves_only_with_that_clock() -> None:
    clock = Clock(100.0)
    deadline = Deadline(130.0, clock=clock)
    assert deadline.remaining() == 30.0
    clock.advance(29.5)
    assert deadline.remaining() == 0.5
    assert deadline.cap(5) == 0.5
    clock.advance(1)
    assert deadline.expired
    with pytest.raises(DeadlineExceededError):
        deadline.check()


def test_after_and_from_lambda_context_read_the_clock_they_are_given() -> None:
    clock = Clock(100.0)
    deadline = Deadline.after(30, clock=clock)
    assert deadline.remaining() == 30.0
    clock.advance(10)
    assert deadline.remaining() == 20.0
    lambda_deadline = Deadline.from_lambda_context(FakeLambdaContext(60_000), reserve=5.0, clock=clock)
    assert lambda_deadline.remaining() == 55.0
    clock.advance(55)
    assert lambda_deadline.expired
    assert deadline.expired


def test_never() -> None:
    deadline = Deadline.never()
    assert deadline.remaining() == math.inf
    assert not deadline.expired
    assert deadline.cap(30.0) == 30.0
    assert repr(deadline) == "Deadline.never()"


def test_from_lambda_context_keeps_a_reserve() -> None:
    deadline = Deadline.from_lambda_context(FakeLambdaContext(60_000), reserve=5.0)
    assert 54.5 < deadline.remaining() <= 55.0
    default = Deadline.from_lambda_context(FakeLambdaContext(60_000))
    assert 54.5 < default.remaining() <= 55.0


def test_from_lambda_context_with_less_than_the_reserve_is_expired() -> None:
    assert Deadline.from_lambda_context(FakeLambdaContext(2_000), reserve=5.0).expired


def test_negative_reserve_is_refused() -> None:
    with pytest.raises(ValueError, match="reserve"):
        Deadline.from_lambda_context(FakeLambdaContext(2_000), reserve=-1)


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        Deadline(math.nan)


def test_cap() -> None:
    deadline = Deadline.after(2)
    assert deadline.cap(30) <= 2
    assert deadline.cap(1) == 1


def test_error_says_what_to_do() -> None:
    with pytest.raises(DeadlineExceededError) as caught:
        Deadline.after(-1).check("exporting")
    assert "next invocation" in str(caught.value)


def test_repr() -> None:
    assert repr(Deadline.after(5)).startswith("Deadline(remaining=")

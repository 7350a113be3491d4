"""ahead.in_order: answers in key order, at most `ahead` calls in flight, keys drawn lazily, close lets go."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing

import pytest

from flatfile_relay.ahead import in_order


class Gate:
    """fetch(key) that waits until the test opens key's gate, counting the calls in flight at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.gates: dict[int, threading.Event] = {}
        self.running = self.most = 0
        self.started: list[int] = []

    def gate(self, key: int) -> threading.Event:
        with self.lock:
            return self.gates.setdefault(key, threading.Event())

    def __call__(self, key: int) -> int:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.append(key)
        assert self.gate(key).wait(10)
        with self.lock:
            self.running -= 1
        return key * 10


def test_answers_come_in_key_order_whatever_finishes_first() -> None:
    fetch = Gate()
    for key in (3, 2, 1, 0):  # the last key may finish first
        fetch.gate(key).set()
    answers = [(key, answer.result()) for key, answer in in_order(fetch, range(4), ahead=4)]
    assert answers == [(0, 0), (1, 10), (2, 20), (3, 30)]


def test_at_most_ahead_calls_in_flight_and_keys_drawn_only_when_one_can_start() -> None:
    fetch = Gate()
    drawn: list[int] = []

    def keys() -> Iterator[int]:
        for key in range(10):
            drawn.append(key)
            yield key

    answers = in_order(fetch, keys(), ahead=3)
    with closing(answers):
        for key, answer in answers:
            assert len(drawn) <= key + 3
            fetch.gate(key).set()
            assert answer.result() == key * 10
            fetch.gate(key + 1).set()  # lets the next one finish while more are asked for
    assert fetch.most <= 3
    assert drawn == list(range(10))


def test_closing_cancels_the_calls_not_started_and_returns_at_once() -> None:
    fetch = Gate()
    answers = in_order(fetch, range(100), ahead=2)
    _, answer = next(answers)
    fetch.gate(0).set()
    assert answer.result() == 0
    answers.close()  # key 1 still waits at its gate: close does not wait for it
    fetch.gate(1).set()
    assert set(fetch.started) <= {0, 1}  # nothing asked for after the close


def test_one_at_a_time_calls_fetch_when_the_answer_is_taken_and_raises_its_error() -> None:
    calls: list[int] = []

    def fetch(key: int) -> int:
        calls.append(key)
        if key == 1:
            raise LookupError(key)
        return key

    answers = in_order(fetch, range(3), ahead=1)
    _, first = next(answers)
    assert calls == []
    assert first.result() == 0
    _, second = next(answers)
    with pytest.raises(LookupError):
        second.result()
    assert [answer.result() for _, answer in answers] == [2]
    assert calls == [0, 1, 2]

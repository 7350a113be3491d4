"""Run the same work on several threads at once, as several execution environments would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def at_once(work: Callable[[], T], times: int = 2, timeout: float = 60.0) -> list[T | BaseException]:
    """Call `work` on `times` threads started together; return each call's result, or what it raised, in the
    order the calls ended. A call still running after `timeout` seconds is an error of the test.

    Example:
        >>> sorted(at_once(lambda: 1, times=3))
        [1, 1, 1]
    """
    ended: list[T | BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            outcome: T | BaseException = work()
        except BaseException as error:  # noqa: BLE001 - handed to the caller, who judges it
            outcome = error
        with lock:
            ended.append(outcome)

    threads = [threading.Thread(target=run, name=f"at-once-{n}") for n in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if any(thread.is_alive() for thread in threads):
        raise AssertionError(f"a call was still running after {timeout} s")
    return ended

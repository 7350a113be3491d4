"""Bounded fetching ahead: up to `ahead` calls in flight on a small thread pool, answers taken in order.

The exporter's row pages (FLATFILE_ROW_PREFETCH) and the poller's re-checks of pending batches both use it:
the slow part (a request) runs in parallel, while everything that must happen in order (writing rows,
sending jobs, ledger marks) stays with the caller, one answer at a time, in the order of the keys.

Example:
    >>> [answer.result() for _, answer in in_order(lambda n: n * n, [1, 2, 3], ahead=2)]
    [1, 4, 9]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, Protocol, TypeVar

from flatfile_relay.checks import whole_number

__all__ = ["Answer", "in_order"]

K = TypeVar("K")
V = TypeVar("V")
V_co = TypeVar("V_co", covariant=True)


class Answer(Protocol[V_co]):
    """What `in_order` yields beside each key (a `Future`, or a call made when its answer is taken)."""

    def result(self) -> V_co:
        """What `fetch(key)` returned; raises what it raised."""
        ...


def in_order(
    fetch: Callable[[K], V], keys: Iterable[K], ahead: int, *, name: str = "ahead"
) -> Generator[tuple[K, Answer[V]], None, None]:
    """Yield `(key, answer)` for each key, in the order of `keys`; `answer.result()` is `fetch(key)`.

    At most `ahead` calls are in flight (1: each call runs when its answer is taken, no thread). Keys are
    drawn only when a call can start, so a key iterator may stop early (when time runs short, say). Take
    each answer with `answer.result()`: it returns what `fetch` returned or raises what it raised.

    Closing the generator (`contextlib.closing` around the loop) cancels the calls not started and returns
    at once: calls already running finish on their own (each is bounded by
    its own timeout), unawaited, and their answers are never seen. `ahead` is a whole number of at least 1
    (ValueError otherwise, at the first answer).
    """
    if whole_number(ahead, "ahead") == 1:
        for key in keys:
            yield key, _Later(fetch, key)
        return
    pool = ThreadPoolExecutor(max_workers=ahead, thread_name_prefix=name)
    in_flight: deque[tuple[K, Future[V]]] = deque()
    waiting = iter(keys)
    try:
        while True:
            for key in waiting:
                in_flight.append((key, pool.submit(fetch, key)))
                if len(in_flight) >= ahead:
                    break
            if not in_flight:
                return
            yield in_flight.popleft()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class _Later(Generic[K, V]):
    """`fetch(key)`, called when its answer is taken."""

    def __init__(self, fetch: Callable[[K], V], key: K) -> None:
        self._fetch, self._key = fetch, key

    def result(self) -> V:
        return self._fetch(self._key)

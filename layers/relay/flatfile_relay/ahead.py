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
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def in_order(
    fetch: Callable[[K], V], keys: Iterable[K], ahead: int, *, name: str = "ahead"
) -> Generator[tuple[K, Future[V]], None, None]:
    """Yield `(key, answer)` for each key, in the order of `keys`; `answer` is the future of `fetch(key)`.

    At most `ahead` calls are in flight (1: each call runs when its answer is taken, no thread). Keys are
    drawn only when a call can start, so a key iterator may stop early (when time runs short, say). Take
    each answer with `answer.result()`: it returns what `fetch` returned or raises what it raised.

    Closing the generator (leaving a `for` loop over it with `break`, or `contextlib.closing`) cancels the
    calls not started and returns at once: calls already running finish on their own (each is bounded by
    its own timeout), unawaited, and their answers are never seen.
    """
    if ahead <= 1:
        for key in keys:
            yield key, _run(fetch, key)
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


def _run(fetch: Callable[[K], V], key: K) -> Future[V]:
    """`fetch(key)` now, as a finished future."""
    answer: Future[V] = Future()
    try:
        answer.set_result(fetch(key))
    except Exception as error:  # handed to the caller by answer.result(), as a pool's future would
        answer.set_exception(error)
    return answer

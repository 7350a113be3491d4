"""Python's cyclic garbage collector paused while an export makes and drops many objects at once.

Decoding a page of 10,000 records makes a hundred thousand objects, and writing it as row lines and counting it
makes tens of thousands more; JSON holds no cycle, so reference counting frees them all. Left running, the
collector would walk every live object (the pages in flight included) again and again: in `make bench` a fifth of
a Platform export's decoding time, and an eighth of the whole export. Pauses nest and are shared between threads:
the last one out resumes collection, unless it was off before the first.

Example:
    >>> import gc
    >>> with collection_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collection_paused"]

_lock = threading.Lock()
_pausing = 0
_resume = False


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block (see the module docs)."""
    global _pausing, _resume
    with _lock:
        if _pausing == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pausing += 1
    try:
        yield
    finally:
        with _lock:
            _pausing -= 1
            if _pausing == 0 and _resume:
                gc.enable()

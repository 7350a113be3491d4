"""Fault injection: make chosen requests fail the way real networks and gateways fail.

Rules are checked in the order they were added. A rule matches a request by path prefix, or by a glob when the
path holds a ``*`` (``/v1/jobs/*/complete``: any job's complete), and optionally by method; it lets its first
``after`` matching requests through, then faults the next ``count`` ones (``None``: forever) and is used up. A
request a rule lets through is offered to the later rules; the first rule that fires wins.

Example:
    >>> plan = FaultPlan()
    >>> plan.add(FaultRule(kind="429", path="/rest/batches", count=2, retry_after=0.5))
    >>> [getattr(plan.take("GET", "/rest/batches"), "kind", None) for _ in range(3)]
    ['429', '429', None]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from fnmatch import fnmatchcase

__all__ = ["FAULT_KINDS", "FaultPlan", "FaultRule"]

#: ``429``/``5xx``: NestJS JSON error with that status (429 adds ``Retry-After``);
#: ``drop``: close the TCP connection without any response; ``invalid_json``: 200 with a non-JSON body;
#: ``slow``: wait ``delay`` seconds, then answer normally; ``truncated``: 200 whose body stops half-way
#: (the ``Content-Length`` promises more) before the connection closes; ``trickle``: the normal answer, its body
#: sent one byte every ``delay`` seconds (each wait far shorter than a read timeout, the whole body far longer);
#: ``lost``: the request is carried out (a job completed, records changed), then the connection closes without
#: the answer, the way an answer is lost on the way back (the client cannot tell whether its request took effect).
FAULT_KINDS = frozenset(
    {"429", "500", "502", "503", "drop", "invalid_json", "slow", "truncated", "trickle", "lost"}
)


@dataclass(frozen=True)
class FaultRule:
    """One fault to inject.

    Attributes:
        kind: one of :data:`FAULT_KINDS` (an int status such as ``429`` is accepted too).
        path: URL path prefix to match, or a glob when it holds ``*`` (``None``: every path, ``/health``
            included).
        method: HTTP method to match (``None``: any).
        count: how many matching requests get the fault (``None``: forever).
        after: let this many matching requests pass before faulting.
        retry_after: seconds sent in ``Retry-After`` with ``429`` (``None``: no header).
        delay: seconds a ``slow`` fault waits before answering (a ``trickle`` fault between two bytes).
        body: replaces the response body of status and ``invalid_json`` faults.
    """

    kind: str
    path: str | None = None
    method: str | None = None
    count: int | None = 1
    after: int = 0
    retry_after: float | None = 1.0
    delay: float = 1.0
    body: str | None = None

    def __post_init__(self) -> None:
        kind = str(self.kind)
        object.__setattr__(self, "kind", kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if self.count is not None and self.count < 0:
            raise ValueError("count must be >= 0 or None")
        if self.after < 0:
            raise ValueError("after must be >= 0")
        if self.delay < 0 or (self.retry_after is not None and self.retry_after < 0):
            raise ValueError("delay and retry_after must be >= 0")
        if self.method is not None:
            object.__setattr__(self, "method", self.method.upper())

    @property
    def status(self) -> int | None:
        """The HTTP status this fault answers with (``None`` for ``drop`` and ``lost``: no answer arrives)."""
        if self.kind.isdigit():
            return int(self.kind)
        return None if self.kind in ("drop", "lost") else 200

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and path is subject to the rule."""
        if self.method is not None and method.upper() != self.method:
            return False
        if self.path is None:
            return True
        return fnmatchcase(path, self.path) if "*" in self.path else path.startswith(self.path)


class _Entry:
    __slots__ = ("fired", "rule", "seen")

    def __init__(self, rule: FaultRule) -> None:
        self.rule = rule
        self.seen = 0
        self.fired = 0

    @property
    def used_up(self) -> bool:
        return self.rule.count is not None and self.fired >= self.rule.count


class FaultPlan:
    """A thread-safe, ordered list of :class:`FaultRule` with their consumption counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []

    def add(self, *rules: FaultRule) -> None:
        """Append rules (checked after the ones already present)."""
        with self._lock:
            self._entries.extend(_Entry(rule) for rule in rules)

    def clear(self) -> None:
        """Forget every rule."""
        with self._lock:
            self._entries.clear()

    def pending(self) -> list[FaultRule]:
        """Rules that can still fire."""
        with self._lock:
            return [entry.rule for entry in self._entries if not entry.used_up]

    def take(self, method: str, path: str) -> FaultRule | None:
        """The fault for this request, if any, counting it against its rule."""
        with self._lock:
            for entry in self._entries:
                if entry.used_up or not entry.rule.matches(method, path):
                    continue
                entry.seen += 1
                if entry.seen <= entry.rule.after:
                    continue
                entry.fired += 1
                return entry.rule
            self._entries = [entry for entry in self._entries if not entry.used_up]
        return None

"""The emulator's knobs.

Example:
    >>> config = EmulatorConfig(seed=7, max_take=500)
    >>> config.replace(order="oldest").order
    'oldest'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["ORDERS", "RUNTIME_KNOBS", "EmulatorConfig"]

#: ``newest``/``oldest``: by ``createdAt`` (ties by id); ``random``: a fresh shuffle for every request
#: (reproducible for a seed, but offsets are meaningless between pages).
ORDERS = ("newest", "oldest", "random")

#: What :meth:`Emulator.set` may change while the emulator runs.
RUNTIME_KNOBS = frozenset({"default_take", "max_take", "order", "latency", "jitter", "token_lifetime_cap",
                           "platform_max_page_size"})


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated API behaves.

    Attributes:
        seed: drives every generated id, credential and row.
        default_take: page size when a list request has no ``take``.
        max_take: larger ``take`` values are silently capped to this.
        order: order of ``GET /rest/batches`` (see :data:`ORDERS`).
        latency: seconds added before every answer.
        jitter: up to this many seconds more, drawn at random for each request (answers overtake each other).
        token_lifetime_cap: if set, exchanged tokens live ``min(expiresIn, cap)`` seconds.
        platform_max_page_size: the Platform's cap on ``pageSize`` (records, jobs, events, …): larger values are
            served as this many, like a server that caps its pages.
        samples: load the sample imports of :mod:`.samples` and the Platform samples of :mod:`.platform.samples`.
        anchor: sample timestamps are fixed offsets before this moment (default: today's midnight UTC).
    """

    seed: int = 7
    default_take: int = 50
    max_take: int = 1000
    order: str = "newest"
    latency: float = 0.0
    jitter: float = 0.0
    token_lifetime_cap: float | None = None
    platform_max_page_size: int = 10_000
    samples: bool = True
    anchor: datetime | str | None = None

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, not {self.order!r}")
        if self.default_take < 1 or self.max_take < 1 or self.platform_max_page_size < 1:
            raise ValueError("default_take, max_take and platform_max_page_size must be >= 1")
        if self.latency < 0 or self.jitter < 0:
            raise ValueError("latency and jitter must be >= 0")
        if self.token_lifetime_cap is not None and self.token_lifetime_cap <= 0:
            raise ValueError("token_lifetime_cap must be > 0")

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A copy with some knobs changed (validated)."""
        return dataclasses.replace(self, **changes)

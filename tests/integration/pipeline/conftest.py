"""Failure-mode fixtures: the relay with batch-list pages of five."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.relay import PAGE, Relay


@pytest.fixture
def relay(relay_factory: Callable[..., Relay]) -> Relay:
    """The poller's settings with batch-list pages of five, pointed at the emulator."""
    return relay_factory(batch_page_size=PAGE)

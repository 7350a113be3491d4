"""Poller fixtures: the module's deployment emptied per test, and batch-list pages of five."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support.relay import PAGE, Relay


@pytest.fixture
def deployment(module_deployment: Any) -> Any:
    """The module's deployment, emptied for this test."""
    return module_deployment.empty()


@pytest.fixture
def relay(relay_factory: Callable[..., Relay]) -> Relay:
    """The poller's settings with batch-list pages of five, pointed at the emulator."""
    return relay_factory(batch_page_size=PAGE)

"""Consumer fixtures: the relay with small parts (tests/support/fixtures.py, `export_relay`)."""

from __future__ import annotations

import pytest
from support.relay import Relay


@pytest.fixture
def relay(export_relay: Relay) -> Relay:
    return export_relay

"""Fixtures of the Platform export's tests: the relay (moto over HTTP) with both sources' keys in its secret and
the emulator's Platform (over HTTP) as its second source.

At teardown the emulator must not have crashed, and every Platform call the relay made must have a case in the SDK
contract test (tests/support/platform_contract.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.platform_contract import uncovered
from support.relay import Relay


@pytest.fixture
def platform_relay(relay_factory: Callable[..., Relay], monkeypatch: pytest.MonkeyPatch
                   ) -> Iterator[Callable[..., Relay]]:
    """`platform_relay(emulator={...knobs}, env={...}, **settings)`: the exporter's relay with the Platform keys."""
    made: list[Relay] = []

    def make(emulator: dict[str, Any] | None = None, env: dict[str, str] | None = None, **settings: Any) -> Relay:
        relay = relay_factory("ExporterFunction", emulator=emulator, **settings)
        relay.with_platform_keys()
        for key, value in {"FLATFILE_PLATFORM_URL": relay.emu.platform_url, **(env or {})}.items():
            relay.env[key] = value
            monkeypatch.setenv(key, value)
        made.append(relay)
        return relay

    yield make
    for relay in made:
        assert not relay.emu.errors, relay.emu.errors
        missing = uncovered(relay.emu.request_log)
        assert not missing, f"Platform calls without a case in the SDK contract test: {sorted(missing)}"


@pytest.fixture
def relay(platform_relay: Callable[..., Relay]) -> Relay:
    """The exporter's relay (parts of up to 1,000 rows) with the emulator's samples, both sources' keys."""
    return platform_relay(part_max_rows=1000)

"""Fixtures for the Flatfile client's integration tests: a fresh emulator per test, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flatfile_relay.credentials import Credentials
from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay_devkit.emulator import Emulator, EmulatorConfig

ClientFactory = Callable[..., FlatfileClient]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """The emulator with its sample imports (seed 7, newest first, no latency)."""
    with Emulator(EmulatorConfig(seed=7)) as emulator:
        yield emulator
    assert not emulator.errors, emulator.errors  # the emulator itself never crashed


@pytest.fixture
def make_client(emu: Emulator) -> Iterator[ClientFactory]:
    """Builds clients of the emulator with fast retries; closes them at the end of the test."""
    clients: list[FlatfileClient] = []

    def make(secret: Any = None, **options: Any) -> FlatfileClient:
        options.setdefault("backoff_base", 0.01)
        options.setdefault("backoff_cap", 0.05)
        options.setdefault("timeout", 5.0)
        options.setdefault("connect_timeout", 2.0)
        client = FlatfileClient(emu.url, Credentials.from_secret(emu.secret if secret is None else secret), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()

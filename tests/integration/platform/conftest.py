"""Fixtures for the Platform client's integration tests: a fresh emulator per test, over real HTTP.

At teardown every Platform call the client sent must have a case in the SDK contract test
(tests/support/platform_contract.py): a new call, or a new parameter, needs one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.platform_contract import uncovered

from flatfile_relay.deadline import Deadline
from flatfile_relay.platform import PlatformAccount, PlatformClient
from flatfile_relay_devkit.emulator import Emulator, EmulatorConfig

ClientFactory = Callable[..., PlatformClient]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """The emulator with its samples (seed 7, no latency); its Platform calls are checked against the contract."""
    with Emulator(EmulatorConfig(seed=7)) as emulator:
        yield emulator
    assert not emulator.errors, emulator.errors  # the emulator itself never crashed
    missing = uncovered(emulator.request_log)
    assert not missing, f"Platform calls without a case in the SDK contract test: {sorted(missing)}"


@pytest.fixture
def make_client(emu: Emulator) -> Iterator[ClientFactory]:
    """Builds clients of the emulator's Platform API with fast retries; closes them at the end of the test."""
    clients: list[PlatformClient] = []

    def make(secret_key: str | None = None, environment_id: str | None = None, base_url: str | None = None,
             **options: Any) -> PlatformClient:
        options.setdefault("backoff_base", 0.01)
        options.setdefault("backoff_cap", 0.05)
        options.setdefault("timeout", 5.0)
        options.setdefault("connect_timeout", 2.0)
        account = PlatformAccount(secret_key or emu.platform_secret["platformSecretKey"],
                                  environment_id or emu.platform_secret["platformEnvironmentId"])
        client = PlatformClient(base_url or emu.platform_url, account, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> PlatformClient:
    return make_client()


@pytest.fixture
def deadline() -> Deadline:
    return Deadline.after(60)

"""Fixtures for the poller: the emulator and a moto deployment wired together, plus the handler module."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from poller_harness import PAGE, Relay
from support.functions import function_with_environment

from flatfile_relay.credentials import Credentials
from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay.ledger import Ledger


@pytest.fixture
def deployment(module_deployment: Any) -> Any:
    """The module's deployment, emptied for this test."""
    return module_deployment.empty()


@pytest.fixture
def relay(deployment: Any, emulator: Any) -> Iterator[Relay]:
    """The template's resources in moto, the emulator's credentials in the secret, pages of 20."""
    settings = dataclasses.replace(
        deployment.settings("PollerFunction"), flatfile_base_url=emulator.url, batch_page_size=PAGE
    )
    clients = deployment.clients
    secret = json.dumps(emulator.secret)
    clients.secretsmanager.put_secret_value(SecretId=settings.secret_id, SecretString=secret)
    client = FlatfileClient(emulator.url, Credentials.from_secret(emulator.secret), timeout=5,
                            backoff_base=0.01, backoff_cap=0.05)
    yield Relay(
        emu=emulator, deployment=deployment, settings=settings, client=client,
        ledger=Ledger(settings.ledger_table, clients.dynamodb), sqs=clients.sqs,
    )
    client.close()


@pytest.fixture
def poller_app(monkeypatch: pytest.MonkeyPatch, deployment: Any, emulator: Any) -> Iterator[ModuleType]:
    """The handler module with PollerFunction's environment (pointed at moto and the emulator)."""
    yield from function_with_environment(
        monkeypatch, deployment, "poller", "PollerFunction", FLATFILE_BASE_URL=emulator.url
    )

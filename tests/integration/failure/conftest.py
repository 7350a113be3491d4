"""Fixtures for the failure-mode tests (helpers in failure_world.py)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from failure_world import PAGE, World
from support.functions import function_with_environment

from flatfile_relay.credentials import Credentials
from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay.ledger import Ledger


@pytest.fixture
def world(deployment: Any, emulator: Any) -> Iterator[World]:
    """The poller's settings (pages of 5) pointed at the emulator; the credentials in the secret."""
    settings = dataclasses.replace(
        deployment.settings("PollerFunction"), flatfile_base_url=emulator.url, batch_page_size=PAGE
    )
    deployment.clients.secretsmanager.put_secret_value(
        SecretId=settings.secret_id, SecretString=json.dumps(emulator.secret)
    )
    client = FlatfileClient(emulator.url, Credentials.from_secret(emulator.secret), timeout=5.0,
                            backoff_base=0.01, backoff_cap=0.05, batch_page_size=PAGE)
    yield World(emu=emulator, deployment=deployment, settings=settings, client=client,
                ledger=Ledger(settings.ledger_table, deployment.clients.dynamodb))
    client.close()


@pytest.fixture
def poller_function(monkeypatch: pytest.MonkeyPatch, deployment: Any, emulator: Any) -> Iterator[ModuleType]:
    """functions/poller/app.py with PollerFunction's environment, pointed at moto and the emulator."""
    yield from function_with_environment(
        monkeypatch, deployment, "poller", "PollerFunction", FLATFILE_BASE_URL=emulator.url
    )

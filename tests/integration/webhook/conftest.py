"""Webhook fixtures: the handler module and a harness wired to template.yaml's resources in moto."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from support.functions import function_app
from support.webhook import TOKEN, Resources, WebhookHarness


class CapturedLogs:
    """What the functions logged during this test (read from capsys, accumulated)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self._text = ""

    def getvalue(self) -> str:
        self._text += self._capsys.readouterr().out
        return self._text


@pytest.fixture(scope="session")
def webhook_module() -> ModuleType:
    return function_app("webhook")


@pytest.fixture(scope="module")
def webhook_resources(moto_server: Any) -> Resources:
    return Resources(moto_server)


@pytest.fixture
def webhook(webhook_resources: Resources, webhook_module: ModuleType,
            monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[WebhookHarness]:
    """The handler with the deployment's environment, a secret holding TOKEN, and cold lazy state."""
    deployment = webhook_resources.fresh()
    environment = deployment.environment("WebhookFunction")
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    webhook_module.reset()
    # The functions' Logger writes to the current sys.stdout, which capsys captures.
    logs = CapturedLogs(capsys)
    harness = WebhookHarness(module=webhook_module, deployment=deployment, aws=deployment.clients,
                             settings=deployment.settings("WebhookFunction"), logs=logs,
                             resources=webhook_resources)
    harness.set_secret(TOKEN)
    yield harness
    webhook_module.reset()

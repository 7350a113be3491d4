"""Webhook fixtures: the handler module and a harness wired to template.yaml's resources in moto."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from webhook_support import TOKEN, Resources, WebhookHarness, load_handler_module


@pytest.fixture(scope="session")
def webhook_module() -> ModuleType:
    return load_handler_module()


@pytest.fixture(scope="module")
def webhook_resources(moto_server: Any) -> Resources:
    return Resources(moto_server)


@pytest.fixture
def webhook(webhook_resources: Resources, webhook_module: ModuleType,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookHarness]:
    """The handler with the deployment's environment, a secret holding TOKEN, and cold lazy state."""
    deployment = webhook_resources.fresh()
    environment = deployment.environment("WebhookFunction")
    for key, value in environment.items():
        if key == "AWS_ENDPOINT_URL":  # empty in the template; the moto fixture set the real one
            continue
        monkeypatch.setenv(key, value)
    webhook_module.reset()
    # The Powertools Logger writes to the stream it was built with: send it to a buffer for this test.
    logger = webhook_module.logger
    logs = io.StringIO()
    saved = [(handler, handler.setStream(logs)) for handler in logger.handlers
             if isinstance(handler, logging.StreamHandler)]
    harness = WebhookHarness(module=webhook_module, deployment=deployment, aws=deployment.clients,
                             settings=deployment.settings("WebhookFunction"), logs=logs,
                             resources=webhook_resources)
    harness.set_secret(TOKEN)
    yield harness
    for handler, stream in saved:
        handler.setStream(stream)
    webhook_module.reset()

"""The webhook never shows its token: not in its log output, its answers or what it stores, whatever the
verbosity switches of the environment say."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.functions import function_app, lambda_context

from flatfile_relay_devkit.emulator.webhook import build_payloads

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "wh-" + uuid.uuid4().hex + "-Failure"


def event(body: bytes, token: str) -> dict[str, Any]:
    sample = json.loads((ROOT / "events" / "webhook.json").read_text())
    sample["rawQueryString"] = f"token={token}"
    sample["queryStringParameters"] = {"token": token}
    sample["headers"]["x-webhook-token"] = token
    sample["body"] = base64.b64encode(body).decode()
    sample["isBase64Encoded"] = True
    return sample


@pytest.mark.filterwarnings("ignore:POWERTOOLS_DEV environment variable is enabled")
@pytest.mark.parametrize("switch", ["POWERTOOLS_DEV", "POWERTOOLS_EVENT_HANDLER_DEBUG", "POWERTOOLS_LOGGER_LOG_EVENT"])
def test_verbosity_switches_do_not_print_the_token(
    deployment: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    switch: str,
) -> None:
    for key, value in deployment.environment("WebhookFunction").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv(switch, "true")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    deployment.store_credentials({**emulator.secret, "webhookToken": TOKEN})
    library = logging.getLogger("flatfile_relay")
    saved = (list(library.handlers), library.level, library.propagate)
    module = function_app("webhook", fresh=True)  # built under the switch, as a cold start would be
    try:
        body = json.dumps(build_payloads(emulator, emulator.samples["medium"])[0]).encode()
        accepted = module.handler(event(body, TOKEN), lambda_context("WebhookFunction"))
        wrong = module.handler(event(body, TOKEN[:-1]), lambda_context("WebhookFunction"))
    finally:
        module.reset()
        library.handlers[:] = saved[0]
        library.setLevel(saved[1])
        library.propagate = saved[2]

    assert (accepted["statusCode"], wrong["statusCode"]) == (202, 401)
    output = capsys.readouterr()
    assert output.out  # the function did log
    for text in (output.out, output.err, json.dumps(accepted), json.dumps(wrong)):
        assert TOKEN not in text
        assert TOKEN[:-1] not in text

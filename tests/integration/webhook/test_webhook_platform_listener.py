"""The Flatfile listener of docs/platform.md ("Seconds instead of the schedule"), run under Node against the webhook.

The listener is TypeScript for `@flatfile/listener`; Flatfile runs it in its own agents. Here Node runs the
documented block with its type annotations removed (nothing else changed) inside a stand-in for the listener
library: `listener.on(topic, filter, handler)` registers, an event whose topic and payload match the filter
calls the handler, and `event.secrets(name)` answers the environment's secrets. The events are the emulated
Platform's own; the webhook answers behind the devkit's local Function URL, over HTTP, and moto holds what
landed. Where Node is not installed the run is skipped; the checks of the text run everywhere.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.docs import block
from support.functions import lambda_context
from support.webhook import TOKEN, WebhookHarness

from flatfile_relay.jobs import ExportJob
from flatfile_relay_devkit.local.function_url import FunctionUrl

LISTENER = block("docs/platform.md", "## Seconds instead of the schedule", "typescript").text
NODE = shutil.which("node")

#: the stand-in for @flatfile/listener: registers handlers, then offers them the event read from stdin
HARNESS = """
const register = require(process.argv[2]);
const handlers = [];
register({ on: (topic, filter, handler) => handlers.push({ topic, filter, handler }) });
const given = JSON.parse(require("fs").readFileSync(0, "utf8"));
(async () => {
  for (const { topic, filter, handler } of handlers) {
    const matches = Object.entries(filter).every(([key, value]) => given.event.payload[key] === value);
    if (topic !== given.event.topic || !matches) continue;
    // what a FlatfileEvent also carries, which must never be forwarded
    const event = { ...given.event, api: { token: "sk_never_forwarded" }, secrets: async (n) => given.secrets[n] };
    await handler(event);
    console.log("forwarded " + given.event.context.jobId);
  }
})().catch((error) => { console.error(error.message); process.exit(1); });
"""


def test_the_listener_forwards_job_ready_of_the_submit_action_with_the_token_header() -> None:
    lines = [line for line in LISTENER.splitlines() if line.strip()]
    assert len(lines) <= 20  # the dozen lines of a listener
    assert 'listener.on("job:ready", { job: "workbook:submitActionFg" }' in LISTENER
    assert '"X-Webhook-Token": token' in LISTENER
    assert "fetch(url" in LISTENER
    assert "token=" not in LISTENER  # never the query string
    assert ".ack(" not in LISTENER  # the relay acknowledges the job itself


def javascript(listener: str) -> str:
    """The documented TypeScript as CommonJS: the type-only import and the two parameter annotations removed."""
    text = re.sub(r'^import type .*;\n', "", listener, flags=re.M)
    text = text.replace("export default function (listener: FlatfileListener)", "module.exports = function (listener)")
    text = text.replace("async (event: FlatfileEvent)", "async (event)")
    assert ": Flatfile" not in text, "a type annotation is left"
    return text


@pytest.fixture
def function_url(webhook: WebhookHarness) -> Iterator[FunctionUrl]:
    with FunctionUrl(lambda event: webhook.module.handler(event, lambda_context("WebhookFunction"))) as url:
        yield url


def run_listener(tmp_path: Path, event: dict[str, Any], url: str, token: str) -> subprocess.CompletedProcess[str]:
    if NODE is None:
        pytest.skip("node is not installed: the documented listener cannot run here")
    (tmp_path / "listener.js").write_text(javascript(LISTENER), encoding="utf-8")
    (tmp_path / "harness.js").write_text(HARNESS, encoding="utf-8")
    given = {"event": event, "secrets": {"RELAY_WEBHOOK_URL": url, "RELAY_WEBHOOK_TOKEN": token}}
    return subprocess.run([NODE, str(tmp_path / "harness.js"), str(tmp_path / "listener.js")],
                          input=json.dumps(given), capture_output=True, text=True, timeout=60, check=False)


def ready_event(emulator: Any, operation: str = "submitActionFg") -> dict[str, Any]:
    job = emulator.platform.submit(emulator.platform.sample_id("customers_orders"), operation)
    [event] = [e for e in emulator.platform.events("job:ready") if e["context"]["jobId"] == job["id"]]
    return dict(event)


def test_the_documented_listener_forwards_a_submit_and_the_job_is_queued(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl, tmp_path: Path
) -> None:
    event = ready_event(emulator)

    done = run_listener(tmp_path, event, function_url.url, TOKEN)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"forwarded {event['context']['jobId']}"
    [message] = webhook.jobs()
    job = ExportJob.from_message(message)
    assert (job.source, job.batch_id, job.trigger) == ("platform", event["context"]["jobId"], "webhook")
    [stored] = webhook.objects().values()
    assert json.loads(stored) == {key: event[key] for key in ("id", "topic", "domain", "context", "payload")}
    assert b"sk_never_forwarded" not in stored


def test_the_documented_listener_leaves_other_actions_alone(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl, tmp_path: Path
) -> None:
    done = run_listener(tmp_path, ready_event(emulator, "downloadCsv"), function_url.url, TOKEN)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert webhook.jobs() == []


def test_the_documented_listener_fails_loudly_when_the_relay_refuses(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl, tmp_path: Path
) -> None:
    done = run_listener(tmp_path, ready_event(emulator), function_url.url, "not-the-token-0123456789abcdefghij")
    assert done.returncode == 1
    assert "the relay answered 401" in done.stderr
    assert webhook.objects() == {}

"""End to end: the emulator sends a batch as Portal v2 webhook POSTs over HTTP to the handler.

The development kit's local Function URL (a small HTTP server) turns each request into a payload-2.0 event,
calls the handler and writes its response back.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support.functions import lambda_context
from support.webhook import WebhookHarness

from flatfile_relay.jobs import ExportJob
from flatfile_relay_devkit.local.function_url import FunctionUrl


@pytest.fixture
def function_url(webhook: WebhookHarness) -> Iterator[FunctionUrl]:
    with FunctionUrl(lambda event: webhook.module.handler(event, lambda_context("WebhookFunction"))) as url:
        yield url


def test_the_emulator_webhook_for_a_big_batch_queues_one_export(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl
) -> None:
    from flatfile_relay_devkit.emulator import build_payloads, send_webhook

    token = emulator.secret["webhookToken"]
    webhook.set_secret(token)
    batch_id = emulator.samples["big"]
    event_id = str(uuid.uuid4())
    expected = build_payloads(emulator, batch_id, event_id=event_id)
    assert len(expected) >= 2, "the 'big' sample should need several POSTs"

    statuses = send_webhook(emulator, batch_id, function_url.url, token=token, event_id=event_id)

    assert statuses == [202] * len(expected)
    stored = webhook.objects()
    assert sorted(stored) == sorted(
        f"flatfile/webhooks/{batch_id}/{event_id}-{index}.json" for index in range(len(expected))
    )
    for index, part in enumerate(expected):
        assert json.loads(stored[f"flatfile/webhooks/{batch_id}/{event_id}-{index}.json"]) == part
    [message] = webhook.jobs()
    job = ExportJob.from_message(message)
    assert (job.batch_id, job.trigger) == (batch_id, "webhook")
    entry = webhook.ledger().get(batch_id)
    assert entry is not None
    assert entry.state == "queued"
    # no Flatfile API call is needed to accept a webhook
    assert emulator.request_log == []


def test_the_emulator_webhook_with_a_wrong_token_is_refused(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl
) -> None:
    from flatfile_relay_devkit.emulator import send_webhook

    webhook.set_secret(emulator.secret["webhookToken"])
    statuses = send_webhook(emulator, emulator.samples["big"], function_url.url, token="not-the-token")
    assert set(statuses) == {401}
    assert webhook.objects() == {}
    assert webhook.jobs() == []

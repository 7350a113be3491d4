"""Push for the Flatfile Platform (architecture.md item 10): a listener forwards `job:ready` events to the webhook.

Over HTTP: the devkit's local Function URL runs the handler behind a real HTTP server, the events are the
emulator's own (a workbook's submit action pressed in the emulated Platform), and what landed is read back from
moto. The webhook never calls Flatfile to accept an event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from support.functions import lambda_context
from support.webhook import TOKEN, WebhookHarness

from flatfile_relay.jobs import ExportJob
from flatfile_relay.ledger import EXPORTED
from flatfile_relay_devkit.local.function_url import FunctionUrl


@pytest.fixture
def function_url(webhook: WebhookHarness) -> Iterator[FunctionUrl]:
    with FunctionUrl(lambda event: webhook.module.handler(event, lambda_context("WebhookFunction"))) as url:
        yield url


def configure(webhook: WebhookHarness, monkeypatch: pytest.MonkeyPatch, **environment: str) -> None:
    """Set the webhook's environment variables and start cold, as a new deployment would."""
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    webhook.module.reset()


def submitted(emulator: Any, label: str = "customers_orders", operation: str = "submitActionFg") -> dict[str, Any]:
    """Press the workbook's action in the emulated Platform: the `job:ready` event it emits."""
    job = emulator.platform.submit(emulator.platform.sample_id(label), operation)
    [event] = [e for e in emulator.platform.events("job:ready") if e["context"]["jobId"] == job["id"]]
    return dict(event)


def forward(url: FunctionUrl, event: Any, *, token: str | None = TOKEN, **headers: str) -> requests.Response:
    """What the documented listener does: POST the event as JSON with the X-Webhook-Token header."""
    sent = {"Content-Type": "application/json", **headers}
    if token is not None:
        sent["X-Webhook-Token"] = token
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    return requests.post(url.url, data=body, headers=sent, timeout=10)


def test_a_forwarded_job_ready_is_stored_and_queued_once_even_when_delivered_twice(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl
) -> None:
    event = submitted(emulator)
    job_id = event["context"]["jobId"]

    first, second = forward(function_url, event), forward(function_url, event)

    assert first.status_code == second.status_code == 202
    assert first.json() == {"status": "accepted", "source": "platform", "batchId": job_id, "eventId": event["id"],
                            "queued": True}
    assert second.json()["queued"] is False  # the ledger says queued: no second job
    [message] = webhook.jobs()
    job = ExportJob.from_message(message)
    assert (job.source, job.batch_id, job.trigger) == ("platform", job_id, "webhook")
    entry = webhook.ledger().get(job_id)
    assert entry is not None
    assert entry.state == "queued"
    key = f"flatfile/webhooks/{job_id}/{event['id']}-0.json"
    assert list(webhook.objects()) == [key]
    assert json.loads(webhook.objects()[key]) == event  # the raw body, as forwarded
    head = webhook.aws.s3.head_object(Bucket=webhook.bucket, Key=key)
    assert head["Metadata"]["batch-id"] == job_id
    assert head["Metadata"]["event-type"] == "job:ready"
    assert emulator.request_log == []  # no Flatfile call is needed to accept an event


def test_a_replayed_job_id_that_was_exported_queues_nothing(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl
) -> None:
    event = submitted(emulator)
    job_id = event["context"]["jobId"]
    ledger = webhook.ledger()
    ledger.claim(job_id, owner="exporter-1", lease_seconds=60, trigger="schedule")
    ledger.mark_exported(job_id, owner="exporter-1", manifest_uri=f"s3://{webhook.bucket}/flatfile/manifests/"
                         f"{job_id}.json", row_count=42, exported_at="2026-12-06T10:52:00.000Z")

    replayed = forward(function_url, {**event, "id": "us_evt_replayed1"})

    assert replayed.status_code == 202
    assert replayed.json()["queued"] is False
    assert webhook.jobs() == []
    entry = ledger.get(job_id)
    assert entry is not None
    assert entry.state == EXPORTED


def test_another_topic_is_answered_200_and_ignored(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl
) -> None:
    event = submitted(emulator)
    [created] = [e for e in emulator.platform.events("job:created") if e["context"]["jobId"] ==
                 event["context"]["jobId"]]

    answer = forward(function_url, created)

    assert answer.status_code == 200
    assert answer.json() == {"status": "ignored", "source": "platform", "eventType": "job:created",
                             "reason": "topic job:created is not job:ready", "queued": False}
    assert webhook.objects() == {}
    assert webhook.jobs() == []
    assert '"WebhookIgnored"' in webhook.logs.getvalue()


def test_a_job_of_another_operation_is_ignored_unless_configured(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    download = submitted(emulator, operation="downloadCsv")

    answer = forward(function_url, download)

    assert answer.status_code == 200
    assert answer.json()["reason"] == ("job workbook:downloadCsv is not a workbook job of "
                                       "FLATFILE_PLATFORM_OPERATIONS (submitActionFg)")
    assert webhook.jobs() == []
    configure(webhook, monkeypatch, FLATFILE_PLATFORM_OPERATIONS="submitActionFg,downloadCsv")
    assert forward(function_url, download).status_code == 202
    assert ExportJob.from_message(webhook.jobs()[0]).batch_id == download["context"]["jobId"]


def test_a_job_of_another_type_is_ignored(webhook: WebhookHarness, emulator: Any,
                                          function_url: FunctionUrl) -> None:
    event = submitted(emulator)
    event["payload"] = {**event["payload"], "job": "space:submitActionFg"}
    answer = forward(function_url, event)
    assert answer.status_code == 200
    assert answer.json()["status"] == "ignored"
    assert webhook.jobs() == []


def test_another_environment_is_ignored_when_the_environment_is_set(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = emulator.platform_secret["platformEnvironmentId"]
    configure(webhook, monkeypatch, FLATFILE_PLATFORM_ENVIRONMENT_ID=environment)
    foreign_job = emulator.platform.sample_id("foreign_job")
    [foreign] = [e for e in emulator.platform.events("job:ready") if e["context"]["jobId"] == foreign_job]
    assert foreign["context"]["environmentId"] != environment

    ignored = forward(function_url, foreign)
    accepted = forward(function_url, submitted(emulator))

    assert ignored.status_code == 200
    assert ignored.json()["reason"] == (f"environment {foreign['context']['environmentId']} is not "
                                        f"FLATFILE_PLATFORM_ENVIRONMENT_ID ({environment})")
    assert accepted.status_code == 202
    assert [ExportJob.from_message(m).batch_id for m in webhook.jobs()] == [accepted.json()["batchId"]]
    assert webhook.ledger().get(foreign_job) is None


def test_every_environment_is_accepted_when_none_is_set(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl
) -> None:
    """Without FLATFILE_PLATFORM_ENVIRONMENT_ID the webhook cannot tell: the exporter, whose key belongs to one
    environment, checks the job again (docs/platform.md)."""
    foreign_job = emulator.platform.sample_id("foreign_job")
    [foreign] = [e for e in emulator.platform.events("job:ready") if e["context"]["jobId"] == foreign_job]
    assert forward(function_url, foreign).status_code == 202


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda e: e["context"].pop("jobId"), "body.context.jobId is missing"),
        (lambda e: e["context"].update(jobId="us_wb_i2rg48vs"), "body.context.jobId must be a Flatfile Platform"),
        (lambda e: e["context"].pop("environmentId"), "body.context.environmentId is missing"),
        (lambda e: e.pop("payload"), "body.payload is missing"),
        (lambda e: e["payload"].update(job="submitActionFg"), "body.payload.job must match pattern"),
        (lambda e: e.update(context="us_jb_1"), "body.context must be a JSON object"),
        (lambda e: e.update(topic=["job:ready"]), "body.topic must be a string"),
    ],
)
def test_a_malformed_event_is_400_and_nothing_is_stored_or_queued(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl, change: Any, problem: str
) -> None:
    event = submitted(emulator)
    change(event)
    answer = forward(function_url, event)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(problem)
    assert webhook.objects() == {}
    assert webhook.jobs() == []


@pytest.mark.parametrize("token", [None, "not-the-token-0123456789abcdefghij"])
def test_a_missing_or_wrong_token_is_401_and_nothing_is_stored_or_queued(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl, token: str | None
) -> None:
    answer = forward(function_url, submitted(emulator), token=token)
    assert answer.status_code == 401
    assert TOKEN not in answer.text
    assert webhook.objects() == {}
    assert webhook.jobs() == []


def test_a_body_not_sent_as_json_is_415(webhook: WebhookHarness, emulator: Any,
                                        function_url: FunctionUrl) -> None:
    answer = forward(function_url, submitted(emulator), **{"Content-Type": "text/plain"})
    assert answer.status_code == 415
    assert webhook.objects() == {}
    assert webhook.jobs() == []


def test_the_token_in_the_query_string_works_too(webhook: WebhookHarness, emulator: Any,
                                                 function_url: FunctionUrl) -> None:
    """Item 8's rule for every delivery; the documented listener sends the header (a URL ends up in logs)."""
    event = submitted(emulator)
    answer = requests.post(function_url.url, params={"token": TOKEN}, json=event, timeout=10)
    assert answer.status_code == 202

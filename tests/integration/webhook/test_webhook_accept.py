"""accept_delivery against moto: payload stored byte for byte, one job per batch, ledger respected."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from support.webhook import WebhookHarness, encode, payload

from flatfile_relay.jobs import BatchSnapshot, ExportJob
from flatfile_relay.ledger import QUEUED
from flatfile_relay.webhook import WebhookDelivery, accept_delivery


def accept(webhook: WebhookHarness, raw: bytes, **settings_changes: Any) -> Any:
    import dataclasses

    settings = dataclasses.replace(webhook.settings, **settings_changes)
    return accept_delivery(WebhookDelivery.parse(raw), raw, webhook.aws.s3, webhook.aws.sqs, webhook.ledger(),
                           settings)


def test_the_payload_and_the_job_are_dated_by_the_clock_given(webhook: WebhookHarness) -> None:
    batch_id = str(uuid.uuid4())
    raw = encode(payload(batch_id, event_id="evt-1", index=0, length=1))
    accept_delivery(WebhookDelivery.parse(raw), raw, webhook.aws.s3, webhook.aws.sqs, webhook.ledger(),
                    webhook.settings, clock=lambda: 1_614_630_172.0)
    key = f"flatfile/webhooks/{batch_id}/evt-1-0.json"
    head = webhook.aws.s3.head_object(Bucket=webhook.bucket, Key=key)
    assert head["Metadata"]["received-at"] == "2021-03-01T20:22:52.000Z"
    [message] = webhook.jobs()
    assert ExportJob.from_message(message).requested_at == "2021-03-01T20:22:52.000Z"


def test_first_part_stores_the_payload_and_sends_one_job(webhook: WebhookHarness) -> None:
    batch_id = str(uuid.uuid4())
    raw = encode(payload(batch_id, event_id="evt-1", index=0, length=1))
    outcome = accept(webhook, raw)
    key = f"flatfile/webhooks/{batch_id}/evt-1-0.json"
    assert outcome.key == key
    assert outcome.queued
    assert outcome.marked
    assert outcome.reason == "job sent"
    assert webhook.objects() == {key: raw}
    head = webhook.aws.s3.head_object(Bucket=webhook.bucket, Key=key)
    assert "ServerSideEncryption" not in head  # no per-request override: the bucket's default (a KMS key) applies
    assert head["ContentType"] == "application/json"
    assert head["Metadata"]["batch-id"] == batch_id
    [message] = webhook.jobs()
    job = ExportJob.from_message(message)
    assert (job.batch_id, job.trigger, job.resume) == (batch_id, "webhook", False)
    assert job.batch == BatchSnapshot(count_rows=2)  # meta.length: the rows to expect; the status left unknown
    entry = webhook.ledger().get(batch_id)
    assert entry is not None
    assert entry.state == QUEUED
    assert entry.trigger == "webhook"


def test_the_prefix_setting_is_honoured(webhook: WebhookHarness) -> None:
    batch_id = str(uuid.uuid4())
    outcome = accept(webhook, encode(payload(batch_id, event_id="evt-2")), export_prefix="relay/v1/")
    assert outcome.key == f"relay/v1/webhooks/{batch_id}/evt-2-0.json"
    assert list(webhook.objects()) == [outcome.key]


def test_three_parts_store_three_payloads_and_queue_one_job(webhook: WebhookHarness) -> None:
    batch_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
    outcomes = [accept(webhook, encode(payload(batch_id, event_id=event_id, index=i, length=3)))
                for i in range(3)]
    assert [o.queued for o in outcomes] == [True, False, False]
    assert [o.reason for o in outcomes[1:]] == ["already queued", "already queued"]
    prefix = f"flatfile/webhooks/{batch_id}/{event_id}"
    assert sorted(webhook.objects()) == [f"{prefix}-{i}.json" for i in range(3)]
    assert len(webhook.jobs()) == 1


def test_a_replay_with_a_changed_body_never_overwrites_the_stored_payload(webhook: WebhookHarness) -> None:
    batch_id = str(uuid.uuid4())
    first = encode(payload(batch_id, event_id="evt-3", rows=1))
    altered = encode(payload(batch_id, event_id="evt-3", rows=2))
    assert not accept(webhook, first).duplicate
    outcome = accept(webhook, altered)
    assert outcome.duplicate
    assert outcome.describe()["duplicate"] is True
    assert accept(webhook, first).duplicate  # the same body again: a duplicate too
    assert webhook.objects() == {f"flatfile/webhooks/{batch_id}/evt-3-0.json": first}
    versions = webhook.aws.s3.list_object_versions(Bucket=webhook.bucket).get("Versions", [])
    assert len(versions) == 1  # not even an older version left behind: nothing was written
    assert len(webhook.jobs()) == 1


def test_a_redelivery_after_a_failed_job_send_still_sends_the_job(webhook: WebhookHarness) -> None:
    """Flatfile retries a delivery answered 503: its payload is stored already, its job not yet sent."""
    from flatfile_relay.jobs import JobSendError

    batch_id = str(uuid.uuid4())
    raw = encode(payload(batch_id, event_id="evt-4"))
    missing_queue = webhook.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    with pytest.raises(JobSendError):
        accept(webhook, raw, export_jobs_queue_url=missing_queue)
    outcome = accept(webhook, raw)
    assert outcome.duplicate
    assert outcome.queued
    assert [ExportJob.from_message(m).batch_id for m in webhook.jobs()] == [batch_id]


@pytest.mark.parametrize("state", ["exported", "exporting", "queued", "ignored"])
def test_no_job_when_the_ledger_has_one_or_wants_none(webhook: WebhookHarness, state: str) -> None:
    batch_id = str(uuid.uuid4())
    put_state(webhook, batch_id, state)
    outcome = accept(webhook, encode(payload(batch_id)))
    assert not outcome.queued
    assert outcome.ledger_state == state
    assert outcome.reason == f"already {state}"
    assert len(webhook.objects()) == 1  # the payload is kept all the same
    assert webhook.jobs() == []
    entry = webhook.ledger().get(batch_id)
    assert entry is not None
    assert entry.state == state


@pytest.mark.parametrize("state", ["pending", "closed"])
def test_a_pending_or_closed_batch_gets_a_job(webhook: WebhookHarness, state: str) -> None:
    batch_id = str(uuid.uuid4())
    put_state(webhook, batch_id, state)
    outcome = accept(webhook, encode(payload(batch_id)))
    assert outcome.queued
    assert outcome.marked
    assert len(webhook.jobs()) == 1
    entry = webhook.ledger().get(batch_id)
    assert entry is not None
    assert entry.state == QUEUED
    assert entry.trigger == "webhook"


def test_nothing_is_queued_when_the_payload_cannot_be_stored(webhook: WebhookHarness) -> None:
    from botocore.exceptions import ClientError

    raw = encode(payload(str(uuid.uuid4())))
    with pytest.raises(ClientError):
        accept(webhook, raw, export_bucket="no-such-bucket-for-the-relay")
    assert webhook.jobs() == []


def test_the_ledger_is_not_marked_when_the_job_cannot_be_sent(webhook: WebhookHarness) -> None:
    from flatfile_relay.jobs import JobSendError

    batch_id = str(uuid.uuid4())
    missing_queue = webhook.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    with pytest.raises(JobSendError):
        accept(webhook, encode(payload(batch_id)), export_jobs_queue_url=missing_queue)
    assert webhook.ledger().get(batch_id) is None
    assert len(webhook.objects()) == 1


def put_state(webhook: WebhookHarness, batch_id: str, state: str) -> None:
    webhook.aws.dynamodb.put_item(
        TableName=webhook.settings.ledger_table,
        Item={"batchId": {"S": batch_id}, "state": {"S": state},
              "batchCreatedAt": {"S": "2021-03-01T20:22:52Z"}},
    )


def test_a_payload_without_a_length_queues_a_job_without_a_snapshot(webhook: WebhookHarness) -> None:
    batch_id = str(uuid.uuid4())
    body = payload(batch_id)
    del body["data"]["meta"]["length"]
    accept(webhook, encode(body))
    [message] = webhook.jobs()
    assert ExportJob.from_message(message).batch is None
    assert "batch" not in json.loads(message)

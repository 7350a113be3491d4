"""webhook_platform: telling a forwarded Platform event from a Portal v2 payload, and what each event asks for."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.webhook import payload

from flatfile_relay.webhook import InvalidPayloadError, PayloadTooLargeError, WebhookDelivery
from flatfile_relay.webhook_platform import NO_EVENT_ID, PlatformEvent, parse_delivery

BATCH = "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27"


def job_ready(**context: Any) -> dict[str, Any]:
    return {
        "id": "us_evt_9Xa2", "topic": "job:ready", "domain": "job", "createdAt": "2026-12-06T10:51:42.389Z",
        "context": {"accountId": "us_acc_1", "jobId": "us_jb_4fX2kQ", "workbookId": "us_wb_7Qp1",
                    "spaceId": "us_sp_3Zr8", "environmentId": "us_env_a1b2c3d4", **context},
        "payload": {"job": "workbook:submitActionFg", "operation": "submitActionFg", "status": "ready"},
    }


def test_a_job_ready_event_names_its_job_environment_and_operation() -> None:
    raw = json.dumps(job_ready()).encode()
    event = parse_delivery(raw)
    assert isinstance(event, PlatformEvent)
    assert (event.source, event.batch_id, event.event_id, event.event_type, event.part) == (
        "platform", "us_jb_4fX2kQ", "us_evt_9Xa2", "job:ready", "1/1")
    assert (event.job_type, event.operation, event.environment_id, event.workbook_id, event.space_id) == (
        "workbook", "submitActionFg", "us_env_a1b2c3d4", "us_wb_7Qp1", "us_sp_3Zr8")
    assert event.size == len(raw)
    assert event.ignored_because(["submitActionFg"]) is None
    assert event.ignored_because(["submitActionFg"], "us_env_a1b2c3d4") is None
    assert event.storage_key("p/") == "p/webhooks/us_jb_4fX2kQ/us_evt_9Xa2-0.json"
    assert event.describe()["batchId"] == "us_jb_4fX2kQ"


def test_an_event_without_an_id_is_stored_under_one_key_per_job() -> None:
    body = job_ready()
    del body["id"]
    event = parse_delivery(json.dumps(body))
    assert isinstance(event, PlatformEvent)
    assert event.event_id == NO_EVENT_ID
    assert event.storage_key("") == f"webhooks/us_jb_4fX2kQ/{NO_EVENT_ID}-0.json"


@pytest.mark.parametrize(
    ("body", "operations", "environment", "reason"),
    [
        ({**job_ready(), "topic": "job:completed"}, ["submitActionFg"], "", "topic job:completed is not job:ready"),
        ({**job_ready(), "payload": {"job": "workbook:downloadCsv"}}, ["submitActionFg"], "",
         "job workbook:downloadCsv is not a workbook job of FLATFILE_PLATFORM_OPERATIONS (submitActionFg)"),
        ({**job_ready(), "payload": {"job": "sheet:submitActionFg"}}, ["submitActionFg"], "",
         "job sheet:submitActionFg is not a workbook job of FLATFILE_PLATFORM_OPERATIONS (submitActionFg)"),
        (job_ready(), ["submitActionFg"], "us_env_0ther",
         "environment us_env_a1b2c3d4 is not FLATFILE_PLATFORM_ENVIRONMENT_ID (us_env_0ther)"),
    ],
)
def test_what_an_event_queues_nothing_for(body: dict[str, Any], operations: list[str], environment: str,
                                          reason: str) -> None:
    event = parse_delivery(json.dumps(body))
    assert isinstance(event, PlatformEvent)
    assert event.ignored_because(operations, environment) == reason


def test_another_topic_needs_no_job_fields() -> None:
    event = parse_delivery(b'{"id": "us_evt_1", "topic": "records:updated", "context": {"sheetId": "us_sh_1"}}')
    assert isinstance(event, PlatformEvent)
    assert (event.topic, event.event_id, event.job_id) == ("records:updated", "us_evt_1", "")
    assert event.ignored_because(["submitActionFg"]) == "topic records:updated is not job:ready"


def test_a_portal_v2_payload_stays_one_even_when_a_cell_says_topic() -> None:
    body = payload(BATCH)
    body["data"]["validRows"][0]["topic"] = '"topic"'
    delivery = parse_delivery(json.dumps(body).encode())
    assert isinstance(delivery, WebhookDelivery)
    assert (delivery.source, delivery.batch_id) == ("legacy", BATCH)
    both = {**body, "topic": "job:ready"}  # a top-level event wins: Portal v2
    assert isinstance(parse_delivery(json.dumps(both)), WebhookDelivery)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"topic": "job:ready", "context": {"jobId": "us_jb_1"}, "payload": {"job": "workbook:x"}}',
         "body.context.environmentId is missing"),
        (b'{"topic": "job:ready", "context": {"jobId": "us_jb_1", "environmentId": "us_env_1",'
         b' "workbookId": "us_wb/../1"}, "payload": {"job": "workbook:x"}}', "body.context.workbookId must match"),
        (b'{"id": "../evt", "topic": "job:ready", "context": {}}', "body.id must match pattern"),
        (b'{"topic": "job ready", "context": {}}', "body.topic must match pattern"),
        (b'{"topic": "job:ready"}', "body.context is missing"),
        (b'{"topic": "job:ready", "context": {"jobId": "us_jb_1", "environmentId": "us_env_1"}, "payload": 3}',
         "body.payload must be a JSON object"),
        (b'{"topic": "job:ready", "context": ', "body is not valid JSON"),  # not JSON: the Portal v2 parser says so
    ],
)
def test_a_malformed_event_is_named_field_by_field_never_quoting_a_value(raw: bytes, problem: str) -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        parse_delivery(raw)
    assert str(caught.value).startswith(problem)
    assert "us_wb/../1" not in str(caught.value)


def test_a_body_over_the_limit_is_refused_before_it_is_read() -> None:
    with pytest.raises(PayloadTooLargeError):
        parse_delivery(json.dumps(job_ready()).encode(), max_bytes=100)

"""The sample consumer on real notices and exports: library and Lambda handler."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.functions import function_app, lambda_context
from support.relay import Relay, event_file, sqs_event

from flatfile_relay.consumer import handle_notice
from flatfile_relay.layout import parse_s3_uri


def export_with_notice(relay: Relay, label: str) -> tuple[str, str]:
    """Export a sample batch; (batch id, notice body)."""
    batch_id = relay.emu.samples[label]
    assert relay.export(batch_id).status == "exported"
    [message] = relay.notices()
    return batch_id, message["Body"]


def expected_summary(rows: list[dict[str, Any]]) -> tuple[int, int, int, int]:
    valid = sum(1 for row in rows if not row["deleted"] and row["valid"])
    invalid = sum(1 for row in rows if not row["deleted"] and not row["valid"])
    return len(rows), valid, invalid, sum(1 for row in rows if row["deleted"])


def test_a_notice_is_verified_read_and_summarised(relay: Relay) -> None:
    batch_id, body = export_with_notice(relay, "nasty")

    summary = handle_notice(body, relay.clients.s3)

    rows = relay.api_rows(batch_id)
    assert (summary.rows, summary.valid, summary.invalid, summary.deleted) == expected_summary(rows)
    assert summary.deleted >= 2
    assert summary.invalid >= 2
    assert summary.batch_id == batch_id
    assert set(summary.fill_rates) == {"sku", "name", "qty", "price", "email", "notes"}
    assert all(0.0 <= rate <= 1.0 for rate in summary.fill_rates.values())
    assert summary.fill_rates["notes"] < 1.0
    assert summary.fill_rates["sku"] > 0.9


def test_the_handler_fails_only_the_notice_whose_part_was_corrupted(
    relay: Relay, monkeypatch: pytest.MonkeyPatch, captured_logs: pytest.CaptureFixture[str]
) -> None:
    for key, value in relay.deployment.environment("ConsumerFunction").items():
        monkeypatch.setenv(key, value)
    bad_id, bad_body = export_with_notice(relay, "medium")
    good_id, good_body = export_with_notice(relay, "big")
    part_uri = relay.manifest(bad_id).parts[0].uri
    bucket, key = parse_s3_uri(part_uri)
    relay.clients.s3.put_object(Bucket=bucket, Key=key, Body=b"\x1f\x8b not the exported rows")
    app = function_app("consumer", fresh=True)

    response = app.handler(sqs_event("sqs_notice.json", [bad_body, good_body]), lambda_context("ConsumerFunction"))

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    lines = [json.loads(line) for line in captured_logs.readouterr().out.splitlines() if line.startswith("{")]
    logs = [line for line in lines if "level" in line]
    summaries = [line for line in logs if line.get("summary")]
    assert len(summaries) == 1
    assert summaries[0]["summary"]["batchId"] == good_id
    assert summaries[0]["summary"]["rows"] == 2500
    [error] = [line for line in logs if line["level"] == "ERROR"]
    assert "CorruptPartError" in error["message"]
    assert part_uri in error["message"]
    # (a fresh module's first invocation may also print Powertools' ColdStart document)
    [metrics] = [line for line in lines if "_aws" in line and "ColdStart" not in line]
    assert metrics["RowsConsumed"] == [2500.0]


def test_the_handler_rejects_what_is_not_a_notice(relay: Relay, captured_logs: pytest.CaptureFixture[str]) -> None:
    app = function_app("consumer", fresh=True)
    other = json.dumps({"type": "something.else", "schemaVersion": 1})
    future = json.dumps({"type": "flatfile.batch.exported", "schemaVersion": 2})

    response = app.handler(sqs_event("sqs_notice.json", [other, future, "{"]), lambda_context("ConsumerFunction"))

    assert response == {"batchItemFailures": [{"itemIdentifier": f"m-{i}"} for i in range(3)]}
    logged = captured_logs.readouterr().out
    assert "notice.type must be 'flatfile.batch.exported'" in logged
    assert "this reader understands schemaVersion 1" in logged


def test_the_sample_event_is_what_the_consumer_queue_delivers_and_the_handler_reads_it(relay: Relay) -> None:
    """events/sqs_notice.json: an export event as the template's rule puts it on the consumer's own queue."""
    batch_id = relay.emu.samples["single"]
    assert relay.export(batch_id).status == "exported"
    [delivered] = relay.export_events()
    sample = event_file("sqs_notice.json")
    body = json.loads(sample["Records"][0]["body"])
    # moto leaves out `account`, which every EventBridge event carries: the sample keeps it
    assert delivered.keys() <= body.keys()
    assert body.keys() - delivered.keys() <= {"account"}
    assert (body["source"], body["detail-type"]) == (delivered["source"], delivered["detail-type"])
    assert body["detail"].keys() == delivered["detail"].keys()

    sample["Records"][0]["body"] = json.dumps({**body, "detail": delivered["detail"]})  # this export's notice
    assert relay.invoke("ConsumerFunction", sample) == {"batchItemFailures": []}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_an_event_without_records_answers_no_failures(relay: Relay) -> None:
    assert relay.invoke("ConsumerFunction", {"Records": []}) == {"batchItemFailures": []}

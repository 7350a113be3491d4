"""The webhook Lambda handler with Function URL events, against moto: the contract of docs/architecture.md §8."""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from support.functions import ROOT
from support.webhook import OTHER_TOKEN, TOKEN, WebhookHarness, encode, function_url_event, payload

from flatfile_relay.jobs import ExportJob


def assert_nothing_stored_or_queued(webhook: WebhookHarness) -> None:
    assert webhook.objects() == {}
    assert webhook.jobs() == []


# -- accepted ---------------------------------------------------------------------------------------------


def test_token_in_the_query_is_accepted(webhook: WebhookHarness) -> None:
    batch_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
    raw = encode(payload(batch_id, event_id=event_id))
    answer = webhook.post(raw, token=TOKEN)
    assert answer.status == 202
    assert answer.body == {"status": "accepted", "batchId": batch_id, "eventId": event_id, "part": "1/1",
                           "queued": True}
    assert answer.headers["Content-Type"] == "application/json"
    assert webhook.objects() == {f"flatfile/webhooks/{batch_id}/{event_id}-0.json": raw}
    [message] = webhook.jobs()
    job = ExportJob.from_message(message)
    assert (job.batch_id, job.trigger) == (batch_id, "webhook")


def test_token_in_the_header_is_accepted(webhook: WebhookHarness) -> None:
    batch_id = str(uuid.uuid4())
    answer = webhook.post(encode(payload(batch_id)), token=None, header=TOKEN)
    assert answer.status == 202
    assert ExportJob.from_message(webhook.jobs()[0]).batch_id == batch_id


def test_the_header_name_is_case_insensitive_and_wins_over_the_query(webhook: WebhookHarness) -> None:
    event = function_url_event(encode(payload(str(uuid.uuid4()))), query={"token": "stale-query-token"},
                               headers={"x-WEBHOOK-token": TOKEN})
    assert webhook.invoke(event).status == 202


def test_a_raw_query_string_alone_carries_the_token(webhook: WebhookHarness) -> None:
    event = function_url_event(encode(payload(str(uuid.uuid4()))))
    event["rawQueryString"] = f"token={TOKEN}"  # an event built by hand may carry only the raw query string
    assert webhook.invoke(event).status == 202


def test_base64_bodies_are_decoded_and_stored_byte_for_byte(webhook: WebhookHarness) -> None:
    batch_id = str(uuid.uuid4())
    raw = encode(payload(batch_id, event_id="evt-b64"))
    answer = webhook.post(raw, base64_body=True)
    assert answer.status == 202
    assert webhook.objects() == {f"flatfile/webhooks/{batch_id}/evt-b64-0.json": raw}


def test_any_path_is_accepted(webhook: WebhookHarness) -> None:
    answer = webhook.post(encode(payload(str(uuid.uuid4()))), path="/flatfile/hooks")
    assert answer.status == 202


def test_both_tokens_work_while_rotating(webhook: WebhookHarness) -> None:
    webhook.set_secret(f"{TOKEN}, {OTHER_TOKEN}")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert webhook.post(encode(payload(first)), token=TOKEN).status == 202
    assert webhook.post(encode(payload(second)), header=OTHER_TOKEN, token=None).status == 202
    assert sorted(ExportJob.from_message(m).batch_id for m in webhook.jobs()) == sorted([first, second])


def test_a_token_added_to_the_secret_works_at_once_despite_the_cache(webhook: WebhookHarness) -> None:
    assert webhook.post(encode(payload(str(uuid.uuid4())))).status == 202  # the secret is now cached
    webhook.set_secret(f"{TOKEN},{OTHER_TOKEN}")
    assert webhook.post(encode(payload(str(uuid.uuid4()))), token=OTHER_TOKEN).status == 202


def test_three_parts_of_one_batch_queue_one_job(webhook: WebhookHarness) -> None:
    batch_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
    raws = [encode(payload(batch_id, event_id=event_id, index=i, length=3, rows=1000)) for i in range(3)]
    answers = [webhook.post(raw) for raw in raws]
    assert [a.status for a in answers] == [202, 202, 202]
    assert [a.body["queued"] for a in answers] == [True, False, False]
    assert [a.body["part"] for a in answers] == ["1/3", "2/3", "3/3"]
    prefix = f"flatfile/webhooks/{batch_id}/{event_id}"
    assert webhook.objects() == {f"{prefix}-{i}.json": raws[i] for i in range(3)}
    [message] = webhook.jobs()
    assert ExportJob.from_message(message).batch_id == batch_id


def test_a_replayed_delivery_with_a_changed_body_keeps_the_first_payload_and_is_counted(
    webhook: WebhookHarness,
) -> None:
    batch_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
    first = encode(payload(batch_id, event_id=event_id, rows=1))
    altered = encode(payload(batch_id, event_id=event_id, rows=3))
    assert webhook.post(first).status == 202
    webhook.logs.getvalue()
    answer = webhook.post(altered)
    assert answer.status == 202  # authenticated and well formed: Flatfile must not retry it forever
    assert webhook.objects() == {f"flatfile/webhooks/{batch_id}/{event_id}-0.json": first}
    emitted = [json.loads(line) for line in webhook.logs.getvalue().splitlines() if '"_aws"' in line]
    assert [metric["WebhookDuplicates"] for metric in emitted if "WebhookDuplicates" in metric] == [[1.0]]
    assert len(webhook.jobs()) == 1


def test_a_batch_already_exported_gets_no_new_job(webhook: WebhookHarness) -> None:
    batch_id = str(uuid.uuid4())
    webhook.aws.dynamodb.put_item(
        TableName=webhook.settings.ledger_table,
        Item={"batchId": {"S": batch_id}, "state": {"S": "exported"},
              "exportedAt": {"S": "2021-03-01T20:30:00.000Z"}},
    )
    answer = webhook.post(encode(payload(batch_id)))
    assert answer.status == 202
    assert answer.body["queued"] is False
    assert webhook.jobs() == []


def test_the_sample_event_is_accepted(webhook: WebhookHarness) -> None:
    path = ROOT / "events" / "webhook.json"
    if not path.exists():
        pytest.skip("events/webhook.json is not there")
    event = json.loads(Path(path).read_text(encoding="utf-8"))
    webhook.set_secret(event["queryStringParameters"]["token"])
    answer = webhook.invoke(event)
    assert answer.status == 202
    batch_id = json.loads(event["body"])["data"]["meta"]["batch"]["id"]
    assert answer.body["batchId"] == batch_id
    assert [key.encode() for key in webhook.objects()] == [
        f"flatfile/webhooks/{batch_id}/{json.loads(event['body'])['event']['id']}-0.json".encode()
    ]
    assert list(webhook.objects().values()) == [event["body"].encode()]


# -- refused ----------------------------------------------------------------------------------------------


def test_missing_or_wrong_token_is_401_and_nothing_happens(webhook: WebhookHarness) -> None:
    raw = encode(payload(str(uuid.uuid4())))
    cases: list[dict[str, str | None]] = [
        {"token": None}, {"token": ""}, {"token": "wrong-token"}, {"token": TOKEN + "x"},
        {"token": TOKEN[:-1]}, {"token": TOKEN.upper()}, {"token": f"{TOKEN},{TOKEN}"},
        {"token": None, "header": "nope-nope"}, {"token": None, "header": ""},
    ]
    for case in cases:
        answer = webhook.post(raw, **case)
        assert answer.status == 401, case
        assert answer.body["error"].startswith(("invalid webhook token", "missing webhook token")), case
    assert_nothing_stored_or_queued(webhook)


def test_no_webhook_token_configured_is_401(webhook: WebhookHarness) -> None:
    for configured in (None, "", " , "):
        webhook.set_secret(configured)
        webhook.module.reset()
        answer = webhook.post(encode(payload(str(uuid.uuid4()))), token=TOKEN)
        assert answer.status == 401, configured
    assert_nothing_stored_or_queued(webhook)
    assert webhook.logs.getvalue().count("the webhook secret has no 'webhookToken' of at least 32 characters") == 3


def test_a_token_shorter_than_32_characters_is_ignored(
    webhook: WebhookHarness, caplog: pytest.LogCaptureFixture
) -> None:
    short = "x" * 31
    webhook.set_secret(f"{short},{TOKEN}")
    tokens_logger = logging.getLogger("flatfile_relay.webhook_tokens")
    tokens_logger.addHandler(caplog.handler)  # whatever the function's Logger did to the library's loggers
    try:
        assert webhook.post(encode(payload(str(uuid.uuid4()))), token=short).status == 401
        assert webhook.post(encode(payload(str(uuid.uuid4()))), token=TOKEN).status == 202  # the other stays valid
    finally:
        tokens_logger.removeHandler(caplog.handler)
    assert "1 token(s) in 'webhookToken' of the webhook secret ignored" in caplog.text
    assert short not in caplog.text


def test_a_secret_without_tokens_is_read_once_for_many_requests(webhook: WebhookHarness) -> None:
    webhook.set_secret(None)
    reads: list[str] = []
    webhook.module.reset()
    # the gate's source on a provider whose client the test watches
    webhook.module.runtime.gate._tokens._secrets = SecretsProvider(boto3_client=webhook.aws.secretsmanager)
    webhook.aws.secretsmanager.meta.events.register(
        "before-call.secrets-manager.GetSecretValue", lambda **_: reads.append("read"))
    try:
        answers = [webhook.post(encode(payload(str(uuid.uuid4()))), token=f"guess-{i:030d}") for i in range(20)]
    finally:
        webhook.aws.secretsmanager.meta.events.unregister("before-call.secrets-manager.GetSecretValue")
    assert {a.status for a in answers} == {401}
    assert len(reads) == 2  # the first (cached) read, and one forced re-read in the minute
    assert_nothing_stored_or_queued(webhook)


def test_an_event_other_than_an_upload_is_answered_200_and_queues_nothing(webhook: WebhookHarness) -> None:
    body = payload(str(uuid.uuid4()))
    body["event"]["type"] = "space:v1:created"

    answer = webhook.post(encode(body))

    assert answer.status == 200
    assert answer.body == {"status": "ignored", "eventType": "space:v1:created", "queued": False}
    assert "webhook ignored: event type is not batch:v1:upload" in webhook.logs.getvalue()
    assert_nothing_stored_or_queued(webhook)


def test_auth_comes_before_the_body_is_looked_at(webhook: WebhookHarness) -> None:
    assert webhook.post(b"not json at all", token="wrong-token").status == 401
    assert webhook.post(b"x" * (6 * 1024 * 1024), token=None).status == 401


def test_malformed_bodies_are_400_and_nothing_happens(webhook: WebhookHarness) -> None:
    cases: list[tuple[bytes | None, str]] = [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (None, "empty"),
        (b'{"event": {"type": "batch:v1:upload"}}', "event.id is missing"),
        (b'{"hello": "world"}', "event is missing"),
        (json.dumps(payload("not-a-uuid")).encode(), "data.meta.batch.id must be a UUID"),
        (json.dumps(payload("../../../../etc")).encode(), "data.meta.batch.id must be a UUID"),
        (json.dumps(payload(str(uuid.uuid4()), event_id="../escape")).encode(), "event.id must be a UUID"),
    ]
    for body, message in cases:
        answer = webhook.post(body)
        assert answer.status == 400, message
        assert message in answer.body["error"]
    event = function_url_event(b"{}", query={"token": TOKEN}, base64_body=True)
    event["body"] = "%%% not base64 %%%"
    answer = webhook.invoke(event)
    assert answer.status == 400
    assert "base64" in answer.body["error"]
    assert_nothing_stored_or_queued(webhook)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonx", "text/json"])
def test_a_body_not_sent_as_json_is_415_and_nothing_happens(webhook: WebhookHarness, content_type: str | None) -> None:
    event = function_url_event(encode(payload(str(uuid.uuid4()))), query={"token": TOKEN})
    del event["headers"]["content-type"]
    if content_type is not None:
        event["headers"]["content-type"] = content_type
    answer = webhook.invoke(event)
    assert answer.status == 415
    assert "send the body as JSON, Content-Type: application/json" in answer.body["error"]
    assert "webhook rejected (415)" in webhook.logs.getvalue()
    assert_nothing_stored_or_queued(webhook)


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=UTF-8",
                                          "application/vnd.flatfile.event+json"])
def test_json_content_types_are_accepted(webhook: WebhookHarness, content_type: str) -> None:
    event = function_url_event(encode(payload(str(uuid.uuid4()))), query={"token": TOKEN},
                               headers={"Content-Type": content_type})
    assert webhook.invoke(event).status == 202


def test_the_content_type_is_looked_at_after_the_token(webhook: WebhookHarness) -> None:
    event = function_url_event(b"a=1", query={"token": "wrong-token-of-some-length"},
                               headers={"content-type": "text/plain"})
    assert webhook.invoke(event).status == 401


def test_too_large_is_413_and_nothing_happens(webhook: WebhookHarness) -> None:
    from flatfile_relay.webhook import MAX_BODY_BYTES

    big = payload(str(uuid.uuid4()))
    big["data"]["validRows"] = [{"cell": "x" * 1000}] * (MAX_BODY_BYTES // 1000 + 10)
    raw = json.dumps(big).encode()
    for base64_body in (False, True):
        answer = webhook.post(raw, base64_body=base64_body)
        assert answer.status == 413, base64_body
        assert str(MAX_BODY_BYTES) in answer.body["error"]
    # multi-byte characters: under the limit in characters, over it in bytes
    answer = webhook.post("é" * (MAX_BODY_BYTES // 2 + 1))
    assert answer.status == 413
    assert_nothing_stored_or_queued(webhook)


def test_other_methods_are_405(webhook: WebhookHarness) -> None:
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"):
        answer = webhook.invoke(function_url_event(None, query={"token": TOKEN}, method=method))
        assert answer.status == 405, method
        assert answer.headers["Allow"] == "POST"
    assert_nothing_stored_or_queued(webhook)


# -- failures ---------------------------------------------------------------------------------------------


def test_a_malformed_secret_is_500_and_names_the_key_in_the_log(webhook: WebhookHarness) -> None:
    webhook.set_raw_secret('{"webhookToken": 5}')
    answer = webhook.post(encode(payload(str(uuid.uuid4()))))
    assert answer.status == 500
    assert answer.body == {"error": "the webhook is misconfigured; the function's log says what to fix"}
    assert "'webhookToken' in the webhook secret must be a string" in webhook.logs.getvalue()
    assert_nothing_stored_or_queued(webhook)
    # fixed: a new execution environment reads it at once, a warm one within a minute (one forced re-read a
    # minute, so a malformed secret does not turn every request into a Secrets Manager read)
    webhook.set_secret(TOKEN)
    webhook.module.reset()
    assert webhook.post(encode(payload(str(uuid.uuid4())))).status == 202


def test_a_missing_secret_or_setting_is_500(webhook: WebhookHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    webhook.broke_resources()
    secrets = webhook.aws.secretsmanager
    secrets.delete_secret(SecretId=webhook.settings.webhook_secret_id, ForceDeleteWithoutRecovery=True)
    assert webhook.post(encode(payload(str(uuid.uuid4())))).status == 500
    assert "ResourceNotFoundException" in webhook.logs.getvalue()
    monkeypatch.delenv("EXPORT_JOBS_QUEUE_URL")
    webhook.module.reset()
    assert webhook.post(encode(payload(str(uuid.uuid4())))).status == 500
    assert "EXPORT_JOBS_QUEUE_URL" in webhook.logs.getvalue()
    assert_nothing_stored_or_queued(webhook)


def test_a_missing_ledger_table_is_500_and_no_job_is_sent(webhook: WebhookHarness) -> None:
    webhook.broke_resources()
    webhook.aws.dynamodb.delete_table(TableName=webhook.settings.ledger_table)
    answer = webhook.post(encode(payload(str(uuid.uuid4()))))
    assert answer.status == 500
    assert webhook.jobs() == []


def test_aws_unreachable_is_503_with_retry_after(webhook: WebhookHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    webhook.module.reset()
    answer = webhook.post(encode(payload(str(uuid.uuid4()))))
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "30"
    assert answer.body == {"error": "the webhook could not be accepted right now; retry later"}
    assert "webhook failed; the sender may retry" in webhook.logs.getvalue()
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # AWS is back: the sender's retry is accepted
    webhook.module.reset()
    assert webhook.post(encode(payload(str(uuid.uuid4())))).status == 202


# -- secrets stay secret -----------------------------------------------------------------------------------


def test_the_token_never_appears_in_responses_or_logs(
    webhook: WebhookHarness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Our loggers and Powertools' at DEBUG; not botocore's, whose DEBUG output holds whole API responses
    # (the secret included) and which the relay never enables.
    caplog.set_level(logging.INFO)
    for name in ("flatfile_relay", "aws_lambda_powertools"):
        caplog.set_level(logging.DEBUG, logger=name)
    service = logging.getLogger(webhook.module.logger.name)
    service.addHandler(caplog.handler)
    webhook.module.logger.setLevel("DEBUG")
    try:
        wrong = "wrong-token-that-is-also-secret"
        webhook.set_secret(f"{TOKEN},{OTHER_TOKEN}")
        batch_id = str(uuid.uuid4())
        answers = [
            webhook.post(encode(payload(batch_id))),                        # 202
            webhook.post(encode(payload(batch_id)), token=None, header=OTHER_TOKEN),   # 202
            webhook.post(encode(payload(batch_id)), token=wrong),           # 401
            webhook.post(b"{broken", token=TOKEN),                          # 400
            webhook.post(encode(payload(OTHER_TOKEN)), token=TOKEN),       # 400, a token as batch id
            webhook.post(b"{}", token=TOKEN, method="GET"),                 # 405
        ]
        webhook.set_raw_secret('{"webhookToken": ["' + TOKEN + '", 5]}')
        webhook.module.reset()
        answers.append(webhook.post(encode(payload(batch_id))))            # 500
    finally:
        service.removeHandler(caplog.handler)
        webhook.module.logger.setLevel("INFO")
    assert [a.status for a in answers] == [202, 202, 401, 400, 400, 405, 500]
    logged = webhook.logs.getvalue()  # reads (and so empties) capsys
    assert "webhook accepted" in logged
    assert "webhook rejected (401)" in logged
    for secret in (TOKEN, OTHER_TOKEN, wrong):
        for text in [a.text for a in answers] + [logged, caplog.text]:
            assert secret not in text
    assert "token=" not in logged  # no query string


def test_the_webhook_never_reads_the_flatfile_secret(webhook: WebhookHarness) -> None:
    """Contained: the Flatfile secret (access key) may hold anything, or be gone; the webhook works on its own."""
    secrets = webhook.aws.secretsmanager
    webhook.broke_resources()
    secrets.delete_secret(SecretId=webhook.deployment.refs["FlatfileSecret"], ForceDeleteWithoutRecovery=True)
    read: list[str] = []
    secrets.meta.events.register("provide-client-params.secrets-manager.GetSecretValue",
                                 lambda params, **_: read.append(params["SecretId"]))
    try:
        webhook.module.runtime.gate._tokens._secrets = SecretsProvider(boto3_client=secrets)
        assert webhook.post(encode(payload(str(uuid.uuid4())))).status == 202
    finally:
        secrets.meta.events.unregister("provide-client-params.secrets-manager.GetSecretValue")
    assert set(read) == {webhook.settings.webhook_secret_id}
    assert webhook.settings.secret_id == ""  # it is not even told which secret holds the Flatfile credentials

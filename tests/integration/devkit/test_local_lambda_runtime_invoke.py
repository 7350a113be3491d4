"""LocalLambda: handlers invoked like Lambda, and SQS queues drained like an event source mapping (moto).

A tiny function and template are written to tmp_path. The handler's behaviour per message comes from the
body: "ok", "fail" (listed in batchItemFailures), "fail-once", "raise-once" (the invocation raises),
"bogus-once" (batchItemFailures names no message of the batch).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from flatfile_relay_devkit.local.deployment import LocalDeployment
from flatfile_relay_devkit.local.lambda_runtime import LocalContext, LocalLambda
from flatfile_relay_devkit.local.template import Template

MAX_RECEIVES = 3

TEMPLATE = f"""
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting: {{Type: String, Default: hello}}
Globals:
  Function:
    Timeout: 30
    Environment:
      Variables:
        AWS_ENDPOINT_URL: ""
        GREETING: !Ref Greeting
Resources:
  Inbox:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 180
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt InboxDLQ.Arn
        maxReceiveCount: {MAX_RECEIVES}
  InboxDLQ:
    Type: AWS::SQS::Queue
  Legacy:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 180
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Handler: app.handler
      Timeout: 20
      Environment:
        Variables:
          INBOX_URL: !Ref Inbox
      Events:
        Inbox:
          Type: SQS
          Properties:
            Queue: !GetAtt Inbox.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
  LegacyWorker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Handler: app.handler
      Events:
        Legacy:
          Type: SQS
          Properties:
            Queue: !GetAtt Legacy.Arn
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Handler: app.plain
"""

HANDLER = '''
import json
import os

SEEN = []  # one entry per record delivered: (id, receive count)
CONTEXTS = []
EVENTS = []
IMPORT_ENV = os.environ.get("INBOX_URL")


def handler(event, context):
    CONTEXTS.append((context, context.get_remaining_time_in_millis(), dict(os.environ)))
    EVENTS.append(event)
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        count = int(record["attributes"]["ApproximateReceiveCount"])
        SEEN.append((body["id"], count))
        action = body["action"]
        if action == "fail" or (action == "fail-once" and count == 1):
            failures.append({"itemIdentifier": record["messageId"]})
        elif action == "raise-once" and count == 1:
            raise RuntimeError("handler crashed")
        elif action == "bogus-once" and count == 1:
            failures.append({"itemIdentifier": record["receiptHandle"]})
    return {"batchItemFailures": failures}


def plain(event, context):
    return {"echo": event, "function": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}
'''


@pytest.fixture
def runtime(tmp_path: Path, aws: Any) -> LocalLambda:
    (tmp_path / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    code = tmp_path / "functions" / "worker"
    code.mkdir(parents=True)
    (code / "app.py").write_text(HANDLER, encoding="utf-8")
    deployment = LocalDeployment.create(Template.load(tmp_path / "template.yaml"), aws)
    return LocalLambda(deployment, root=tmp_path)


def send(runtime: LocalLambda, queue: str, *actions: str) -> None:
    """Send one message per action (ids m0, m1, ...) in one SendMessageBatch."""
    entries = [
        {"Id": f"m{index}", "MessageBody": json.dumps({"id": f"m{index}", "action": action}),
         "MessageAttributes": {"batchId": {"DataType": "String", "StringValue": f"b{index}"}}}
        for index, action in enumerate(actions)
    ]
    runtime.deployment.clients.sqs.send_message_batch(QueueUrl=runtime.deployment.refs[queue], Entries=entries)


def seen(runtime: LocalLambda, function: str = "Worker") -> list[tuple[str, int]]:
    return list(runtime.handler(function).__globals__["SEEN"])


def messages_in(runtime: LocalLambda, queue: str) -> int:
    attributes = runtime.deployment.clients.sqs.get_queue_attributes(
        QueueUrl=runtime.deployment.refs[queue],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def bodies_in(runtime: LocalLambda, queue: str) -> list[dict[str, Any]]:
    answer = runtime.deployment.clients.sqs.receive_message(
        QueueUrl=runtime.deployment.refs[queue], MaxNumberOfMessages=10, WaitTimeSeconds=0,
        AttributeNames=["All"], MessageAttributeNames=["All"],
    )
    return [json.loads(message["Body"]) for message in answer.get("Messages", [])]


def test_successes_are_deleted(runtime: LocalLambda) -> None:
    send(runtime, "Inbox", "ok", "ok", "ok")
    report = runtime.drain("Worker")
    assert (report.invocations, report.delivered, report.succeeded, report.failed) == (1, 3, 3, 0)
    assert report.errors == []
    assert sorted(seen(runtime)) == [("m0", 1), ("m1", 1), ("m2", 1)]
    assert messages_in(runtime, "Inbox") == 0
    assert messages_in(runtime, "InboxDLQ") == 0


def test_reported_failures_are_made_visible_again_and_retried(runtime: LocalLambda) -> None:
    send(runtime, "Inbox", "ok", "fail-once", "ok")
    report = runtime.drain("Worker")
    assert report.invocations == 2
    assert (report.delivered, report.succeeded, report.failed) == (4, 3, 1)
    assert sorted(seen(runtime)) == [("m0", 1), ("m1", 1), ("m1", 2), ("m2", 1)]  # only the failed one again
    assert messages_in(runtime, "Inbox") == 0
    assert messages_in(runtime, "InboxDLQ") == 0


def test_a_raising_handler_has_every_message_of_the_batch_retried(runtime: LocalLambda) -> None:
    send(runtime, "Inbox", "ok", "raise-once")
    report = runtime.drain("Worker")
    assert report.invocations == 2
    assert (report.delivered, report.succeeded, report.failed) == (4, 2, 2)
    assert report.errors == ["RuntimeError: handler crashed"]
    # the first invocation saw both (the crash came after m0 was handled); both were delivered again
    assert sorted(seen(runtime)) == [("m0", 1), ("m0", 2), ("m1", 1), ("m1", 2)]
    assert messages_in(runtime, "Inbox") == 0


def test_an_identifier_naming_no_message_fails_the_whole_batch(runtime: LocalLambda) -> None:
    # Lambda treats an itemIdentifier that is not a message id of the batch as a failure of the whole batch.
    send(runtime, "Inbox", "ok", "bogus-once")
    report = runtime.drain("Worker")
    assert report.invocations == 2
    assert (report.succeeded, report.failed) == (2, 2)
    assert len(report.errors) == 1
    assert "names no message of the batch" in report.errors[0]
    assert sorted(seen(runtime)) == [("m0", 1), ("m0", 2), ("m1", 1), ("m1", 2)]


def test_moto_moves_a_message_to_the_dlq_after_max_receive_count(runtime: LocalLambda) -> None:
    send(runtime, "Inbox", "fail", "ok")
    report = runtime.drain("Worker")
    # received exactly maxReceiveCount times; the next receive moved it to the DLQ instead of delivering it
    assert [count for message_id, count in seen(runtime) if message_id == "m0"] == [1, 2, 3]
    assert report.failed == MAX_RECEIVES
    assert report.succeeded == 1
    assert messages_in(runtime, "Inbox") == 0
    assert bodies_in(runtime, "InboxDLQ") == [{"id": "m0", "action": "fail"}]


def test_without_report_batch_item_failures_the_response_is_ignored(runtime: LocalLambda) -> None:
    send(runtime, "Legacy", "fail", "ok")
    report = runtime.drain("LegacyWorker")
    assert (report.invocations, report.succeeded, report.failed) == (1, 2, 0)
    assert sorted(seen(runtime, "LegacyWorker")) == [("m0", 1), ("m1", 1)]
    assert messages_in(runtime, "Legacy") == 0


def test_records_look_like_lambdas_and_the_function_runs_in_its_environment(runtime: LocalLambda) -> None:
    before = dict(os.environ)
    send(runtime, "Inbox", "ok")
    runtime.drain("Worker")
    module = runtime.handler("Worker").__globals__
    context, remaining, environment = module["CONTEXTS"][0]
    assert isinstance(context, LocalContext)
    assert 0 < remaining <= 20_000  # the function's own Timeout
    assert context.function_name == "Worker"
    assert environment["INBOX_URL"] == runtime.deployment.refs["Inbox"]
    assert environment["GREETING"] == "hello"
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "Worker"
    assert environment["AWS_ENDPOINT_URL"] == os.environ["AWS_ENDPOINT_URL"] != ""  # moto's, not the empty one
    assert module["IMPORT_ENV"] == runtime.deployment.refs["Inbox"]  # imported with the environment set
    assert dict(os.environ) == before  # and put back afterwards


def test_the_event_holds_sqs_records(runtime: LocalLambda) -> None:
    send(runtime, "Inbox", "ok")
    runtime.drain("Worker")
    captured = runtime.handler("Worker").__globals__["EVENTS"]
    (record,) = captured[0]["Records"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == runtime.deployment.arns["Inbox"]
    assert record["awsRegion"] == "us-east-1"
    assert json.loads(record["body"]) == {"id": "m0", "action": "ok"}
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert "SentTimestamp" in record["attributes"]
    assert record["messageAttributes"]["batchId"]["stringValue"] == "b0"
    assert record["messageAttributes"]["batchId"]["dataType"] == "String"
    assert len(record["md5OfBody"]) == 32
    assert record["messageId"]
    assert record["receiptHandle"]


def test_invoke_calls_the_handler_once_and_keeps_the_module_warm(runtime: LocalLambda) -> None:
    assert runtime.invoke("Plain", {"n": 1}) == {"echo": {"n": 1}, "function": "Plain"}
    first = runtime.handler("Plain").__globals__
    assert runtime.invoke("Plain", {"n": 2})["echo"] == {"n": 2}
    assert runtime.handler("Plain").__globals__ is first


def test_drain_needs_an_sqs_source_and_stops_at_the_limit(runtime: LocalLambda) -> None:
    with pytest.raises(ValueError, match="Plain has no SQS event source"):
        runtime.drain("Plain")
    send(runtime, "Inbox", "fail")
    report = runtime.drain("Worker", max_invocations=1)
    assert report.invocations == 1
    assert report.failed == 1
    assert messages_in(runtime, "Inbox") == 1  # left for a later drain


def test_a_shorter_timeout_for_every_function(runtime: LocalLambda) -> None:
    quick = LocalLambda(runtime.deployment, root=runtime.root, timeout=2)
    assert quick.context("Worker").get_remaining_time_in_millis() <= 2000
    assert runtime.context("Worker").get_remaining_time_in_millis() > 19_000
    assert runtime.context("Plain").get_remaining_time_in_millis() > 29_000  # Globals' Timeout

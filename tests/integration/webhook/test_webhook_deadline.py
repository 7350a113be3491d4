"""The webhook answers within its own timeout whatever AWS does: slow, hanging or throttling AWS calls end in a
503 (the sender retries), never in Lambda's timeout, which a Function URL turns into a 502."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from support.faults import Faults
from support.functions import lambda_context
from support.webhook import TOKEN, Answer, WebhookHarness, encode, function_url_event, payload

RETRY_LATER = {"error": "the webhook could not be accepted right now; retry later"}


def post(webhook: WebhookHarness, timeout: float) -> tuple[Answer, float]:
    """POST one upload with a Lambda context of `timeout` seconds; the answer and the seconds it took."""
    event = function_url_event(encode(payload(str(uuid.uuid4()))), query={"token": TOKEN})
    started = time.monotonic()
    answer = Answer.of(webhook.module.handler(event, lambda_context("WebhookFunction", timeout=timeout)))
    return answer, time.monotonic() - started


def test_slow_aws_calls_end_in_503_before_the_lambda_times_out(webhook: WebhookHarness) -> None:
    """Every call answers, but only after 4 s: five of them would outlast a 20 s Lambda."""
    faults = Faults()
    for operation in ("SecretsManager.GetSecretValue", "S3.PutObject", "DynamoDB.GetItem", "SQS.SendMessage",
                      "SQS.SendMessageBatch", "DynamoDB.UpdateItem"):
        faults.slow(operation, 4.0, times=None)
    clients = webhook.module.runtime.clients
    for client in (clients.secretsmanager, clients.s3, clients.dynamodb, clients.sqs):
        faults.attach(client)

    answer, seconds = post(webhook, timeout=20)

    assert (answer.status, answer.body) == (503, RETRY_LATER)
    assert seconds < 20 - 2
    assert "one call may take 15s" in webhook.logs.getvalue()
    assert webhook.jobs() == []


@pytest.fixture
def hanging_endpoint() -> Iterator[str]:
    """An endpoint that accepts connections and never answers (an AWS endpoint that hangs)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    server.close()


@pytest.mark.slow
def test_a_hanging_aws_endpoint_is_answered_503_within_the_timeout(
    webhook: WebhookHarness, hanging_endpoint: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", hanging_endpoint)
    webhook.module.reset()

    answer, seconds = post(webhook, timeout=30)

    assert (answer.status, answer.body) == (503, RETRY_LATER)
    assert answer.headers["Retry-After"] == "30"
    assert seconds < 30 - 2
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    webhook.module.reset()
    assert post(webhook, timeout=30)[0].status == 202  # AWS is back: the sender's retry is accepted


@pytest.mark.parametrize(("operation", "code"), [
    ("S3.PutObject", "SlowDown"), ("DynamoDB.GetItem", "ProvisionedThroughputExceededException"),
    ("SQS.SendMessageBatch", "ThrottlingException"),
    ("DynamoDB.UpdateItem", "ThrottlingException"), ("SecretsManager.GetSecretValue", "ThrottlingException"),
])
def test_aws_throttling_behind_a_flood_is_503(webhook: WebhookHarness, operation: str, code: str) -> None:
    faults = Faults()
    faults.fail(operation, code, times=None)
    clients = webhook.module.runtime.clients
    for client in (clients.secretsmanager, clients.s3, clients.dynamodb, clients.sqs):
        faults.attach(client)

    answer, _ = post(webhook, timeout=30)

    assert (answer.status, answer.body) == (503, RETRY_LATER)

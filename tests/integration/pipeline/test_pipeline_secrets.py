"""The whole pipeline, with faults injected, grepped end to end for secrets and tokens.

Everything a human or another system could read is collected: the functions' log output, the handlers'
answers, every exception raised, every S3 object (decompressed too), every SQS message on every queue
(dead-letter queues included) and every ledger item. None may hold the secret access key, the API key
header, any bearer token the emulator issued, or the webhook token.
"""

from __future__ import annotations

import functools
import gzip
import json
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
from support.functions import lambda_context
from support.webhook import function_url_event

from flatfile_relay.deadline import Deadline
from flatfile_relay_devkit.emulator import FaultRule
from flatfile_relay_devkit.emulator.jwt import b64url_encode
from flatfile_relay_devkit.emulator.webhook import build_payloads
from flatfile_relay_devkit.local.runner import LocalRun

ROOT = Path(__file__).resolve().parents[3]
#: the first segment of every token the emulator signs: finds them whole or cut
JWT_HEADER = b64url_encode(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":"),
                                      sort_keys=True).encode())


class Evidence:
    """Every readable trace of one run, as text."""

    def __init__(self, run: LocalRun) -> None:
        self.run = run
        self.texts: list[tuple[str, str]] = []
        self.tokens: set[str] = set()

    def add(self, where: str, value: Any) -> None:
        self.texts.append((where, value if isinstance(value, str) else json.dumps(value, default=repr)))

    def error(self, where: str, error: BaseException) -> None:
        self.add(where, "".join(traceback.format_exception(error)) + repr(error))

    def learn_tokens(self) -> None:
        """The bearer tokens the functions hold now (each runtime keeps its own client)."""
        for function in ("PollerFunction", "ExporterFunction"):
            module = sys.modules.get(f"_local_fn_{function}")
            connection = getattr(getattr(module, "runtime", None), "__dict__", {}).get("connection")
            held = getattr(connection, "_clients", {}) if connection is not None else {}
            for _, client in list(held.values()):  # one (account, client) per source; the legacy one has tokens
                auth = getattr(client, "token_auth", None)
                if auth is not None and auth.expires_at is not None:
                    self.tokens.add(auth.token(Deadline.never()))

    def peek_queues(self, where: str) -> None:
        sqs = self.run.clients.sqs
        for name in self.run.deployment.template.of_type("AWS::SQS::Queue"):
            url = self.run.deployment.refs[name]
            handles = []
            while messages := sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, MessageAttributeNames=["All"],
                AttributeNames=["All"],
            ).get("Messages", []):
                for message in messages:
                    self.add(f"{where}: SQS {name}", message)
                    handles.append(message["ReceiptHandle"])
            for handle in handles:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)

    def storage(self) -> None:
        s3 = self.run.clients.s3
        bucket = self.run.settings.export_bucket
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                answer = s3.get_object(Bucket=bucket, Key=item["Key"])
                data = answer["Body"].read()
                if item["Key"].endswith(".gz"):
                    data = gzip.decompress(data)
                self.add(f"S3 {item['Key']}", data.decode("utf-8") + json.dumps(answer.get("Metadata", {})))
        table = self.run.settings.ledger_table
        for page in self.run.clients.dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                self.add("ledger item", item)

    def leaks(self, secret: dict[str, str]) -> list[str]:
        needles = {
            "secretAccessKey": secret["secretAccessKey"],
            "X-Api-Key": f"{secret['accessKeyId']}+{secret['secretAccessKey']}",
            "webhookToken": secret["webhookToken"],
            "a bearer token": JWT_HEADER,
            **{f"token {token[-12:]}": token for token in self.tokens},
        }
        found = []
        for where, text in self.texts:
            for name, needle in needles.items():
                if needle in text or json.dumps(needle)[1:-1] in text:
                    found.append(f"{name} in {where}: ...{_around(text, needle)}...")
        return found


def _around(text: str, needle: str) -> str:
    at = text.find(needle)
    return text[max(0, at - 80):at + 20] if at >= 0 else "(escaped)"


def test_no_secret_or_token_shows_anywhere_after_a_faulty_run(
    moto_server: Any, emulator_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    moto_server.reset()
    emu = emulator_factory(default_take=5, max_take=7)
    run = LocalRun(ROOT, emu, moto_server, parameters={"PartMaxRows": "300", "PageSize": "100"},
                   env_overrides={"FLATFILE_MAX_ATTEMPTS": "3", "POWERTOOLS_LOG_LEVEL": "DEBUG",
                                  "POWERTOOLS_PARAMETERS_MAX_AGE": "0"})
    secret = emu.secret
    evidence = Evidence(run)
    # The embed's webhook URL is the relay's Function URL with its token, and Flatfile shows it back: on
    # the batch detail's __embed__ and on each batch as legacyWebhookUrl.
    hook_url = f"https://abc.lambda-url.us-east-1.on.aws/?token={secret['webhookToken']}"
    emu.state.account.embed["webhookUrl"] = hook_url
    for batch_id in list(emu.state.batches):
        emu.state.update_batch(batch_id, legacyWebhookUrl=hook_url)
    big, medium = emu.samples["big"], emu.samples["medium"]
    emu.inject(
        FaultRule(kind="429", path="/rest/batches", count=1, retry_after=0),
        FaultRule(kind="drop", path="/rest/batches", after=2, count=1),
        FaultRule(kind="500", path="/auth/access-key/exchange", count=1),
        FaultRule(kind="invalid_json", path=f"/rest/batch/{medium}", count=1),
        FaultRule(kind="truncated", path=f"/rest/batch/{big}/rows", after=3, count=1),
        FaultRule(kind="503", path=f"/rest/batch/{big}/rows", after=6, count=None),  # fails for good
    )

    outcomes: dict[str, Any] = {}

    def step(where: str, action: Any) -> Any:
        try:
            answer = action()
        except Exception as error:  # noqa: BLE001 - collected as evidence
            evidence.error(where, error)
            outcomes[where] = error
            return None
        evidence.add(f"{where}: answer", answer if not hasattr(answer, "__dict__") else vars(answer))
        outcomes[where] = answer
        return answer

    step("poll 1", run.poll)
    evidence.learn_tokens()
    evidence.peek_queues("after poll 1")
    emu.revoke_tokens()  # every token now gets 401: the functions exchange again
    step("export 1", run.export)
    evidence.learn_tokens()
    evidence.peek_queues("after export 1")

    webhook = run.lambdas.handler("WebhookFunction")
    fresh = emu.state.add_batch("submitted", [{"sku": "W-1", "qty": "1"}])["id"]
    body = json.dumps(build_payloads(emu, fresh)[0]).encode()
    token = secret["webhookToken"]
    url_event = functools.partial(function_url_event, base64_body=True)
    for name, event in {
        "webhook by query": url_event(body, query={"token": token}),
        "webhook by header": url_event(body, headers={"X-Webhook-Token": token}),
        "webhook wrong token": url_event(body, query={"token": token[:-1] + "x"}),
        "webhook bad body": url_event(b'{"event": 1}', query={"token": token}),
    }.items():
        with run.lambdas.environment("WebhookFunction"):
            step(name, lambda event=event: webhook(event, lambda_context("WebhookFunction")))

    emu.revoke_tokens()
    step("poll 2", run.poll)
    evidence.learn_tokens()
    evidence.peek_queues("after poll 2")
    step("export 2", run.export)
    evidence.learn_tokens()
    evidence.peek_queues("after export 2")
    step("consume", run.consume)
    result = run.collect()
    evidence.add("run result", vars(result))
    for drain in result.drains:
        evidence.add(f"{drain.function} errors", drain.errors)

    # a rejected, then a malformed secret: the errors say so, without the values
    sm = run.clients.secretsmanager
    sm.put_secret_value(SecretId=run.settings.secret_id,
                        SecretString=json.dumps({**secret, "secretAccessKey": "Wrong" + secret["secretAccessKey"]}))
    step("poll with a rejected secret", run.poll)
    sm.put_secret_value(SecretId=run.settings.secret_id,
                        SecretString=json.dumps({**secret, "secretAccessKey": secret["secretAccessKey"] + "\n x"}))
    step("poll with a malformed secret", run.poll)
    evidence.storage()
    output = capsys.readouterr()
    evidence.add("stdout", output.out)
    evidence.add("stderr", output.err)

    webhooks = ("by query", "by header", "wrong token", "bad body")
    assert [outcomes[f"webhook {name}"]["statusCode"] for name in webhooks] == [202, 202, 401, 400]
    assert type(outcomes["poll with a rejected secret"]).__name__ == "CredentialsRejectedError"
    assert type(outcomes["poll with a malformed secret"]).__name__ == "MalformedSecretError"
    assert fresh in result.exported  # the run really worked ...
    assert medium in result.exported
    assert big not in result.exported  # ... and really failed where told to
    assert len(evidence.tokens) >= 2  # tokens were issued, revoked and issued again
    leaks = evidence.leaks(secret)
    assert leaks == [], "\n".join(leaks)

"""Webhook test helpers: Portal v2 payloads, Function URL events, decoded answers, and a harness for the
webhook handler alone (its deployment reused between the tests of a module)."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from support.functions import ROOT, lambda_context

TOKEN = "wh-token-0123456789abcdef-SECRET"
OTHER_TOKEN = "wh-rotated-token-fedcba9876543210"


def payload(batch_id: str, *, event_id: str | None = None, index: int = 0, length: int = 1,
            rows: int = 2) -> dict[str, Any]:
    """A Portal v2 webhook payload (shape as documented in shared/flatfile-api.md)."""
    return {
        "event": {"type": "batch:v1:upload", "id": event_id or str(uuid.uuid4()),
                  "sequence": {"length": length, "index": index}},
        "data": {
            "customer": {"id": str(uuid.uuid4()), "userId": "cust-1", "name": "Zoë O'Neil", "email": None,
                         "companyId": None, "companyName": None, "teamId": 6607,
                         "createdAt": "2021-02-11T09:14:03.000Z", "updatedAt": "2021-03-01T20:21:07.000Z"},
            "meta": {"batch": {"id": batch_id}, "settings": {"id": None}, "length": rows * length},
            "validRows": [{"sku": f"A-{i}", "note": "quote \" newline \n emoji 🚀"} for i in range(rows)],
            "invalidRows": [],
        },
    }


def encode(body: dict[str, Any]) -> bytes:
    """JSON bytes as a sender might write them (non-ASCII kept, spaces after separators)."""
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


def function_url_event(
    body: bytes | str | None,
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    path: str = "/",
    base64_body: bool = False,
) -> dict[str, Any]:
    """A Lambda Function URL event (payload format 2.0)."""
    from urllib.parse import urlencode

    raw_query = urlencode(query or {})
    all_headers = {"content-type": "application/json", "host": "abc.lambda-url.us-east-1.on.aws",
                   "user-agent": "axios/0.21.1", "x-forwarded-for": "203.0.113.25"}
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": all_headers,
        "requestContext": {
            "accountId": "anonymous", "apiId": "abc", "domainName": "abc.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.25",
                     "userAgent": "axios/0.21.1"},
            "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
            "time": "01/Mar/2021:20:22:53 +0000", "timeEpoch": 1614630173000,
        },
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if body is not None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        event["body"] = base64.b64encode(data).decode("ascii") if base64_body else data.decode("utf-8")
    return event


@dataclass
class Answer:
    """A handler response, decoded."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    text: str

    @classmethod
    def of(cls, response: dict[str, Any]) -> Answer:
        text = response.get("body") or ""
        if response.get("isBase64Encoded"):
            text = base64.b64decode(text).decode("utf-8")
        body = json.loads(text) if text else {}
        return cls(response["statusCode"], body, dict(response.get("headers") or {}), text)


@dataclass
class WebhookHarness:
    """The webhook handler wired to a moto deployment, and views of what it stored and queued."""

    module: ModuleType
    deployment: Any
    aws: Any
    settings: Any
    logs: Any
    resources: Any = None
    received: list[str] = field(default_factory=list)

    def broke_resources(self) -> None:
        """This test deletes AWS resources: the next test gets a new deployment."""
        self.resources.broken = True

    @property
    def bucket(self) -> str:
        return str(self.settings.export_bucket)

    @property
    def queue_url(self) -> str:
        return str(self.settings.export_jobs_queue_url)

    def set_secret(self, webhook_token: Any = None, **overrides: Any) -> None:
        """Store the webhook secret (no `webhookToken` key when `webhook_token` is None)."""
        secret: dict[str, Any] = {} if webhook_token is None else {"webhookToken": webhook_token}
        secret.update(overrides)
        self.set_raw_secret(json.dumps(secret))

    def set_raw_secret(self, text: str) -> None:
        """Store `text` as the webhook secret (WEBHOOK_SECRET_ID)."""
        self.aws.secretsmanager.put_secret_value(SecretId=self.settings.webhook_secret_id, SecretString=text)

    def invoke(self, event: dict[str, Any]) -> Answer:
        return Answer.of(self.module.handler(event, lambda_context("WebhookFunction")))

    def post(self, body: bytes | str | None, *, token: str | None = TOKEN, header: str | None = None,
             **kwargs: Any) -> Answer:
        """POST `body` with `token` in the query string (and/or `header` as X-Webhook-Token)."""
        query = {"token": token} if token is not None else None
        headers = {"X-Webhook-Token": header} if header is not None else None
        return self.invoke(function_url_event(body, query=query, headers=headers, **kwargs))

    def objects(self) -> dict[str, bytes]:
        """Every object in the export bucket, by key."""
        listing = self.aws.s3.list_objects_v2(Bucket=self.bucket)
        return {
            item["Key"]: self.aws.s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
            for item in listing.get("Contents", [])
        }

    def jobs(self) -> list[str]:
        """Bodies of every message now on the export-jobs queue (received and deleted)."""
        while True:
            answer = self.aws.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                  WaitTimeSeconds=0, MessageAttributeNames=["All"])
            messages = answer.get("Messages", [])
            if not messages:
                return list(self.received)
            for message in messages:
                self.received.append(message["Body"])
                self.aws.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def ledger(self) -> Any:
        from flatfile_relay.ledger import Ledger

        return Ledger(self.settings.ledger_table, self.aws.dynamodb)


class Resources:
    """template.yaml's resources in moto, created once per test module and emptied between its tests.

    Creating the whole deployment costs a dozen AWS calls; emptying the bucket, queue and table a few. A test
    that deletes a resource calls `WebhookHarness.broke_resources()` and the next test starts from scratch.
    """

    def __init__(self, moto_server: Any) -> None:
        self._moto = moto_server
        self.deployment: Any = None
        self.broken = True

    def fresh(self) -> Any:
        from flatfile_relay.aws import AwsClients
        from flatfile_relay_devkit.local.deployment import LocalDeployment
        from flatfile_relay_devkit.local.template import Template

        if self.broken or self.deployment is None:
            self._moto.reset()
            self.deployment = LocalDeployment.create(Template.load(ROOT / "template.yaml"), AwsClients())
            self.broken = False
        else:
            self.deployment.empty()
        return self.deployment


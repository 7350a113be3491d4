"""A black-box view of the relay for the contract tests (architecture.md, "Public contract").

Only what an outside acceptance suite could do: the handlers of `functions/*/app.py` called in-process with
template.yaml's environment (resources in moto through AWS_ENDPOINT_URL, Flatfile through
FLATFILE_BASE_URL), the secret in Secrets Manager, and what lands in S3 and SQS read back with plain boto3,
`json` and `gzip`. Nothing here uses the library's own readers to judge its output.
"""

from __future__ import annotations

import copy
import functools
import gzip
import hashlib
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any

import requests
from support.functions import ROOT, function_app, lambda_context

MANIFEST_KEYS = {"schemaVersion", "batchId", "batch", "rowCount", "parts", "exportedAt", "trigger"}
PART_KEYS = {"uri", "rows", "bytes", "sha256"}
NOTICE_KEYS = {"type", "schemaVersion", "batchId", "manifestUri", "rowCount", "trigger", "exportedAt"}
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)$")
FUNCTIONS = {"PollerFunction": "poller", "ExporterFunction": "exporter", "WebhookFunction": "webhook",
             "ConsumerFunction": "consumer"}


def event_file(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))
    return loaded


def sqs_event(sample: str, bodies: list[str]) -> dict[str, Any]:
    """An SQS event shaped like events/<sample>, one record per body (message ids m-0, m-1, ...)."""
    template = event_file(sample)["Records"][0]
    records = []
    for index, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"m-{index}"
        record["body"] = body
        records.append(record)
    return {"Records": records}


def webhook_event(body: str | None, *, query: dict[str, str] | None = None,
                  headers: dict[str, str] | None = None) -> dict[str, Any]:
    """events/webhook.json with another body, query and extra headers (no token unless given)."""
    event = event_file("webhook.json")
    event.pop("queryStringParameters", None)
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    if query:
        event["queryStringParameters"] = dict(query)
    event["headers"] = {**event["headers"], **(headers or {})}
    event["headers"].pop("content-length", None)
    if body is None:
        event.pop("body", None)
    else:
        event["body"] = body
    return event


def portal_payload(batch_id: str, *, index: int = 0, length: int = 1, event_id: str | None = None) -> str:
    """A Portal v2 webhook body for `batch_id` (the shape in flatfile-api.md)."""
    body = event_file("webhook.json")["body"]
    data = json.loads(body)
    data["event"]["id"] = event_id or str(uuid.uuid4())
    data["event"]["sequence"] = {"length": length, "index": index}
    data["data"]["meta"]["batch"]["id"] = batch_id
    return json.dumps(data)


def is_iso_utc(value: Any) -> bool:
    if not isinstance(value, str) or not ISO_UTC.match(value):
        return False
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@dataclass
class Stack:
    """template.yaml's resources in moto, the emulator, and the four handlers as Lambda would run them."""

    deployment: Any
    emulator: Any
    env: dict[str, str]
    modules: dict[str, ModuleType] = field(default_factory=dict)
    share_clients: bool = True

    # -- configuration ---------------------------------------------------------------------------------

    @property
    def clients(self) -> Any:
        return self.deployment.clients

    @property
    def bucket(self) -> str:
        return self.env["EXPORT_BUCKET"]

    def put_secret(self, secret: dict[str, Any] | str) -> None:
        text = secret if isinstance(secret, str) else json.dumps(secret)
        self.clients.secretsmanager.put_secret_value(SecretId=self.env["FLATFILE_SECRET_ID"], SecretString=text)

    def module(self, function: str) -> ModuleType:
        if function not in self.modules:
            self.modules[function] = function_app(FUNCTIONS[function])
            self.cold(function)  # a cold start for this test
        return self.modules[function]

    def cold(self, function: str) -> None:
        """The next invocation of `function` runs in a new execution environment.

        Only the boto3 clients are shared between tests (building them is most of a cold start's cost here);
        they are standard clients like the ones the function builds, pointed at moto by AWS_ENDPOINT_URL.
        """
        module = self.module(function)
        module.reset()
        if self.share_clients:
            module.runtime.__dict__["clients"] = _shared_clients()

    # -- invocations -----------------------------------------------------------------------------------

    def invoke(self, function: str, event: Any, timeout: float | None = None) -> Any:
        return self.module(function).handler(event, lambda_context(function, timeout))

    def poll(self, event: Any = None) -> dict[str, Any]:
        answer: dict[str, Any] = self.invoke(
            "PollerFunction", event_file("schedule.json") if event is None else event
        )
        return answer

    def run_exporter(self, bodies: list[str]) -> dict[str, Any]:
        answer: dict[str, Any] = self.invoke("ExporterFunction", sqs_event("sqs_export_job.json", bodies))
        return answer

    def export(self, batch_id: str, trigger: str = "schedule") -> None:
        """Run the exporter on one job for `batch_id`; the record must succeed."""
        job = {"type": "flatfile.export.job", "schemaVersion": 1, "batchId": batch_id, "trigger": trigger}
        assert self.run_exporter([json.dumps(job)]) == {"batchItemFailures": []}

    def export_queued(self) -> list[str]:
        """Feed every export job on the queue to the exporter, one record per invocation (BatchSize 1)."""
        exported: list[str] = []
        for message in self.drain(self.env["EXPORT_JOBS_QUEUE_URL"]):
            answer = self.run_exporter([message["Body"]])
            assert answer == {"batchItemFailures": []}, answer
            exported.append(json.loads(message["Body"])["batchId"])
        return exported

    def webhook(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        answer = self.invoke("WebhookFunction", event)
        body = json.loads(answer["body"]) if answer.get("body") else {}
        return int(answer["statusCode"]), body

    def webhook_with_token(self, batch_id: str, *, in_header: bool = False, **payload: Any) -> tuple[int, Any]:
        """POST a Portal v2 payload for `batch_id` with the secret's token (query parameter or header)."""
        token = self.emulator.secret["webhookToken"]
        body = portal_payload(batch_id, **payload)
        if in_header:
            return self.webhook(webhook_event(body, headers={"x-webhook-token": token}))
        return self.webhook(webhook_event(body, query={"token": token}))

    # -- what landed -----------------------------------------------------------------------------------

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        sqs = self.clients.sqs
        messages: list[dict[str, Any]] = []
        while got := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                         WaitTimeSeconds=0).get("Messages", []):
            for message in got:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            messages.extend(got)
        return messages

    def jobs(self) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.drain(self.env["EXPORT_JOBS_QUEUE_URL"])]

    def notices(self) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.drain(self.env["NOTICES_QUEUE_URL"])]

    def object_keys(self, prefix: str = "") -> list[str]:
        pages = self.clients.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def get(self, uri: str) -> bytes:
        assert uri.startswith("s3://"), uri
        bucket, _, key = uri[len("s3://"):].partition("/")
        data: bytes = self.clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data

    def manifest_uri(self, batch_id: str) -> str:
        return f"s3://{self.bucket}/{self.env['EXPORT_PREFIX']}batches/{batch_id}/manifest.json"

    def manifest(self, batch_id: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.get(self.manifest_uri(batch_id)))
        return loaded

    def exported_rows(self, manifest: dict[str, Any]) -> list[Any]:
        """The rows of every part, each part checked against its manifest entry before decompressing."""
        rows: list[Any] = []
        for part in manifest["parts"]:
            data = self.get(part["uri"])
            assert len(data) == part["bytes"], part
            assert hashlib.sha256(data).hexdigest() == part["sha256"], part
            lines = gzip.decompress(data).decode("utf-8").split("\n")
            assert lines[-1] == "", "a JSON Lines part ends with a newline"
            assert len(lines) - 1 == part["rows"], part
            rows.extend(json.loads(line) for line in lines[:-1])
        return rows

    # -- the Flatfile side -----------------------------------------------------------------------------

    def api(self, path: str, **params: Any) -> Any:
        secret = self.emulator.secret
        answer = requests.get(
            f"{self.emulator.url}{path}", params=params, timeout=10,
            headers={"X-Api-Key": f"{secret['accessKeyId']}+{secret['secretAccessKey']}"},
        )
        answer.raise_for_status()
        return answer.json()

    def api_rows(self, batch_id: str) -> list[Any]:
        """Every row the rows endpoint returns for the batch, unfiltered, paged by what came back."""
        rows: list[Any] = []
        while True:
            page = self.api(f"/rest/batch/{batch_id}/rows", skip=len(rows), take=1000)
            rows.extend(page["data"])
            if not page["data"] or len(rows) >= page["pagination"]["totalCount"]:
                return rows

    def add_batch(self, status: str | None = "submitted", rows: int = 2, **fields: Any) -> str:
        """A new import in the emulator with `rows` rows (every tenth invalid, every seventh deleted)."""
        state = self.emulator.state
        batch_id: str = state.add_batch(status, **fields)["id"]
        if rows:
            mapped = [{"sku": f"S-{i:05d}", "qty": str(i), "notes": "\"q\", \n 🧪"} for i in range(rows)]
            state.add_rows(batch_id, mapped, valid=[i % 10 != 9 for i in range(rows)],
                           deleted=[i % 7 == 6 for i in range(rows)])
        return batch_id

    def submitted_ids(self) -> set[str]:
        return {bid for bid, b in self.emulator.state.batches.items() if b.get("status") == "submitted"}


@functools.cache
def _shared_clients() -> Any:
    from flatfile_relay.aws import AwsClients

    return AwsClients()


def restore_library_logger() -> Any:
    """get_logger() rewires the `flatfile_relay` logger; returns a function that puts it back."""
    library = logging.getLogger("flatfile_relay")
    saved = (list(library.handlers), library.level, library.propagate)

    def restore() -> None:
        library.handlers[:] = saved[0]
        library.setLevel(saved[1])
        library.propagate = saved[2]

    return restore

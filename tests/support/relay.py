"""The relay deployed on this machine, for integration tests: one harness for every test folder.

A `Relay` is template.yaml's resources in moto (the devkit's `LocalDeployment`, over HTTP) plus the Flatfile
emulator (over HTTP), with the credentials in the secret. Tests drive it two ways:

- through the library, as a function's code does: `poll`, `export`, `run_job` (settings in `relay.settings`);
- through the handlers of `functions/*/app.py`, as Lambda does: `invoke`, `invoke_poller`, `invoke_exporter`,
  `invoke_webhook`, `export_queued` (environment from template.yaml, set by the fixture that built the relay).

What landed is read back with plain boto3, `json` and `gzip` (`object_keys`, `manifest_dict`,
`verified_rows`, `jobs`, `notices`), or with the library's readers (`manifest`, `exported_rows`).
Fixtures that build it: tests/support/fixtures.py.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import gzip
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any

import requests

from flatfile_relay.credentials import Credentials
from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import ExportOutcome, export_batch, export_platform_job
from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay.jobs import ExportJob
from flatfile_relay.layout import batch_rows_prefix, manifest_key, parse_s3_uri, s3_uri, submitted_date
from flatfile_relay.ledger import Ledger, LedgerEntry
from flatfile_relay.manifest import Manifest
from flatfile_relay.platform import PlatformAccount, PlatformClient
from flatfile_relay.poller import PollReport, poll
from flatfile_relay.settings import Settings
from support.functions import ROOT, function_app, lambda_context
from support.webhook import Answer, encode, function_url_event, payload

#: the public contract's field names (docs/architecture.md §6)
MANIFEST_KEYS = {"schemaVersion", "source", "batchId", "batch", "rowCount", "parts", "exportedAt", "trigger",
                 "filename", "submittedAt", "customer", "counts", "schema", "fieldStats"}
PART_KEYS = {"uri", "rows", "bytes", "sha256"}
NOTICE_KEYS = {"type", "schemaVersion", "source", "batchId", "manifestUri", "rowCount", "trigger", "exportedAt",
               "filename", "submittedAt", "customer", "schema"}
#: small batch-list pages, so a few dozen batches make a multi-page list
PAGE = 5
FUNCTIONS = {"PollerFunction": "poller", "ExporterFunction": "exporter", "WebhookFunction": "webhook",
             "ConsumerFunction": "consumer"}
_ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)$")


@dataclass
class Relay:
    """One local deployment and one emulator, seen from the library and from the handlers."""

    emu: Any
    deployment: Any
    settings: Settings
    client: FlatfileClient
    env: dict[str, str] = field(default_factory=dict)
    modules: dict[str, ModuleType] = field(default_factory=dict)
    share_clients: bool = True
    received: list[ExportJob] = field(default_factory=list)
    platform_clients: list[PlatformClient] = field(default_factory=list)

    @classmethod
    def create(cls, deployment: Any, emulator: Any, function: str = "PollerFunction", **settings: Any) -> Relay:
        """`function`'s settings from the deployment (plus `settings`), pointed at the emulator; the emulator's
        credentials stored in the secret."""
        base = deployment.settings(function)
        relay_settings = dataclasses.replace(
            base, flatfile_base_url=emulator.url, platform_base_url=emulator.platform_url, **settings
        )
        client = FlatfileClient(emulator.url, Credentials.from_secret(emulator.secret), timeout=5.0,
                                backoff_base=0.01, backoff_cap=0.05, batch_page_size=relay_settings.batch_page_size)
        relay = cls(emu=emulator, deployment=deployment, settings=relay_settings, client=client)
        deployment.store_credentials(emulator.secret)
        return relay

    # -- configuration ---------------------------------------------------------------------------------

    @property
    def clients(self) -> Any:
        return self.deployment.clients

    @property
    def sqs(self) -> Any:
        return self.clients.sqs

    @property
    def bucket(self) -> str:
        return self.settings.export_bucket

    @property
    def queue_url(self) -> str:
        return self.settings.export_jobs_queue_url

    @functools.cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.settings.ledger_table, self.clients.dynamodb)

    def configure(self, **changes: Any) -> Settings:
        """Change this relay's settings (for the library calls that follow)."""
        self.settings = dataclasses.replace(self.settings, **changes)
        return self.settings

    def with_settings(self, **changes: Any) -> Relay:
        """A copy of this relay with other settings."""
        return dataclasses.replace(self, settings=dataclasses.replace(self.settings, **changes))

    def put_secret(self, secret: dict[str, Any] | str) -> None:
        text = secret if isinstance(secret, str) else json.dumps(secret)
        self.clients.secretsmanager.put_secret_value(SecretId=self.settings.secret_id, SecretString=text)

    def new_client(self, **options: Any) -> FlatfileClient:
        options.setdefault("backoff_base", 0.01)
        options.setdefault("backoff_cap", 0.05)
        options.setdefault("timeout", 5.0)
        options.setdefault("batch_page_size", self.settings.batch_page_size)
        return FlatfileClient(self.emu.url, Credentials.from_secret(self.emu.secret), **options)

    def close(self) -> None:
        self.client.close()
        for platform_client in self.platform_clients:
            platform_client.close()
        for module in self.modules.values():
            module.reset()

    # -- the library -----------------------------------------------------------------------------------

    def poll(self, deadline: Deadline | None = None, *, client: FlatfileClient | None = None, sqs: Any = None,
             settings: Settings | None = None, **kwargs: Any) -> PollReport:
        """One poll by the library (`sqs`: another SQS client, to inject faults into the job sends alone)."""
        return poll(client or self.client, self.ledger, sqs or self.sqs, settings or self.settings,
                    deadline or Deadline.never(), **kwargs)

    def export(self, batch_id: str, *, trigger: str = "schedule", resume: bool = False, **options: Any
               ) -> ExportOutcome:
        """Export one batch by the library (options: deadline, owner, client, reserve, last_delivery)."""
        return self.run_job(ExportJob.create(batch_id, trigger=trigger, resume=resume), **options)

    def run_job(self, job: ExportJob, *, deadline: Deadline | None = None, owner: str | None = None,
                client: FlatfileClient | None = None, reserve: float = 0.0, last_delivery: bool = False
                ) -> ExportOutcome:
        return export_batch(
            job, client or self.client, self.clients.s3, self.sqs, self.ledger, self.settings,
            deadline or Deadline.never(), owner or f"test-{uuid.uuid4()}", reserve=reserve,
            events=self.clients.events, last_delivery=last_delivery,
        )

    # -- the Flatfile Platform ------------------------------------------------------------------------

    def with_platform_keys(self) -> Relay:
        """Both sources' keys in the secret (the legacy keys and the emulator's Platform keys); returns self."""
        self.put_secret({**self.emu.secret, **self.emu.platform_secret})
        return self

    def platform_client(self, **options: Any) -> PlatformClient:
        """A client of the emulator's Platform API with fast retries (closed with the relay)."""
        options.setdefault("backoff_base", 0.01)
        options.setdefault("backoff_cap", 0.05)
        options.setdefault("timeout", 5.0)
        options.setdefault("record_prefetch", self.settings.row_prefetch)
        secret = self.emu.platform_secret
        client = PlatformClient(self.emu.platform_url, PlatformAccount(secret["platformSecretKey"],
                                                                        secret["platformEnvironmentId"]), **options)
        self.platform_clients.append(client)
        return client

    def submit(self, label_or_id: str) -> str:
        """Press the submit action of a workbook (a sample label or a workbook id): the new job's id."""
        platform = self.emu.platform
        workbook_id = platform.sample_id(label_or_id) if label_or_id in platform.samples else label_or_id
        return str(platform.submit(workbook_id)["id"])

    def export_job(self, job_id: str, *, trigger: str = "schedule", resume: bool = False, **options: Any
                   ) -> ExportOutcome:
        """Export one Platform job by the library (options: deadline, owner, client, reserve, last_delivery)."""
        return self.run_platform_job(ExportJob.create(job_id, trigger=trigger, resume=resume), **options)

    def run_platform_job(self, job: ExportJob, *, deadline: Deadline | None = None, owner: str | None = None,
                         client: PlatformClient | None = None, reserve: float = 0.0, last_delivery: bool = False
                         ) -> ExportOutcome:
        if client is None:
            client = self.platform_clients[0] if self.platform_clients else self.platform_client()
        return export_platform_job(
            job, client, self.clients.s3, self.sqs, self.ledger, self.settings, deadline or Deadline.never(),
            owner or f"test-{uuid.uuid4()}", events=self.clients.events, last_delivery=last_delivery,
            reserve=reserve,
        )

    def entry(self, batch_id: str) -> LedgerEntry:
        found = self.ledger.get(batch_id)
        assert found is not None, f"the ledger has no entry for {batch_id}"
        return found

    # -- the handlers ----------------------------------------------------------------------------------

    def module(self, function: str) -> ModuleType:
        """functions/<name>/app.py for a logical id; the first use in a test is a cold start."""
        if function not in self.modules:
            self.modules[function] = function_app(FUNCTIONS[function])
            self.cold(function)
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

    def invoke(self, function: str, event: Any, timeout: float | None = None) -> Any:
        return self.module(function).handler(event, lambda_context(function, timeout))

    def invoke_poller(self, event: Any = None) -> dict[str, Any]:
        """The poller's handler with events/schedule.json (or `event`); returns its report."""
        answer: dict[str, Any] = self.invoke("PollerFunction", event_file("schedule.json") if event is None else event)
        return answer

    def invoke_exporter(self, bodies: list[str]) -> dict[str, Any]:
        """The exporter's handler on one SQS event with these message bodies; returns its partial batch response."""
        answer: dict[str, Any] = self.invoke("ExporterFunction", sqs_event("sqs_export_job.json", bodies))
        return answer

    def export_by_handler(self, batch_id: str, trigger: str = "schedule") -> None:
        """Run the exporter's handler on one job for `batch_id`; the record must succeed."""
        job = {"type": "flatfile.export.job", "schemaVersion": 1, "batchId": batch_id, "trigger": trigger}
        assert self.invoke_exporter([json.dumps(job)]) == {"batchItemFailures": []}

    def export_queued(self) -> list[str]:
        """Feed every export job on the queue to the exporter's handler, one record per invocation (BatchSize 1)."""
        exported: list[str] = []
        for message in self.drain(self.settings.export_jobs_queue_url):
            answer = self.invoke_exporter([message["Body"]])
            assert answer == {"batchItemFailures": []}, answer
            exported.append(json.loads(message["Body"])["batchId"])
        return exported

    def invoke_webhook(self, event: dict[str, Any]) -> Answer:
        """The webhook's handler on a Function URL event; its answer decoded."""
        return Answer.of(self.invoke("WebhookFunction", event))

    def webhook_with_token(self, batch_id: str, **fields: Any) -> Answer:
        """POST a Portal v2 payload for `batch_id` (fields: event_id, index, length, rows) with the secret's
        token in the query string."""
        body = encode(payload(batch_id, **fields))
        return self.invoke_webhook(function_url_event(body, query={"token": self.emu.secret["webhookToken"]}))

    # -- what landed -----------------------------------------------------------------------------------

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Receive (and delete) every message on a queue."""
        messages: list[dict[str, Any]] = []
        while got := self.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", []):
            for message in got:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            messages.extend(got)
        return messages

    def drain_jobs(self) -> list[ExportJob]:
        """Every export job on the queue (received and deleted); each must be valid and carry its batchId."""
        jobs: list[ExportJob] = []
        for message in self.drain(self.queue_url):
            job = ExportJob.from_message(message["Body"])
            assert message["MessageAttributes"]["batchId"]["StringValue"] == job.batch_id
            jobs.append(job)
        self.received.extend(jobs)
        return jobs

    def jobs(self) -> list[dict[str, Any]]:
        """The messages on the export-jobs queue (received and deleted)."""
        return self.drain(self.settings.export_jobs_queue_url)

    def notices(self) -> list[dict[str, Any]]:
        """The messages on the notices queue (received and deleted)."""
        return self.drain(self.settings.notices_queue_url)

    def export_events(self) -> list[dict[str, Any]]:
        """The export events EventBridge delivered through the template's sample rule to the sample consumer's
        queue, as JSON (received and deleted)."""
        return [json.loads(m["Body"]) for m in self.drain(self.deployment.refs["ConsumerQueue"])]

    def job_bodies(self) -> list[dict[str, Any]]:
        """The export jobs on the queue, as JSON (received and deleted)."""
        return [json.loads(m["Body"]) for m in self.jobs()]

    def notice_bodies(self) -> list[dict[str, Any]]:
        """The notices on the notices queue, as JSON (received and deleted)."""
        return [json.loads(m["Body"]) for m in self.notices()]

    def object_keys(self, prefix: str = "") -> list[str]:
        pages = self.clients.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def object_bytes(self, key: str) -> bytes:
        data: bytes = self.clients.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data

    def object_at(self, uri: str) -> bytes:
        bucket, key = parse_s3_uri(uri)
        data: bytes = self.clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data

    def manifest_uri(self, batch_id: str) -> str:
        return s3_uri(self.bucket, manifest_key(self.settings.export_prefix, batch_id))

    def rows_folder(self, batch_id: str) -> str:
        """The key prefix of the batch's row parts (its submitted_date partition, from the emulator's batch)."""
        batch = self.client.get_batch(batch_id, Deadline.never())
        return batch_rows_prefix(self.settings.export_prefix, batch_id, submitted_date(batch))

    def manifest(self, batch_id: str) -> Manifest:
        """The batch's manifest, read by the library."""
        return Manifest.from_json(self.object_at(self.manifest_uri(batch_id)))

    def manifest_dict(self, batch_id: str) -> dict[str, Any]:
        """The batch's manifest as plain JSON."""
        loaded: dict[str, Any] = json.loads(self.object_at(self.manifest_uri(batch_id)))
        return loaded

    def part_rows(self, uri: str) -> list[dict[str, Any]]:
        assert parse_s3_uri(uri)[0] == self.bucket
        return [json.loads(line) for line in gzip.decompress(self.object_at(uri)).splitlines()]

    def exported_rows(self, batch_id: str) -> list[dict[str, Any]]:
        """The rows of every part of the batch's manifest, in order."""
        return [row for part in self.manifest(batch_id).parts for row in self.part_rows(part.uri)]

    def verified_rows(self, manifest: dict[str, Any]) -> list[Any]:
        """The rows of every part of a manifest (as JSON), each part checked against its entry first, with
        `json` and `gzip` only."""
        rows: list[Any] = []
        for part in manifest["parts"]:
            data = self.object_at(part["uri"])
            assert len(data) == part["bytes"], part
            assert hashlib.sha256(data).hexdigest() == part["sha256"], part
            lines = gzip.decompress(data).decode("utf-8").split("\n")
            assert lines[-1] == "", "a JSON Lines part ends with a newline"
            assert len(lines) - 1 == part["rows"], part
            rows.extend(json.loads(line) for line in lines[:-1])
        return rows

    # -- the Flatfile side -----------------------------------------------------------------------------

    def api(self, path: str, **params: Any) -> Any:
        """GET a REST path of the emulator with the secret's access key."""
        secret = self.emu.secret
        answer = requests.get(
            f"{self.emu.url}{path}", params=params, timeout=10,
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

    def api_batch(self, batch_id: str) -> Any:
        return self.api(f"/rest/batch/{batch_id}")

    def add_batch(self, rows: list[dict[str, Any]], status: str | None = "submitted", *,
                  valid: Any = True, deleted: Any = False, **fields: Any) -> str:
        """A new batch in the emulator with these `mapped` rows; returns its id."""
        batch_id: str = self.emu.state.add_batch(status, **fields)["id"]
        if rows:
            self.emu.state.add_rows(batch_id, rows, valid=valid, deleted=deleted)
        return batch_id

    def add_import(self, status: str | None = "submitted", rows: int = 2, **fields: Any) -> str:
        """A new import with `rows` awkward rows (every tenth invalid, every seventh deleted); returns its id."""
        mapped = [{"sku": f"S-{i:05d}", "qty": str(i), "notes": "\"q\", \n 🧪"} for i in range(rows)]
        return self.add_batch(mapped, status, valid=[i % 10 != 9 for i in range(rows)],
                              deleted=[i % 7 == 6 for i in range(rows)], **fields)

    def add_batches(self, count: int, status: str | None = "submitted") -> list[str]:
        return [self.emu.state.add_batch(status, [{"sku": f"N-{i}"}])["id"] for i in range(count)]

    def submitted_ids(self) -> set[str]:
        return {b["id"] for b in self.emu.state.account_batches() if b["status"] == "submitted"}

    def list_requests(self) -> int:
        return len(self.emu.requests_to("/rest/batches"))

    def pages_deadline(self, pages: int) -> Deadline:
        """A deadline on a clock that counts the batch-list pages the emulator served: a poll given it with
        `reserve=1.0` reads exactly `pages` pages, then stops as if its time were up."""
        return Deadline(self.list_requests() + pages + 0.5, clock=lambda: float(self.list_requests()))


# -- events --------------------------------------------------------------------------------------------


def event_file(name: str) -> dict[str, Any]:
    """events/<name>, parsed."""
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


def rows_of(count: int, start: int = 0) -> list[dict[str, Any]]:
    """`mapped` dicts for `Relay.add_batch`."""
    return [{"sku": f"S-{i:05d}", "name": f"Item {i}", "qty": str(i % 7)} for i in range(start, start + count)]


def is_iso_utc(value: Any) -> bool:
    if not isinstance(value, str) or not _ISO_UTC.match(value):
        return False
    offset = datetime.fromisoformat(value.replace("Z", "+00:00")).utcoffset()
    return offset is not None and offset.total_seconds() == 0


@functools.cache
def _shared_clients() -> Any:
    from flatfile_relay.aws import AwsClients

    return AwsClients()

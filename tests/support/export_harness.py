"""Test harness shared by the exporter, reader and consumer integration tests.

A `Relay` is template.yaml's resources in moto (over HTTP) plus the Flatfile emulator (over HTTP), wired
the way the exporter sees them in Lambda. The conftest.py of each of those test folders imports its fixtures.
"""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from flatfile_relay.credentials import Credentials
from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import ExportOutcome, export_batch
from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay.jobs import ExportJob
from flatfile_relay.layout import parse_s3_uri
from flatfile_relay.ledger import Ledger
from flatfile_relay.manifest import Manifest
from flatfile_relay.settings import Settings
from support.functions import ROOT


@dataclass
class Relay:
    """One deployment in moto plus one emulator."""

    emu: Any
    deployment: Any
    settings: Settings
    ledger: Ledger
    client: FlatfileClient

    @property
    def clients(self) -> Any:
        return self.deployment.clients

    @property
    def bucket(self) -> str:
        return self.settings.export_bucket

    def with_settings(self, **changes: Any) -> Relay:
        return dataclasses.replace(self, settings=dataclasses.replace(self.settings, **changes))

    def new_client(self, **options: Any) -> FlatfileClient:
        options.setdefault("backoff_base", 0.01)
        options.setdefault("backoff_cap", 0.05)
        return FlatfileClient(self.emu.url, Credentials.from_secret(self.emu.secret), timeout=5.0, **options)

    def export(
        self,
        batch_id: str,
        *,
        trigger: str = "schedule",
        resume: bool = False,
        deadline: Deadline | None = None,
        owner: str | None = None,
        client: FlatfileClient | None = None,
        reserve: float = 0.0,
    ) -> ExportOutcome:
        job = ExportJob.create(batch_id, trigger=trigger, resume=resume)
        return self.run_job(job, deadline=deadline, owner=owner, client=client, reserve=reserve)

    def run_job(self, job: ExportJob, *, deadline: Deadline | None = None, owner: str | None = None,
                client: FlatfileClient | None = None, reserve: float = 0.0) -> ExportOutcome:
        return export_batch(
            job, client or self.client, self.clients.s3, self.clients.sqs, self.ledger, self.settings,
            deadline or Deadline.never(), owner or f"test-{uuid.uuid4()}", reserve=reserve,
        )

    # -- what landed ---------------------------------------------------------------------------------

    def object_keys(self, prefix: str = "") -> list[str]:
        answer = self.clients.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for item in answer.get("Contents", []))

    def object_bytes(self, key: str) -> bytes:
        data: bytes = self.clients.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data

    def manifest(self, batch_id: str) -> Manifest:
        key = f"{self.settings.export_prefix}batches/{batch_id}/manifest.json"
        return Manifest.from_json(self.object_bytes(key))

    def manifest_dict(self, batch_id: str) -> dict[str, Any]:
        key = f"{self.settings.export_prefix}batches/{batch_id}/manifest.json"
        data: dict[str, Any] = json.loads(self.object_bytes(key))
        return data

    def part_rows(self, uri: str) -> list[dict[str, Any]]:
        bucket, key = parse_s3_uri(uri)
        assert bucket == self.bucket
        return [json.loads(line) for line in gzip.decompress(self.object_bytes(key)).splitlines()]

    def exported_rows(self, batch_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for part in self.manifest(batch_id).parts:
            rows.extend(self.part_rows(part.uri))
        return rows

    def api_rows(self, batch_id: str) -> list[dict[str, Any]]:
        """The rows as the rows endpoint returns them (over HTTP, one big page at a time)."""
        return list(self.new_client().iter_rows(batch_id, Deadline.never(), page_size=1000))

    def api_batch(self, batch_id: str) -> dict[str, Any]:
        return self.new_client().get_batch(batch_id, Deadline.never())

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Receive (and delete) every message on a queue."""
        sqs = self.clients.sqs
        messages: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                return messages
            for message in got:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            messages.extend(got)

    def notices(self) -> list[dict[str, Any]]:
        return self.drain(self.settings.notices_queue_url)

    def jobs(self) -> list[dict[str, Any]]:
        return self.drain(self.settings.export_jobs_queue_url)

    def add_batch(self, rows: list[dict[str, Any]], status: str | None = "submitted", *,
                  valid: Any = True, deleted: Any = False, **fields: Any) -> str:
        """A new batch in the emulator with these `mapped` rows; returns its id."""
        batch_id: str = self.emu.state.add_batch(status, **fields)["id"]
        if rows:
            self.emu.state.add_rows(batch_id, rows, valid=valid, deleted=deleted)
        return batch_id


def rows_of(count: int, start: int = 0) -> list[dict[str, Any]]:
    """`mapped` dicts for the emulator's add_rows."""
    return [{"sku": f"S-{i:05d}", "name": f"Item {i}", "qty": str(i % 7)} for i in range(start, start + count)]


def sqs_event(sample: str, bodies: list[str]) -> dict[str, Any]:
    """An SQS event built like events/<sample>, one record per body (message ids "m-0", "m-1", ...)."""
    template = json.loads((ROOT / "events" / sample).read_text())["Records"][0]
    records = []
    for index, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"m-{index}"
        record["body"] = body
        records.append(record)
    return {"Records": records}


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def relay(deployment: Any, emulator: Any) -> Iterator[Relay]:
    """The exporter's world: moto deployment + emulator, credentials in the secret, small parts."""
    base = deployment.settings("ExporterFunction")
    settings = dataclasses.replace(base, flatfile_base_url=emulator.url, part_max_rows=1000, page_size=200)
    deployment.clients.secretsmanager.put_secret_value(
        SecretId=settings.secret_id, SecretString=json.dumps(emulator.secret)
    )
    client = FlatfileClient(emulator.url, Credentials.from_secret(emulator.secret), timeout=5.0,
                            backoff_base=0.01, backoff_cap=0.05)
    yield Relay(
        emu=emulator, deployment=deployment, settings=settings,
        ledger=Ledger(settings.ledger_table, deployment.clients.dynamodb), client=client,
    )
    client.close()


@pytest.fixture
def captured_logs(capsys: pytest.CaptureFixture[str]) -> pytest.CaptureFixture[str]:
    """capsys: the functions' Powertools Logger writes to the current sys.stdout, so capsys sees it."""
    return capsys


@pytest.fixture
def function_env(
    relay: Relay, monkeypatch: pytest.MonkeyPatch, captured_logs: pytest.CaptureFixture[str]
) -> dict[str, str]:
    """The exporter's Lambda environment (template.yaml), pointed at the emulator, in os.environ."""
    env = relay.deployment.environment("ExporterFunction")
    env["FLATFILE_BASE_URL"] = relay.emu.url
    env["PART_MAX_ROWS"] = "100"
    env["FLATFILE_PAGE_SIZE"] = "50"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env

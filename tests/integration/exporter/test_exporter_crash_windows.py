"""The exporter's crash windows between two durable writes: each is recovered by the job's redelivery."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.relay import Relay

from flatfile_relay.aws import AwsClients
from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import EXPORTED as OUTCOME_EXPORTED
from flatfile_relay.exporter import export_batch
from flatfile_relay.jobs import ExportJob
from flatfile_relay.layout import parse_s3_uri
from flatfile_relay.ledger import EXPORTED, EXPORTING
from flatfile_relay.settings import Settings


@dataclasses.dataclass
class Exporter:
    relay: Relay
    settings: Settings
    clients: AwsClients  # the exporter's own S3 and SQS clients: faults injected there leave the test's alone

    def run(self, job: ExportJob, **kwargs: Any) -> Any:
        kwargs.setdefault("deadline", Deadline.never())
        deadline = kwargs.pop("deadline")
        return export_batch(job, self.relay.client, self.clients.s3, self.clients.sqs, self.relay.ledger,
                            self.settings, deadline, kwargs.pop("owner", "invocation"), **kwargs)

    def fail(self, client: Any, operation: str, when: Any = lambda params: True, times: int = 1) -> None:
        """Make the next `times` calls of `operation` (whose parameters satisfy `when`) fail like AWS would."""
        left = [times]

        def refuse(params: dict[str, Any], **_: Any) -> None:
            if left[0] > 0 and when(params):
                left[0] -= 1
                raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}, operation)

        service = client.meta.service_model.endpoint_prefix
        client.meta.events.register(f"before-parameter-build.{service}.{operation}", refuse)

    def rows(self, batch_id: str) -> list[dict[str, Any]]:
        key = f"{self.settings.export_prefix}batches/{batch_id}/manifest.json"
        s3 = self.relay.deployment.clients.s3
        manifest = json.loads(s3.get_object(Bucket=self.settings.export_bucket, Key=key)["Body"].read())
        rows = []
        for part in manifest["parts"]:
            bucket, part_key = parse_s3_uri(part["uri"])
            body = s3.get_object(Bucket=bucket, Key=part_key)["Body"].read()
            assert hashlib.sha256(body).hexdigest() == part["sha256"]
            rows.extend(json.loads(line) for line in gzip.decompress(body).splitlines())
        return rows

    def notices(self) -> list[Any]:
        sqs = self.relay.sqs
        got = sqs.receive_message(QueueUrl=self.settings.notices_queue_url, MaxNumberOfMessages=10)
        return got.get("Messages", [])


@pytest.fixture
def exporter(relay: Relay) -> Exporter:
    settings = dataclasses.replace(relay.deployment.settings("ExporterFunction"), flatfile_base_url=relay.emu.url,
                                   part_max_rows=100, page_size=200)
    return Exporter(relay, settings, AwsClients())


def test_the_continuation_job_failing_to_send_after_the_lease_release_is_recovered(exporter: Exporter) -> None:
    big = exporter.relay.emu.samples["big"]
    job = ExportJob.create(big, trigger="schedule")
    exporter.fail(exporter.clients.sqs, "SendMessage")

    with pytest.raises(ClientError):  # the job is not acknowledged: SQS delivers it again later
        exporter.run(job, deadline=Deadline.after(600), reserve=10_000)  # time is "short" after one page

    entry = exporter.relay.entry(big)
    assert entry.state == EXPORTING
    assert entry.lease_expires_at == 0  # nobody holds it: the redelivery claims it at once
    assert entry.next_skip == 200  # the two finished parts are kept
    exporter.relay.emu.clear_request_log()

    outcome = exporter.run(job, owner="redelivery")  # the same message, delivered again

    assert outcome.status == OUTCOME_EXPORTED
    skips = [r.query.get("skip") for r in exporter.relay.emu.requests_to(f"/rest/batch/{big}/rows")]
    assert skips[0] == "200"  # resumed after the finished parts
    assert [row["sequence"] for row in exporter.rows(big)] == list(range(len(exporter.relay.emu.state.rows(big))))
    assert len(exporter.notices()) == 1


def test_a_part_stored_but_not_recorded_is_written_again_identically(exporter: Exporter) -> None:
    medium = exporter.relay.emu.samples["medium"]
    job = ExportJob.create(medium, trigger="schedule")
    exporter.fail(exporter.relay.deployment.clients.dynamodb, "UpdateItem",  # the ledger's client
                  when=lambda params: "list_append" in params.get("UpdateExpression", ""))

    with pytest.raises(ClientError):
        exporter.run(job)
    s3 = exporter.relay.deployment.clients.s3
    first_key = f"{exporter.settings.export_prefix}batches/{medium}/"
    stored = {item["Key"]: item["ETag"] for item in
              s3.list_objects_v2(Bucket=exporter.settings.export_bucket, Prefix=first_key).get("Contents", [])}
    assert len(stored) == 1  # part 0 landed in S3, the ledger does not know it
    assert exporter.relay.entry(medium).next_skip == 0

    assert exporter.run(job, owner="redelivery").status == OUTCOME_EXPORTED

    after = {item["Key"]: item["ETag"] for item in
             s3.list_objects_v2(Bucket=exporter.settings.export_bucket, Prefix=first_key).get("Contents", [])}
    assert all(after[key] == etag for key, etag in stored.items())  # the same bytes at the same key
    assert [row["sequence"] for row in exporter.rows(medium)] == [
        row["sequence"] for row in exporter.relay.emu.state.rows(medium)
    ]
    assert exporter.relay.entry(medium).state == EXPORTED
    assert len(exporter.notices()) == 1

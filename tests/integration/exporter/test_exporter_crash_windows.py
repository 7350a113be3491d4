"""The exporter's crash windows between two durable writes: each is recovered by the job's redelivery."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from support.relay import Relay

from flatfile_relay.aws import AwsClients
from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import EXPORTED as OUTCOME_EXPORTED
from flatfile_relay.exporter import EventNotPublishedError, export_batch
from flatfile_relay.jobs import ExportJob
from flatfile_relay.layout import manifest_key, parse_s3_uri, rows_prefix
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
                            self.settings, deadline, kwargs.pop("owner", "invocation"),
                            events=self.clients.events, **kwargs)

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
        key = manifest_key(self.settings.export_prefix, batch_id)
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
    rows = rows_prefix(exporter.settings.export_prefix)
    stored = {item["Key"]: item["ETag"] for item in
              s3.list_objects_v2(Bucket=exporter.settings.export_bucket, Prefix=rows).get("Contents", [])
              if f"/{medium}/" in item["Key"]}
    assert len(stored) == 1  # part 0 landed in S3, the ledger does not know it
    assert exporter.relay.entry(medium).next_skip == 0

    assert exporter.run(job, owner="redelivery").status == OUTCOME_EXPORTED

    after = {item["Key"]: item["ETag"] for item in
             s3.list_objects_v2(Bucket=exporter.settings.export_bucket, Prefix=rows).get("Contents", [])}
    assert all(after[key] == etag for key, etag in stored.items())  # the same bytes at the same key
    assert [row["sequence"] for row in exporter.rows(medium)] == [
        row["sequence"] for row in exporter.relay.emu.state.rows(medium)
    ]
    assert exporter.relay.entry(medium).state == EXPORTED
    assert len(exporter.notices()) == 1


# -- after the rows: manifest, notice, event -----------------------------------------------------------------


def test_an_export_announces_itself_once_on_the_queue_and_once_on_the_bus(exporter: Exporter) -> None:
    small = exporter.relay.emu.samples["medium"]

    assert exporter.run(ExportJob.create(small, trigger="schedule")).status == OUTCOME_EXPORTED

    [message] = exporter.notices()
    [event] = exporter.relay.export_events()
    assert (event["source"], event["detail-type"]) == ("flatfile-relay", "flatfile.batch.exported")
    assert event["detail"] == json.loads(message["Body"])
    entry = exporter.relay.entry(small)
    assert entry.notice is not None
    assert json.loads(entry.notice) == event["detail"]
    assert entry.event_published_at is not None


def test_a_failed_publish_after_the_notice_is_retried_without_sending_the_notice_again(exporter: Exporter) -> None:
    medium = exporter.relay.emu.samples["medium"]
    job = ExportJob.create(medium, trigger="schedule")
    exporter.fail(exporter.clients.events, "PutEvents")

    with pytest.raises(ClientError, match="injected"):
        exporter.run(job)
    entry = exporter.relay.entry(medium)
    assert (entry.state, entry.notice is not None, entry.event_published_at) == (EXPORTING, True, None)
    first_manifest = exporter.relay.manifest_dict(medium)

    assert exporter.run(job, owner="redelivery").status == OUTCOME_EXPORTED

    [message] = exporter.notices()  # one notice in all
    [event] = exporter.relay.export_events()  # and one event, announcing the same export
    assert event["detail"] == json.loads(message["Body"])
    assert exporter.relay.manifest_dict(medium) == first_manifest  # not written again
    assert event["detail"]["exportedAt"] == first_manifest["exportedAt"]
    assert exporter.relay.entry(medium).state == EXPORTED


def test_an_event_eventbridge_refuses_fails_the_export_and_is_published_by_the_retry(exporter: Exporter) -> None:
    medium = exporter.relay.emu.samples["medium"]
    job = ExportJob.create(medium, trigger="schedule")

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        exporter.clients.events.meta.events.unregister("before-call.events.PutEvents", refuse)
        answer = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "busy"}]}
        return AWSResponse("https://events.invalid/", 200, {}, None), answer

    exporter.clients.events.meta.events.register("before-call.events.PutEvents", refuse)

    with pytest.raises(EventNotPublishedError, match="refused the export's event \\(InternalFailure\\)"):
        exporter.run(job)
    assert exporter.relay.export_events() == []

    assert exporter.run(job, owner="redelivery").status == OUTCOME_EXPORTED
    assert len(exporter.notices()) == 1
    assert len(exporter.relay.export_events()) == 1


@pytest.mark.parametrize("step", ["manifest", "notice"])
def test_no_event_is_published_before_the_manifest_and_the_notice(exporter: Exporter, step: str) -> None:
    medium = exporter.relay.emu.samples["medium"]
    job = ExportJob.create(medium, trigger="schedule")
    if step == "manifest":
        key = manifest_key(exporter.settings.export_prefix, medium)
        exporter.fail(exporter.clients.s3, "PutObject", when=lambda params: params["Key"] == key)
    else:
        exporter.fail(exporter.clients.sqs, "SendMessage",
                      when=lambda params: params["QueueUrl"] == exporter.settings.notices_queue_url)

    with pytest.raises(ClientError, match="injected"):
        exporter.run(job)
    assert exporter.relay.export_events() == []
    assert exporter.notices() == []

    assert exporter.run(job, owner="redelivery").status == OUTCOME_EXPORTED
    assert len(exporter.notices()) == 1
    assert len(exporter.relay.export_events()) == 1


def test_a_replay_with_fewer_parts_removes_the_parts_it_no_longer_lists(exporter: Exporter) -> None:
    relay = exporter.relay
    medium = relay.emu.samples["medium"]
    assert exporter.run(ExportJob.create(medium, trigger="schedule")).status == OUTCOME_EXPORTED
    folder = relay.rows_folder(medium)
    assert len(relay.object_keys(folder)) == 3  # 250 rows, 100 a part
    fewer = dataclasses.replace(exporter, settings=dataclasses.replace(exporter.settings, part_max_rows=1000))

    assert fewer.run(ExportJob.create(medium, trigger="replay"), owner="replay").status == OUTCOME_EXPORTED

    manifest = relay.manifest_dict(medium)
    assert [part["uri"] for part in manifest["parts"]] == [f"s3://{relay.bucket}/{folder}part-00000.jsonl.gz"]
    assert relay.object_keys(folder) == [f"{folder}part-00000.jsonl.gz"]
    assert len(fewer.rows(medium)) == 250
    assert [key for key in relay.object_keys() if "/manifests/" in key] == [manifest_key("flatfile/", medium)]

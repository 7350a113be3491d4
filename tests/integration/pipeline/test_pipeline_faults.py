"""AWS-side faults against the real pipeline: the handlers on moto over HTTP and the emulator over HTTP, with
faults injected into boto3 by botocore's event hooks (tests/support/faults.py), never into our code.

After each fault the pipeline recovers the way AWS drives it (SQS redelivers what was not acknowledged, the
schedule polls again, Flatfile retries a webhook) and `Pipeline.check` holds: each submitted batch has exactly
one manifest, notice and event, rows equal to the API's, parts matching the manifest, no stray part; and
`Pipeline.deliver` checks on every acknowledged job that its effect was durable first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from support.clock import Clock
from support.concurrency import at_once
from support.faults import Faults, Killed, Pipeline
from support.relay import Relay, rows_of

from flatfile_relay.aws import AwsClients
from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import (
    BUSY,
    EXPORTED,
    LEASE_LOST,
    NOT_SUBMITTED,
    UNBOUNDED_LEASE,
    ExportOutcome,
    export_batch,
)
from flatfile_relay.jobs import ExportJob, JobSendError
from flatfile_relay.ledger import EXPORTING, QUEUED, Ledger
from flatfile_relay.poller import PollReport, poll
from flatfile_relay.settings import Settings

PART_ROWS = 40
MANIFEST: dict[str, Any] = {"when": lambda params: "manifests/" in params["Key"]}
PART: dict[str, Any] = {"when": lambda params: "rows/" in params["Key"]}
NOTICE: dict[str, Any] = {"when": lambda params: "flatfile.batch.exported" in params["MessageBody"]}


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def pipeline(relay_factory: Callable[..., Relay], faults: Faults) -> Pipeline:
    """An emulator without the sample imports; parts of 40 rows read in pages of 25, batch-list pages of 5."""
    relay = relay_factory(env={"PART_MAX_ROWS": str(PART_ROWS), "FLATFILE_PAGE_SIZE": "25", "BATCH_PAGE_SIZE": "5"},
                          emulator={"samples": False})
    return Pipeline(relay, faults, Clock(1_900_000_000.0))


def submitted(pipeline: Pipeline, *sizes: int) -> list[str]:
    """New submitted batches with these row counts; returns every submitted batch id."""
    for size in sizes:
        pipeline.relay.add_batch(rows_of(size, start=size))
    return sorted(pipeline.relay.submitted_ids())


def polled(pipeline: Pipeline) -> dict[str, Any]:
    report = pipeline.poll()
    assert isinstance(report, dict), report
    return report


def exporter_settings(relay: Relay) -> Settings:
    """The exporter's settings for library calls: parts of 40 rows read in pages of 25."""
    return dataclasses.replace(relay.deployment.settings("ExporterFunction"), flatfile_base_url=relay.emu.url,
                               part_max_rows=PART_ROWS, page_size=25)


def export_job_of(pipeline: Pipeline, batch_id: str) -> Callable[[int], int]:
    """A `pick` for `Pipeline.deliver`: the job of that batch."""
    return lambda _: next(i for i, m in enumerate(pipeline.inbox) if json.loads(m["Body"])["batchId"] == batch_id)


# -- S3 -------------------------------------------------------------------------------------------------------


def test_a_failed_part_upload_fails_the_job_and_its_redelivery_resumes_after_the_finished_parts(
    pipeline: Pipeline, faults: Faults
) -> None:
    big = pipeline.relay.add_batch(rows_of(130))
    batches = submitted(pipeline)
    polled(pipeline)
    faults.fail("S3.PutObject", "InternalError", after=2, **PART)  # the third part of the batch
    pipeline.deliver(export_job_of(pipeline, big))
    entry = pipeline.relay.entry(big)
    assert (entry.state, entry.next_skip, len(entry.parts)) == (EXPORTING, 2 * PART_ROWS, 2)
    assert pipeline.relay.object_keys(f"{pipeline.relay.settings.export_prefix}manifests/{big}") == []
    assert big not in pipeline.acknowledged
    written = len(faults.keys())
    pipeline.deliver(export_job_of(pipeline, big))  # the redelivery: parts 2 and 3, then the manifest
    again = [key for key in faults.keys()[written:] if "/schemas/" not in key]  # a new shape's schema too
    assert [key.rsplit("/", 1)[-1] for key in again[:-1]] == ["part-00002.jsonl.gz", "part-00003.jsonl.gz"], again
    pipeline.drain()
    pipeline.check(batches)


def test_a_failed_manifest_upload_leaves_no_manifest_and_no_notice_until_the_retry(
    pipeline: Pipeline, faults: Faults
) -> None:
    batches = submitted(pipeline, 90)
    polled(pipeline)
    faults.fail("S3.PutObject", "InternalError", times=3, **MANIFEST)
    pipeline.drain()
    assert faults.log == ["fail S3.PutObject InternalError"] * 3
    pipeline.check(batches)


def test_slow_down_answers_are_retried_by_the_client(pipeline: Pipeline, faults: Faults) -> None:
    batches = submitted(pipeline, 90)
    polled(pipeline)
    faults.flaky("S3.PutObject", "SlowDown", times=3)
    pipeline.drain()
    assert sorted(pipeline.acknowledged) == batches  # each job succeeded at its first delivery
    pipeline.check(batches)


# -- SQS ------------------------------------------------------------------------------------------------------


def test_the_poller_marks_nothing_queued_when_sqs_refuses_its_jobs(pipeline: Pipeline, faults: Faults) -> None:
    batches = submitted(pipeline, 5)
    faults.fail("SQS.SendMessageBatch", "InternalError", times=None)
    assert isinstance(pipeline.poll(), JobSendError)
    assert not [b for b in batches if (e := pipeline.relay.ledger.get(b)) is not None and e.state == QUEUED]
    faults.clear()
    polled(pipeline)
    pipeline.drain()
    pipeline.check(batches)


def test_a_poll_that_fails_on_its_second_page_leaves_the_rest_to_the_next_poll(
    pipeline: Pipeline, faults: Faults
) -> None:
    """Batch-list pages of five: the first page's jobs go out, the second page's are refused; the checkpoint
    must not let the next poll skip what the failed one never queued."""
    batches = submitted(pipeline, *range(1, 13))
    faults.fail("SQS.SendMessageBatch", "InternalError", after=1, times=None)
    assert isinstance(pipeline.poll(), JobSendError)
    queued = [b for b in batches if (e := pipeline.relay.ledger.get(b)) is not None and e.state == QUEUED]
    assert 0 < len(queued) < len(batches)
    faults.clear()
    pipeline.drain()
    polled(pipeline)
    pipeline.drain()
    pipeline.check(batches)


def test_a_poller_killed_between_sending_jobs_and_marking_them_leaves_duplicates_the_exporter_absorbs(
    pipeline: Pipeline, faults: Faults
) -> None:
    batches = submitted(pipeline, 3, 4, 5)
    faults.kill("SQS.SendMessageBatch", after_call=True)
    assert isinstance(pipeline.poll(), BaseException)
    assert all(pipeline.relay.ledger.get(b) is None for b in batches)  # nothing marked queued
    polled(pipeline)  # sends the jobs again
    pipeline.drain()
    assert sorted(pipeline.acknowledged) == sorted(batches * 2)
    pipeline.check(batches)


def test_entries_sqs_refuses_in_a_batch_are_sent_again_or_left_unmarked(pipeline: Pipeline, faults: Faults) -> None:
    batches = submitted(pipeline, 5, 6, 7)
    # one batch always refused; in the first call, every other entry too (send_jobs sends those again)
    victim = batches[0]
    rule = faults.refuse_entries(
        "SQS.SendMessageBatch",
        lambda index, entry: victim in entry["MessageBody"] or (index % 2 == 1 and rule.hits == 1), times=None,
    )
    failure = pipeline.poll()
    assert isinstance(failure, JobSendError), failure
    assert [job.batch_id for job in failure.failed] == [victim]
    unsent = pipeline.relay.ledger.get(victim)
    assert unsent is None or unsent.state != QUEUED
    pipeline.drain()
    faults.clear()
    polled(pipeline)  # the next poll queues it
    pipeline.drain()
    pipeline.check(batches)


def test_a_webhook_whose_job_cannot_be_sent_answers_503_and_its_retry_exports(
    pipeline: Pipeline, faults: Faults
) -> None:
    batch_id = pipeline.relay.add_batch(rows_of(50))
    faults.fail("SQS.SendMessageBatch", "ServiceUnavailable")
    assert pipeline.webhook(batch_id) == 503
    unsent = pipeline.relay.ledger.get(batch_id)
    assert unsent is None or unsent.state != QUEUED
    assert pipeline.webhook(batch_id) == 202  # Flatfile retries
    pipeline.drain()
    pipeline.settle()
    pipeline.check(sorted(pipeline.relay.submitted_ids()))


@pytest.mark.parametrize("fault", ["payload not stored", "killed after the job was sent"])
@pytest.mark.filterwarnings("ignore:No application metrics")  # the killed invocation published none
def test_a_webhook_that_fails_midway_queues_at_most_a_job_the_exporter_absorbs(
    pipeline: Pipeline, faults: Faults, fault: str
) -> None:
    batch_id = pipeline.relay.add_batch(rows_of(20))
    if fault == "payload not stored":
        faults.fail("S3.PutObject", "InternalError")
        assert pipeline.webhook(batch_id) == 503
        assert pipeline.inbox == []
    else:
        faults.kill("SQS.SendMessageBatch", after_call=True)
        assert isinstance(pipeline.webhook(batch_id), Killed)
        assert len(pipeline.inbox) == 1
    assert pipeline.relay.ledger.get(batch_id) is None  # not marked queued
    assert pipeline.webhook(batch_id) == 202  # Flatfile retries
    pipeline.drain()
    pipeline.check([batch_id])


def test_a_notice_sqs_refuses_fails_the_job_and_the_retry_sends_exactly_one(pipeline: Pipeline, faults: Faults) -> None:
    batches = submitted(pipeline, 50)
    polled(pipeline)
    faults.fail("SQS.SendMessage", "InternalError", **NOTICE)
    pipeline.drain()
    assert faults.log == ["fail SQS.SendMessage InternalError"]
    pipeline.check(batches)


def test_a_notice_whose_answer_is_lost_is_sent_twice_at_most(pipeline: Pipeline, faults: Faults) -> None:
    """botocore resends a SendMessage whose answer timed out: SQS holds two copies (at least once)."""
    batch_id = pipeline.relay.add_batch(rows_of(50))
    batches = submitted(pipeline)
    polled(pipeline)
    faults.lose_answer("SQS.SendMessage", when=lambda p: NOTICE["when"](p) and batch_id in p["MessageBody"])
    pipeline.drain()
    pipeline.check(batches, repeated_notices={batch_id})
    assert len([n for n in pipeline.notices if n["batchId"] == batch_id]) == 2


# -- EventBridge ----------------------------------------------------------------------------------------------


def test_an_event_eventbridge_refuses_is_published_by_the_retry_without_a_second_notice(
    pipeline: Pipeline, faults: Faults
) -> None:
    batches = submitted(pipeline, 50, 10)
    polled(pipeline)
    faults.fail("EventBridge.PutEvents", "InternalException")  # an error answer, then a refused entry
    faults.refuse_entries("EventBridge.PutEvents", lambda *_: True, code="InternalFailure")
    pipeline.drain()
    assert faults.log == ["fail EventBridge.PutEvents InternalException",
                          "partial EventBridge.PutEvents InternalFailure"]
    pipeline.check(batches)


# -- DynamoDB -------------------------------------------------------------------------------------------------


def test_dynamodb_throttling_is_absorbed_by_retries(pipeline: Pipeline, faults: Faults) -> None:
    batches = submitted(pipeline, 90)
    faults.flaky("DynamoDB.UpdateItem", "ProvisionedThroughputExceededException", times=6)
    # every read of the ledger: the poller's checkpoint and the export's lag (its claim answers with the entry)
    faults.flaky("DynamoDB.GetItem", "ThrottlingException", times=2)
    faults.flaky("DynamoDB.BatchGetItem", "ThrottlingException", times=1)
    polled(pipeline)
    pipeline.drain()
    assert len(faults.log) == 9
    assert sorted(pipeline.acknowledged) == batches  # each job succeeded at its first delivery
    pipeline.check(batches)


def test_dynamodb_throttling_past_the_retries_fails_the_job_and_it_resumes(
    pipeline: Pipeline, faults: Faults
) -> None:
    batches = submitted(pipeline, 130)
    polled(pipeline)
    faults.fail("DynamoDB.UpdateItem", "ProvisionedThroughputExceededException", after=3, times=2)
    faults.fail("DynamoDB.BatchGetItem", "ThrottlingException", times=1)
    pipeline.drain()
    pipeline.settle()
    pipeline.check(batches)


def export_through_faults(pipeline: Pipeline, faults: Faults, batch_id: str) -> ExportOutcome:
    """One export of the batch, in this process, with AWS clients that carry the planned faults."""
    clients = faults.clients()
    return export_batch(
        ExportJob.create(batch_id, trigger="schedule"), pipeline.relay.client, clients.s3, clients.sqs,
        Ledger(pipeline.relay.settings.ledger_table, clients.dynamodb), exporter_settings(pipeline.relay),
        Deadline.never(), "owner", events=clients.events,
    )


def test_a_hand_back_whose_answer_is_lost_is_reported_as_a_hand_back(pipeline: Pipeline, faults: Faults) -> None:
    """A job for a batch still in progress: the exporter hands it back to the poller; the answer of that
    write is lost and botocore resends it. The resend fails its own condition (the lease is gone): it must
    read back its own write, not report the lease lost."""
    batch_id = pipeline.relay.add_batch(rows_of(10), status=None)
    faults.lose_answer("DynamoDB.UpdateItem", when=lambda p: ":pending" in p["ExpressionAttributeValues"]
                       and "leaseOwner" in p["UpdateExpression"] and "REMOVE" in p["UpdateExpression"])
    outcome = export_through_faults(pipeline, faults, batch_id)
    assert faults.log == ["lost DynamoDB.UpdateItem"]
    assert outcome.status == NOT_SUBMITTED
    entry = pipeline.relay.entry(batch_id)
    assert (entry.state, entry.lease_owner) == ("pending", None)


@pytest.mark.parametrize("write", ["claim", "part", "notice", "event", "exported"])
def test_a_ledger_write_whose_answer_is_lost_is_retried_safely(pipeline: Pipeline, faults: Faults, write: str) -> None:
    """The update lands, its answer is lost, botocore sends it again: the conditional write must neither fail
    its own condition into a wrong outcome nor apply twice."""
    marker = {"claim": "exportStartedAt", "part": "list_append", "notice": "noticeSentAt",
              "event": "eventPublishedAt", "exported": "manifestUri"}[write]
    batch_id = pipeline.relay.add_batch(rows_of(130))
    faults.lose_answer("DynamoDB.UpdateItem", when=lambda p: marker in p["UpdateExpression"])
    outcome = export_through_faults(pipeline, faults, batch_id)
    assert faults.log == ["lost DynamoDB.UpdateItem"]
    assert (outcome.status, outcome.row_count) == (EXPORTED, 130)
    entry = pipeline.relay.entry(batch_id)
    assert sum(part["rows"] for part in entry.parts) == entry.next_skip == 130
    assert len(entry.parts) == 4
    pipeline.check([batch_id])


def test_two_exporters_claiming_one_batch_make_one_export(pipeline: Pipeline, faults: Faults) -> None:
    """The second claim loses its condition while the first holds the lease (busy); a zombie whose lease was
    taken over loses its next ledger write and stops (lease-lost) without a second manifest or notice."""
    relay = pipeline.relay
    batch_id = relay.add_batch(rows_of(130))
    settings = exporter_settings(relay)
    clock = Clock(1_900_000_000.0)
    paused, resume = threading.Event(), threading.Event()
    zombie = Faults()

    def pause(**_: Any) -> None:
        paused.set()
        assert resume.wait(60)

    zombie_clients = zombie.clients()
    zombie_clients.s3.meta.events.register("before-call.s3.PutObject", pause)  # before its first part
    outcomes: dict[str, Any] = {}

    def run(name: str, clients: AwsClients) -> None:
        with contextlib.closing(relay.new_client()) as client:
            outcomes[name] = export_batch(
                ExportJob.create(batch_id, trigger="schedule"), client, clients.s3, clients.sqs,
                Ledger(settings.ledger_table, clients.dynamodb, clock=clock), settings, Deadline.never(), name,
                events=clients.events,
            )

    first = threading.Thread(target=run, args=("zombie", zombie_clients))
    first.start()
    assert paused.wait(30)
    run("rival", AwsClients())  # the lease is live: busy
    assert outcomes["rival"].status == BUSY
    clock.advance(UNBOUNDED_LEASE + 120)  # the zombie looks dead: its lease expires
    run("successor", AwsClients())
    assert outcomes["successor"].status == EXPORTED
    zombie_clients.s3.meta.events.unregister("before-call.s3.PutObject", pause)
    resume.set()
    first.join(30)
    assert outcomes["zombie"].status == LEASE_LOST
    pipeline.settle()  # a later poll finds it exported: no second export
    pipeline.check([batch_id])


# -- a process killed mid-export ------------------------------------------------------------------------------


def test_an_exporter_killed_after_two_parts_resumes_after_them_when_the_job_comes_back(
    pipeline: Pipeline, faults: Faults
) -> None:
    batch_id = pipeline.relay.add_batch(rows_of(170))
    batches = submitted(pipeline)
    polled(pipeline)
    faults.kill("DynamoDB.UpdateItem", after=2, when=lambda p: "list_append" in p["UpdateExpression"]
                and p["Key"]["batchId"]["S"] == batch_id)  # dies writing the ledger record of its third part
    pipeline.deliver(export_job_of(pipeline, batch_id))
    assert faults.log == ["kill DynamoDB.UpdateItem"]
    entry = pipeline.relay.entry(batch_id)
    assert (entry.state, entry.next_skip, entry.lease_owner is not None) == (EXPORTING, 2 * PART_ROWS, True)
    before = len(faults.keys())
    pipeline.deliver(export_job_of(pipeline, batch_id))  # after the visibility timeout (the lease expired too)
    names = [key.rsplit("/", 1)[-1] for key in faults.keys()[before:] if "/schemas/" not in key]
    assert names == ["part-00002.jsonl.gz", "part-00003.jsonl.gz", "part-00004.jsonl.gz", f"{batch_id}.json"]
    pipeline.drain()
    pipeline.check(batches)


@pytest.mark.parametrize("moment", ["after the manifest", "after the notice", "after the event", "at the end"])
def test_an_exporter_killed_while_announcing_makes_one_manifest_and_at_most_one_more_notice(
    pipeline: Pipeline, faults: Faults, moment: str
) -> None:
    batch_id = pipeline.relay.add_batch(rows_of(50))
    batches = submitted(pipeline)
    polled(pipeline)
    ops = {"after the manifest": ("S3.PutObject", MANIFEST["when"]),
           "after the notice": ("SQS.SendMessage", NOTICE["when"]),
           "after the event": ("EventBridge.PutEvents", None),
           "at the end": ("DynamoDB.UpdateItem", lambda p: "manifestUri" in p["UpdateExpression"])}
    operation, when = ops[moment]
    faults.kill(operation, after_call=True, when=when)
    pipeline.drain()
    assert len(faults.log) == 1
    repeated = {batch_id} if moment in ("after the notice", "after the event") else set()
    pipeline.check(batches, repeated_notices=repeated)


def wait(barrier: threading.Barrier) -> None:
    """A hook that returns nothing (botocore would take a returned value as the answer)."""
    barrier.wait()


# -- two pollers ----------------------------------------------------------------------------------------------


def test_two_pollers_at_once_queue_every_batch_and_the_exports_converge(pipeline: Pipeline) -> None:
    relay = pipeline.relay
    batches = submitted(pipeline, *range(1, 13))
    both_decided = threading.Barrier(2, timeout=30)

    def poller() -> PollReport:
        clients = AwsClients()
        clients.sqs.meta.events.register("before-call.sqs.SendMessageBatch", lambda **_: wait(both_decided))
        ledger = Ledger(relay.settings.ledger_table, clients.dynamodb)
        with contextlib.closing(relay.new_client()) as client:
            return poll(client, ledger, clients.sqs, relay.settings, Deadline.never())

    reports: list[Any] = at_once(poller)
    assert all(not isinstance(report, BaseException) for report in reports), reports
    assert set(reports[0].jobs_sent) | set(reports[1].jobs_sent) == set(batches)
    pipeline.drain()
    pipeline.check(batches)

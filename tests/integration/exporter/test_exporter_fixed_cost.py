"""The fixed cost of a legacy export: the job's batch snapshot, the batch read made together with the first row
pages, and the ledger writes one export makes (the emulator over HTTP and moto count them)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.relay import Relay, rows_of

from flatfile_relay.aws import AwsClients
from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import EXPORTED, NOT_FOUND, NOT_SUBMITTED, export_batch
from flatfile_relay.jobs import BatchSnapshot, ExportJob
from flatfile_relay.ledger import Ledger
from flatfile_relay_devkit.emulator import FaultRule

PAGE = 10
#: the emulator's answer time in the tests of what is asked together: requests made together arrive well
#: within it of each other, requests made one after the other at least that far apart
LATENCY = 0.3


def snapshot_job(relay: Relay, batch_id: str, trigger: str = "schedule", **changes: Any) -> ExportJob:
    """The job the poll queues for the batch: with what the API lists of it (`changes` altered)."""
    listed = {**relay.api_batch(batch_id), **changes}
    relay.emu.clear_request_log()
    return ExportJob.create(batch_id, trigger=trigger, batch=BatchSnapshot.of_batch(listed))


def batch_requests(relay: Relay, batch_id: str) -> list[Any]:
    """The batch's Flatfile requests (its read and its row pages), in arrival order."""
    return relay.emu.requests_to(f"/rest/batch/{batch_id}")


def arrivals(relay: Relay, batch_id: str) -> list[float]:
    """When each of the batch's requests arrived, from the first one."""
    moments = [record.at for record in batch_requests(relay, batch_id)]
    return [moment - moments[0] for moment in moments]


def nothing_published(relay: Relay, batch_id: str) -> bool:
    """No notice, no event, no object of the batch (row part or manifest)."""
    return (relay.notices() == [] and relay.export_events() == []
            and [key for key in relay.object_keys() if batch_id in key] == [])


@pytest.fixture
def relay(export_relay: Relay) -> Relay:
    return export_relay.with_settings(page_size=PAGE, part_max_rows=1000)


def test_a_one_page_batch_with_a_snapshot_costs_two_requests_made_together(relay: Relay) -> None:
    batch_id = relay.add_batch(rows_of(7))
    job = snapshot_job(relay, batch_id)
    relay.emu.set(latency=LATENCY)

    outcome = relay.run_job(job, client=relay.new_client(row_prefetch=4))

    asked, moments = batch_requests(relay, batch_id), arrivals(relay, batch_id)
    assert (outcome.status, outcome.row_count) == (EXPORTED, 7)
    assert sorted(record.path for record in asked) == [f"/rest/batch/{batch_id}", f"/rest/batch/{batch_id}/rows"]
    assert max(moments) < LATENCY / 2  # the row page did not wait for the batch read
    assert relay.exported_rows(batch_id) == relay.api_rows(batch_id)


def test_a_snapshot_asks_for_every_page_of_the_first_round_with_the_batch_read(relay: Relay) -> None:
    batch_id = relay.add_batch(rows_of(25))
    job = snapshot_job(relay, batch_id)
    relay.emu.set(latency=LATENCY)

    outcome = relay.run_job(job, client=relay.new_client(row_prefetch=4))

    asked, moments = batch_requests(relay, batch_id), arrivals(relay, batch_id)
    assert (outcome.status, outcome.row_count) == (EXPORTED, 25)
    assert len(asked) == 1 + 3
    assert max(moments) < LATENCY / 2  # the batch and the three pages at once
    assert relay.exported_rows(batch_id) == relay.api_rows(batch_id)


def test_a_job_without_a_snapshot_reads_the_batch_with_the_first_page_then_the_rest(relay: Relay) -> None:
    """A job queued before the snapshot existed (or a replay) still exports: the batch read and the first row page
    go together; the pages after it wait for the first one's `totalCount`."""
    batch_id = relay.add_batch(rows_of(25))
    relay.emu.set(latency=LATENCY)

    old_job = json.dumps({"type": "flatfile.export.job", "schemaVersion": 1, "batchId": batch_id})
    outcome = relay.run_job(ExportJob.from_message(old_job), client=relay.new_client(row_prefetch=4))

    asked, moments = batch_requests(relay, batch_id), arrivals(relay, batch_id)
    assert (outcome.status, outcome.row_count) == (EXPORTED, 25)
    assert len(asked) == 1 + 3
    assert {record.path.rsplit("/", 1)[1] for record in asked[:2]} == {batch_id, "rows"}
    assert moments[1] < LATENCY / 2  # the batch read and the first row page together
    assert moments[2] >= LATENCY * 0.9  # the rest after the first page's answer
    assert relay.exported_rows(batch_id) == relay.api_rows(batch_id)


def test_a_snapshot_that_says_submitted_of_a_batch_that_is_not_exports_nothing(relay: Relay) -> None:
    batch_id = relay.add_batch(rows_of(25), status=None)  # still in progress
    job = snapshot_job(relay, batch_id, status="submitted")

    outcome = relay.run_job(job, client=relay.new_client(row_prefetch=4))

    assert outcome.status == NOT_SUBMITTED
    assert nothing_published(relay, batch_id)
    entry = relay.entry(batch_id)
    assert (entry.state, entry.batch_status, entry.parts, entry.lease_owner) == ("pending", None, (), None)


def test_a_snapshot_of_a_batch_flatfile_does_not_know_exports_nothing(relay: Relay) -> None:
    batch_id = relay.add_batch(rows_of(5))
    job = snapshot_job(relay, batch_id)
    relay.emu.state.remove_batch(batch_id)

    outcome = relay.run_job(job, client=relay.new_client(row_prefetch=4))

    assert outcome.status == NOT_FOUND
    assert nothing_published(relay, batch_id)
    assert relay.entry(batch_id).state == "pending"


@pytest.mark.parametrize("count_rows", [0, 5, 24, 26, 100])
def test_a_snapshot_with_a_wrong_row_count_still_exports_every_row_once(relay: Relay, count_rows: int) -> None:
    batch_id = relay.add_batch(rows_of(25))
    job = snapshot_job(relay, batch_id, countRows=count_rows)

    outcome = relay.run_job(job, client=relay.new_client(row_prefetch=4))

    answered = sorted(int(r.query["skip"]) for r in relay.emu.requests_to(f"/rest/batch/{batch_id}/rows"))
    assert (outcome.status, outcome.row_count) == (EXPORTED, 25)
    assert answered[:3] == [0, 10, 20]  # every page once; a count too high costs the pages guessed past the end
    assert len(answered) <= 3 + max(0, -(-(count_rows - 25) // PAGE))
    assert relay.exported_rows(batch_id) == relay.api_rows(batch_id)


def test_a_continuation_carries_the_snapshot_and_reads_on_after_the_finished_parts(relay: Relay) -> None:
    relay = relay.with_settings(part_max_rows=10)
    batch_id = relay.add_batch(rows_of(60))
    job = snapshot_job(relay, batch_id)
    # the third page is slow: by the time it arrives, less than the reserve is left
    relay.emu.inject(FaultRule(kind="slow", path=f"/rest/batch/{batch_id}/rows", after=2, count=1, delay=1.0))
    first = relay.run_job(job, deadline=Deadline.after(2.0), reserve=1.2, client=relay.new_client(row_prefetch=1))
    assert first.status == "continued"
    [message] = relay.jobs()
    continuation = ExportJob.from_message(message["Body"])
    assert (continuation.resume, continuation.batch) == (True, job.batch)
    relay.emu.clear_request_log()

    outcome = relay.run_job(continuation, client=relay.new_client(row_prefetch=4))

    assert (outcome.status, outcome.row_count) == (EXPORTED, 60)
    assert [row["sequence"] for row in relay.exported_rows(batch_id)] == list(range(60))
    skips = sorted(int(r.query["skip"]) for r in relay.emu.requests_to(f"/rest/batch/{batch_id}/rows"))
    assert skips == list(range(first.rows_written, 60, PAGE))  # on after the parts, none twice
    assert len(relay.notices()) == 1


# -- the ledger ---------------------------------------------------------------------------------------------


def ledger_calls(relay: Relay, job: ExportJob) -> Counter[str]:
    """Export `job` with a ledger of its own DynamoDB client, and count that client's calls."""
    clients = AwsClients()
    calls: Counter[str] = Counter()
    clients.dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    outcome = export_batch(job, relay.client, relay.clients.s3, relay.sqs, Ledger(relay.settings.ledger_table,
                           clients.dynamodb), relay.settings, Deadline.never(), "one", events=relay.clients.events)
    assert outcome.status == EXPORTED
    return calls


def test_a_one_part_export_makes_three_ledger_writes_and_one_schema_read(relay: Relay) -> None:
    """Claim (the write answers with the entry), the part, and the end (notice, event and exported at once); besides,
    the template's last schema is read (`flatfile_relay.schema_drift`), and recorded when it is new."""
    first, batch_id = relay.add_batch(rows_of(7)), relay.add_batch(rows_of(7))

    calls = ledger_calls(relay, snapshot_job(relay, first, trigger="webhook"))
    again = ledger_calls(relay, snapshot_job(relay, batch_id, trigger="webhook"))

    assert calls == Counter({"UpdateItem": 4, "GetItem": 1})  # the template's first schema: read, then recorded
    assert again == Counter({"UpdateItem": 3, "GetItem": 1})  # the same template's schema again: read only
    entry = relay.entry(batch_id)
    assert entry.state == "exported"
    assert entry.notice is not None
    assert entry.event_published_at is not None
    assert entry.extra.get("noticeSentAt") is not None


def test_a_replay_of_an_exported_batch_claims_it_without_a_read(relay: Relay) -> None:
    batch_id = relay.add_batch(rows_of(7))
    relay.export(batch_id)

    calls = ledger_calls(relay, ExportJob.create(batch_id, trigger="replay"))

    # the claim refused (the entry comes with the refusal), the restart, the part, the end; the schema read
    assert calls == Counter({"UpdateItem": 4, "GetItem": 1})
    assert len(relay.notices()) == 2


def test_a_retry_after_the_notice_reads_the_batch_and_no_row(relay: Relay) -> None:
    """EventBridge refuses the event: the notice is recorded on the way out, and the retry only reads the batch and
    publishes the event."""
    batch_id = relay.add_batch(rows_of(25))
    job = snapshot_job(relay, batch_id)
    events = AwsClients().events

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalException", "Message": "injected"}}, "PutEvents")

    events.meta.events.register("before-call.events.PutEvents", refuse)
    with pytest.raises(ClientError, match="injected"):
        export_batch(job, relay.client, relay.clients.s3, relay.sqs, relay.ledger, relay.settings, Deadline.never(),
                     "first", events=events)
    entry = relay.entry(batch_id)
    assert (entry.state, entry.notice is not None, entry.event_published_at) == ("exporting", True, None)
    relay.emu.clear_request_log()

    outcome = relay.run_job(job, owner="redelivery")

    assert outcome.status == EXPORTED
    assert [record.path for record in batch_requests(relay, batch_id)] == [f"/rest/batch/{batch_id}"]
    assert len(relay.notices()) == 1
    assert len(relay.export_events()) == 1

"""Crashes, deadlines, duplicates, replays: the exporter is safe to run again and never duplicates rows."""

from __future__ import annotations

import json
import uuid

import pytest
from support.relay import Relay, rows_of

from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import ExportStalledError
from flatfile_relay.flatfile import ContractError, RetriesExhaustedError
from flatfile_relay.jobs import ExportJob
from flatfile_relay.ledger import EXPORTED, EXPORTING, PENDING
from flatfile_relay_devkit.emulator import FaultRule


def rows_requests(relay: Relay, batch_id: str) -> list[int]:
    """The `skip` of every rows request the emulator answered, in order."""
    return [
        int(record.query.get("skip", 0))
        for record in relay.emu.requests_to(f"/rest/batch/{batch_id}/rows")
        if record.status == 200
    ]


@pytest.mark.parametrize("fault", ["500", "drop"])
def test_a_crash_between_parts_leaves_no_manifest_and_a_rerun_resumes_after_the_last_part(
    relay: Relay, fault: str
) -> None:
    relay = relay.with_settings(part_max_rows=10, page_size=10)
    batch_id = relay.add_batch(rows_of(47))
    relay.emu.inject(FaultRule(kind=fault, path=f"/rest/batch/{batch_id}/rows", after=2, count=None))
    fragile = relay.new_client(max_attempts=1)

    with pytest.raises(RetriesExhaustedError):
        relay.export(batch_id, client=fragile, owner="first-run")

    prefix = relay.rows_folder(batch_id)
    assert relay.object_keys() == [prefix + "part-00000.jsonl.gz", prefix + "part-00001.jsonl.gz"]
    assert relay.notices() == []
    entry = relay.ledger.get(batch_id)
    assert entry is not None
    assert entry.state == EXPORTING
    assert entry.next_skip == 20
    assert len(entry.parts) == 2
    assert entry.lease_expires_at == 0  # given up: the retry need not wait for the lease to expire
    first_parts = {key: relay.object_bytes(key) for key in relay.object_keys()}

    relay.emu.clear_faults()
    relay.emu.clear_request_log()
    outcome = relay.export(batch_id, owner="second-run")

    assert outcome.status == "exported"
    assert (outcome.rows_written, outcome.parts_written, outcome.row_count) == (27, 3, 47)
    assert rows_requests(relay, batch_id) == [20, 30, 40]
    assert relay.object_keys("flatfile/manifests/") + relay.object_keys("flatfile/rows/") == [
        f"flatfile/manifests/{batch_id}.json", *(prefix + f"part-{i:05d}.jsonl.gz" for i in range(5))]
    for key, data in first_parts.items():
        assert relay.object_bytes(key) == data
    rows = relay.exported_rows(batch_id)
    assert [row["sequence"] for row in rows] == list(range(47))
    assert [row["mapped"]["sku"] for row in rows] == [f"S-{i:05d}" for i in range(47)]
    assert len(relay.notices()) == 1


def test_a_short_deadline_sends_a_continuation_that_finishes_the_export(relay: Relay) -> None:
    relay = relay.with_settings(part_max_rows=10, page_size=10)
    batch_id = relay.add_batch(rows_of(60))
    # the third page is slow: by the time it arrives, less than the reserve is left
    relay.emu.inject(FaultRule(kind="slow", path=f"/rest/batch/{batch_id}/rows", after=2, count=1, delay=1.0))

    outcome = relay.export(batch_id, deadline=Deadline.after(2.0), reserve=1.2)

    assert outcome.status == "continued"
    assert 1 <= outcome.parts_written <= 3
    assert not any("/manifests/" in key for key in relay.object_keys())
    assert relay.notices() == []
    [message] = relay.jobs()
    job = ExportJob.from_message(message["Body"])
    assert (job.batch_id, job.trigger, job.resume) == (batch_id, "schedule", True)
    entry = relay.ledger.get(batch_id)
    assert entry is not None
    assert entry.state == EXPORTING
    assert entry.lease_expires_at == 0
    done = entry.next_skip
    assert done == 10 * outcome.parts_written

    relay.emu.clear_request_log()
    final = relay.run_job(job)

    assert final.status == "exported"
    assert final.row_count == 60
    assert rows_requests(relay, batch_id)[0] == done
    rows = relay.exported_rows(batch_id)
    assert [row["sequence"] for row in rows] == list(range(60))
    assert len(relay.manifest(batch_id).parts) == 6
    assert len(relay.notices()) == 1
    assert relay.jobs() == []


def test_no_time_for_a_single_part_fails_instead_of_looping(relay: Relay) -> None:
    batch_id = relay.emu.samples["single"]

    with pytest.raises(ExportStalledError, match="PART_MAX_ROWS"):
        relay.export(batch_id, deadline=Deadline.after(0))

    assert relay.jobs() == []
    entry = relay.ledger.get(batch_id)
    assert entry is not None
    assert entry.lease_expires_at == 0
    assert relay.export(batch_id).status == "exported"


def test_the_same_job_delivered_twice_exports_once(relay: Relay) -> None:
    batch_id = relay.emu.samples["medium"]
    job = ExportJob.create(batch_id, trigger="schedule")

    first = relay.run_job(job, owner="delivery-1")
    second = relay.run_job(job, owner="delivery-2")

    assert (first.status, second.status) == ("exported", "skipped")
    assert len(relay.notices()) == 1
    assert len([key for key in relay.object_keys() if key.startswith("flatfile/manifests/")]) == 1


def test_a_batch_under_a_live_lease_is_left_to_its_holder(relay: Relay) -> None:
    batch_id = relay.emu.samples["single"]
    relay.ledger.claim(batch_id, owner="someone-else", lease_seconds=600, trigger="schedule")
    relay.emu.clear_request_log()

    outcome = relay.export(batch_id, trigger="webhook")

    assert outcome.status == "busy"
    assert relay.object_keys() == []
    assert relay.notices() == []
    assert relay.emu.request_log == []
    entry = relay.ledger.get(batch_id)
    assert entry is not None
    assert entry.lease_owner == "someone-else"


def test_a_replay_exports_an_exported_batch_again(relay: Relay) -> None:
    relay = relay.with_settings(part_max_rows=100)
    batch_id = relay.emu.samples["medium"]
    assert relay.export(batch_id).status == "exported"
    before = relay.manifest(batch_id)
    assert relay.export(batch_id, trigger="webhook").status == "skipped"

    outcome = relay.export(batch_id, trigger="replay")

    assert outcome.status == "exported"
    assert outcome.rows_written == 250
    after = relay.manifest(batch_id)
    assert after.trigger == "replay"
    assert after.parts == before.parts  # same keys, and the same bytes: the gzip is deterministic
    notices = [json.loads(m["Body"]) for m in relay.notices()]
    assert [n["trigger"] for n in notices] == ["schedule", "replay"]
    # a continuation of a replay does not restart a finished export
    assert relay.export(batch_id, trigger="replay", resume=True).status == "skipped"


def test_a_batch_not_submitted_goes_back_to_pending(relay: Relay) -> None:
    batch_id = relay.emu.samples["in_progress"]
    relay.ledger.mark_queued(batch_id, created_at="2021-03-01T20:22:52.000Z", trigger="webhook")

    outcome = relay.export(batch_id, trigger="webhook")

    assert outcome.status == "not-submitted"
    entry = relay.ledger.get(batch_id)
    assert entry is not None
    assert entry.state == PENDING
    assert entry.lease_owner is None
    assert batch_id in [pending.batch_id for pending in relay.ledger.pending()]
    assert relay.object_keys() == []
    assert relay.notices() == []

    cancelled = relay.emu.samples["cancelled"]
    assert relay.export(cancelled).status == "not-submitted"
    entry = relay.ledger.get(cancelled)
    assert entry is not None
    assert entry.batch_status == "cancelled"


def test_an_unknown_batch_goes_back_to_the_poller(relay: Relay) -> None:
    batch_id = str(uuid.uuid4())

    outcome = relay.export(batch_id)

    assert outcome.status == "not-found"
    entry = relay.ledger.get(batch_id)
    assert entry is not None
    assert entry.state == PENDING


def test_a_row_repeated_at_a_page_boundary_stops_the_export(relay: Relay) -> None:
    relay = relay.with_settings(part_max_rows=100, page_size=10)
    batch_id = relay.add_batch(rows_of(20))
    stored = relay.emu.state.rows(batch_id)
    stored[10]["sequence"] = stored[9]["sequence"]  # the server repeats a row across pages

    with pytest.raises(ContractError, match="sequence 9 again"):
        relay.export(batch_id)

    assert relay.object_keys() == []
    assert relay.notices() == []
    entry = relay.ledger.get(batch_id)
    assert entry is not None
    assert entry.state == EXPORTING
    assert entry.lease_expires_at == 0


def test_the_exporter_exports_what_it_is_asked_whatever_export_since_says(relay: Relay) -> None:
    """Which batches are in scope is the triggers' decision (the poller's first copy, the ledger's `ignored`);
    a job for an old batch submitted late must not be dropped by the exporter."""
    batch_id = relay.emu.samples["old"]
    created = relay.api_batch(batch_id)["createdAt"]
    from flatfile_relay.timestamps import parse_timestamp

    late = relay.with_settings(export_since=parse_timestamp(created).replace(year=2100))

    assert late.export(batch_id, trigger="webhook").status == "exported"
    entry = late.ledger.get(batch_id)
    assert entry is not None
    assert entry.state == EXPORTED


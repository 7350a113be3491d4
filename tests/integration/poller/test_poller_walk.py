"""The poller against the emulator over HTTP and moto over HTTP: what it queues, records and requests."""

from __future__ import annotations

import contextlib
import math
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.concurrency import at_once
from support.relay import PAGE, Relay

from flatfile_relay.deadline import Deadline
from flatfile_relay.jobs import BatchSnapshot
from flatfile_relay.ledger import CLOSED, IGNORED, PENDING, QUEUED
from flatfile_relay.poller import PollReport
from flatfile_relay.timestamps import parse_timestamp

pytestmark = pytest.mark.usefixtures("relay")


def test_first_poll_queues_every_submitted_batch_and_nothing_else(relay: Relay) -> None:
    emu = relay.emu
    report = relay.poll()

    submitted = relay.submitted_ids()
    assert len(submitted) == 10
    assert sorted(report.jobs_sent) == sorted(submitted)
    jobs = relay.drain_jobs()
    assert sorted(job.batch_id for job in jobs) == sorted(submitted)
    assert {job.trigger for job in jobs} == {"schedule"}
    assert not any(job.resume for job in jobs)
    for job in jobs:  # what the list said of each batch: the exporter starts with its rows
        listed = emu.state.batch(job.batch_id)
        assert job.batch == BatchSnapshot(status="submitted", count_rows=listed["countRows"],
                                          filename=listed["filename"], submitted_at=listed["submittedAt"])
    for batch_id in submitted:
        entry = relay.entry(batch_id)
        assert entry.state == QUEUED
        assert entry.batch_created_at == emu.state.batch(batch_id)["createdAt"]
    assert relay.entry(emu.samples["in_progress"]).state == PENDING
    assert relay.entry(emu.samples["cancelled"]).state == CLOSED
    failed = relay.entry(emu.samples["failed"])
    assert (failed.state, failed.batch_status) == (CLOSED, "failed")
    assert relay.ledger.get(emu.samples["foreign"]) is None  # another license's batch is never listed
    assert [e.batch_id for e in relay.ledger.pending()] == [emu.samples["in_progress"]]
    assert report.complete
    assert report.full_walk
    assert report.reached_end
    assert (report.batches_seen, report.pending, report.closed) == (13, 1, 2)
    checkpoint = relay.ledger.checkpoint()
    assert checkpoint.baseline_completed_at == checkpoint.last_full_walk_at


def test_second_poll_queues_nothing(relay: Relay) -> None:
    relay.poll()
    relay.drain_jobs()
    report = relay.poll()
    assert report.jobs_sent == []
    assert relay.drain_jobs() == []
    assert report.complete
    assert not report.full_walk


def test_new_batches_are_picked_up(relay: Relay) -> None:
    relay.poll()
    relay.drain_jobs()
    new = relay.emu.state.add_batch("submitted", [{"sku": "NEW-1"}])["id"]
    started = relay.emu.state.add_batch(None)["id"]

    report = relay.poll()

    assert report.jobs_sent == [new]
    assert [job.batch_id for job in relay.drain_jobs()] == [new]
    assert relay.entry(started).state == PENDING
    relay.emu.state.set_status(started, "cancelled")
    assert relay.poll().jobs_sent == []
    assert relay.entry(started).state == CLOSED


def test_late_submission_deep_in_the_list_is_found_by_the_pending_recheck(relay: Relay) -> None:
    relay.add_batches(3 * PAGE)  # newer than every sample: the in-progress sample sits on page 4
    first = relay.poll()
    assert first.pages == math.ceil(len(relay.emu.state.account_batches()) / PAGE)
    relay.drain_jobs()
    in_progress = relay.emu.samples["in_progress"]
    relay.emu.state.set_status(in_progress, "submitted")
    relay.emu.clear_request_log()

    report = relay.poll()

    assert report.early_stop
    assert report.pages == 1
    assert relay.list_requests() == 1
    assert report.rechecked == 1
    assert report.jobs_sent == [in_progress]
    assert [job.batch_id for job in relay.drain_jobs()] == [in_progress]
    assert relay.entry(in_progress).state == QUEUED
    assert list(relay.ledger.pending()) == []


def test_pending_batches_of_any_age_are_rechecked_youngest_first(relay: Relay) -> None:
    """No age limit: a batch seen in progress 30 days after it was created is re-checked like a new one; those
    created within LOOKBACK_HOURS go first, youngest first, then the least recently checked."""
    now = datetime.now(UTC)
    relay.add_batches(2 * PAGE)
    old_pending = relay.emu.state.add_batch(None, created_at=now - timedelta(days=30))["id"]
    young = relay.emu.samples["in_progress"]
    relay.poll()
    relay.drain_jobs()
    assert relay.entry(old_pending).state == PENDING
    relay.emu.state.set_status(old_pending, "submitted")
    relay.configure(row_prefetch=1)  # one request at a time: the emulator logs them in the poller's order
    relay.emu.clear_request_log()

    report = relay.poll(now=now + timedelta(minutes=5))

    assert report.early_stop
    assert report.rechecked == 2
    assert [r.path.rsplit("/", 1)[1] for r in relay.emu.requests_to("/rest/batch/")] == [young, old_pending]
    assert report.jobs_sent == [old_pending]
    assert relay.entry(young).checked_at is not None


def test_export_since_ignores_older_batches(relay: Relay) -> None:
    emu = relay.emu
    medium = emu.state.sample("medium")
    since = parse_timestamp(medium["createdAt"]) + timedelta(seconds=1)
    older = {emu.samples[label] for label in ("old", "late_submitted", "big", "medium")}
    relay.configure(export_since=since)

    report = relay.poll()

    assert sorted(report.jobs_sent) == sorted(relay.submitted_ids() - older)
    assert report.ignored == len(older)
    for batch_id in older:
        assert relay.entry(batch_id).state == IGNORED
    assert relay.poll().jobs_sent == []


def test_export_since_limits_only_the_first_copy(relay: Relay) -> None:
    """An old batch still in progress at the first poll is exported once submitted: "later polls export
    batches submitted since, including old batches submitted late"."""
    emu = relay.emu
    since = datetime.now(UTC) + timedelta(days=1)  # every sample batch is older
    in_progress = emu.samples["in_progress"]
    relay.configure(export_since=since)

    first = relay.poll()
    assert first.jobs_sent == []
    assert relay.entry(in_progress).state == PENDING

    emu.state.set_status(in_progress, "submitted")
    assert relay.poll().jobs_sent == [in_progress]
    assert relay.poll().jobs_sent == []  # the ignored ones stay ignored


@pytest.mark.parametrize(
    ("order", "max_take"), [("newest", 1000), ("random", 1000), ("oldest", 1000), ("oldest", 1)]
)
def test_an_idle_poll_stops_early_only_when_the_order_allows_it(relay: Relay, order: str,
                                                                 max_take: int) -> None:
    relay.add_batches(3 * PAGE if max_take > 1 else 0)
    relay.poll()
    relay.drain_jobs()
    relay.emu.set(order=order, max_take=max_take)
    relay.emu.clear_request_log()

    report = relay.poll()

    total = len(relay.emu.state.account_batches())
    if order == "newest":
        assert relay.list_requests() == 1
        assert report.early_stop
        assert not report.reached_end
    else:
        # the whole list, page by page (with take capped at 1, one request per batch)
        assert relay.list_requests() == math.ceil(total / min(PAGE, max_take))
        assert report.reached_end
        assert not report.early_stop
    assert report.jobs_sent == []
    assert relay.drain_jobs() == []


def test_page_caps_smaller_than_the_page_size_still_find_everything(relay: Relay) -> None:
    relay.emu.set(max_take=PAGE - 2)
    relay.add_batches(PAGE)

    report = relay.poll()

    assert sorted(report.jobs_sent) == sorted(relay.submitted_ids())
    assert report.pages == math.ceil(len(relay.emu.state.account_batches()) / (PAGE - 2))
    assert report.reached_end


def test_the_periodic_full_walk_runs_when_due(relay: Relay) -> None:
    relay.add_batches(3 * PAGE)
    baseline = relay.poll()
    walked_at = relay.ledger.checkpoint().last_full_walk_at
    now = datetime.now(UTC)

    soon = relay.poll(now=now + timedelta(hours=23))
    due = relay.poll(now=now + timedelta(hours=24, minutes=1))

    assert soon.early_stop
    assert not soon.full_walk
    assert soon.pages == 1
    assert due.full_walk
    assert due.reached_end
    assert due.pages == baseline.pages
    assert relay.ledger.checkpoint().last_full_walk_at > walked_at
    relay.configure(full_walk_hours=0.0)
    assert relay.poll().full_walk


def test_a_walk_that_does_not_start_at_the_newest_known_batch_does_not_stop_early(relay: Relay) -> None:
    relay.add_batches(2 * PAGE)
    newest = relay.emu.state.add_batch("submitted", created_at=datetime.now(UTC) + timedelta(minutes=1))["id"]
    relay.poll()
    relay.emu.state.remove_batch(newest)  # the newest batch disappears from the list

    walked = relay.poll()
    assert walked.reached_end  # one full walk learns which batch is the newest now
    assert not walked.early_stop
    assert relay.poll().early_stop


def _all_jobs(relay: Relay) -> list[str]:
    relay.drain_jobs()
    return [job.batch_id for job in relay.received]


def test_runs_out_of_time_then_the_next_poll_finishes_without_duplicates_or_loss(relay: Relay) -> None:
    relay.add_batches(4 * PAGE)
    relay.client.get_batch(relay.emu.samples["big"], Deadline.never())  # token exchanged beforehand
    relay.emu.set(latency=0.1)

    cut = relay.poll(Deadline.after(0.25), reserve=0.0)

    assert not cut.complete
    assert not cut.reached_end
    assert 0 < cut.pages < 5
    assert len(cut.jobs_sent) <= cut.pages * PAGE
    sent_first = _all_jobs(relay)
    assert sorted(sent_first) == sorted(cut.jobs_sent)
    for batch_id in sent_first:
        assert relay.entry(batch_id).state == QUEUED
    relay.emu.set(latency=0.0)

    rest = relay.poll()

    assert rest.complete  # the baseline was not finished: still a full walk
    assert rest.full_walk
    everything = _all_jobs(relay)
    assert len(everything) == len(set(everything))
    assert set(everything) == relay.submitted_ids()


def test_a_cut_walk_is_continued_below_where_it_stopped(relay: Relay) -> None:
    relay.poll()  # baseline (13 samples)
    new = relay.add_batches(4 * PAGE)
    relay.emu.set(latency=0.1)
    cut = relay.poll(Deadline.after(0.25), reserve=0.0)
    assert not cut.complete
    assert 0 < cut.pages < 4
    relay.emu.set(latency=0.0)
    assert relay.ledger.checkpoint().resume_below is not None

    # Page 1 now holds only known batches; stopping there would miss the rest of the new ones.
    rest = relay.poll()

    assert not rest.full_walk
    assert rest.complete
    assert rest.early_stop
    everything = _all_jobs(relay)
    assert len(everything) == len(set(everything))
    assert set(new) <= set(everything)
    assert set(everything) == relay.submitted_ids()
    assert relay.ledger.checkpoint().resume_below is None
    assert relay.poll().pages == 1


def test_an_expired_deadline_does_nothing_and_breaks_nothing(relay: Relay) -> None:
    report = relay.poll(Deadline.after(0))
    assert not report.complete
    assert report.pages == 0
    assert report.jobs_sent == []
    checkpoint = relay.ledger.checkpoint()  # only that a poll ran, and did not finish
    assert set(checkpoint.to_item()) == {"schemaVersion", "lastPollAt", "lastPollComplete"}
    assert checkpoint.last_poll_complete is False
    assert sorted(relay.poll().jobs_sent) == sorted(relay.submitted_ids())


def test_report_as_dict_is_json_ready(relay: Relay) -> None:
    import json

    data: dict[str, Any] = relay.poll().as_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) >= {"pages", "batches_seen", "jobs_sent", "pending", "closed", "complete", "early_stop"}


def test_unusual_batches_do_not_block_the_others(relay: Relay) -> None:
    state = relay.emu.state
    upper = state.add_batch("submitted")
    state.update_batch(upper["id"], id=upper["id"].upper())  # listed with an upper-case id
    state.add_batch("submitted", id="not-a-uuid")
    evaluating = state.add_batch("evaluating")["id"]  # a status the relay does not know: still in progress

    report = relay.poll()

    assert report.errors == 1
    assert upper["id"] in report.jobs_sent  # canonical (lower-case) form, as the webhook and exporter use
    assert relay.entry(evaluating).state == PENDING
    listed = {batch_id.lower() for batch_id in relay.submitted_ids() - {"not-a-uuid"}}
    assert set(report.jobs_sent) == listed
    again = relay.poll()
    assert again.jobs_sent == []
    assert again.errors == 1


def test_only_polls_cut_short_after_the_first_copy_count_toward_the_incomplete_polls_alarm(relay: Relay) -> None:
    """A first copy spanning several polls is expected; a poll cut short once a walk has completed is not."""

    def incomplete(report: Any) -> tuple[float, float]:
        values = {m.name: m.value for m in report.measurements()}
        return values["PollIncomplete"], values["PollIncompleteAfterBaseline"]

    relay.add_batches(4 * PAGE)
    relay.client.get_batch(relay.emu.samples["big"], Deadline.never())  # token exchanged beforehand
    relay.emu.set(latency=0.1)
    first = relay.poll(Deadline.after(0.25), reserve=0.0)  # the first copy, cut short
    assert (first.baseline, first.complete) == (True, False)
    assert incomplete(first) == (1, 0)
    relay.emu.set(latency=0.0)
    finished = relay.poll()  # the first copy completes
    assert (finished.baseline, finished.complete) == (True, True)
    assert incomplete(finished) == (0, 0)

    relay.add_batches(4 * PAGE)
    relay.emu.set(latency=0.1)
    later = relay.poll(Deadline.after(0.25), reserve=0.0)  # cut short after the first copy: counts
    assert (later.baseline, later.complete) == (False, False)
    assert incomplete(later) == (1, 1)
    relay.emu.set(latency=0.0)
    assert incomplete(relay.poll()) == (0, 0)
    assert {m.name: m.value for m in relay.poll().measurements()}["PollSucceeded"] == 1


def test_two_overlapping_polls_queue_every_batch_and_leave_the_ledger_consistent(relay: Relay) -> None:
    """Without reserved concurrency two polls can run at once (a manual invoke during a scheduled one): two
    execution environments, each with its own client, sharing only the ledger and the queue. The ledger's
    conditional writes settle each batch once; a job sent by both is absorbed by the exporter's claim."""
    relay.add_batches(3 * PAGE)
    relay.add_batches(2, status=None)  # in progress: pending
    relay.emu.set(latency=0.02)
    start = threading.Barrier(2)

    def one_poll() -> PollReport:
        with contextlib.closing(relay.new_client(timeout=5, backoff_base=0.01, backoff_cap=0.05)) as client:
            start.wait()
            return relay.poll(client=client)

    reports = at_once(one_poll)
    relay.emu.set(latency=0.0)

    assert [isinstance(report, PollReport) and report.complete for report in reports] == [True, True], reports
    jobs = _all_jobs(relay)
    assert set(jobs) == relay.submitted_ids()  # nothing lost; a duplicate job at most, never a missing one
    for batch_id in relay.submitted_ids():
        assert relay.entry(batch_id).state == QUEUED
    in_progress = {b["id"] for b in relay.emu.state.account_batches() if b["status"] is None}
    for batch_id in in_progress:
        assert relay.entry(batch_id).state == PENDING
    assert relay.ledger.checkpoint().baseline_completed_at
    assert relay.poll().jobs_sent == []  # and the next poll finds nothing left to queue

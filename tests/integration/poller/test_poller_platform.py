"""The poller walking the Flatfile Platform's jobs (`PlatformSource` through `poll_source`): the emulator's Platform
API over HTTP, moto over HTTP. What is checked is what the poller queues (the jobs on the SQS queue) and what the
ledger says, never an export (the Platform exporter takes the jobs from there)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.platform_contract import uncovered
from support.platform_jobs import (
    OTHER_LISTENER,
    ago,
    history,
    jobs_requests,
    platform_client,
    platform_requests,
    submit,
    submits,
    taken,
    unrelated,
)
from support.relay import PAGE, Relay

from flatfile_relay.checkpoint import Checkpoint
from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile import RetriesExhaustedError
from flatfile_relay.ledger import CLOSED, IGNORED, PENDING, QUEUED
from flatfile_relay.platform import PlatformClient
from flatfile_relay.poller import PollReport, poll_source
from flatfile_relay.sources.platform import PlatformSource
from flatfile_relay_devkit.emulator import FaultRule


@pytest.fixture
def platform(relay: Relay) -> Iterator[PlatformClient]:
    """One client for the whole test, as a warm container keeps it; every Platform call it made is one the SDK
    contract test covers."""
    client = platform_client(relay.emu)
    yield client
    client.close()
    assert not relay.emu.errors, relay.emu.errors
    assert not uncovered(relay.emu.request_log)


def poll(relay: Relay, client: PlatformClient, **options: Any) -> PollReport:
    source = PlatformSource(client, relay.settings.platform_operations, page_size=relay.settings.batch_page_size)
    return poll_source(source, relay.ledger, relay.sqs, relay.settings, options.pop("deadline", Deadline.never()),
                       **options)


def queued_jobs(relay: Relay) -> list[str]:
    """The ids of the jobs on the export-jobs queue (drained): each a Platform job, triggered by the schedule."""
    jobs = relay.drain_jobs()
    assert {(job.source, job.trigger) for job in jobs} <= {("platform", "schedule")}, jobs
    return [job.batch_id for job in jobs]


def state(relay: Relay, job_id: str) -> str | None:
    entry = relay.ledger.get(job_id)
    return None if entry is None else entry.state


# -- what is exported -------------------------------------------------------------------------------------


def test_the_first_poll_queues_every_ready_submit_job_and_leaves_the_others_alone(
    relay: Relay, platform: PlatformClient
) -> None:
    ready = [submit(relay.emu, "products"), submit(relay.emu, "customers_orders")]
    later = submit(relay.emu, ready=False)  # pressed, not ready yet (created)
    others = unrelated(relay.emu, 2)  # a file's extraction and a download, ready for their own listeners
    theirs = taken(relay.emu)  # another listener acknowledged it

    report = poll(relay, platform)

    assert (report.reached_end, report.baseline, report.complete) == (True, True, True)
    assert sorted(report.jobs_sent) == sorted(ready)
    assert sorted(queued_jobs(relay)) == sorted(ready)
    assert {job_id: state(relay, job_id) for job_id in [*ready, later, theirs]} == {
        **dict.fromkeys(ready, QUEUED), later: PENDING, theirs: CLOSED}
    samples = relay.emu.platform.samples
    assert state(relay, samples["job_history"]) == state(relay, samples["job_failed"]) == CLOSED  # ended
    assert [state(relay, job_id) for job_id in [*others, samples["job_other_operation"], samples["foreign_job"]]] == \
        [None] * 4  # nothing recorded of jobs that are not this environment's submits
    assert (relay.emu.platform.job(theirs)["status"], relay.emu.platform.job(theirs)["info"]) == (
        "executing", OTHER_LISTENER)  # never touched
    assert relay.ledger.checkpoint("platform").baseline_completed_at is not None
    assert relay.ledger.checkpoint() == Checkpoint()  # the legacy source's checkpoint: untouched


def test_a_first_poll_over_many_pages_finds_every_ready_job(relay: Relay, platform: PlatformClient) -> None:
    ready = submits(relay.emu, 23, start_minutes_ago=60 * 24 * 3, step_minutes=90)  # three days of submits
    unrelated(relay.emu, 7, at=ago(days=2))

    report = poll(relay, platform)

    assert report.pages >= (23 + 7 + 3) // PAGE
    assert sorted(report.jobs_sent) == sorted(ready)
    assert sorted(queued_jobs(relay)) == sorted(ready)
    listed = [record for record in jobs_requests(relay.emu) if record.path == "/v1/jobs"]
    assert {record.query["sortDirection"] for record in listed} == {"desc"}


def test_jobs_that_became_ready_while_the_relay_was_down_for_days_are_all_found(
    relay: Relay, platform: PlatformClient
) -> None:
    history(relay.emu, 6)
    waiting = submit(relay.emu, ready=False, at=ago(days=4))  # pending when the relay went down
    poll(relay, platform, now=datetime.now(UTC) - timedelta(days=4))
    assert state(relay, waiting) == PENDING
    relay.drain_jobs()

    # four days without a poll: submits every few hours, most of them ready, some taken by another listener,
    # unrelated jobs in between, and the job seen in progress became ready
    ready = submits(relay.emu, 17, start_minutes_ago=60, step_minutes=300)
    others = [taken(relay.emu, at=ago(days=2, hours=n)) for n in range(3)] + unrelated(relay.emu, 6, at=ago(days=1))
    relay.emu.platform.set_job_status(waiting, "ready")

    report = poll(relay, platform)

    assert report.pages > 1
    assert sorted(report.jobs_sent) == sorted([*ready, waiting])
    assert sorted(queued_jobs(relay)) == sorted([*ready, waiting])
    assert {state(relay, job_id) for job_id in others[:3]} == {CLOSED}
    assert poll(relay, platform).jobs_sent == []  # and once only


def test_a_job_seen_in_progress_is_queued_when_it_becomes_ready_also_below_the_first_page(
    relay: Relay, platform: PlatformClient
) -> None:
    history(relay.emu, 4)
    on_top = submit(relay.emu, ready=False)
    poll(relay, platform)
    assert state(relay, on_top) == PENDING

    relay.emu.platform.set_job_status(on_top, "ready")
    assert poll(relay, platform).jobs_sent == [on_top]  # seen again on the first page

    below = submit(relay.emu, ready=False, at=ago(minutes=1))
    poll(relay, platform)
    unrelated(relay.emu, PAGE + 1)  # more than a page of newer jobs pushes it off the first page
    poll(relay, platform)
    relay.emu.clear_request_log()
    relay.emu.platform.set_job_status(below, "planning")
    still = poll(relay, platform)
    assert (still.early_stop, still.rechecked, still.pending, still.jobs_sent) == (True, 1, 1, [])
    assert [record.path for record in platform_requests(relay.emu)] == ["/v1/jobs", f"/v1/jobs/{below}"]

    relay.emu.platform.set_job_status(below, "ready")
    assert poll(relay, platform).jobs_sent == [below]
    assert sorted(queued_jobs(relay)) == sorted([on_top, below])


def test_a_job_another_listener_acknowledged_is_closed_and_never_queued(
    relay: Relay, platform: PlatformClient
) -> None:
    pending = submit(relay.emu, ready=False)
    poll(relay, platform)
    relay.emu.platform.set_job_status(pending, "ready")
    relay.emu.platform.acknowledge(pending, info=OTHER_LISTENER)  # before the next poll
    acknowledged = taken(relay.emu)

    report = poll(relay, platform)

    assert report.jobs_sent == []
    assert report.closed == 2
    assert state(relay, pending) == state(relay, acknowledged) == CLOSED
    assert queued_jobs(relay) == []
    assert relay.emu.platform.job(acknowledged)["status"] == "executing"  # left to its listener


def test_only_the_configured_submit_operations_are_exported(relay: Relay, platform: PlatformClient) -> None:
    download = relay.emu.platform.add_job(relay.emu.platform.sample_id("customers_orders"), "downloadCsv")["id"]
    submit_job = submit(relay.emu)

    relay.configure(platform_operations=("downloadCsv",))
    assert poll(relay, platform).jobs_sent == [download]
    assert state(relay, submit_job) is None  # another operation's job: unrelated


def test_export_since_applies_to_the_jobs_created_at(relay: Relay, platform: PlatformClient) -> None:
    old, new = submit(relay.emu, at=ago(days=3)), submit(relay.emu, at=ago(hours=1))
    late = submit(relay.emu, ready=False, at=ago(days=2))
    relay.configure(export_since=datetime.now(UTC) - timedelta(days=1))

    assert poll(relay, platform).jobs_sent == [new]
    assert (state(relay, old), state(relay, late)) == (IGNORED, PENDING)

    relay.emu.platform.set_job_status(late, "ready")  # ready after the first copy: exported whatever its age
    assert poll(relay, platform).jobs_sent == [late]


def test_a_server_that_serves_fewer_jobs_than_asked_is_followed_at_its_own_page_size(
    relay: Relay, platform: PlatformClient
) -> None:
    relay.emu.set(platform_max_page_size=3)
    ready = submits(relay.emu, 11)

    report = poll(relay, platform)

    assert sorted(report.jobs_sent) == sorted(ready)
    assert report.pages == -(-(11 + 3) // 3)
    numbers = [int(record.query["pageNumber"]) for record in jobs_requests(relay.emu) if record.path == "/v1/jobs"]
    assert numbers == list(range(1, report.pages + 1))


# -- what an idle poll costs ------------------------------------------------------------------------------


def test_an_idle_poll_costs_one_request_also_after_new_unrelated_jobs(relay: Relay, platform: PlatformClient) -> None:
    history(relay.emu, 3 * PAGE)  # a list of several pages
    poll(relay, platform)
    relay.drain_jobs()
    counts = []
    for change in (None, lambda: unrelated(relay.emu, PAGE - 2), None,
                   lambda: unrelated(relay.emu, 1, ready=False)):
        if change is not None:
            change()
        relay.emu.clear_request_log()
        report = poll(relay, platform)
        assert (report.early_stop, report.jobs_sent) == (True, [])
        counts.append(len(platform_requests(relay.emu)))
    assert counts == [1, 1, 1, 1]
    [request] = platform_requests(relay.emu)
    assert (request.path, request.query["pageNumber"], request.query["sortDirection"]) == ("/v1/jobs", "1", "desc")


def test_a_ready_job_under_new_unrelated_jobs_on_the_first_page_is_still_found(
    relay: Relay, platform: PlatformClient
) -> None:
    history(relay.emu, 2 * PAGE)
    poll(relay, platform)
    ready = submit(relay.emu)
    unrelated(relay.emu, PAGE - 1)  # on top of it

    report = poll(relay, platform)

    assert report.jobs_sent == [ready]
    assert report.pages == 2  # the first page was new, all of it: the next one shows where the known ones begin


# -- convergence ------------------------------------------------------------------------------------------


def test_a_poll_that_failed_half_way_and_its_retries_queue_each_job_once(
    relay: Relay, platform: PlatformClient
) -> None:
    ready = submits(relay.emu, 12)
    relay.emu.inject(FaultRule(kind="503", path="/v1/jobs", after=1, count=6))  # every attempt at the second page

    with pytest.raises(RetriesExhaustedError):
        poll(relay, platform)
    first = queued_jobs(relay)
    assert sorted(first) == sorted(ready[-PAGE:])  # the first page's, newest first, went out before the failure

    again = poll(relay, platform)  # the invocation's retry
    assert sorted(again.jobs_sent) == sorted(set(ready) - set(first))
    assert poll(relay, platform).jobs_sent == []  # and the next scheduled poll
    assert sorted(first + queued_jobs(relay)) == sorted(ready)
    assert {state(relay, job_id) for job_id in ready} == {QUEUED}

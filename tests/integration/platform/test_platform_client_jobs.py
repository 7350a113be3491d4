"""The Platform client's jobs over real HTTP: pages with their real offsets, and the listener's side of a job
(acknowledge, progress, complete, fail) when answers get lost and other listeners are about."""

from __future__ import annotations

import pytest
from conftest import ClientFactory

from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile.errors import NotFoundError
from flatfile_relay.platform import Change, PlatformClient
from flatfile_relay_devkit.emulator import Emulator, FaultRule

INFO = "Exporting to AWS"


def ready_job(emu: Emulator, label: str = "products") -> str:
    return str(emu.platform.submit(emu.platform.sample_id(label))["id"])


def test_job_pages_walk_the_environment_in_created_order(emu: Emulator, client: PlatformClient,
                                                         deadline: Deadline) -> None:
    submitted = [ready_job(emu) for _ in range(4)]
    first = client.list_jobs(deadline, page_size=3)
    second = client.list_jobs(deadline, page_number=2, page_size=3)
    third = client.list_jobs(deadline, page_number=3, page_size=3)
    assert (first.offset, first.total_count, first.page_count, first.last) == (0, 7, 3, False)
    assert (second.offset, third.offset, third.last) == (3, 6, True)
    listed = [job.id for page in (first, second, third) for job in page.jobs]
    assert listed[-4:] == submitted  # ascending by createdAt: the newest last
    assert len(set(listed)) == 7
    assert all(job.environment_id == emu.platform_secret["platformEnvironmentId"] for job in first.jobs)
    newest = client.list_jobs(deadline, page_size=2, sort_direction="desc")
    assert [job.id for job in newest.jobs] == submitted[::-1][:2]
    beyond = client.list_jobs(deadline, page_number=9, page_size=3)
    assert (beyond.jobs, beyond.offset, beyond.last) == ([], 7, True)


def test_a_server_capping_the_page_size_still_gives_real_offsets(emu: Emulator, client: PlatformClient,
                                                                 deadline: Deadline) -> None:
    for _ in range(4):
        ready_job(emu)
    emu.set(platform_max_page_size=2)
    pages = [client.list_jobs(deadline, page_number=number, page_size=5) for number in (1, 2, 3, 4)]
    assert [len(page.jobs) for page in pages] == [2, 2, 2, 1]
    assert [page.offset for page in pages] == [0, 2, 4, 6]
    assert [page.last for page in pages] == [False, False, False, True]


def test_get_job_reads_the_fields_the_relay_decides_on(emu: Emulator, client: PlatformClient,
                                                       deadline: Deadline) -> None:
    job = client.get_job(emu.platform.sample_id("job_history"), deadline)
    assert (job.name, job.status, job.source) == ("workbook:submitActionFg", "complete",
                                                  emu.platform.sample_id("customers_orders"))
    assert job.outcome_message == "Exported 42 records to AWS"
    assert job.ended
    assert job.raw == emu.platform.job(job.id)
    with pytest.raises(NotFoundError, match="no job us_jb_nothing"):
        client.get_job("us_jb_nothing", deadline)
    with pytest.raises(NotFoundError):  # another environment's job is unknown to the key
        client.get_job(emu.platform.sample_id("foreign_job"), deadline)


def test_acknowledge_moves_a_ready_job_to_executing_with_the_relays_info(emu: Emulator, client: PlatformClient,
                                                                         deadline: Deadline) -> None:
    job = client.get_job(ready_job(emu), deadline)
    acknowledged = client.acknowledge(job, deadline, info=INFO, progress=1)
    assert (acknowledged.change, acknowledged.resent) == (Change.ACKNOWLEDGED, False)
    assert (acknowledged.job.status, acknowledged.job.info) == ("executing", INFO)
    assert emu.platform.job(job.id)["status"] == "executing"
    again = client.acknowledge(client.get_job(job.id, deadline), deadline, info=INFO)
    assert again.change is Change.RESUMED  # the relay's own earlier acknowledgement: nothing sent
    assert len(emu.requests_to(f"/v1/jobs/{job.id}/ack")) == 1


def test_a_job_another_listener_acknowledged_is_left_alone(emu: Emulator, client: PlatformClient,
                                                           deadline: Deadline) -> None:
    job_id = ready_job(emu)
    emu.platform.acknowledge(job_id, info="Sending to the CRM")
    taken = client.acknowledge(client.get_job(job_id, deadline), deadline, info=INFO)
    assert taken.change is Change.TAKEN
    assert emu.platform.job(job_id)["info"] == "Sending to the CRM"
    assert emu.requests_to("/v1/jobs/", "POST") == []


@pytest.mark.parametrize(("status", "change"), [("created", Change.NOT_READY), ("planning", Change.NOT_READY),
                                                ("complete", Change.ENDED), ("canceled", Change.ENDED)])
def test_only_a_ready_job_is_acknowledged(emu: Emulator, client: PlatformClient, deadline: Deadline,
                                          status: str, change: Change) -> None:
    job_id = ready_job(emu)
    emu.platform.set_job_status(job_id, status)
    assert client.acknowledge(client.get_job(job_id, deadline), deadline, info=INFO).change is change
    assert emu.requests_to("/v1/jobs/", "POST") == []


def test_a_job_that_ended_after_it_was_read_is_not_acknowledged(emu: Emulator, client: PlatformClient,
                                                                deadline: Deadline) -> None:
    stale = client.get_job(ready_job(emu), deadline)
    emu.platform.cancel(stale.id)
    result = client.acknowledge(stale, deadline, info=INFO)
    assert (result.change, result.job.status) == (Change.ENDED, "canceled")


def test_an_acknowledgement_whose_answer_was_lost_is_the_relays(emu: Emulator, client: PlatformClient,
                                                                deadline: Deadline) -> None:
    job = client.get_job(ready_job(emu), deadline)
    emu.inject(FaultRule(kind="lost", path=f"/v1/jobs/{job.id}/ack"))
    result = client.acknowledge(job, deadline, info=INFO)
    assert (result.change, result.job.status, result.job.info) == (Change.ACKNOWLEDGED, "executing", INFO)
    assert [record.fault for record in emu.requests_to(f"/v1/jobs/{job.id}/ack")] == ["lost", None]


def test_progress_is_reported_by_acknowledging_again(emu: Emulator, client: PlatformClient,
                                                     deadline: Deadline) -> None:
    job = client.acknowledge(client.get_job(ready_job(emu), deadline), deadline, info=INFO).job
    assert client.report_progress(job.id, 40, deadline).progress == 40
    assert client.report_progress(job.id, 60, deadline, info=f"{INFO}: 60%").info == f"{INFO}: 60%"
    emu.platform.cancel(job.id)
    assert client.report_progress(job.id, 80, deadline).status == "canceled"  # refused: read back
    with pytest.raises(ValueError, match="from 0 to 100"):
        client.report_progress(job.id, 101, deadline)


def test_complete_ends_the_job_with_the_outcome_the_end_user_reads(emu: Emulator, client: PlatformClient,
                                                                   deadline: Deadline) -> None:
    job = client.acknowledge(client.get_job(ready_job(emu), deadline), deadline, info=INFO).job
    done = client.complete(job.id, "Exported 25 records to AWS", deadline, info="Done")
    assert (done.change, done.resent, done.job.status) == (Change.COMPLETED, False, "complete")
    assert emu.platform.job(job.id)["outcome"] == {"message": "Exported 25 records to AWS"}
    assert emu.platform.events()[-1]["topic"] == "job:completed"


@pytest.mark.parametrize(("kind", "reads"), [("lost", 2), ("503", 1)])
def test_a_complete_whose_answer_was_lost_is_done_not_failed(emu: Emulator, client: PlatformClient,
                                                             deadline: Deadline, kind: str, reads: int) -> None:
    job = client.acknowledge(client.get_job(ready_job(emu), deadline), deadline, info=INFO).job
    emu.inject(FaultRule(kind=kind, path="/v1/jobs/*/complete"))
    done = client.complete(job.id, "Exported 25 records to AWS", deadline)
    assert done.change is Change.COMPLETED
    assert done.resent is (kind == "lost")  # a 503 never completed it: the resend did
    assert [event["topic"] for event in emu.platform.events("job:completed")
            if event["context"]["jobId"] == job.id] == ["job:completed"]
    assert len(emu.requests_to(f"/v1/jobs/{job.id}/complete")) == 2
    assert len(emu.requests_to(f"/v1/jobs/{job.id}", "GET")) == reads  # read back only after a refusal


def test_a_redelivered_complete_finds_the_job_done(emu: Emulator, client: PlatformClient, deadline: Deadline) -> None:
    job = client.acknowledge(client.get_job(ready_job(emu), deadline), deadline, info=INFO).job
    client.complete(job.id, "Exported 25 records to AWS", deadline)
    again = client.complete(job.id, "Exported 25 records to AWS", deadline)
    assert (again.change, again.resent) == (Change.COMPLETED, True)
    other = client.complete(job.id, "Exported 26 records to AWS", deadline)
    assert (other.change, other.job.outcome_message) == (Change.ENDED_BY_OTHER, "Exported 25 records to AWS")
    assert client.fail(job.id, "Your data is still in Flatfile", deadline).change is Change.ENDED_BY_OTHER


def test_fail_ends_the_job_and_a_lost_answer_is_no_second_failure(emu: Emulator, client: PlatformClient,
                                                                  deadline: Deadline) -> None:
    job = client.acknowledge(client.get_job(ready_job(emu), deadline), deadline, info=INFO).job
    emu.inject(FaultRule(kind="lost", path="/v1/jobs/*/fail"))
    failed = client.fail(job.id, "The export failed; your data is still in Flatfile.", deadline, info="Failed")
    assert (failed.change, failed.resent, failed.job.status) == (Change.FAILED, True, "failed")
    assert client.complete(job.id, "Exported", deadline).change is Change.ENDED_BY_OTHER
    with pytest.raises(ValueError, match="non-empty"):
        client.complete(job.id, " ", deadline)


def test_a_job_someone_else_completed_is_ended_by_other(emu: Emulator, make_client: ClientFactory,
                                                        deadline: Deadline) -> None:
    client = make_client()
    job_id = ready_job(emu)
    emu.platform.acknowledge(job_id, info=INFO)
    emu.platform.complete(job_id, {"message": "Sent elsewhere"})
    result = client.complete(job_id, "Exported 25 records to AWS", deadline)
    assert (result.change, result.job.outcome_message) == (Change.ENDED_BY_OTHER, "Sent elsewhere")

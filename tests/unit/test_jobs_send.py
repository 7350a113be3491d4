"""send_jobs: SendMessageBatch in groups of 10, only failed entries retried, nothing unsent reported sent."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from flatfile_relay.deadline import Deadline
from flatfile_relay.jobs import SEND_ATTEMPTS, ExportJob, JobSendError, send_jobs
from flatfile_relay.poller import PollReport

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/flatfile-relay-ExportJobsQueue"


def make_jobs(count: int) -> list[ExportJob]:
    return [ExportJob.create(str(uuid.UUID(int=i + 1)), trigger="schedule") for i in range(count)]


class FakeSqs:
    """Stands in for boto3's SQS client: records each SendMessageBatch and answers as told.

    `fail(entry, call)` decides per entry and call: None (accepted), "retry" (failed, not the sender's
    fault), "sender" (failed, the sender's fault) or "silent" (in neither list).
    """

    def __init__(self, fail: Any = None, raise_on_call: int | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.bodies: list[str] = []
        self._fail = fail or (lambda entry, call: None)
        self._raise_on_call = raise_on_call

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        assert QueueUrl == QUEUE
        assert 1 <= len(Entries) <= 10
        assert len({e["Id"] for e in Entries}) == len(Entries)
        call = len(self.calls)
        self.calls.append(Entries)
        if call == self._raise_on_call:
            error = {"Code": "AWS.SimpleQueueService.NonExistentQueue", "Message": "No such queue."}
            raise ClientError({"Error": error}, "SendMessageBatch")
        successful, failed = [], []
        for entry in Entries:
            verdict = self._fail(entry, call)
            if verdict is None:
                successful.append({"Id": entry["Id"], "MessageId": str(uuid.uuid4())})
                self.bodies.append(entry["MessageBody"])
            elif verdict in ("retry", "sender"):
                failed.append({"Id": entry["Id"], "SenderFault": verdict == "sender",
                               "Code": "InternalError" if verdict == "retry" else "InvalidMessageContents",
                               "Message": "try again" if verdict == "retry" else "bad message"})
        return {"Successful": successful, "Failed": failed}


def no_sleep(seconds: float) -> None:
    assert 0 <= seconds <= 5.0


def batch_of(entry: dict[str, Any]) -> str:
    return ExportJob.from_message(entry["MessageBody"]).batch_id


def test_sends_in_groups_of_ten_and_returns_every_job_in_order() -> None:
    sqs, jobs = FakeSqs(), make_jobs(23)
    assert send_jobs(sqs, QUEUE, jobs) == jobs
    assert [len(call) for call in sqs.calls] == [10, 10, 3]
    sent = [ExportJob.from_message(body) for body in sqs.bodies]
    assert [job.batch_id for job in sent] == [job.batch_id for job in jobs]
    entry = sqs.calls[0][0]
    assert entry["MessageAttributes"]["batchId"] == {"DataType": "String", "StringValue": jobs[0].batch_id}


def test_nothing_to_send_makes_no_call() -> None:
    sqs = FakeSqs()
    assert send_jobs(sqs, QUEUE, []) == []
    assert sqs.calls == []


def test_only_the_failed_entries_are_sent_again() -> None:
    jobs = make_jobs(5)
    flaky = {jobs[1].batch_id, jobs[3].batch_id}
    sqs = FakeSqs(lambda entry, call: "retry" if call == 0 and batch_of(entry) in flaky else None)
    slept: list[float] = []

    assert send_jobs(sqs, QUEUE, jobs, sleep=slept.append) == jobs

    assert len(sqs.calls) == 2
    assert sorted(batch_of(e) for e in sqs.calls[1]) == sorted(flaky)
    assert len(slept) == 1
    assert len(sqs.bodies) == 5


def test_entries_sqs_does_not_mention_are_not_taken_as_sent() -> None:
    jobs = make_jobs(3)
    sqs = FakeSqs(lambda entry, call: "silent" if call == 0 and batch_of(entry) == jobs[2].batch_id else None)
    assert send_jobs(sqs, QUEUE, jobs, sleep=no_sleep) == jobs
    assert [batch_of(e) for e in sqs.calls[1]] == [jobs[2].batch_id]


def test_entries_that_keep_failing_raise_with_what_was_and_was_not_sent() -> None:
    jobs = make_jobs(12)
    sqs = FakeSqs(lambda entry, call: "retry" if batch_of(entry) == jobs[11].batch_id else None)

    with pytest.raises(JobSendError) as caught:
        send_jobs(sqs, QUEUE, jobs, sleep=no_sleep)

    error = caught.value
    assert error.sent == jobs[:11]
    assert error.failed == [jobs[11]]
    assert error.queue_url == QUEUE
    assert QUEUE in str(error)
    assert "1 of 12" in str(error)
    assert "InternalError" in str(error)
    assert len(sqs.calls) == 1 + SEND_ATTEMPTS  # one full group, then the second group's attempts


def test_sender_faults_are_not_retried() -> None:
    jobs = make_jobs(3)
    sqs = FakeSqs(lambda entry, call: "sender" if batch_of(entry) == jobs[0].batch_id else None)
    with pytest.raises(JobSendError, match="InvalidMessageContents") as caught:
        send_jobs(sqs, QUEUE, jobs, sleep=no_sleep)
    assert len(sqs.calls) == 1
    assert caught.value.sent == jobs[1:]


def test_no_retry_wait_crosses_the_deadline() -> None:
    jobs = make_jobs(2)
    sqs = FakeSqs(lambda entry, call: "retry" if batch_of(entry) == jobs[0].batch_id else None)
    with pytest.raises(JobSendError, match="no time left") as caught:
        send_jobs(sqs, QUEUE, jobs, Deadline.after(0), sleep=no_sleep)
    assert len(sqs.calls) == 1
    assert caught.value.sent == [jobs[1]]


def test_a_failing_call_reports_the_earlier_groups_as_sent() -> None:
    jobs = make_jobs(15)
    sqs = FakeSqs(raise_on_call=1)
    with pytest.raises(JobSendError, match="NonExistentQueue") as caught:
        send_jobs(sqs, QUEUE, jobs)
    assert caught.value.sent == jobs[:10]
    assert caught.value.failed == jobs[10:]
    assert QUEUE in str(caught.value)
    assert isinstance(caught.value.__cause__, ClientError)


def test_poll_report_as_dict() -> None:
    report = PollReport(pages=2, batches_seen=7, jobs_sent=["a"], complete=True)
    data = report.as_dict()
    assert data["jobs_sent"] == ["a"]
    assert data["pages"] == 2
    assert data["complete"] is True
    data["jobs_sent"].append("b")
    assert report.jobs_sent == ["a"]

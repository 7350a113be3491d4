"""Export jobs: the message that asks the exporter to export one batch, and how jobs are queued.

A job is sent first and only then recorded in the ledger as `queued` (`queue_jobs`), so a crash in between
only duplicates a job, which the exporter's claim absorbs. The poller, the webhook and a backfill all queue
jobs that way; `send_jobs` alone sends without a mark (a replay).

Example:
    >>> job = ExportJob.create("0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11", trigger="schedule")
    >>> ExportJob.from_message(job.to_message()).batch_id
    '0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11'
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Final, Literal, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, Strict, ValidationInfo, field_validator, model_validator

from flatfile_relay import ids
from flatfile_relay.checks import is_count
from flatfile_relay.deadline import Deadline
from flatfile_relay.errors import ContractError, TransientError
from flatfile_relay.ledger import Ledger, LedgerEntry
from flatfile_relay.models import (
    SCHEMA_VERSION,
    Count,
    Document,
    InvalidDocumentError,
    SchemaVersion,
    Text,
    Trigger,
    parse_json,
)
from flatfile_relay.retry import Again, Backoff, GaveUp, Stop, retry
from flatfile_relay.timestamps import utc_now_iso

__all__ = [
    "JOB_TYPE",
    "MAX_FILENAME",
    "SEND_ATTEMPTS",
    "SQS_BATCH_LIMIT",
    "BatchSnapshot",
    "ExportJob",
    "InvalidJobError",
    "JobSendError",
    "QueuedJob",
    "queue_jobs",
    "require_batch_id",
    "send_jobs",
]

logger = logging.getLogger("flatfile_relay.jobs")

JOB_TYPE: Final = "flatfile.export.job"


class InvalidJobError(ContractError, ValueError):
    """A message on the export-jobs queue is not an export job."""


class JobSendError(TransientError, RuntimeError):
    """Some export jobs could not be sent to the export-jobs queue (a `TransientError`: send them again later;
    `flatfile_relay.failures.classify` finds a configuration problem in its cause, a queue that is gone).

    Attributes:
        queue_url: the queue.
        sent: the jobs that *were* sent (the caller may record them as queued).
        failed: the jobs that were not sent (send them again later).
    """

    def __init__(self, message: str, *, queue_url: str, sent: Sequence[ExportJob],
                 failed: Sequence[ExportJob]) -> None:
        super().__init__(message)
        self.queue_url = queue_url
        self.sent = list(sent)
        self.failed = list(failed)


#: a snapshot's `filename` is cut to this many characters (a hint: the job stays small)
MAX_FILENAME = 1024


class BatchSnapshot(Document):
    """What the poll or the webhook already knew of a legacy batch when it queued the job (its ``batch``).

    A hint, never the truth: the exporter starts reading the rows at once, sizes its first round of row pages by
    ``countRows``, and still reads the batch (at the same time) to verify ``status`` and to write the manifest's
    ``batch``. Every field may be absent (None: not known).

    Attributes:
        status: the batch's ``status`` as the trigger saw it (``submitted`` from the poll; None from a webhook).
        count_rows: ``countRows`` (the poll) or the webhook's ``meta.length``: how many rows to expect.
        filename: ``filename``; submitted_at: ``submittedAt``, as the API wrote it.

    Example:
        >>> snapshot = BatchSnapshot.of_batch({"status": "submitted", "countRows": 2000, "filename": "a.csv"})
        >>> snapshot.status, snapshot.count_rows, snapshot.submitted_at
        ('submitted', 2000, None)
    """

    status: str | None = None
    count_rows: Count | None = None
    filename: str | None = None
    submitted_at: str | None = None

    @classmethod
    def of_batch(cls, batch: Mapping[str, Any]) -> BatchSnapshot:
        """The snapshot of a batch as the API listed it; a value of the wrong type is left out (it is a hint)."""
        count = batch.get("countRows")
        filename = batch.get("filename")
        return cls(
            status=_text_or_none(batch.get("status")),
            count_rows=count if is_count(count) else None,
            filename=filename[:MAX_FILENAME] if isinstance(filename, str) else None,
            submitted_at=_text_or_none(batch.get("submittedAt")),
        )


def _text_or_none(value: Any) -> str | None:
    return value[:MAX_FILENAME] if isinstance(value, str) else None


def require_batch_id(value: str, error: type[ValueError] = InvalidJobError) -> str:
    """Return the batch id in canonical form (`flatfile_relay.ids`); InvalidJobError when it is no UUID."""
    return ids.require_batch_id(value, error)


class ExportJob(Document):
    """One request to export one batch or Platform job: the message on the export-jobs queue.

    Attributes:
        source: ``legacy`` (a Portal v2 batch) or ``platform`` (a Flatfile Platform submit job); when a message
            has none, the id's shape tells (`flatfile_relay.ids.source_of`), so jobs queued before the field
            existed still parse.
        batch_id: the batch's canonical UUID, or the Platform job's id (``batchId``).
        trigger: what asked for it (``schedule``, ``webhook``, ``replay`` or ``backfill``; ``schedule`` when absent).
        requested_at: when it was first asked for (``requestedAt``; now when absent).
        resume: True when it carries on an export an earlier invocation began.
        batch: what the trigger already knew of a legacy batch (`BatchSnapshot`; ``batch``, absent when
            unknown: jobs queued before the field existed, replays, Platform jobs).
    """

    type: Literal["flatfile.export.job"] = JOB_TYPE
    schema_version: SchemaVersion = SCHEMA_VERSION
    source: ids.Source
    batch_id: str
    trigger: Trigger = "schedule"
    requested_at: Text = Field(default_factory=utc_now_iso)
    resume: Annotated[bool, Strict()] = False
    batch: BatchSnapshot | None = None

    @model_validator(mode="before")
    @classmethod
    def _source_from_id(cls, data: Any) -> Any:
        """A message without `source` names it by its id's shape."""
        if isinstance(data, dict) and data.get("source") is None:
            return {**data, "source": ids.source_of(data.get("batchId", data.get("batch_id")))}
        return data

    @field_validator("batch_id")
    @classmethod
    def _export_id(cls, value: str, info: ValidationInfo) -> str:
        source = info.data.get("source")
        if source == ids.PLATFORM:
            if ids.PLATFORM_JOB_ID.fullmatch(value.strip()) is None:
                raise ValueError("must be a Flatfile Platform job id (us_jb_…) when source is platform")
            return value.strip()
        return ids.canonical_uuid(value)

    @classmethod
    def create(
        cls, batch_id: str, *, trigger: str, resume: bool = False, source: str | None = None,
        clock: Callable[[], float] = time.time, batch: BatchSnapshot | None = None,
    ) -> ExportJob:
        """A new job, requested now on `clock` (epoch seconds; `source`: None tells it by the id; `batch`: what
        the trigger knows of the batch); InvalidJobError names what is wrong."""
        return cls.from_message(json.dumps({
            "batchId": batch_id, "trigger": trigger, "resume": resume, "source": source,
            "requestedAt": utc_now_iso(clock), **({"batch": batch.to_dict()} if batch is not None else {}),
        }))

    @classmethod
    def from_message(cls, body: str | bytes) -> ExportJob:
        """Parse and check a queue message body; InvalidJobError names the bad fields."""
        try:
            return parse_json(cls, body, "job")
        except InvalidDocumentError as error:
            raise InvalidJobError(str(error)) from None

    def to_dict(self) -> dict[str, Any]:
        """The job as JSON names and values; no ``batch`` when there is no snapshot (the job's old shape)."""
        data = super().to_dict()
        if data.get("batch") is None:
            data.pop("batch", None)
        return data

    def to_message(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def continuation(self) -> ExportJob:
        """The job that carries on this export in a later invocation."""
        return self.model_copy(update={"resume": True})


#: SendMessageBatch takes at most 10 entries.
SQS_BATCH_LIMIT = 10
#: attempts per group of 10 before giving up on the entries that keep failing
SEND_ATTEMPTS = 5
_BACKOFF_BASE, _BACKOFF_CAP = 0.2, 5.0


def send_jobs(
    sqs: Any,
    queue_url: str,
    jobs: Sequence[ExportJob],
    deadline: Deadline | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[ExportJob]:
    """Send export jobs with SendMessageBatch (10 a call) and return the jobs that were sent.

    Entries that SQS reports as failed are sent again, alone, with capped exponential backoff and jitter
    (`flatfile_relay.retry`: waits never cross `deadline`; entries SQS blames on the sender are not retried).
    If any job is still unsent, `JobSendError` names the queue and carries `.sent` and `.failed`: nothing is
    ever reported as sent that SQS did not accept. Every message carries the `batchId` message attribute.

    Example:
        >>> sent = send_jobs(clients.sqs, settings.export_jobs_queue_url, [job])   # doctest: +SKIP
    """
    sent: list[ExportJob] = []
    failed: list[ExportJob] = []
    problems: list[str] = []
    for start in range(0, len(jobs), SQS_BATCH_LIMIT):
        group = _Group(jobs[start:start + SQS_BATCH_LIMIT])
        try:
            group.send(sqs, queue_url, deadline, sleep)
        except (ClientError, BotoCoreError) as error:
            unsent = list(jobs[start:])
            raise JobSendError(
                f"could not send {len(unsent)} of {len(jobs)} export jobs to SQS queue {queue_url}: "
                f"{_describe(error)}",
                queue_url=queue_url, sent=sent, failed=unsent,
            ) from error
        sent.extend(group.sent())
        failed.extend(group.unsent())
        problems.extend(group.reasons())
    if failed:
        detail = "; ".join(dict.fromkeys(problems))
        raise JobSendError(
            f"could not send {len(failed)} of {len(jobs)} export jobs to SQS queue {queue_url}: {detail}",
            queue_url=queue_url, sent=sent, failed=failed,
        )
    return sent


class _Group:
    """Up to 10 jobs sent together: the entries still waiting, those given up on, and why each failed."""

    def __init__(self, jobs: Sequence[ExportJob]) -> None:
        self.jobs = list(jobs)
        self.waiting = dict(enumerate(self.jobs))
        self.given_up: dict[int, ExportJob] = {}
        self.why: dict[int, str] = {}

    def send(self, sqs: Any, queue_url: str, deadline: Deadline | None, sleep: Callable[[float], None]) -> None:
        """Send the group, retrying the entries that failed (not those SQS blames on the sender)."""

        def attempt(number: int) -> bool | Again:
            self._send_waiting(sqs, queue_url)
            return True if not self.waiting else Again(f"{len(self.waiting)} of {len(self.jobs)} not accepted")

        def retrying(number: int, failed: Again, wait: float) -> None:
            logger.warning("SQS did not accept %d of %d export jobs (attempt %d of %d): retrying in %.2f s",
                           len(self.waiting), len(self.jobs), number, SEND_ATTEMPTS, wait)

        outcome = retry(attempt, attempts=SEND_ATTEMPTS, backoff=Backoff(_BACKOFF_BASE, _BACKOFF_CAP),
                        deadline=deadline, sleep=sleep, on_retry=retrying)
        if isinstance(outcome, GaveUp) and outcome.stop is Stop.DEADLINE:
            for index in self.waiting:
                self.why[index] = self.why.get(index, "not sent") + " (no time left to retry)"

    def _send_waiting(self, sqs: Any, queue_url: str) -> None:
        """One SendMessageBatch of the waiting entries; an entry SQS mentions in neither list stays waiting."""
        answer = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {
                    "Id": str(index),
                    "MessageBody": job.to_message(),
                    "MessageAttributes": {"batchId": {"DataType": "String", "StringValue": job.batch_id}},
                }
                for index, job in self.waiting.items()
            ],
        )
        for entry in answer.get("Successful") or []:
            self.waiting.pop(int(entry["Id"]), None)
            self.why.pop(int(entry["Id"]), None)
        for entry in answer.get("Failed") or []:
            index = int(entry["Id"])
            if index not in self.waiting:
                continue
            self.why[index] = f"{entry.get('Code') or 'error'}: {entry.get('Message') or 'no message'}"
            if entry.get("SenderFault"):  # the request itself is wrong: retrying will not help
                self.given_up[index] = self.waiting.pop(index)

    def _unsent(self) -> list[int]:
        return sorted({**self.waiting, **self.given_up})

    def sent(self) -> list[ExportJob]:
        unsent = set(self._unsent())
        return [job for index, job in enumerate(self.jobs) if index not in unsent]

    def unsent(self) -> list[ExportJob]:
        return [self.jobs[index] for index in self._unsent()]

    def reasons(self) -> list[str]:
        return [self.why.get(index, "not sent") for index in self._unsent()]


class QueuedJob(NamedTuple):
    """A job `queue_jobs` sent, and whether the ledger then said `queued` (False: the entry had changed since
    it was read: another trigger queued the batch, or an exporter already took the job)."""

    job: ExportJob
    marked: bool


def queue_jobs(
    sqs: Any, queue_url: str, ledger: Ledger, jobs: Sequence[tuple[ExportJob, str | None, LedgerEntry | None]],
    deadline: Deadline | None,
) -> list[QueuedJob]:
    """Send export jobs, then mark each sent one `queued` in the ledger; return the sent ones, in order.

    Each item is (job, the batch's createdAt, the ledger entry read before deciding: None when there was
    none). The mark lands only if the entry is still as read: an exporter may have handed the batch back
    meanwhile (pending). When SQS refuses some jobs, those it accepted are marked first and `JobSendError`
    propagates (its `.sent` and `.failed` name them).

    Example:
        >>> queue_jobs(sqs, url, ledger, [(ExportJob.create(batch_id, trigger="backfill"), None, None)],
        ...            deadline)                                                    # doctest: +SKIP
        [QueuedJob(job=ExportJob(...), marked=True)]
    """
    known = {job.batch_id: (created_at, seen) for job, created_at, seen in jobs}

    def mark(sent: Sequence[ExportJob]) -> list[QueuedJob]:
        queued = []
        for job in sent:
            created_at, seen = known[job.batch_id]
            marked = ledger.mark_queued(job.batch_id, created_at=created_at, trigger=job.trigger, seen=seen)
            if not marked:
                logger.info("batch %s changed in the ledger meanwhile (another trigger queued it, or the exporter "
                            "already took the job); left as it is", job.batch_id)
            queued.append(QueuedJob(job, marked))
        return queued

    try:
        sent = send_jobs(sqs, queue_url, [job for job, _, _ in jobs], deadline)
    except JobSendError as error:
        mark(error.sent)
        raise
    return mark(sent)


def _describe(error: BaseException) -> str:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{info.get('Code', 'error')}: {info.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"

"""Export jobs: the message that asks the exporter to export one batch.

Example:
    >>> job = ExportJob.create("0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11", trigger="schedule")
    >>> ExportJob.from_message(job.to_message()).batch_id
    '0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11'
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, Strict, ValidationInfo, field_validator, model_validator

from flatfile_relay import ids
from flatfile_relay.backoff import backoff_delay
from flatfile_relay.deadline import Deadline
from flatfile_relay.models import (
    SCHEMA_VERSION,
    Document,
    InvalidDocumentError,
    SchemaVersion,
    Text,
    Trigger,
    parse_json,
)
from flatfile_relay.timestamps import utc_now_iso

logger = logging.getLogger("flatfile_relay.jobs")

JOB_TYPE: Final = "flatfile.export.job"


class InvalidJobError(ValueError):
    """A message on the export-jobs queue is not an export job."""


class JobSendError(RuntimeError):
    """Some export jobs could not be sent to the export-jobs queue.

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
    """

    type: Literal["flatfile.export.job"] = JOB_TYPE
    schema_version: SchemaVersion = SCHEMA_VERSION
    source: ids.Source
    batch_id: str
    trigger: Trigger = "schedule"
    requested_at: Text = Field(default_factory=utc_now_iso)
    resume: Annotated[bool, Strict()] = False

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
    def create(cls, batch_id: str, *, trigger: str, resume: bool = False, source: str | None = None) -> ExportJob:
        """A new job, requested now (`source`: None tells it by the id); InvalidJobError names what is wrong."""
        body = {"batchId": batch_id, "trigger": trigger, "resume": resume, "source": source}
        return cls.from_message(json.dumps(body))

    @classmethod
    def from_message(cls, body: str | bytes) -> ExportJob:
        """Parse and check a queue message body; InvalidJobError names the bad fields."""
        try:
            return parse_json(cls, body, "job")
        except InvalidDocumentError as error:
            raise InvalidJobError(str(error)) from None

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
    (waits never cross `deadline`; entries SQS blames on the sender are not retried). If any job is still
    unsent, `JobSendError` names the queue and carries `.sent` and `.failed`: nothing is ever reported as
    sent that SQS did not accept. Every message carries the `batchId` message attribute.

    Example:
        >>> sent = send_jobs(clients.sqs, settings.export_jobs_queue_url, [job])   # doctest: +SKIP
    """
    sent: list[ExportJob] = []
    failed: list[ExportJob] = []
    problems: list[str] = []
    for start in range(0, len(jobs), SQS_BATCH_LIMIT):
        group = list(jobs[start:start + SQS_BATCH_LIMIT])
        try:
            ok, bad, reasons = _send_group(sqs, queue_url, group, deadline, sleep)
        except (ClientError, BotoCoreError) as error:
            unsent = list(jobs[start:])
            raise JobSendError(
                f"could not send {len(unsent)} of {len(jobs)} export jobs to SQS queue {queue_url}: "
                f"{_describe(error)}",
                queue_url=queue_url, sent=sent, failed=unsent,
            ) from error
        sent.extend(ok)
        failed.extend(bad)
        problems.extend(reasons)
    if failed:
        detail = "; ".join(dict.fromkeys(problems))
        raise JobSendError(
            f"could not send {len(failed)} of {len(jobs)} export jobs to SQS queue {queue_url}: {detail}",
            queue_url=queue_url, sent=sent, failed=failed,
        )
    return sent


def _send_group(
    sqs: Any, queue_url: str, group: list[ExportJob], deadline: Deadline | None,
    sleep: Callable[[float], None],
) -> tuple[list[ExportJob], list[ExportJob], list[str]]:
    """Send up to 10 jobs, retrying the entries that failed; returns (sent, unsent, reasons)."""
    waiting = dict(enumerate(group))
    given_up: dict[int, ExportJob] = {}
    reasons: dict[int, str] = {}
    for attempt in range(1, SEND_ATTEMPTS + 1):
        answer = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {
                    "Id": str(index),
                    "MessageBody": job.to_message(),
                    "MessageAttributes": {"batchId": {"DataType": "String", "StringValue": job.batch_id}},
                }
                for index, job in waiting.items()
            ],
        )
        for entry in answer.get("Successful") or []:
            index = int(entry["Id"])
            waiting.pop(index, None)
            reasons.pop(index, None)
        for entry in answer.get("Failed") or []:
            index = int(entry["Id"])
            if index not in waiting:
                continue
            reasons[index] = f"{entry.get('Code') or 'error'}: {entry.get('Message') or 'no message'}"
            if entry.get("SenderFault"):  # the request itself is wrong: retrying will not help
                given_up[index] = waiting.pop(index)
        # an entry SQS mentions in neither list stays waiting: it was not sent
        if not waiting or attempt == SEND_ATTEMPTS:
            break
        delay = backoff_delay(attempt, base=_BACKOFF_BASE, cap=_BACKOFF_CAP)
        if deadline is not None and delay >= deadline.remaining():
            for index in waiting:
                reasons[index] = reasons.get(index, "not sent") + " (no time left to retry)"
            break
        logger.warning(
            "SQS did not accept %d of %d export jobs (attempt %d of %d): retrying in %.2f s",
            len(waiting), len(group), attempt, SEND_ATTEMPTS, delay,
        )
        sleep(delay)
    unsent = {**waiting, **given_up}
    sent = [job for index, job in enumerate(group) if index not in unsent]
    order = sorted(unsent)
    return sent, [unsent[index] for index in order], [reasons.get(index, "not sent") for index in order]


def _describe(error: BaseException) -> str:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{info.get('Code', 'error')}: {info.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"

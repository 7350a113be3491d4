"""Export jobs: the message that asks the exporter to export one batch.

Example:
    >>> job = ExportJob.create("0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11", trigger="schedule")
    >>> ExportJob.from_message(job.to_message()).batch_id
    '0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11'
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from flatfile_relay.settings import utc_now_iso

JOB_TYPE = "flatfile.export.job"
TRIGGERS = ("schedule", "webhook", "replay")


class InvalidJobError(ValueError):
    """A message on the export-jobs queue is not an export job."""


@dataclass(frozen=True)
class ExportJob:
    """One request to export one batch."""

    batch_id: str
    trigger: str
    requested_at: str
    resume: bool = False

    @classmethod
    def create(cls, batch_id: str, *, trigger: str, resume: bool = False) -> ExportJob:
        return cls(
            batch_id=require_batch_id(batch_id), trigger=_trigger(trigger), requested_at=utc_now_iso(),
            resume=resume,
        )

    @classmethod
    def from_message(cls, body: str | bytes) -> ExportJob:
        """Parse and check a queue message body; the error names what is wrong."""
        try:
            data = json.loads(body)
        except (ValueError, TypeError):
            raise InvalidJobError("export job is not JSON") from None
        if not isinstance(data, dict):
            raise InvalidJobError("export job must be a JSON object")
        if data.get("type", JOB_TYPE) != JOB_TYPE:
            raise InvalidJobError(f"export job has type {data.get('type')!r}, expected {JOB_TYPE!r}")
        if data.get("schemaVersion", 1) != 1:
            raise InvalidJobError(f"export job schemaVersion {data.get('schemaVersion')!r} is not supported")
        batch_id = data.get("batchId")
        if not isinstance(batch_id, str):
            raise InvalidJobError("export job has no batchId")
        resume = data.get("resume", False)
        if not isinstance(resume, bool):
            raise InvalidJobError("export job field resume must be true or false")
        requested_at = data.get("requestedAt") or utc_now_iso()
        return cls(
            batch_id=require_batch_id(batch_id, error=InvalidJobError),
            trigger=_trigger(data.get("trigger", "schedule")),
            requested_at=str(requested_at),
            resume=resume,
        )

    def to_message(self) -> str:
        return json.dumps(
            {
                "type": JOB_TYPE,
                "schemaVersion": 1,
                "batchId": self.batch_id,
                "trigger": self.trigger,
                "requestedAt": self.requested_at,
                "resume": self.resume,
            },
            separators=(",", ":"),
        )

    def continuation(self) -> ExportJob:
        """The job that carries on this export in a later invocation."""
        return ExportJob(self.batch_id, self.trigger, self.requested_at, resume=True)


def require_batch_id(value: str, error: type[ValueError] = InvalidJobError) -> str:
    """Return the batch id in canonical form; Flatfile batch ids are UUIDs."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise error(f"batchId {str(value)[:64]!r} is not a UUID") from None


def _trigger(value: Any) -> str:
    if value not in TRIGGERS:
        raise InvalidJobError(f"export job trigger must be one of {', '.join(TRIGGERS)}, not {value!r}")
    return str(value)

"""The webhook's second kind of delivery: a Flatfile Platform event forwarded by a listener (item 10, "Push").

A team that wants its submissions exported within seconds rather than at the next poll runs a Flatfile
listener that POSTs each ``job:ready`` event of the workbook's submit action to the webhook's URL, with the
``X-Webhook-Token`` header (docs/platform.md, "Seconds instead of the schedule"). The body is the event as
Flatfile wrote it::

    {"id": "us_evt_…", "topic": "job:ready", "domain": "job", "createdAt": "…",
     "context": {"jobId": "us_jb_…", "workbookId": "us_wb_…", "spaceId": "us_sp_…", "environmentId": "us_env_…"},
     "payload": {"job": "workbook:submitActionFg", "operation": "submitActionFg", "status": "ready", …}}

As with Portal v2 the body is only a hint: the job id is all that is used. The exporter reads the job, its
workbook and its records from the API, and checks again that the job is a submit job of the secret key's
environment. `PlatformEvent.ignored_because` says why an event queues nothing (answered 200, so that the
listener does not retry it): another topic, a job of another type or operation than FLATFILE_PLATFORM_OPERATIONS,
or an environment other than FLATFILE_PLATFORM_ENVIRONMENT_ID when that is set. An accepted event is stored and
queued exactly like a Portal v2 delivery (`flatfile_relay.webhook.accept_delivery`): the job id is the ledger
key, so a second delivery of the event, the poll finding the same job, or a replayed job id queue nothing more.

`parse_delivery` tells the two kinds of body apart: a JSON object with a top-level ``topic`` and no ``event`` is a
Platform event, anything else is read as Portal v2 (and named as such when it is not one either).

Example:
    >>> body = (b'{"id": "us_evt_9Xa2", "topic": "job:ready", "context": {"jobId": "us_jb_4fX2kQ",'
    ...         b' "workbookId": "us_wb_7Qp1", "spaceId": "us_sp_3Zr8", "environmentId": "us_env_a1b2c3d4"},'
    ...         b' "payload": {"job": "workbook:submitActionFg"}}')
    >>> event = parse_delivery(body)
    >>> event.batch_id, event.operation, event.storage_key("flatfile/")
    ('us_jb_4fX2kQ', 'submitActionFg', 'flatfile/webhooks/us_jb_4fX2kQ/us_evt_9Xa2-0.json')
    >>> event.ignored_because(("submitActionFg",), "us_env_0ther")
    'environment us_env_a1b2c3d4 is not FLATFILE_PLATFORM_ENVIRONMENT_ID (us_env_0ther)'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, TypeVar

from pydantic import StringConstraints, ValidationError

from flatfile_relay.ids import PLATFORM, PLATFORM_JOB_ID
from flatfile_relay.layout import webhook_key
from flatfile_relay.models import MAX_PROBLEMS, Document, describe_problems
from flatfile_relay.webhook import MAX_BODY_BYTES, InvalidPayloadError, PayloadTooLargeError, WebhookDelivery

__all__ = ["JOB_READY", "NO_EVENT_ID", "WORKBOOK_JOB", "PlatformEvent", "parse_delivery"]

JOB_READY: Final = "job:ready"
"""The only topic that queues an export: a job waits for a listener."""
WORKBOOK_JOB: Final = "workbook"
"""The job type of a workbook's submit action (a job named ``workbook:<operation>``)."""
NO_EVENT_ID: Final = "job-ready"
"""Where the stored body's key names the event when the forwarded event has no ``id``."""

D = TypeVar("D", bound=Document)

_Topic = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,100}$")]
_Id = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")]
_JobName = Annotated[str, StringConstraints(strip_whitespace=True,
                                           pattern=r"^[A-Za-z0-9_.-]{1,100}:[A-Za-z0-9_.:-]{1,100}$")]


class _Envelope(Document):
    """What every forwarded event must have: a topic and a context (the rest depends on the topic)."""

    id: _Id | None = None
    topic: _Topic
    context: dict[str, Any]


class _JobContext(Document):
    job_id: _Id
    environment_id: _Id
    workbook_id: _Id | None = None
    space_id: _Id | None = None


class _JobPayload(Document):
    job: _JobName


class _JobReady(Document):
    """A ``job:ready`` event: the job, its environment and its name must be there."""

    id: _Id | None = None
    topic: _Topic
    context: _JobContext
    payload: _JobPayload


@dataclass(frozen=True)
class PlatformEvent:
    """A Flatfile Platform event forwarded to the webhook, checked (a `flatfile_relay.webhook.Delivery`).

    Attributes:
        topic: the event's topic (``job:ready`` queues an export; any other is ignored).
        event_id: the event's ``id`` (`NO_EVENT_ID` when it has none).
        job_id: ``context.jobId`` (a job ready for a listener); empty for other topics.
        job: ``payload.job``, the job's name ``<type>:<operation>`` (``workbook:submitActionFg``).
        environment_id, workbook_id, space_id: from ``context`` (None when absent).
        size: the body's size in bytes.
    """

    topic: str
    event_id: str = NO_EVENT_ID
    job_id: str = ""
    job: str | None = None
    environment_id: str | None = None
    workbook_id: str | None = None
    space_id: str | None = None
    size: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, size: int = 0) -> PlatformEvent:
        """Check a forwarded event (already parsed JSON); InvalidPayloadError names the bad fields, never a value."""
        envelope = _checked(_Envelope, data)
        if envelope.topic != JOB_READY:
            return cls(topic=envelope.topic, event_id=envelope.id or NO_EVENT_ID, size=size)
        event = _checked(_JobReady, data)
        if not PLATFORM_JOB_ID.fullmatch(event.context.job_id):
            raise InvalidPayloadError("body.context.jobId must be a Flatfile Platform job id (us_jb_…)")
        return cls(
            topic=event.topic, event_id=event.id or NO_EVENT_ID, job_id=event.context.job_id,
            job=event.payload.job, environment_id=event.context.environment_id,
            workbook_id=event.context.workbook_id, space_id=event.context.space_id, size=size,
        )

    @property
    def source(self) -> str:
        """Always ``platform``."""
        return PLATFORM

    @property
    def batch_id(self) -> str:
        """The export's id: the job's (``us_jb_…``)."""
        return self.job_id

    def snapshot(self) -> None:
        """None: a Platform job carries no batch snapshot (its export reads the job)."""

    @property
    def event_type(self) -> str:
        """The topic (stored in the payload's metadata as a Portal v2 delivery's event type is)."""
        return self.topic

    @property
    def part(self) -> str:
        """A forwarded event is one POST: ``1/1``."""
        return "1/1"

    @property
    def job_type(self) -> str | None:
        """The job's type, from its name (``workbook`` for a submit action)."""
        return self.job.partition(":")[0] if self.job else None

    @property
    def operation(self) -> str | None:
        """The job's operation, from its name (``submitActionFg``)."""
        return self.job.partition(":")[2] if self.job else None

    def ignored_because(self, operations: Sequence[str], environment_id: str = "") -> str | None:
        """Why this event queues no export (None: it does). `operations`: FLATFILE_PLATFORM_OPERATIONS;
        `environment_id`: FLATFILE_PLATFORM_ENVIRONMENT_ID (empty: every environment)."""
        if self.topic != JOB_READY:
            return f"topic {self.topic} is not {JOB_READY}"
        if self.job_type != WORKBOOK_JOB or self.operation not in operations:
            return (f"job {self.job} is not a workbook job of FLATFILE_PLATFORM_OPERATIONS "
                    f"({', '.join(operations)})")
        if environment_id and self.environment_id != environment_id:
            return f"environment {self.environment_id} is not FLATFILE_PLATFORM_ENVIRONMENT_ID ({environment_id})"
        return None

    def storage_key(self, prefix: str) -> str:
        """Where the raw body is kept: ``{prefix}webhooks/{jobId}/{eventId}-0.json``."""
        return webhook_key(prefix, self.job_id, self.event_id, 0)

    def describe(self) -> dict[str, Any]:
        """Fields for log lines and responses (ids and sizes only)."""
        return {
            "source": PLATFORM, "batchId": self.job_id or None, "eventId": self.event_id, "eventType": self.topic,
            "job": self.job, "environmentId": self.environment_id, "workbookId": self.workbook_id,
            "bytes": self.size,
        }


def parse_delivery(body: bytes | str, *, max_bytes: int = MAX_BODY_BYTES) -> WebhookDelivery | PlatformEvent:
    """The delivery a webhook body holds: a forwarded Platform event (a JSON object with a top-level ``topic`` and
    no ``event``), else a Portal v2 payload (`WebhookDelivery.parse`, which names what is wrong with it).

    Raises:
        PayloadTooLargeError: more than `max_bytes` bytes.
        InvalidPayloadError: neither kind; the message names the bad fields (never their values).
    """
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if len(raw) > max_bytes:
        raise PayloadTooLargeError(f"body is {len(raw)} bytes; the webhook accepts at most {max_bytes}")
    if b'"topic"' in raw:  # a cheap look first: Portal v2 bodies (up to 5 MB) are parsed once
        data = _json_object(raw)
        if data is not None and "topic" in data and "event" not in data:
            return PlatformEvent.from_dict(data, size=len(raw))
    return WebhookDelivery.parse(raw, max_bytes=max_bytes)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None (the Portal v2 parser then names what is wrong)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _checked(model: type[D], data: Mapping[str, Any]) -> D:
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        problems = describe_problems(invalid)
    shown = [f"body{path or ':'} {wording}" for path, wording in problems[:MAX_PROBLEMS]]
    more = len(problems) - len(shown)
    raise InvalidPayloadError("; ".join(shown) + (f"; and {more} more" if more else "")) from None

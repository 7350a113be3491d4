"""The webhook trigger: check the token, keep the raw payload, queue one export job per batch.

Flatfile Portal v2 POSTs a JSON payload when an import is submitted, at most 1,000 rows per request, so a
big import arrives as several POSTs sharing ``event.id`` (``event.sequence.index`` 0, 1, ...). There is
no signature: a shared secret in the URL (``?token=...``) or the ``X-Webhook-Token`` header is the only
authentication, checked against the webhook secret's tokens (`flatfile_relay.webhook_tokens`). The body
is an untrusted hint: only its batch id is used; the exporter reads the authoritative batch and rows from
the REST API. Only ``batch:v1:upload`` events queue an export (`WebhookDelivery.is_upload`). The same URL also
takes a Flatfile Platform event forwarded by a listener (`flatfile_relay.webhook_platform`): both kinds are a
`Delivery`, stored and queued by `accept_delivery`.

Accepting a delivery stores the raw body at ``{prefix}webhooks/{batchId}/{eventId}-{index}.json`` with a
conditional write: a stored payload is never overwritten, so a delivery replayed with the same event id and
a changed body leaves the first one in place (`WebhookOutcome.duplicate`; it still goes on, so Flatfile's own
retry of a delivery whose job could not be sent gets that job). Then, unless the ledger already has the batch
queued, exporting or exported, it queues one export job (trigger ``webhook``) as the poller does
(`jobs.queue_jobs`: sent, and only after that marked queued). The second and later parts of an import find it
queued and send nothing.

Example:
    >>> body = (b'{"event": {"type": "batch:v1:upload", "id": "3b9c1f0e-6d2a-4e8b-9f7c-51a0d4e2b8c6",'
    ...         b' "sequence": {"length": 3, "index": 1}},'
    ...         b' "data": {"meta": {"batch": {"id": "8F14E45F-CEEA-4E67-A2B5-0C8D6F1E3A27"}}}}')
    >>> delivery = WebhookDelivery.parse(body)
    >>> delivery.batch_id, delivery.part
    ('8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27', '2/3')
    >>> delivery.storage_key("flatfile/")
    'flatfile/webhooks/8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27/3b9c1f0e-6d2a-4e8b-9f7c-51a0d4e2b8c6-1.json'
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from botocore.exceptions import ClientError
from pydantic import AfterValidator, Field, Strict, StringConstraints, ValidationInfo, field_validator

from flatfile_relay.deadline import Deadline
from flatfile_relay.errors import ContractError
from flatfile_relay.ids import LEGACY, canonical_uuid
from flatfile_relay.jobs import BatchSnapshot, ExportJob, queue_jobs
from flatfile_relay.layout import webhook_key
from flatfile_relay.ledger import EXPORTED, EXPORTING, IGNORED, QUEUED, Ledger
from flatfile_relay.models import Count, Document, InvalidDocumentError, parse_json
from flatfile_relay.settings import Settings
from flatfile_relay.timestamps import utc_now_iso

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_SEQUENCE_LENGTH",
    "NO_NEW_JOB_STATES",
    "UPLOAD_EVENT",
    "Delivery",
    "InvalidPayloadError",
    "PayloadTooLargeError",
    "UnsupportedMediaTypeError",
    "WebhookDelivery",
    "WebhookError",
    "WebhookOutcome",
    "accept_delivery",
    "check_content_type",
    "decode_body",
    "store_payload",
]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024
"""Largest body accepted (decoded bytes). Lambda refuses requests over 6 MB itself; a Portal v2 POST holds at
most 1,000 rows, far below this unless its cells are huge."""

MAX_SEQUENCE_LENGTH = 100_000
"""More parts than this (100 million rows) is not a real import."""

NO_NEW_JOB_STATES = frozenset({QUEUED, EXPORTING, EXPORTED, IGNORED})
"""Ledger states in which a webhook sends no job: already on its way or done, or before EXPORT_SINCE."""

UPLOAD_EVENT = "batch:v1:upload"
"""The only event type that queues an export (a submitted import); others are answered and ignored."""

_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_EVENT_TYPE = re.compile(r"[\x21-\x7e]{1,100}")  # printable ASCII, no spaces


class WebhookError(ContractError, ValueError):
    """A delivery the relay refuses: nothing is stored or queued."""


class InvalidPayloadError(WebhookError):
    """The body is neither a Portal v2 webhook payload nor a forwarded Flatfile Platform event."""


class PayloadTooLargeError(WebhookError):
    """The body is larger than the relay accepts (`MAX_BODY_BYTES`)."""


class UnsupportedMediaTypeError(WebhookError):
    """The request does not say its body is JSON (`Content-Type`)."""


def check_content_type(value: str | None) -> None:
    """Accept ``application/json`` and ``application/<anything>+json`` (parameters such as ``charset`` allowed).

    Raises:
        UnsupportedMediaTypeError: any other content type, or none; the message names it (cut short).

    Example:
        >>> check_content_type("application/json; charset=utf-8")
        >>> check_content_type("text/plain")
        Traceback (most recent call last):
        ...
        flatfile_relay.webhook.UnsupportedMediaTypeError: unsupported content type 'text/plain': send the body ...
    """
    media = (value or "").split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    shown = repr(media[:60]) if media else "none"
    raise UnsupportedMediaTypeError(
        f"unsupported content type {shown}: send the body as JSON, Content-Type: application/json"
    )


def decode_body(body: str | None, *, base64_encoded: bool, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The bytes a request carried, as Lambda hands them over (text, or base64 when `base64_encoded`).

    An oversize body is refused before it is decoded.

    Example:
        >>> decode_body("eyJhIjogMX0=", base64_encoded=True), decode_body(None, base64_encoded=False)
        (b'{"a": 1}', b'')
    """
    text = body or ""
    if base64_encoded:
        if len(text) > (max_bytes + 2) // 3 * 4:
            raise _too_large(len(text) * 3 // 4, max_bytes)
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidPayloadError("body is marked base64 but is not valid base64") from None
    if len(text) > max_bytes:  # characters: a lower bound of the bytes
        raise _too_large(len(text), max_bytes)
    return text.encode("utf-8", "surrogatepass")


def _too_large(size: int, max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"body is about {size} bytes; the webhook accepts at most {max_bytes}")


class Delivery(Protocol):
    """What the webhook stores and queues, whatever sent it: a Portal v2 POST (`WebhookDelivery`) or a Platform
    event a listener forwarded (`flatfile_relay.webhook_platform.PlatformEvent`)."""

    @property
    def source(self) -> str:
        """The export's source: ``legacy`` or ``platform`` (`flatfile_relay.ids`)."""
        ...

    @property
    def batch_id(self) -> str:
        """What to export: a batch UUID (legacy) or a submit job's id (Platform)."""
        ...

    @property
    def event_id(self) -> str: ...

    @property
    def event_type(self) -> str: ...

    @property
    def part(self) -> str:
        """Which part of the delivery this is, counted from 1 (e.g. ``2/3``)."""
        ...

    def storage_key(self, prefix: str) -> str:
        """The S3 key of the raw body; it depends only on the delivery (a redelivery finds it taken)."""
        ...

    def snapshot(self) -> BatchSnapshot | None:
        """What the delivery tells of the batch, for its export job (`flatfile_relay.jobs.BatchSnapshot`)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Fields for log lines and responses (ids and sizes, never a secret)."""
        ...


@dataclass(frozen=True)
class WebhookDelivery:
    """One webhook POST, checked: which batch, which event and which part of it.

    Attributes:
        event_type: `event.type` (``batch:v1:upload`` for a submitted import).
        event_id: `event.id`, shared by every part of one delivery.
        batch_id: `data.meta.batch.id` in canonical (lower-case) UUID form.
        index: `event.sequence.index` (from 0; 0 when the payload has no sequence).
        length: `event.sequence.length` (1 when the payload has no sequence).
        total_rows: `data.meta.length` when present (rows delivered in all parts).
        rows: rows in this part (`validRows` + `invalidRows`).
        size: the body's size in bytes.
    """

    event_type: str
    event_id: str
    batch_id: str
    index: int = 0
    length: int = 1
    total_rows: int | None = None
    rows: int = 0
    size: int = 0

    @classmethod
    def parse(cls, body: bytes | str, *, max_bytes: int = MAX_BODY_BYTES) -> WebhookDelivery:
        """Check a webhook body and return what it says.

        Raises:
            PayloadTooLargeError: more than `max_bytes` bytes.
            InvalidPayloadError: not UTF-8 JSON, or not the Portal v2 shape; the message names the bad
                fields (never their values).

        Example:
            >>> WebhookDelivery.parse(b'{"event": {}}')
            Traceback (most recent call last):
            ...
            flatfile_relay.webhook.InvalidPayloadError: body.event.type is missing; body.event.id is missing; ...
        """
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        if len(raw) > max_bytes:
            raise PayloadTooLargeError(f"body is {len(raw)} bytes; the webhook accepts at most {max_bytes}")
        if not raw.strip():
            raise InvalidPayloadError("body is empty: expected a Portal v2 webhook JSON payload")
        try:
            payload = parse_json(_Payload, raw, "body")
        except InvalidDocumentError as error:
            raise InvalidPayloadError(str(error)) from None
        event, data = payload.event, payload.data
        sequence = event.sequence or _Sequence(length=1, index=0)
        return cls(
            event_type=event.type, event_id=event.id, batch_id=data.meta.batch.id, index=sequence.index,
            length=sequence.length, total_rows=data.meta.length,
            rows=len(data.valid_rows or ()) + len(data.invalid_rows or ()), size=len(raw),
        )

    @property
    def source(self) -> str:
        """Always ``legacy``: Portal v2 sends batches of the legacy API."""
        return LEGACY

    @property
    def is_upload(self) -> bool:
        """True for a submitted import (`UPLOAD_EVENT`), the only event that queues an export."""
        return self.event_type == UPLOAD_EVENT

    @property
    def part(self) -> str:
        """Which part this is, counted from 1 (e.g. ``2/3``)."""
        return f"{self.index + 1}/{self.length}"

    def storage_key(self, prefix: str) -> str:
        """The S3 key of the raw payload; it depends only on the delivery (a redelivery finds it taken)."""
        return webhook_key(prefix, self.batch_id, self.event_id, self.index)

    def snapshot(self) -> BatchSnapshot | None:
        """How many rows the batch holds (``data.meta.length``; None when the payload does not say); its status is
        left unknown (the exporter reads it)."""
        return None if self.total_rows is None else BatchSnapshot(count_rows=self.total_rows)

    def describe(self) -> dict[str, Any]:
        """Fields for log lines and responses (no secrets: the body's ids and sizes only)."""
        return {
            "batchId": self.batch_id, "eventId": self.event_id, "eventType": self.event_type,
            "part": self.part, "rows": self.rows, "bytes": self.size,
        }


@dataclass(frozen=True)
class WebhookOutcome:
    """What accepting one delivery did.

    Attributes:
        delivery: the delivery.
        key: the S3 key of the stored payload.
        queued: True when this delivery sent an export job.
        ledger_state: the batch's ledger state before (None: unknown batch).
        marked: True when the ledger was moved to ``queued`` by this delivery (False: another trigger was
            first; the exporter deduplicates the extra job).
        job: the export job sent, if any.
        duplicate: True when a payload was already stored for this delivery (kept; this body was not stored).
    """

    delivery: Delivery
    key: str
    queued: bool
    ledger_state: str | None = None
    marked: bool = False
    job: ExportJob | None = None
    duplicate: bool = False

    @property
    def reason(self) -> str:
        """Why a job was or was not sent (e.g. ``job sent``, ``already exported``)."""
        if self.queued:
            return "job sent"
        return f"already {self.ledger_state}"

    def describe(self) -> dict[str, Any]:
        """Fields for log lines and responses."""
        return {**self.delivery.describe(), "queued": self.queued, "reason": self.reason, "key": self.key,
                "duplicate": self.duplicate}


def accept_delivery(
    delivery: Delivery,
    raw_body: bytes,
    s3: Any,
    sqs: Any,
    ledger: Ledger,
    settings: Settings,
    *,
    deadline: Deadline | None = None,
    clock: Callable[[], float] = time.time,
) -> WebhookOutcome:
    """Store an authenticated delivery's raw body, then queue one export job unless the batch has one.

    Order matters: the payload is stored first (a failure queues nothing and the sender may retry), the job
    is sent before the ledger says ``queued`` (`jobs.queue_jobs`: a crash in between only duplicates a job,
    which the exporter absorbs). Parts of a batch arriving at the same moment may each send a job; the
    exporter's claim makes that one export. `clock` (epoch seconds) dates the stored payload and the job.

    Raises whatever S3, SQS or DynamoDB raise (botocore errors): nothing after the failing step happened.
    """
    settings.require("export_bucket", "export_jobs_queue_url", "ledger_table")
    key = delivery.storage_key(settings.export_prefix)
    duplicate = not store_payload(s3, settings.export_bucket, key, raw_body, delivery, clock=clock)
    entry = ledger.get(delivery.batch_id)
    state = entry.state if entry is not None else None
    if state in NO_NEW_JOB_STATES:
        return WebhookOutcome(delivery=delivery, key=key, queued=False, ledger_state=state, duplicate=duplicate)
    job = ExportJob.create(delivery.batch_id, trigger="webhook", source=delivery.source, clock=clock,
                           batch=delivery.snapshot())
    [(job, marked)] = queue_jobs(sqs, settings.export_jobs_queue_url, ledger, [(job, None, entry)], deadline)
    return WebhookOutcome(delivery=delivery, key=key, queued=True, ledger_state=state, marked=marked, job=job,
                          duplicate=duplicate)


def store_payload(s3: Any, bucket: str, key: str, raw_body: bytes, delivery: Delivery, *,
                  clock: Callable[[], float] = time.time) -> bool:
    """Store a delivery's raw body at `key` unless something is stored there already; False then (a duplicate).

    The write is conditional (``If-None-Match: *``), so a payload once stored is never overwritten: not by a
    redelivery, nor by a replay of a known event id with a changed body. S3 answers 412 to a taken key.
    `clock` (epoch seconds) dates the stored payload.
    """
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=raw_body,
            ContentType="application/json",
            IfNoneMatch="*",
            Metadata={
                "batch-id": delivery.batch_id,
                "event-id": delivery.event_id,
                "event-type": delivery.event_type,
                "sequence": delivery.part,
                "received-at": utc_now_iso(clock),
            },
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "PreconditionFailed":
            logger.warning("webhook payload %s is stored already: kept as it is, this body not stored", key)
            return False
        raise
    return True


# -- the Portal v2 payload (only what the relay reads; everything else is ignored) ---------------------------


def _event_id(value: str) -> str:
    try:
        return canonical_uuid(value)
    except ValueError:
        pass
    if not _EVENT_ID.fullmatch(value) or ".." in value:
        raise ValueError("must be a UUID (or up to 128 letters, digits, '.', '_' and '-')")
    return value


def _event_type(value: str) -> str:
    if not _EVENT_TYPE.fullmatch(value):
        raise ValueError("must be a short word such as 'batch:v1:upload'")
    return value


_Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Sequence(Document):
    length: Annotated[int, Strict(), Field(ge=1, le=MAX_SEQUENCE_LENGTH)]
    index: Count

    @field_validator("index")
    @classmethod
    def _within_length(cls, index: int, info: ValidationInfo) -> int:
        if index >= info.data.get("length", MAX_SEQUENCE_LENGTH):
            raise ValueError("must be less than sequence.length")
        return index


class _Event(Document):
    type: Annotated[_Word, AfterValidator(_event_type)]
    id: Annotated[_Word, AfterValidator(_event_id)]
    sequence: _Sequence | None = None


class _BatchRef(Document):
    id: Annotated[_Word, AfterValidator(canonical_uuid)]


class _Meta(Document):
    batch: _BatchRef
    length: Count | None = None


class _Data(Document):
    meta: _Meta
    valid_rows: list[Any] | None = None
    invalid_rows: list[Any] | None = None


class _Payload(Document):
    event: _Event
    data: _Data

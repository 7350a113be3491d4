"""The ledger: one DynamoDB item per batch, moved through its states with conditional writes.

States::

    pending ──► queued ──► exporting ──► exported
       │                      ▲  (lease; a crashed run is taken over when its lease expires)
       └──► closed (cancelled) / ignored (created before EXPORT_SINCE)

- `pending`: seen while the import was still in progress; the poller re-checks it (sparse index
  `pending-by-created`) until it is submitted, cancelled, failed or gone, whatever its age, and records
  when it last did (`checkedAt`), so the least recently checked go first when not all fit in one poll.
- `queued`: an export job was sent. The job is sent *before* this mark, so a crash in between only
  duplicates a job, which the exporter's claim absorbs.
- `exporting`: one exporter holds the lease; finished parts are recorded as they land, so a run cut short
  resumes from its last finished part. After the manifest, each announcement is recorded as it is made
  (`notice`: the notice sent; `eventPublishedAt`), so a retry makes only the ones still missing.

The reserved items ``#poller`` (the legacy source) and ``#poller:<source>`` hold the poller's checkpoints
(`flatfile_relay.checkpoint`).

Example:
    >>> ledger = Ledger("flatfile-relay-ledger", clients.dynamodb)        # doctest: +SKIP
    >>> ledger.mark_queued(batch_id, created_at="2021-03-01T20:22:52.000Z")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from flatfile_relay.checkpoint import LEGACY_SOURCE, STORED_FIELDS, Checkpoint, checkpoint_id
from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.errors import ContractError, RelayError, TransientError
from flatfile_relay.retry import Again, Backoff, GaveUp, Stop, retry
from flatfile_relay.timestamps import utc_now_iso

__all__ = [
    "ANYTHING",
    "CLOSED",
    "EXPORTED",
    "EXPORTING",
    "IGNORED",
    "PENDING",
    "PENDING_INDEX",
    "QUEUED",
    "READ_ATTEMPTS",
    "SETTLED",
    "SUBMITTED",
    "AlreadyExportedError",
    "BatchBusyError",
    "InconsistentEntryError",
    "LeaseLostError",
    "Ledger",
    "LedgerEntry",
    "LedgerError",
    "LedgerReadError",
]

PENDING_INDEX = "pending-by-created"
PENDING, QUEUED, EXPORTING, EXPORTED, CLOSED, IGNORED = (
    "pending", "queued", "exporting", "exported", "closed", "ignored",
)
#: states in which the poller has nothing more to do for a batch
SETTLED = frozenset({QUEUED, EXPORTING, EXPORTED, CLOSED, IGNORED})
#: the Flatfile status of a batch that gets an export job (`mark_queued` records it as the batch's status)
SUBMITTED = "submitted"
#: BatchGetItem calls per 100 keys before unprocessed keys are given up on, and the backoff between them
READ_ATTEMPTS = 8
_BACKOFF_BASE, _BACKOFF_CAP = 0.05, 2.0

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class _Anything:
    """The type of `ANYTHING`."""

    def __repr__(self) -> str:
        return "ANYTHING"


ANYTHING = _Anything()
"""`Ledger.mark_queued(seen=ANYTHING)`: mark whatever happened to the entry since it was read."""


class LedgerError(RelayError, RuntimeError):
    """Base class of the ledger's errors (never raised itself: each one is also one of the relay's three kinds)."""


class LedgerReadError(LedgerError, TransientError):
    """The ledger could not be read: DynamoDB left reads unprocessed, or an entry vanished while read back."""


class AlreadyExportedError(LedgerError, ContractError):
    """The batch was exported before; only an explicit replay exports it again (export once: retrying the same
    job will not help)."""


class BatchBusyError(LedgerError, TransientError):
    """Another invocation holds a live lease on the batch."""


class LeaseLostError(LedgerError, TransientError):
    """This invocation's lease was taken over; it must stop writing."""


class InconsistentEntryError(LedgerError, ContractError):
    """A ledger entry breaks the ledger's own rules (its parts and `nextSkip` disagree): replay the batch."""


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger knows of one batch."""

    batch_id: str
    state: str
    batch_status: str | None = None
    batch_created_at: str | None = None
    trigger: str | None = None
    parts: tuple[dict[str, Any], ...] = ()
    next_skip: int = 0
    lease_owner: str | None = None
    lease_expires_at: float = 0.0
    manifest_uri: str | None = None
    row_count: int | None = None
    exported_at: str | None = None
    updated_at: str | None = None
    notice: str | None = None
    event_published_at: str | None = None
    checked_at: str | None = None
    job_acknowledged_at: str | None = None
    locked_sheets: tuple[str, ...] = ()
    #: what the finished parts hold, counted (`flatfile_relay.tally`): `{group: Tally.to_dict()}`
    tally: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def settled(self) -> bool:
        """True when the poller has nothing more to do for this batch."""
        return self.state in SETTLED

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> LedgerEntry:
        data = {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}
        return cls(
            batch_id=data["batchId"],
            state=data.get("state", PENDING),
            batch_status=data.get("batchStatus"),
            batch_created_at=data.get("batchCreatedAt"),
            trigger=data.get("trigger"),
            parts=tuple(data.get("parts") or ()),
            next_skip=int(data.get("nextSkip", 0)),
            lease_owner=data.get("leaseOwner"),
            lease_expires_at=float(data.get("leaseExpiresAt", 0)),
            manifest_uri=data.get("manifestUri"),
            row_count=data.get("rowCount"),
            exported_at=data.get("exportedAt"),
            updated_at=data.get("updatedAt"),
            notice=data.get("notice"),
            event_published_at=data.get("eventPublishedAt"),
            checked_at=data.get("checkedAt"),
            job_acknowledged_at=data.get("jobAcknowledgedAt"),
            locked_sheets=tuple(data.get("lockedSheets") or ()),
            tally=data.get("exportTally") if isinstance(data.get("exportTally"), dict) else None,
            extra=data,
        )


class Ledger:
    """Batch states in a DynamoDB table keyed by `batchId`.

    `dynamodb` is a low-level boto3 DynamoDB client; `clock` returns epoch seconds: leases and every time the
    ledger writes (`updatedAt`, `queuedAt`...) are read from it; `sleep` and `rand` are the backoff's (tests
    may pass their own).
    """

    def __init__(
        self, table_name: str, dynamodb: Any, clock: Callable[[], float] = time.time, *,
        sleep: Callable[[float], None] = time.sleep, rand: Callable[[], float] = random.random,
    ) -> None:
        self.table_name = table_name
        self._db = dynamodb
        self._clock = clock
        self._sleep = sleep
        self._rand = rand

    # -- reads -----------------------------------------------------------------------------------------

    def get(self, batch_id: str) -> LedgerEntry | None:
        """The entry of one batch (strongly consistent), or None when the ledger never saw it."""
        answer = self._db.get_item(TableName=self.table_name, Key=_key(batch_id), ConsistentRead=True)
        item = answer.get("Item")
        return LedgerEntry.from_item(item) if item else None

    def get_many(self, batch_ids: Iterable[str], deadline: Deadline | None = None) -> dict[str, LedgerEntry]:
        """Entries of many batches at once (BatchGetItem, 100 keys a call).

        Keys DynamoDB leaves unprocessed are read again after a backoff with jitter (`flatfile_relay.retry`);
        a wait that would reach `deadline` raises `DeadlineExceededError` instead, and keys still unprocessed
        after `READ_ATTEMPTS` calls raise `LedgerReadError`.
        """
        wanted = list(dict.fromkeys(batch_ids))
        found: dict[str, LedgerEntry] = {}
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                self.table_name: {"Keys": [_key(b) for b in wanted[start:start + 100]], "ConsistentRead": True}
            }

            def attempt(number: int) -> bool | Again:
                nonlocal request
                answer = self._db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table_name, []):
                    entry = LedgerEntry.from_item(item)
                    found[entry.batch_id] = entry
                request = answer.get("UnprocessedKeys") or {}
                return True if not request else Again("DynamoDB left reads unprocessed")

            outcome = retry(attempt, attempts=READ_ATTEMPTS, backoff=Backoff(_BACKOFF_BASE, _BACKOFF_CAP, self._rand),
                            deadline=deadline, sleep=self._sleep)
            if isinstance(outcome, GaveUp) and outcome.stop is Stop.DEADLINE:
                raise DeadlineExceededError(
                    "Stopped reading the ledger: DynamoDB left reads unprocessed and the deadline leaves no "
                    "time to try again. The work resumes at the next invocation."
                )
            if isinstance(outcome, GaveUp):
                raise LedgerReadError(
                    f"DynamoDB left ledger reads unprocessed after {READ_ATTEMPTS} attempts; try again"
                )
        return found

    def pending(self) -> Iterator[LedgerEntry]:
        """Batches seen in progress, oldest first (every one: there is no age limit)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": PENDING_INDEX,
            "KeyConditionExpression": "pendingKey = :p",
            "ExpressionAttributeValues": {":p": {"S": PENDING}},
        }
        while True:
            answer = self._db.query(**kwargs)
            for item in answer.get("Items", []):
                yield LedgerEntry.from_item(item)
            if not answer.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    # -- poller ----------------------------------------------------------------------------------------

    def mark_pending(self, batch_id: str, *, created_at: str | None, status: str | None) -> bool:
        """Remember a batch still in progress. False when the ledger already has it past pending."""
        return self._transition(
            batch_id,
            "SET #s = :pending, pendingKey = :pending, batchCreatedAt = :created, batchStatus = :status, "
            "updatedAt = :now, firstSeenAt = if_not_exists(firstSeenAt, :now)",
            "attribute_not_exists(batchId) OR #s = :pending",
            {":pending": PENDING, ":created": created_at or self._now(), ":status": status},
        )

    def mark_checked(self, batch_id: str, *, at: str) -> bool:
        """Record when the poller last asked Flatfile about a pending batch (it is still pending).

        Only `checkedAt` changes (not `updatedAt`, which `mark_queued` compares). False when the batch is
        no longer pending.
        """
        return self._transition(batch_id, "SET checkedAt = :at", "#s = :pending", {":at": at, ":pending": PENDING})

    def mark_closed(self, batch_id: str, *, created_at: str | None, status: str | None, state: str = CLOSED) -> bool:
        """Settle a batch that will not be exported (cancelled, or created before EXPORT_SINCE)."""
        if state not in (CLOSED, IGNORED):
            raise ValueError(f"mark_closed takes {CLOSED!r} or {IGNORED!r}, not {state!r}")
        return self._transition(
            batch_id,
            "SET #s = :state, batchCreatedAt = :created, batchStatus = :status, updatedAt = :now "
            "REMOVE pendingKey",
            "attribute_not_exists(batchId) OR #s = :pending",
            {":state": state, ":pending": PENDING, ":created": created_at or self._now(), ":status": status},
        )

    def mark_queued(
        self, batch_id: str, *, created_at: str | None, trigger: str = "schedule",
        seen: LedgerEntry | _Anything | None = ANYTHING,
    ) -> bool:
        """Record that an export job was sent. Call only after the send succeeded.

        `seen` is the entry the caller read before sending the job (None: there was none). The mark then
        lands only if nobody changed the entry since: the job may already have reached an exporter that
        handed the batch back to the poller (pending), and marking it queued after that would leave it
        queued with no job in flight, never exported.

        False when the batch is already queued or further, or (with `seen`) when the entry changed.
        """
        condition = "attribute_not_exists(batchId) OR #s IN (:pending, :closed, :ignored)"
        if seen is None:
            condition = "attribute_not_exists(batchId)"
        elif isinstance(seen, LedgerEntry):
            unchanged = "updatedAt = :seen" if seen.updated_at is not None else "attribute_not_exists(updatedAt)"
            condition = f"#s IN (:pending, :closed, :ignored) AND {unchanged}"
        return self._transition(
            batch_id,
            "SET #s = :queued, batchCreatedAt = if_not_exists(batchCreatedAt, :created), "
            "batchStatus = :submitted, #t = :trigger, queuedAt = :now, updatedAt = :now REMOVE pendingKey",
            condition,
            {
                ":queued": QUEUED, ":pending": PENDING, ":closed": CLOSED, ":ignored": IGNORED,
                ":created": created_at or self._now(), ":submitted": SUBMITTED, ":trigger": trigger,
                ":seen": seen.updated_at if isinstance(seen, LedgerEntry) else None,
            },
            names={"#t": "trigger"},
        )

    def checkpoint(self, source: str = LEGACY_SOURCE) -> Checkpoint:
        """The poller's checkpoint of `source` (empty on a new deployment; see `flatfile_relay.checkpoint`)."""
        key = _key(checkpoint_id(source))
        answer = self._db.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
        item = answer.get("Item") or {}
        return Checkpoint.from_item({k: _plain(_deserializer.deserialize(v)) for k, v in item.items()
                                     if k != "batchId"})

    def save_checkpoint(self, checkpoint: Checkpoint, source: str = LEGACY_SOURCE) -> None:
        """Store the poller's checkpoint of `source`, in the current version: every field in one UpdateItem
        (the poller's policy allows no PutItem), those that are None removed."""
        item = checkpoint.to_item()
        values = {f":v{i}": _serializer.serialize(_dynamo(value)) for i, value in enumerate(item.values())}
        names = [*item, *(name for name in STORED_FIELDS if name not in item)]
        update = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(item)))
        if len(names) > len(item):
            update += " REMOVE " + ", ".join(f"#f{i}" for i in range(len(item), len(names)))
        self._db.update_item(
            TableName=self.table_name,
            Key=_key(checkpoint_id(source)),
            UpdateExpression=update,
            ExpressionAttributeNames={f"#f{i}": name for i, name in enumerate(names)},
            ExpressionAttributeValues=values,
        )

    # -- exporter --------------------------------------------------------------------------------------

    def claim(
        self, batch_id: str, *, owner: str, lease_seconds: float, trigger: str, replay: bool = False
    ) -> LedgerEntry:
        """Take the export lease of a batch and return its entry (with the parts already finished).

        Raises AlreadyExportedError when the batch was exported (unless `replay`), BatchBusyError while
        another invocation holds a live lease.
        """
        now = self._clock()
        values: dict[str, Any] = {
            ":exporting": EXPORTING, ":exported": EXPORTED, ":owner": owner, ":until": now + lease_seconds,
            ":now_epoch": now, ":trigger": trigger, ":empty": [], ":zero": 0,
        }
        update = (
            "SET #s = :exporting, leaseOwner = :owner, leaseExpiresAt = :until, #t = :trigger, "
            "updatedAt = :now, exportStartedAt = if_not_exists(exportStartedAt, :now), "
            "parts = if_not_exists(parts, :empty), nextSkip = if_not_exists(nextSkip, :zero) REMOVE pendingKey"
        )
        condition = (
            "attribute_not_exists(batchId) OR (NOT #s IN (:exporting, :exported)) "
            "OR (#s = :exporting AND (leaseExpiresAt < :now_epoch OR leaseOwner = :owner))"
        )
        # one write each way: the entry as it now is when the claim lands, as it was when it did not
        landed, item = self._update(batch_id, update, condition, values, names={"#t": "trigger"})
        if landed or item is None:
            return self._entry(batch_id, item)
        current = LedgerEntry.from_item(item)
        if current.state == EXPORTED and replay:
            restart = (
                "SET #s = :exporting, leaseOwner = :owner, leaseExpiresAt = :until, #t = :trigger, "
                "updatedAt = :now, exportStartedAt = :now, parts = :empty, nextSkip = :zero "
                "REMOVE manifestUri, rowCount, exportedAt, notice, noticeSentAt, eventPublishedAt, exportTally"
            )
            landed, item = self._update(batch_id, restart, "#s = :exported", values, names={"#t": "trigger"})
            if landed or item is None:
                return self._entry(batch_id, item)
            current = LedgerEntry.from_item(item)
            if current.state == EXPORTING and current.lease_owner == owner:  # a resend of the restart that landed
                return current
        if current.state == EXPORTED:
            raise AlreadyExportedError(f"batch {batch_id} was exported at {current.exported_at}")
        raise BatchBusyError(
            f"batch {batch_id} is being exported by another invocation (lease until {current.lease_expires_at:.0f})"
        )

    def record_part(self, batch_id: str, *, owner: str, part: Mapping[str, Any], next_skip: int,
                    lease_seconds: float, tally: Mapping[str, Any] | None = None) -> float:
        """Append a finished part and extend the lease; return when the lease now expires (the ledger's clock, see
        `lease_holds`). LeaseLostError if the lease was taken over. `tally`: what the finished parts hold so far,
        counted (replaces the one recorded with the previous part).

        The append happens once even when botocore resends the update because its answer was lost: the
        condition on `nextSkip` fails the resend, which then finds its own part recorded.
        """
        record = dict(part)
        until = self._clock() + lease_seconds
        self._owned(
            batch_id, owner,
            "SET parts = list_append(parts, :part), nextSkip = :next, leaseExpiresAt = :until, updatedAt = :now, "
            "exportTally = :tally",
            {":part": [record], ":next": next_skip, ":before": next_skip - int(record["rows"]), ":until": until,
             ":tally": dict(tally or {})},
            also="nextSkip = :before",
            landed=lambda entry: entry.state == EXPORTING and entry.lease_owner == owner
            and entry.next_skip == next_skip and bool(entry.parts) and entry.parts[-1] == record,
        )
        return until

    def lease_holds(self, expires_at: float, seconds: float) -> bool:
        """True while a lease this ledger set to expire at `expires_at` (`LedgerEntry.lease_expires_at`, what
        `record_part` returns) has at least `seconds` left on the ledger's clock: nobody can have taken it over.

        Example:
            >>> Ledger("t", None, clock=lambda: 100.0).lease_holds(200.0, 60)
            True
        """
        return expires_at - self._clock() >= seconds

    def release(self, batch_id: str, *, owner: str) -> None:
        """Give the lease up (the export continues in another invocation, which may claim it at once)."""
        self._owned(batch_id, owner, "SET leaseExpiresAt = :zero, updatedAt = :now", {":zero": 0})

    def record_notice(self, batch_id: str, *, owner: str, notice: str, event_published: bool = False) -> None:
        """Record that the notice (JSON text, kept to announce the same export again) was sent, and with
        `event_published` that the export's event was published too (one write for both)."""
        event = ", eventPublishedAt = if_not_exists(eventPublishedAt, :now)" if event_published else ""
        self._owned(batch_id, owner, f"SET notice = :notice, noticeSentAt = :now, updatedAt = :now{event}",
                    {":notice": notice})

    def record_event(self, batch_id: str, *, owner: str) -> None:
        """Record that the export's EventBridge event was published."""
        self._owned(batch_id, owner, "SET eventPublishedAt = :now, updatedAt = :now", {})

    def record_schema_events(self, batch_id: str, *, owner: str) -> None:
        """Record that the export's schema change events were published (kept by a replay: announced once)."""
        self._owned(batch_id, owner, "SET schemaEventsPublishedAt = :now, updatedAt = :now", {})

    def mark_exported(self, batch_id: str, *, owner: str, manifest_uri: str, row_count: int, exported_at: str,
                      notice: str | None = None) -> None:
        """Finish an export: the manifest is written, the notice sent and the event published.

        The same write records the notice (`notice`, unless an earlier write did) and the event (unless one
        did), so an export whose announcements all went out at once ends in one write, not three.
        """
        values: dict[str, Any] = {":exported": EXPORTED, ":uri": manifest_uri, ":rows": row_count, ":at": exported_at}
        update = ("SET #s = :exported, manifestUri = :uri, rowCount = :rows, exportedAt = :at, updatedAt = :now, "
                  "eventPublishedAt = if_not_exists(eventPublishedAt, :now)")
        if notice is not None:
            update += ", notice = :notice, noticeSentAt = if_not_exists(noticeSentAt, :now)"
            values[":notice"] = notice
        self._owned(
            batch_id, owner, update + " REMOVE leaseOwner, leaseExpiresAt", values,
            landed=lambda entry: entry.state == EXPORTED and entry.manifest_uri == manifest_uri
            and entry.exported_at == exported_at,
        )

    def schema_item(self, key: str) -> dict[str, Any] | None:
        """The last schema recorded under `key` (`flatfile_relay.schema_drift`), or None."""
        answer = self._db.get_item(TableName=self.table_name, Key=_key(key), ConsistentRead=True)
        item = answer.get("Item")
        return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()} if item else None

    def move_schema(self, key: str, previous: str | None, fingerprint: str, fields: list[dict[str, Any]],
                    change: dict[str, Any] | None, export_id: str) -> bool:
        """Record `fingerprint` as the last schema under `key` if the last one is still `previous` (None: none yet);
        False when another export moved it first."""
        condition = "attribute_not_exists(batchId)" if previous is None else "fingerprint = :previous"
        return self._transition(
            key, "SET fingerprint = :fingerprint, #f = :fields, #c = :change, changedBy = :by, updatedAt = :now",
            condition, {":previous": previous, ":fingerprint": fingerprint, ":fields": fields, ":change": change,
                        ":by": export_id},
            names={"#f": "fields", "#c": "change"},
        )

    def reset_parts(self, batch_id: str, *, owner: str) -> None:
        """Forget the finished parts: the export starts again from its first row (the source changed while it was
        read). The objects stay until the new parts overwrite them or the new manifest's clean-up deletes them."""
        self._owned(batch_id, owner, "SET parts = :empty, nextSkip = :zero, updatedAt = :now REMOVE exportTally",
                    {":empty": [], ":zero": 0},
                    landed=lambda entry: entry.state == EXPORTING and entry.lease_owner == owner and not entry.parts)

    def record_job_acknowledged(self, batch_id: str, *, owner: str) -> None:
        """Record, just before the request, that the relay acknowledges the Platform job `batch_id`: a job found
        executing with the relay's info later is the relay's own only when this mark is there."""
        self._owned(batch_id, owner, "SET jobAcknowledgedAt = if_not_exists(jobAcknowledgedAt, :now), updatedAt = :now",
                    {})

    def record_locks(self, batch_id: str, *, owner: str, sheet_ids: Iterable[str]) -> None:
        """Record which sheets the export holds locked (`lockedSheets`): whoever resumes it unlocks them."""
        self._owned(batch_id, owner, "SET lockedSheets = :sheets, updatedAt = :now", {":sheets": list(sheet_ids)})

    def settle(self, batch_id: str, *, owner: str, status: str | None) -> None:
        """End an export the relay leaves alone (a Platform job another listener took, or someone else ended):
        `closed`, with the source's `status`, its parts forgotten and the lease given up."""
        self._owned(
            batch_id, owner,
            "SET #s = :closed, batchStatus = :status, parts = :empty, nextSkip = :zero, updatedAt = :now "
            "REMOVE leaseOwner, leaseExpiresAt, exportTally",
            {":closed": CLOSED, ":status": status, ":empty": [], ":zero": 0},
            landed=lambda entry: entry.state == CLOSED and entry.lease_owner is None,
        )

    def return_to_pending(
        self, batch_id: str, *, owner: str, status: str | None, created_at: str | None = None
    ) -> None:
        """Hand a batch back to the poller: it turned out not to be submitted yet.

        The entry keeps the creation time it has; one claimed without any (a job that reached the exporter
        before the ledger saw the batch) gets `created_at`, else now, so that the poller's pending index
        (keyed by creation time) lists it.
        """
        self._owned(
            batch_id, owner,
            "SET #s = :pending, pendingKey = :pending, batchStatus = :status, updatedAt = :now, "
            "batchCreatedAt = if_not_exists(batchCreatedAt, :created) "
            "REMOVE leaseOwner, leaseExpiresAt",
            {":pending": PENDING, ":status": status, ":created": created_at or self._now()},
            landed=lambda entry: entry.state == PENDING and entry.lease_owner is None,
        )

    # -- plumbing --------------------------------------------------------------------------------------

    def _now(self) -> str:
        """The ledger clock's time as the ledger writes it (`updatedAt`, `queuedAt`...)."""
        return utc_now_iso(self._clock)

    def _require(self, batch_id: str) -> LedgerEntry:
        entry = self.get(batch_id)
        if entry is None:
            raise LedgerReadError(f"ledger entry of batch {batch_id} vanished")
        return entry

    def _owned(self, batch_id: str, owner: str, update: str, values: dict[str, Any], *, also: str = "",
               landed: Callable[[LedgerEntry], bool] | None = None) -> None:
        """An update only the lease's owner may make (`also`: a further condition).

        When the condition fails, `landed` tells from the entry read back whether this very update is already
        there: botocore resends a write whose answer was lost, and the resend then fails its own condition.
        """
        values = {**values, ":owner": owner, ":exporting": EXPORTING}
        condition = "#s = :exporting AND leaseOwner = :owner" + (f" AND {also}" if also else "")
        if self._transition(batch_id, update, condition, values):
            return
        current = self.get(batch_id) if landed is not None else None
        if current is None or landed is None or not landed(current):
            raise LeaseLostError(f"lost the export lease of batch {batch_id} to another invocation")

    def _entry(self, batch_id: str, item: Mapping[str, Any] | None) -> LedgerEntry:
        """The entry of an item a write returned (read again when the answer held none)."""
        return LedgerEntry.from_item(item) if item else self._require(batch_id)

    def _transition(self, batch_id: str, update: str, condition: str, values: dict[str, Any],
                    names: dict[str, str] | None = None) -> bool:
        """One conditional UpdateItem; False when the condition did not hold."""
        return self._update(batch_id, update, condition, values, names, returns=False)[0]

    def _update(self, batch_id: str, update: str, condition: str, values: dict[str, Any],
                names: dict[str, str] | None = None, *, returns: bool = True) -> tuple[bool, dict[str, Any] | None]:
        """One conditional UpdateItem: whether it landed, and (`returns`) the item as it is after it when it
        did, as it was when it did not (None: no item)."""
        all_values = {":now": self._now(), **values}
        tokens = set(re.findall(r"[:#]\w+", update + " " + condition))
        used = {k: v for k, v in all_values.items() if k in tokens}
        all_names = {"#s": "state", **(names or {})}
        extra: dict[str, str] = {"ReturnValues": "ALL_NEW", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        try:
            answer = self._db.update_item(
                TableName=self.table_name,
                Key=_key(batch_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={k: v for k, v in all_names.items() if k in tokens},
                ExpressionAttributeValues={k: _serializer.serialize(_dynamo(v)) for k, v in used.items()},
                **(extra if returns else {}),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False, error.response.get("Item") if returns else None
            raise
        return True, answer.get("Attributes") if returns else None


def _key(batch_id: str) -> dict[str, Any]:
    return {"batchId": {"S": batch_id}}


def _dynamo(value: Any) -> Any:
    """Python values as DynamoDB accepts them (floats become Decimals)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dynamo(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """DynamoDB values back as plain Python (Decimals become ints or floats)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value

"""Export one submitted batch or Platform job: rows as gzip JSON Lines parts in S3, the manifest last, one notice.

The run is the same for both sources (`export_batch`: a legacy batch, `flatfile_relay.legacy_export`;
`export_platform_job`: a Flatfile Platform submit job, `flatfile_relay.platform_export`); what is the source's own
sits behind `flatfile_relay.export_source.ExportSource`. `run_export` is safe to run any number of times for the
same export:

1. It claims the export's lease in the ledger. An export already done is skipped (unless the job is a replay);
   an export another invocation is running is left to it ("busy": that invocation's own job is still in flight
   and comes back if it dies).
2. The source reads what to export and decides (`ExportSource.open`): not ready yet (a batch not submitted, a job
   not ready) or unknown, the export goes back to the poller (pending); left alone (a Platform job another
   listener took), the ledger closes it.
3. It streams the rows from the first row not yet in a finished part (the ledger records each part as it lands,
   with where the source resumes after it), `PART_MAX_ROWS` rows per part, a page at a time; a part ends where
   the source says (a Platform sheet's last record). Part keys depend only on the export and the part number,
   and the gzip bytes only on the rows, so a rerun rewrites identical objects. A source whose rows change while
   they are read (`SourceChangedError`) has its parts forgotten and is read again from the first row.
4. When the Lambda's time runs short it drops the unfinished part, gives the lease up and sends itself a
   continuation job, which resumes after the last finished part.
5. After the last row it checks what it wrote against the source's own counts (`flatfile_relay.reconcile`): a
   disagreement publishes nothing, forgets the parts and fails the job (retried from the first row; on the job's
   last delivery a `ReconciliationFailedError`, for the dead-letter queue). Then it writes the manifest (so a
   reader never sees a partial export), deletes row parts of an earlier export the manifest no longer lists,
   sends the notice, publishes the EventBridge event, lets the source finish (a Platform job is completed) and
   marks the export done. The ledger records the notice and the event as each is made, so a retry after a
   failure between them makes only what is missing.

Example:
    >>> outcome = export_batch(job, client, clients.s3, clients.sqs, ledger, settings,   # doctest: +SKIP
    ...                        Deadline.from_lambda_context(context), owner=context.aws_request_id,
    ...                        events=clients.events)
    >>> outcome.status                                                                    # doctest: +SKIP
    'exported'
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flatfile_relay import export_source
from flatfile_relay.collection import collection_paused
from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.errors import ConfigurationError, TransientError
from flatfile_relay.export_source import (
    ExportSource,
    Handback,
    HandbackError,
    Opened,
    RowPage,
    SourceChangedError,
)
from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay.layout import batch_rows_prefix, manifest_key, part_key, s3_uri
from flatfile_relay.ledger import (
    EXPORTING,
    AlreadyExportedError,
    BatchBusyError,
    InconsistentEntryError,
    LeaseLostError,
    Ledger,
    LedgerEntry,
)
from flatfile_relay.legacy_export import LegacySource
from flatfile_relay.manifest import (
    Counts,
    FieldStat,
    Manifest,
    Notice,
    Part,
    SchemaChangeDoc,
    SchemaRef,
    event_entry,
    schema_events,
)
from flatfile_relay.measurements import SECONDS, Measurement
from flatfile_relay.parts import CONTENT_TYPE, FinishedPart, PartWriter
from flatfile_relay.reconcile import (
    CountsDisagreeError,
    ReconciliationFailedError,
    SourceCounts,
    disagreements,
    manifest_counts,
)
from flatfile_relay.schema_drift import ExportSchema, record_schema, schema_key, store_schema
from flatfile_relay.settings import Settings
from flatfile_relay.tally import BATCH, Tally
from flatfile_relay.timestamps import parse_timestamp_or_none, utc_now_iso

if TYPE_CHECKING:
    from flatfile_relay.jobs import ExportJob
    from flatfile_relay.platform import PlatformClient

__all__ = [
    "BUSY",
    "CONTINUED",
    "DEFAULT_RESERVE",
    "EXPORTED",
    "LAG_TRIGGERS",
    "LEASE_LOST",
    "LEASE_MARGIN",
    "LEFT_ALONE",
    "MAX_RESTARTS",
    "NOT_FOUND",
    "NOT_SUBMITTED",
    "SKIPPED",
    "UNBOUNDED_LEASE",
    "EventNotPublishedError",
    "ExportOutcome",
    "ExportStalledError",
    "StaleObjectsError",
    "export_batch",
    "export_lag",
    "export_platform_job",
    "run_export",
]

logger = logging.getLogger("flatfile_relay.exporter")

#: Seconds kept free before the deadline to finish a part upload, the manifest, the notice and the ledger.
DEFAULT_RESERVE = 20.0
#: The lease outlives the invocation's own deadline by this much (so nobody takes over a live export).
LEASE_MARGIN = 60.0
#: Lease length when the deadline is `Deadline.never()` (scripts, tests).
UNBOUNDED_LEASE = 900.0

EXPORTED = "exported"
SKIPPED = "skipped"
BUSY = "busy"
NOT_SUBMITTED = "not-submitted"
NOT_FOUND = "not-found"
CONTINUED = "continued"
LEASE_LOST = "lease-lost"
LEFT_ALONE = "left-alone"
#: Times one invocation reads an export again from its first row when its rows changed meanwhile
MAX_RESTARTS = 2


class EventNotPublishedError(TransientError, RuntimeError):
    """EventBridge refused the export's event; the job fails and its retry publishes it."""


class StaleObjectsError(TransientError, RuntimeError):
    """Row parts a replay no longer lists could not be deleted; the job fails and its retry deletes them."""


class ExportStalledError(ConfigurationError, RuntimeError):
    """The invocation ran out of time before finishing a single part: continuing would loop forever.

    Lower PART_MAX_ROWS or raise the function timeout (a configuration fix); the job is retried by SQS
    meanwhile.
    """


@dataclass(frozen=True)
class ExportOutcome:
    """What one `export_batch` call did.

    Attributes:
        status: `exported`, `skipped` (already exported), `busy` (another invocation holds the lease),
            `not-submitted` / `not-found` (handed back to the poller), `continued` (a continuation job was
            sent), `lease-lost` (another invocation took the export over), `left-alone` (a Platform job
            another listener took or someone else ended: the ledger closes it).
            Every one of them means "acknowledge the job".
        rows_written, parts_written: what this invocation added (rows in finished parts only).
        row_count, manifest_uri: the batch's totals once `exported`.
        lag_seconds: once `exported`, seconds from submission to export (see `export_lag`); None when the
            export says nothing about the relay's lag.
    """

    status: str
    batch_id: str
    rows_written: int = 0
    parts_written: int = 0
    row_count: int | None = None
    manifest_uri: str | None = None
    detail: str = ""
    lag_seconds: float | None = None
    schema_changes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "batchId": self.batch_id, "rowsWritten": self.rows_written,
            "partsWritten": self.parts_written, "rowCount": self.row_count, "manifestUri": self.manifest_uri,
            "detail": self.detail, "lagSeconds": self.lag_seconds, "schemaChanges": self.schema_changes,
        }

    def measurements(self) -> list[Measurement]:
        """The export's metrics: rows and parts written, batches exported, schema changes announced, and the export
        lag when known.

        Example:
            >>> [m.name for m in ExportOutcome(EXPORTED, "b", 10, 1, lag_seconds=2.5).measurements()]
            ['RowsExported', 'PartsWritten', 'BatchesExported', 'SchemaChanged', 'ExportLag']
        """
        measured = [
            Measurement("RowsExported", self.rows_written),
            Measurement("PartsWritten", self.parts_written),
            Measurement("BatchesExported", 1 if self.status == EXPORTED else 0),
            Measurement("SchemaChanged", self.schema_changes),
        ]
        if self.lag_seconds is not None:
            measured.append(Measurement("ExportLag", self.lag_seconds, SECONDS))
        return measured


#: triggers whose exports measure the lag; a replay or a backfill exports old batches on purpose
LAG_TRIGGERS = frozenset({"schedule", "webhook"})


def export_lag(
    submitted_at: Any, exported_at: str, trigger: str, baseline_completed_at: datetime | None
) -> float | None:
    """Seconds from a batch's submission to its export, or None when this export says nothing about lag.

    A replay or a backfill exports old batches on purpose: None. A webhook export counts from the submission
    (Flatfile sends the webhook when it happens). A scheduled export counts from the submission, but a first
    copy (the poller's baseline walk) exports batches submitted before the relay existed: such a batch counts
    from the end of the first copy (`baselineCompletedAt` in the poller's checkpoint), and none counts before
    the first copy has completed. No or an unreadable `submittedAt`: None.

    Example:
        >>> export_lag("2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z", "webhook", None)
        300.0
        >>> export_lag("2020-01-01T00:00:00Z", "2026-01-01T00:05:00Z", "schedule",
        ...            parse_timestamp_or_none("2026-01-01T00:04:00Z"))
        60.0
        >>> export_lag("2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z", "schedule", None) is None
        True
        >>> export_lag("2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z", "replay",
        ...            parse_timestamp_or_none("2025-01-01T00:00:00Z")) is None
        True
    """
    submitted = parse_timestamp_or_none(submitted_at)
    exported = parse_timestamp_or_none(exported_at)
    if trigger not in LAG_TRIGGERS or submitted is None or exported is None:
        return None
    start = submitted
    if trigger != "webhook":
        if baseline_completed_at is None:
            return None
        start = max(submitted, baseline_completed_at)
    return max(0.0, (exported - start).total_seconds())


def export_batch(
    job: ExportJob,
    client: FlatfileClient,
    s3: Any,
    sqs: Any,
    ledger: Ledger,
    settings: Settings,
    deadline: Deadline,
    owner: str,
    *,
    events: Any,
    last_delivery: bool = False,
    reserve: float = DEFAULT_RESERVE,
    clock: Callable[[], float] = time.time,
) -> ExportOutcome:
    """Export the legacy batch of `job` (see the module docs). `owner` identifies this invocation's lease; `clock`
    (epoch seconds) dates the export (`exportedAt`); `last_delivery`: the job's message will not come back (a count
    that still disagrees then fails for good, `ReconciliationFailedError`).

    Raises (the job should be retried later): Flatfile client errors, `ContractError` (rows out of order or
    incomplete), `ExportStalledError`, AWS errors. The lease is given up first, so a retry resumes at once.
    """
    return run_export(job, LegacySource(client, job.batch_id, settings, job.batch), s3, sqs, ledger, settings, deadline,
                      owner, events=events, last_delivery=last_delivery, reserve=reserve, clock=clock)


def export_platform_job(
    job: ExportJob,
    client: PlatformClient,
    s3: Any,
    sqs: Any,
    ledger: Ledger,
    settings: Settings,
    deadline: Deadline,
    owner: str,
    *,
    events: Any,
    last_delivery: bool = False,
    secret_values: Iterable[str] = (),
    reserve: float = DEFAULT_RESERVE,
    clock: Callable[[], float] = time.time,
) -> ExportOutcome:
    """Export the Flatfile Platform submit job of `job` (see `flatfile_relay.platform_export`): the listener's side
    of the job (acknowledge, progress, complete; fail on a contract error or on `last_delivery`, the message's
    last delivery before its dead-letter queue) around the same run as `export_batch`. `secret_values` are
    scrubbed from the manifest's `batch` besides the client's own key.

    Raises: as `export_batch` (the job is failed first when the relay gives up on it).
    """
    # deferred: see DEFERRED_IMPORTS (a legacy export never reads the Platform)
    from flatfile_relay.platform_export import PlatformSource

    source = PlatformSource(client, job, ledger, owner, settings, last_delivery=last_delivery,
                            secret_values=secret_values)
    return run_export(job, source, s3, sqs, ledger, settings, deadline, owner, events=events,
                      last_delivery=last_delivery, reserve=reserve, clock=clock)


def run_export(
    job: ExportJob,
    source: ExportSource,
    s3: Any,
    sqs: Any,
    ledger: Ledger,
    settings: Settings,
    deadline: Deadline,
    owner: str,
    *,
    events: Any,
    last_delivery: bool = False,
    reserve: float = DEFAULT_RESERVE,
    clock: Callable[[], float] = time.time,
) -> ExportOutcome:
    """Export what `source` reads for `job` (see the module docs): the run both sources share.

    On a failure the lease is given up, the source's `give_up` runs, then the error propagates; the source's
    `close` runs whatever happens (but after losing the lease, which is then another invocation's business).
    """
    settings.require("export_bucket", "notices_queue_url", "export_jobs_queue_url")
    batch_id = job.batch_id
    # A continuation of a replay resumes the replay; only the replay's first job restarts an export.
    replay = job.trigger == "replay" and not job.resume
    try:
        entry = ledger.claim(
            batch_id, owner=owner, lease_seconds=_lease_seconds(deadline), trigger=job.trigger, replay=replay
        )
    except AlreadyExportedError as error:
        logger.info("batch %s already exported; nothing to do", batch_id)
        return ExportOutcome(SKIPPED, batch_id, detail=str(error))
    except BatchBusyError as error:
        logger.info("batch %s is being exported by another invocation; leaving it to it", batch_id)
        return ExportOutcome(BUSY, batch_id, detail=str(error))
    run = _Export(job, source, s3, sqs, events, ledger, settings, deadline, owner, reserve, entry, clock,
                  last_delivery)
    try:
        outcome = run.run()
    except LeaseLostError as error:
        logger.warning("batch %s: %s; stopping without writing more", batch_id, error)
        return ExportOutcome(LEASE_LOST, batch_id, run.rows_written, run.parts_written, detail=str(error))
    except BaseException as error:
        _release_quietly(ledger, batch_id, owner)
        _quietly(source.give_up, error, batch_id)
        _quietly(source.close, None, batch_id)
        raise
    source.close()
    return outcome


class _Export:
    """One invocation's work on one claimed export."""

    def __init__(
        self, job: ExportJob, source: ExportSource, s3: Any, sqs: Any, events: Any, ledger: Ledger,
        settings: Settings, deadline: Deadline, owner: str, reserve: float, entry: LedgerEntry,
        clock: Callable[[], float], last_delivery: bool = False,
    ) -> None:
        self.job, self.source, self.s3, self.sqs, self.events, self.ledger = job, source, s3, sqs, events, ledger
        self.settings, self.deadline, self.owner, self.reserve = settings, deadline, owner, reserve
        self.entry, self.clock = entry, clock
        self.lease_until = entry.lease_expires_at  # as this invocation's last ledger write set it (ledger clock)
        self.batch_id = job.batch_id
        self.output_id = job.batch_id  # the id as the source writes it (`Opened.export_id`), once opened
        self.date = ""  # the rows' partition date (see `layout.submitted_date`), once opened
        self.parts: list[dict[str, Any]] = [dict(part) for part in entry.parts]
        self.next_skip = entry.next_skip
        self.rows_written = 0
        self.parts_written = 0
        self.last_delivery = last_delivery
        self.schema_changes = 0  # schema change events this invocation published
        done = sum(int(part.get("rows", 0)) for part in self.parts)
        if done != self.next_skip:
            raise InconsistentEntryError(
                f"ledger entry of batch {self.batch_id} is inconsistent: its parts hold {done} rows but "
                f"nextSkip is {self.next_skip}; replay the batch to export it from scratch"
            )
        self.tallies = _tallies(entry.tally, self.next_skip)

    # -- the steps -------------------------------------------------------------------------------------

    def run(self) -> ExportOutcome:
        try:
            opened = self.source.open(self.entry, self.deadline)
        except DeadlineExceededError:
            return self._out_of_time()
        if isinstance(opened, Handback):
            return self._hand_back(opened)
        self.output_id, self.date = opened.export_id, opened.date
        if self.entry.notice is None:  # else the manifest is written: announce that same export
            try:
                finished = self._read_all()
            except HandbackError as error:
                return self._hand_back(error.handback)
            if not finished:
                return self._out_of_time()
        return self._finish(opened)

    def _hand_back(self, handback: Handback) -> ExportOutcome:
        """Nothing to export now: back to the poller (pending), or closed when the relay leaves it alone."""
        if handback.decision == export_source.LEFT_ALONE:
            self._delete_objects([str(part["key"]) for part in self.parts if part.get("key")])
            self.ledger.settle(self.batch_id, owner=self.owner, status=handback.status)
            logger.info("batch %s left alone (%s)", self.batch_id, handback.detail)
            return self._outcome(LEFT_ALONE, detail=handback.detail)
        self.ledger.return_to_pending(self.batch_id, owner=self.owner, status=handback.status)
        if handback.decision == export_source.NOT_FOUND:
            logger.warning("batch %s: Flatfile does not know it (404); back to the poller", self.batch_id)
            return self._outcome(NOT_FOUND, detail=handback.detail)
        logger.info("batch %s has status %r, not submitted; back to the poller", self.batch_id, handback.status)
        return self._outcome(NOT_SUBMITTED, detail=handback.detail)

    def _read_all(self) -> bool:
        """`_stream_rows`, from the first row again when the source changed meanwhile (`MAX_RESTARTS` times)."""
        if self.tallies is None:  # parts of an export begun before the relay counted them: counted again
            logger.info("batch %s: its finished parts were not counted; exporting it again from its first row",
                        self.batch_id)
            self._forget_parts()
        for restart in range(MAX_RESTARTS + 1):
            try:
                return self._stream_rows()
            except SourceChangedError as error:
                if restart == MAX_RESTARTS:
                    raise
                logger.warning("batch %s: %s; exporting it again from its first row", self.batch_id, error)
                self._forget_parts()
        raise AssertionError("unreachable")  # pragma: no cover

    def _forget_parts(self) -> None:
        """The next read starts from the first row (the ledger forgets the parts and their counts)."""
        self.ledger.reset_parts(self.batch_id, owner=self.owner)
        self.parts, self.next_skip, self.rows_written, self.parts_written = [], 0, 0, 0
        self.tallies = {}

    def _stream_rows(self) -> bool:
        """Write every remaining row into parts; False when the time ran short first.

        The cyclic collector rests meanwhile (`flatfile_relay.collection`): the pages are made, written and dropped
        without a cycle among them, and it would otherwise walk every page in flight at each of its rounds."""
        with collection_paused():
            return self._write_parts()

    def _write_parts(self) -> bool:
        writer: PartWriter | None = None
        ended: tuple[RowPage, int] | None = None  # where the rows in `writer` end: (page, rows of it)
        max_rows = self.settings.part_max_rows
        pages = self.source.pages(self.parts, self.next_skip, self.deadline)
        try:
            for page in pages:
                position, count = 0, page.count
                while position < count:
                    if writer is None:
                        writer = PartWriter()
                    end = min(count, position + max_rows - writer.rows)
                    self._write(writer, page, position, end)
                    position, ended = end, (page, end)
                    if writer.rows >= max_rows:
                        self._store(writer, ended)
                        writer = None
                if writer is not None and (page.closes_part or page.last):
                    self._store(writer, ended)
                    writer = None
                if page.last:
                    return True
                if self.deadline.remaining() < self.reserve:
                    return False
            if writer is not None:
                self._store(writer, ended)
                writer = None
            return True
        except DeadlineExceededError:
            return False
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()
            if writer is not None:
                writer.close()

    def _write(self, writer: PartWriter, page: RowPage, start: int, end: int) -> None:
        """Write rows `start:end` of the page and count them (`flatfile_relay.tally`)."""
        if page.texts is not None:
            writer.write_rows((), page.texts[start:end])
        else:
            writer.write_rows(page.rows[start:end])
        if self.tallies is None:  # pragma: no cover - `_read_all` sets them before any row is read
            raise RuntimeError("rows counted before the export's counts were set")
        self.source.count(page.rows[start:end], self.tallies.setdefault(page.group, Tally()))

    def _store(self, writer: PartWriter, ended: tuple[RowPage, int] | None) -> None:
        """Store the writer's part (its last row is row `ended[1]` of page `ended[0]`) and let the writer go."""
        if ended is None:  # pragma: no cover - a writer holds rows only after a page wrote some
            raise RuntimeError("a part holds rows that no page wrote")
        try:
            self._store_part(writer.finish(), ended[0].mark(ended[1]))
        finally:
            writer.close()

    def _store_part(self, part: FinishedPart, mark: Mapping[str, Any]) -> None:
        index = len(self.parts)
        key = part_key(self.settings.export_prefix, self.output_id, self.date, index)
        self.s3.put_object(
            Bucket=self.settings.export_bucket,
            Key=key,
            Body=part.file,
            ContentLength=part.size,
            ContentType=CONTENT_TYPE,
            ChecksumSHA256=part.sha256_base64,
            Metadata={"rows": str(part.rows), "sha256": part.sha256, "batch-id": self.output_id},
        )
        # kept small: the ledger item (400 KB at most) holds one of these per finished part
        record = {
            "uri": s3_uri(self.settings.export_bucket, key),
            "key": key,
            "rows": part.rows,
            "bytes": part.size,
            "sha256": part.sha256,
            **mark,
        }
        if part.non_finite_rows:
            record["nonFiniteRows"] = part.non_finite_rows
        self.next_skip += part.rows
        self.lease_until = self.ledger.record_part(
            self.batch_id, owner=self.owner, part=record, next_skip=self.next_skip,
            lease_seconds=_lease_seconds(self.deadline),
            tally={group: tally.to_dict() for group, tally in (self.tallies or {}).items()},
        )
        self.parts.append(record)
        self.rows_written += part.rows
        self.parts_written += 1
        logger.debug("batch %s: part %d stored (%d rows, %d bytes)", self.batch_id, index, part.rows,
                     part.size)

    def _finish(self, opened: Opened) -> ExportOutcome:
        current = self._current()
        if current.notice is None:
            counts = self._reconcile()
            notice = self._write_manifest(counts, self._describe())
            sent = self._send_notice(notice)
        else:  # a retry after the notice went out: the manifest exists, announce that same export
            notice, sent = Notice.from_json(current.notice), None
            logger.info("batch %s: notice already sent; not sending it again", self.batch_id)
        event = False  # published by this invocation and not recorded yet
        try:
            if current.event_published_at is None:
                self._publish_event(notice)
                event = True
            if current.extra.get("schemaEventsPublishedAt") is None:
                self.schema_changes = self._publish_schema_events(notice)
            if self.source.record_before_finish:
                self._record(sent, event)
                sent, event = None, False
            self.source.finish(notice.row_count, self.deadline)
            # one write: the notice and the event (when made and not recorded yet) and the export's end
            self.ledger.mark_exported(
                self.batch_id, owner=self.owner, manifest_uri=notice.manifest_uri, row_count=notice.row_count,
                exported_at=notice.exported_at, notice=sent,
            )
        except BaseException:
            _quietly(functools.partial(self._record, sent, event), None, self.batch_id)
            raise
        logger.info(
            "batch %s exported: %d rows in %d parts (%d rows written now), manifest %s",
            self.batch_id, notice.row_count, len(self.parts), self.rows_written, notice.manifest_uri,
        )
        return self._outcome(EXPORTED, row_count=notice.row_count, manifest_uri=notice.manifest_uri,
                             lag_seconds=self._lag(opened.submitted_at, notice.exported_at),
                             schema_changes=self.schema_changes)

    def _reconcile(self) -> dict[str, SourceCounts]:
        """The source's counts, once they agree with what was written (else nothing is published: the parts are
        forgotten and the job retried, `CountsDisagreeError`; on its last delivery `ReconciliationFailedError`)."""
        counts = self.source.counts(self.deadline)
        tallies = self.tallies or {}
        problems = disagreements(counts, tallies)
        if not problems:
            return counts
        self._forget_parts()
        said = "; ".join(problems)
        if self.last_delivery:
            raise ReconciliationFailedError(
                f"batch {self.batch_id}: what was exported still disagrees with the source's own counts on the job's "
                f"last delivery ({said}); nothing was published"
            )
        raise CountsDisagreeError(
            f"batch {self.batch_id}: what was exported disagrees with the source's own counts ({said}); nothing "
            "was published, the export is retried from its first row"
        )

    def _describe(self) -> dict[str, dict[str, Any]]:
        """Each group's schema (stored once per fingerprint) and its change since the last export of its template
        or sheet (`flatfile_relay.schema_drift`), as `Manifest` fields."""
        bucket, prefix = self.settings.export_bucket, self.settings.export_prefix
        described: dict[str, dict[str, Any]] = {}
        for group, schema in self.source.schemas(self.tallies or {}).items():
            def store(schema: ExportSchema = schema) -> str:
                return store_schema(self.s3, bucket, prefix, schema)
            change = record_schema(self.ledger, schema, self.batch_id, store) if schema.tracked else None
            if not schema.tracked:
                store()
            described[group] = {
                "export_schema": SchemaRef(fingerprint=schema.fingerprint,
                                           uri=s3_uri(bucket, schema_key(prefix, schema))),
                "schema_change": SchemaChangeDoc.model_validate(change.to_dict()) if change else None,
            }
        return described

    def _record(self, notice: str | None, event: bool) -> None:
        """Record the notice (its text, when this invocation sent it) and the event (when it published it) not
        recorded yet, so that a retry makes only what is missing."""
        if notice is not None:
            self.ledger.record_notice(self.batch_id, owner=self.owner, notice=notice, event_published=event)
        elif event:
            self.ledger.record_event(self.batch_id, owner=self.owner)

    def _current(self) -> LedgerEntry:
        """The entry before the manifest, with the lease still this invocation's (LeaseLostError otherwise).

        While the lease this invocation's last ledger write set still has `LEASE_MARGIN` left, nobody can have
        taken it over, and only its holder records the notice and the event: the claimed entry says what is
        made. Else (a run that outlived its lease) the ledger is read again.
        """
        if self.ledger.lease_holds(self.lease_until, LEASE_MARGIN):
            return self.entry
        current = self.ledger.get(self.batch_id)
        if current is None or current.state != EXPORTING or current.lease_owner != self.owner:
            raise LeaseLostError(f"lost the export lease of batch {self.batch_id} to another invocation")
        return current

    def _write_manifest(self, counts: Mapping[str, SourceCounts], described: Mapping[str, dict[str, Any]]) -> Notice:
        """Write the manifest, then remove row parts it no longer lists; the notice announcing it."""
        fields = self.source.manifest_fields(self.parts, self.deadline)
        tallies = self.tallies or {}
        if fields.get("sheets") is not None:
            fields["sheets"] = tuple(sheet.model_copy(update={
                "counts": Counts.model_validate(manifest_counts(
                    [counts[sheet.slug]] if sheet.slug in counts else [], [tallies.get(sheet.slug, Tally())])),
                **described.get(sheet.slug, {}), "field_stats": _field_stats(tallies.get(sheet.slug, Tally())),
            }) for sheet in fields["sheets"])
        else:
            fields.update(described.get(BATCH, {}), field_stats=_field_stats(tallies.get(BATCH, Tally())))
        manifest = Manifest(
            batch_id=self.output_id,
            row_count=self.next_skip,
            parts=tuple(
                Part(uri=p["uri"], rows=int(p["rows"]), bytes=int(p["bytes"]), sha256=p["sha256"], sheet=p.get("sheet"))
                for p in self.parts
            ),
            exported_at=utc_now_iso(self.clock),
            trigger=self.job.trigger,
            non_finite_rows=sum(int(p.get("nonFiniteRows", 0)) for p in self.parts) or None,
            counts=Counts.model_validate(manifest_counts(counts.values(), tallies.values())),
            **fields,
        )
        key = manifest_key(self.settings.export_prefix, self.output_id)
        body = manifest.to_json().encode("utf-8")
        self.s3.put_object(
            Bucket=self.settings.export_bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode("ascii"),
        )
        self._delete_stale_parts()
        return Notice.for_manifest(manifest, s3_uri(self.settings.export_bucket, key))

    def _delete_stale_parts(self) -> None:
        """Delete the export's row parts the manifest does not list (a replay that wrote fewer parts).

        Done after the manifest, so the previous manifest stays readable until the new one replaces it; a
        crash before this step is repaired by the retry, which writes the manifest again.
        """
        bucket = self.settings.export_bucket
        folder = batch_rows_prefix(self.settings.export_prefix, self.output_id, self.date)
        listed = {p["key"] for p in self.parts}
        stale: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
            stale.extend(o["Key"] for o in page.get("Contents", ()) if o["Key"] not in listed)
        self._delete_objects(stale)
        if stale:
            logger.info("batch %s: deleted %d row part(s) no longer listed", self.batch_id, len(stale))

    def _delete_objects(self, keys: Sequence[str]) -> None:
        """Delete these objects of the bucket; StaleObjectsError when S3 could not delete some."""
        bucket = self.settings.export_bucket
        for start in range(0, len(keys), 1000):
            answer = self.s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True}
            )
            errors = answer.get("Errors") or []
            if errors:
                raise StaleObjectsError(
                    f"batch {self.batch_id}: could not delete {len(errors)} row part(s) the new manifest no "
                    f"longer lists (first: {errors[0].get('Key')}: {errors[0].get('Code')})"
                )

    def _send_notice(self, notice: Notice) -> str:
        """Send the notice; its JSON text (the ledger records it with the export's end)."""
        body = notice.to_json()
        self.sqs.send_message(
            QueueUrl=self.settings.notices_queue_url,
            MessageBody=body,
            MessageAttributes={
                "batchId": {"DataType": "String", "StringValue": self.output_id},
                "trigger": {"DataType": "String", "StringValue": self.job.trigger},
            },
        )
        return body

    def _publish_event(self, notice: Notice) -> None:
        """Publish the export's event (detail = the notice); raise when EventBridge did not take it."""
        self._put_events([event_entry(notice, self.settings.event_bus_name)], "the export's event")

    def _put_events(self, entries: list[dict[str, Any]], what: str) -> None:
        """`PutEvents` of up to 10 entries; EventNotPublishedError (naming `what`) when EventBridge refused any."""
        answer = self.events.put_events(Entries=entries)
        failed = [entry for entry in answer.get("Entries", []) if entry.get("ErrorCode")]
        if answer.get("FailedEntryCount") or failed:
            code = failed[0].get("ErrorCode") if failed else "unknown"
            raise EventNotPublishedError(
                f"batch {self.batch_id}: EventBridge bus {self.settings.event_bus_name!r} refused {what} ({code}); "
                "the job is retried and publishes it then"
            )

    def _publish_schema_events(self, notice: Notice) -> int:
        """Publish one `flatfile.schema.changed` event per schema change the export announces (`schema_events`);
        how many. Recorded in the ledger, so a retry of the export does not announce them again."""
        entries = schema_events(notice, self.settings.event_bus_name)
        if not entries:
            return 0
        for start in range(0, len(entries), 10):
            self._put_events(entries[start:start + 10], "a schema change event")
        self.ledger.record_schema_events(self.batch_id, owner=self.owner)
        return len(entries)

    def _lag(self, submitted_at: Any, exported_at: str) -> float | None:
        """`export_lag` of this export (reads the poller's checkpoint only for a scheduled export)."""
        trigger = self.job.trigger
        if trigger not in LAG_TRIGGERS:
            return None
        baseline = (self.ledger.checkpoint(self.job.source).baseline_completed_at
                    if trigger != "webhook" else None)
        return export_lag(submitted_at, exported_at, trigger, baseline)

    def _out_of_time(self) -> ExportOutcome:
        """Stop cleanly: give the lease up and let a continuation job carry on from the last part."""
        if self.parts_written == 0:
            raise ExportStalledError(
                f"batch {self.batch_id}: the invocation ran out of time before finishing a single part "
                f"({self.settings.part_max_rows} rows, PART_MAX_ROWS); lower PART_MAX_ROWS or raise the "
                "exporter's timeout. The job will be retried."
            )
        self.ledger.release(self.batch_id, owner=self.owner)
        # Sent after the release, so the continuation never finds the batch busy.
        self.sqs.send_message(
            QueueUrl=self.settings.export_jobs_queue_url,
            MessageBody=self.job.continuation().to_message(),
            MessageAttributes={"batchId": {"DataType": "String", "StringValue": self.batch_id}},
        )
        logger.info(
            "batch %s: time is short after %d rows; continuation job sent (resumes at row %d)",
            self.batch_id, self.rows_written, self.next_skip,
        )
        return self._outcome(CONTINUED, detail=f"resumes at row {self.next_skip}")

    # -- helpers ---------------------------------------------------------------------------------------

    def _outcome(self, status: str, **fields: Any) -> ExportOutcome:
        return ExportOutcome(status, self.batch_id, self.rows_written, self.parts_written, **fields)


def _lease_seconds(deadline: Deadline) -> float:
    remaining = deadline.remaining()
    return (UNBOUNDED_LEASE if math.isinf(remaining) else remaining) + LEASE_MARGIN


def _field_stats(tally: Tally) -> dict[str, FieldStat]:
    return {key: FieldStat.model_validate(stats) for key, stats in tally.field_stats().items()}


def _tallies(stored: Mapping[str, Any] | None, rows: int) -> dict[str, Tally] | None:
    """The counts the ledger kept of the finished parts (`rows` rows); None when it kept none that fit them."""
    if rows == 0:
        return {}
    try:
        tallies = {str(group): Tally.from_dict(data) for group, data in (stored or {}).items()}
    except ValueError:
        return None
    return tallies if stored and sum(tally.rows for tally in tallies.values()) == rows else None


def _release_quietly(ledger: Ledger, batch_id: str, owner: str) -> None:
    """Give the lease up after a failure so the retry can resume at once (best effort)."""
    try:
        ledger.release(batch_id, owner=owner)
    except Exception:  # the original error matters more
        logger.debug("batch %s: could not release the lease after a failure", batch_id, exc_info=True)


def _quietly(step: Callable[..., None], error: BaseException | None, batch_id: str) -> None:
    """A source's step after a failure (best effort: the original error matters more, and is re-raised)."""
    try:
        step(error) if error is not None else step()
    except Exception:
        logger.warning("batch %s: %s after a failure did not work", batch_id, getattr(step, "__name__", "a step"),
                       exc_info=True)


"""The poller: find submitted batches the ledger has not queued yet, and queue one export job for each.

One poll:

1. Reads the checkpoint. A *full walk* (no early stop) is due until a first walk of the whole list has
   completed (the baseline), and then every `FULL_WALK_HOURS`.
2. Pages through `GET /rest/batches`. For each batch, against what the ledger knew before this poll:
   submitted and created before `EXPORT_SINCE` when the baseline walk first sees it → `ignored` (the first
   copy is limited to batches created since then; batches submitted later are exported whatever their
   age); `submitted` and not queued yet → export job; `cancelled` or
   `failed` → `closed`; in progress (`null`) or an unknown status → `pending`. Jobs are sent after each
   page (SendMessageBatch) and only then marked `queued`. Batch ids are used in canonical UUID form (the
   ledger key the webhook and exporter use too); a listed batch whose id is not a UUID is logged and skipped.
   Paging stops early only when the order observed so far is newest-first, the list starts at (or above)
   the newest batch ever seen, and a whole page holds batches the ledger already knew, none created after
   the newest batch an earlier walk saw (a batch known only from a webhook proves nothing about the ones
   below it): every batch created before them was seen by an earlier walk. Any other order walks the
   whole list.
3. A walk that reached the end of the list records `lastFullWalkAt` (and `baselineCompletedAt` once).
   A walk cut short remembers where it stopped, so the next poll does not stop early above that point.
4. Re-checks the `pending` batches created within `LOOKBACK_HOURS` that the walk did not show, one
   `GET /rest/batch/{id}` each: submitted → job, cancelled → closed, gone (404) → closed.
5. Records `lastPollAt` and `lastPollComplete` (what the operator's `status` shows) and returns a
   `PollReport`.

Time: when the deadline is closer than `reserve` seconds (or the client runs out of time), the poll stops
cleanly after sending what it collected and reports `complete=False`; the next poll carries on.

Example:
    >>> work = lambda client: poll(client, ledger, clients.sqs, settings, deadline)   # doctest: +SKIP
    >>> connection.run(work).as_dict()["jobs_sent"]                                    # doctest: +SKIP
    ['0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11']
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.flatfile.errors import ContractError, NotFoundError, RetriesExhaustedError
from flatfile_relay.ids import require_batch_id
from flatfile_relay.ledger import CLOSED, IGNORED, PENDING, Ledger, LedgerEntry
from flatfile_relay.measurements import Measurement
from flatfile_relay.settings import Settings
from flatfile_relay.timestamps import as_utc, format_timestamp, parse_timestamp_or_none

if TYPE_CHECKING:
    from flatfile_relay.flatfile.client import FlatfileClient
    from flatfile_relay.flatfile.pagination import BatchPage
    from flatfile_relay.jobs import ExportJob

logger = logging.getLogger("flatfile_relay.poller")

SUBMITTED = "submitted"
#: statuses after which a batch will not be submitted (a full walk would still notice if one were)
FINAL_STATUSES = frozenset({"cancelled", "failed"})
#: a 404 on re-check is recorded with this status
DELETED = "deleted"
#: ledger states from which a `submitted` batch gets an export job
_NEEDS_JOB = frozenset({PENDING, CLOSED, IGNORED})
#: seconds kept back by default, when the deadline nears, to send the collected jobs and answer
DEFAULT_RESERVE = 2.0
#: flush re-check jobs in groups of this many
_FLUSH_EVERY = 10

# checkpoint fields
BASELINE_COMPLETED_AT = "baselineCompletedAt"
LAST_FULL_WALK_AT = "lastFullWalkAt"
LAST_POLL_AT = "lastPollAt"
LAST_POLL_COMPLETE = "lastPollComplete"
NEWEST_CREATED_AT = "newestCreatedAt"
RESUME_BELOW = "resumeBelow"


@dataclass
class PollReport:
    """What one poll did.

    Attributes:
        pages: batch-list pages read.
        batches_seen: distinct batches on those pages.
        jobs_sent: ids of the batches whose export job was sent, in sending order.
        pending: batches found still in progress (on the pages or by re-check).
        closed: batches settled as cancelled, failed or deleted.
        ignored: batches left out of the first copy by EXPORT_SINCE (created before it, already submitted).
        rechecked: pending batches re-checked one by one.
        full_walk: the poll had to walk the whole list (baseline, or the periodic full walk was due).
        reached_end: the walk reached the end of the list.
        early_stop: the walk stopped early on a page of known batches.
        complete: the poll did everything it set out to do (False: stopped by the deadline).
        errors: batches skipped because Flatfile answered something unusable about them (logged).
        baseline: the poll belongs to the first copy: no walk had reached the end of the list before it.
    """

    pages: int = 0
    batches_seen: int = 0
    jobs_sent: list[str] = field(default_factory=list)
    pending: int = 0
    closed: int = 0
    ignored: int = 0
    rechecked: int = 0
    full_walk: bool = False
    reached_end: bool = False
    early_stop: bool = False
    complete: bool = False
    errors: int = 0
    baseline: bool = False

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (the handler's answer and the summary log line).

        Example:
            >>> PollReport(pages=1).as_dict()["pages"]
            1
        """
        return asdict(self)

    def measurements(self) -> list[Measurement]:
        """The poll's metrics, as the poller publishes them after every poll that returned a report.

        `PollSucceeded` is the heartbeat: 1 for every such poll (the stale-poller alarm fires when it is
        missing). `PollIncomplete` is 1 for any poll the deadline cut short. `PollIncompleteAfterBaseline`
        is 1 only for one cut short after the first copy had completed (a walk had reached the end of the
        list before the poll started): a first copy of a large account spans several polls by design and
        must not alarm, while later polls finish unless the list or the pending re-checks outgrow a poll.

        Example:
            >>> cut = PollReport(complete=False, baseline=True).measurements()
            >>> [m.value for m in cut if m.name.startswith("PollIncomplete")]
            [1, 0]
            >>> cut = PollReport(complete=False, baseline=False).measurements()
            >>> [m.value for m in cut if m.name.startswith("PollIncomplete")]
            [1, 1]
        """
        incomplete = 0 if self.complete else 1
        return [
            Measurement("PollSucceeded", 1),
            Measurement("BatchesQueued", len(self.jobs_sent)),
            Measurement("PendingBatches", self.pending),
            Measurement("Pages", self.pages),
            Measurement("BatchesSeen", self.batches_seen),
            Measurement("PendingRechecked", self.rechecked),
            Measurement("BatchesClosed", self.closed + self.ignored),
            Measurement("BatchesSkipped", self.errors),
            Measurement("PollIncomplete", incomplete),
            Measurement("PollIncompleteAfterBaseline", 0 if self.baseline else incomplete),
        ]


def poll(
    client: FlatfileClient,
    ledger: Ledger,
    sqs: Any,
    settings: Settings,
    deadline: Deadline,
    now: datetime | None = None,
    *,
    reserve: float = DEFAULT_RESERVE,
) -> PollReport:
    """Run one poll (see the module docstring) and return its report.

    `sqs` is a boto3 SQS client, `now` the poll's time (default: the current time), `reserve` the seconds
    before the deadline at which the poll stops starting new requests. Safe to run again after any failure:
    batches are queued at most once per ledger state change, and a job is sent before the ledger says so.

    Raises:
        JobSendError: SQS did not accept some jobs (those it did accept are marked queued first).
        FlatfileError: Flatfile failed in a way retrying within this poll cannot fix.
    """
    settings.require("export_jobs_queue_url")
    moment = as_utc(now) if now is not None else datetime.now(UTC)
    return _Poll(client, ledger, sqs, settings, deadline, moment, reserve).run()


class _Poll:
    """The state of one poll."""

    def __init__(self, client: FlatfileClient, ledger: Ledger, sqs: Any, settings: Settings,
                 deadline: Deadline, now: datetime, reserve: float) -> None:
        self.client = client
        self.ledger = ledger
        self.sqs = sqs
        self.settings = settings
        self.deadline = deadline
        self.now = now
        self.reserve = reserve
        self.report = PollReport()
        self.seen: set[str] = set()
        self.outbox: list[tuple[ExportJob, str | None]] = []
        self.read: dict[str, LedgerEntry | None] = {}  # the entry of each job's batch, as read before sending
        self.since = settings.export_since.astimezone(UTC) if settings.export_since else None
        self.baseline_done = False

    # -- the poll ------------------------------------------------------------------------------------

    def run(self) -> PollReport:
        checkpoint = self.ledger.checkpoint()
        self.baseline_done = bool(checkpoint.get(BASELINE_COMPLETED_AT))
        self.report.baseline = not self.baseline_done
        self.report.full_walk = self._full_walk_due(checkpoint)
        walked = self._walk(checkpoint)
        if walked:
            walked = self._recheck_pending()
        self.report.complete = walked
        self.ledger.save_checkpoint(**{LAST_POLL_AT: format_timestamp(self.now), LAST_POLL_COMPLETE: walked})
        return self.report

    def _full_walk_due(self, checkpoint: dict[str, Any]) -> bool:
        if not checkpoint.get(BASELINE_COMPLETED_AT) or self.settings.full_walk_hours <= 0:
            return True
        last = parse_timestamp_or_none(checkpoint.get(LAST_FULL_WALK_AT))
        return last is None or self.now - last >= timedelta(hours=self.settings.full_walk_hours)

    def _out_of_time(self) -> bool:
        return self.deadline.remaining() < self.reserve

    def _walk(self, checkpoint: dict[str, Any]) -> bool:
        """Page through the list; True when the walk reached the end or stopped early (not cut short)."""
        newest_known = parse_timestamp_or_none(checkpoint.get(NEWEST_CREATED_AT))
        resume_below = parse_timestamp_or_none(checkpoint.get(RESUME_BELOW))
        starts_at_top: bool | None = None  # does the list start at or above the newest batch ever seen?
        newest_seen: datetime | None = None
        oldest_seen: datetime | None = None
        finished = False
        try:
            if self._out_of_time():
                return False
            for page in self.client.iter_batch_pages(self.deadline, page_size=self.settings.batch_page_size):
                self.report.pages += 1
                known_before = self._handle_page(page)
                self._flush()
                dates = [parse_timestamp_or_none(b.get("createdAt")) for b in page.items]
                known_dates = [d for d in dates if d is not None]
                if known_dates:
                    newest_seen = max([*known_dates, *([newest_seen] if newest_seen else [])])
                    oldest_seen = min([*known_dates, *([oldest_seen] if oldest_seen else [])])
                if starts_at_top is None and page.raw_count:
                    first = page.newest_created_at
                    starts_at_top = first is not None and (newest_known is None or first >= newest_known)
                if (
                    not self.report.full_walk
                    and starts_at_top
                    and page.newest_first_so_far
                    and page.items
                    and known_before
                    # known from a walk, not only from a webhook or a job: a batch created after the newest
                    # one any walk saw may sit above an older one no walk has seen yet
                    and newest_known is not None
                    and _all_older(page, newest_known, or_equal=True)
                    and (resume_below is None or _all_older(page, resume_below))
                ):
                    self.report.early_stop = finished = True
                    break
                if self._out_of_time():
                    logger.info("poll: the deadline is near, walk stopped after %d pages", self.report.pages)
                    break
            else:
                self.report.reached_end = finished = True
        except DeadlineExceededError as error:
            logger.info("poll: walk cut short after %d pages: %s", self.report.pages, error)
        finally:
            self._flush()
            self._save_walk(checkpoint, finished, newest_seen, oldest_seen, newest_known, resume_below)
        return finished

    def _handle_page(self, page: BatchPage) -> bool:
        """Act on one page; True when the ledger knew every batch on it before this poll."""
        batches = []
        for batch in page.items:
            try:  # ids are UUIDs: in canonical form they are the same key for poller, webhook and exporter
                batch_id = require_batch_id(batch.get("id", ""))
            except ValueError as error:
                logger.error("poll: skipped a batch Flatfile listed with an unusable id: %s", error)
                self.report.errors += 1
                continue
            if batch_id not in self.seen:
                batches.append({**batch, "id": batch_id})
        entries = self.ledger.get_many((b["id"] for b in batches), self.deadline)
        for batch in batches:
            self.seen.add(batch["id"])
            self.report.batches_seen += 1
            self._decide(batch, entries.get(batch["id"]))
        return all(b["id"] in entries for b in batches)

    def _decide(self, batch: dict[str, Any], entry: LedgerEntry | None) -> None:
        """What one batch needs, given the ledger's entry as it was before this poll."""
        batch_id: str = batch["id"]
        status = batch.get("status")
        created = parse_timestamp_or_none(batch.get("createdAt"))
        created_at = format_timestamp(created) if created else (entry.batch_created_at if entry else None)
        open_ = entry is None or entry.state == PENDING
        if status == SUBMITTED and self._outside_first_copy(created, entry):
            if entry is None and self.ledger.mark_closed(
                batch_id, created_at=created_at, status=_status_text(status), state=IGNORED
            ):
                self.report.ignored += 1
        elif status == SUBMITTED:
            if entry is None or entry.state in _NEEDS_JOB:
                from flatfile_relay.jobs import ExportJob  # deferred: see DEFERRED_IMPORTS

                self.outbox.append((ExportJob.create(batch_id, trigger="schedule"), created_at))
                self.read[batch_id] = entry
        elif status in FINAL_STATUSES:
            if open_ and self.ledger.mark_closed(batch_id, created_at=created_at, status=_status_text(status)):
                self.report.closed += 1
        elif entry is None:
            self.ledger.mark_pending(batch_id, created_at=created_at, status=_status_text(status))
            self.report.pending += 1
        elif entry.state == PENDING:
            self.report.pending += 1
        # queued / exporting / exported with a status other than submitted: the exporter decides

    def _outside_first_copy(self, created: datetime | None, entry: LedgerEntry | None) -> bool:
        """A submitted batch that EXPORT_SINCE keeps out: created before it and already submitted when the
        baseline walk first saw it (or ignored then). Batches submitted later — seen in progress first, or new
        to the list after the baseline — are exported whatever their age."""
        if self.since is None or created is None or created >= self.since:
            return False
        if entry is None:
            return not self.baseline_done
        return entry.state == IGNORED

    def _recheck_pending(self) -> bool:
        """Re-check pending batches the walk did not show; False if the deadline cut it short."""
        since = format_timestamp(self.now - timedelta(hours=self.settings.lookback_hours))
        try:
            for entry in self.ledger.pending(created_since=since):
                if entry.batch_id in self.seen:
                    continue
                if self._out_of_time():
                    return False
                self.seen.add(entry.batch_id)
                self.report.rechecked += 1
                try:
                    batch = self.client.get_batch(entry.batch_id, self.deadline)
                except NotFoundError:
                    created_at = entry.batch_created_at
                    if self.ledger.mark_closed(entry.batch_id, created_at=created_at, status=DELETED):
                        self.report.closed += 1
                    continue
                except DeadlineExceededError as error:
                    logger.info("poll: pending re-check cut short: %s", error)
                    return False
                # One batch Flatfile keeps answering garbage or 5xx for must not block the others (the walk
                # just worked, so Flatfile itself is up); it stays pending and is re-checked next poll.
                except (ContractError, RetriesExhaustedError) as error:
                    logger.error("poll: skipped the re-check of batch %s: %s", entry.batch_id, error)
                    self.report.errors += 1
                    continue
                batch["id"] = entry.batch_id
                self._decide(batch, entry)
                if len(self.outbox) >= _FLUSH_EVERY:
                    self._flush()
        finally:
            self._flush()
        return True

    # -- side effects --------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Send the collected jobs, then mark the sent ones queued (also when some failed)."""
        if not self.outbox:
            return
        from flatfile_relay.jobs import JobSendError  # deferred: see DEFERRED_IMPORTS

        outbox, self.outbox = self.outbox, []
        jobs = [(job, created_at, self.read.get(job.batch_id)) for job, created_at in outbox]
        try:
            sent = queue_jobs(self.sqs, self.settings.export_jobs_queue_url, self.ledger, jobs, self.deadline)
        except JobSendError as error:
            self.report.jobs_sent.extend(job.batch_id for job in error.sent)
            raise
        self.report.jobs_sent.extend(sent)

    def _save_walk(self, checkpoint: dict[str, Any], finished: bool, newest_seen: datetime | None,
                   oldest_seen: datetime | None, newest_known: datetime | None,
                   resume_below: datetime | None) -> None:
        """Record what the walk established (nothing when it learnt nothing new)."""
        fields: dict[str, Any] = {}
        if self.report.reached_end:
            now = format_timestamp(self.now)
            fields[LAST_FULL_WALK_AT] = now
            if not checkpoint.get(BASELINE_COMPLETED_AT):
                fields[BASELINE_COMPLETED_AT] = now
            # the whole list was seen: the newest batch is exactly the newest seen (even if one was deleted)
            if newest_seen != newest_known:
                fields[NEWEST_CREATED_AT] = format_timestamp(newest_seen) if newest_seen else None
        elif newest_seen is not None and (newest_known is None or newest_seen > newest_known):
            fields[NEWEST_CREATED_AT] = format_timestamp(newest_seen)
        if finished:
            if checkpoint.get(RESUME_BELOW) is not None:
                fields[RESUME_BELOW] = None
        elif self.report.pages and oldest_seen is not None:
            # Walks start at the top: everything above the lowest point any cut walk reached is known now;
            # below it there may be batches no walk has seen yet, so no early stop above that point.
            below = oldest_seen if resume_below is None else min(oldest_seen, resume_below)
            if below != resume_below:
                fields[RESUME_BELOW] = format_timestamp(below)
        if fields:
            self.ledger.save_checkpoint(**fields)


def queue_jobs(
    sqs: Any, queue_url: str, ledger: Ledger, jobs: Sequence[tuple[ExportJob, str | None, LedgerEntry | None]],
    deadline: Deadline,
) -> list[str]:
    """Send export jobs, then mark each sent one `queued` in the ledger; return the ids of the sent batches.

    Each item is (job, the batch's createdAt, the ledger entry read before deciding: None when there was
    none). The mark lands only if the entry is still as read: an exporter may have handed the batch back
    meanwhile (pending). When SQS refuses some jobs, those it accepted are marked first and `JobSendError`
    propagates (its `.sent` and `.failed` name them).

    Example:
        >>> queue_jobs(sqs, url, ledger, [(ExportJob.create(batch_id, trigger="backfill"), None, None)],
        ...            deadline)                                                    # doctest: +SKIP
        ['0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11']
    """
    from flatfile_relay.jobs import JobSendError, send_jobs  # deferred: see DEFERRED_IMPORTS

    known = {job.batch_id: (created_at, seen) for job, created_at, seen in jobs}

    def mark(sent: Sequence[ExportJob]) -> list[str]:
        for job in sent:
            created_at, seen = known[job.batch_id]
            ledger.mark_queued(job.batch_id, created_at=created_at, trigger=job.trigger, seen=seen)
        return [job.batch_id for job in sent]

    try:
        sent = send_jobs(sqs, queue_url, [job for job, _, _ in jobs], deadline)
    except JobSendError as error:
        mark(error.sent)
        raise
    return mark(sent)


def _all_older(page: BatchPage, moment: datetime, *, or_equal: bool = False) -> bool:
    """True when every batch on the page was created before `moment` (or at it, with `or_equal`; an
    unreadable date: False)."""
    dates = [parse_timestamp_or_none(b.get("createdAt")) for b in page.items]
    return bool(dates) and all(d is not None and (d < moment or (or_equal and d == moment)) for d in dates)


def _status_text(status: Any) -> str | None:
    return None if status is None else str(status)

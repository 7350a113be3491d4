"""The poller: find submitted batches the ledger has not queued yet, and queue one export job for each.

One poll:

1. Reads the checkpoint and the pending batches. A *full walk* (no early stop) is due until a first walk of
   the whole list has completed (the baseline), then every `FULL_WALK_HOURS`, and when the pending batches
   call for one (below).
2. Pages through `GET /rest/batches`. For each batch, against what the ledger knew before this poll:
   submitted and created before `EXPORT_SINCE` when the baseline walk first sees it → `ignored` (the first
   copy is limited to batches created since then; batches submitted later are exported whatever their
   age); `submitted` and not queued yet → export job; `cancelled` or
   `failed` → `closed`; in progress (`null`) or an unknown status → `pending`. Jobs are sent after each
   page (SendMessageBatch) and only then marked `queued`. Batch ids are used in canonical UUID form (the
   ledger key the webhook and exporter use too); a listed batch whose id is not a UUID is logged and skipped.
   Paging stops early only when the order observed so far is newest-first, the list starts at (or above)
   the newest batch ever seen, and a whole page holds batches the ledger already knew (or the source calls
   unrelated) and reaches down to the newest batch an earlier walk saw (its last batch created at or before
   it; a batch known only from a webhook, newer than that, proves nothing about the ones below it): every
   batch created before it was seen by an earlier walk. Any other order walks the whole list.
3. A walk that reached the end of the list records `lastFullWalkAt` (and `baselineCompletedAt` once).
   A walk cut short remembers where it stopped (`walkResume`: the offset reached, the ids of the last
   batches read before it, the list's `totalCount`) and the oldest batch it saw (no early stop above it).
   The next poll reads the top as usual, but only while the top can hold batches no walk has seen (the list
   newest-first, down to the first page of known batches), then carries the cut walk on: it reads near the
   offset reached (moved down by as many batches as the list grew, when the top was newest-first, or
   not moved), finds those last batches again (those still listed, next to each other, in the same order:
   batches added or deleted above shift them), and reads on after them. Re-reading a few batches is
   harmless (deduplicated by id, decided against the ledger). When they cannot be found, the poll walks on
   from where its top stopped as a new walk from the top: slower, never a gap. So a first copy, or a
   periodic full walk, too long for one poll reads the list about once in all, plus about a page and a
   quarter per poll; `baselineCompletedAt` is recorded when the walk so carried on reaches the end.
4. Re-checks the `pending` batches the walk did not show, one `GET /rest/batch/{id}` each, up to
   `FLATFILE_ROW_PREFETCH` requests in flight (`ahead.in_order`; the answers are acted on in order, so jobs
   are sent before their ledger marks as on the walk): submitted → job, cancelled or failed → closed, gone
   (404) → closed, still in progress → `checkedAt` recorded.
5. Records `lastPollAt` and `lastPollComplete` (what the operator's `status` shows) and returns a
   `PollReport`.

The parts: the list is read through a source (`flatfile_relay.sources.ImportSource`; `poll` walks the legacy
API's, `poll_source` any), which also says what each item needs (`Disposition`: the statuses above are the
legacy source's). The walk itself (paging, the early stop, the cut walk's resume point, the re-check order)
is `flatfile_relay.walk`; what it keeps between polls, `flatfile_relay.checkpoint.Checkpoint`, one per source.
This module decides and queues.

Pending batches (no age limit): a batch seen in progress stays `pending` until it is submitted, cancelled,
failed or gone, however old. A poll re-checks at most `RECHECK_BUDGET` (B, default 100) of them: first
those created within `LOOKBACK_HOURS` (youngest first), then the others, least recently checked first.
With P batches pending at the start of the poll and W the pages of the last walk that reached the end:

- P <= B: every pending batch is re-checked at every poll;
- W <= min(P, B): the poll walks the whole list instead (a full walk shows every status, for no more
  requests than the re-checks it replaces);
- P > B: besides, a full walk is due when the last one is an hour old by the next poll (the time since the
  previous poll stands for the schedule's period), so every pending batch is looked at within the hour.

So a late import, however old, is queued at the next poll while P <= B or W <= min(P, B), and within an
hour always (docs/architecture.md, "Late imports", gives the bound for P > B). Re-checks cost at most B requests a poll
(a walk in their place at most B pages), plus one full walk an hour while more than B are pending.

Time: when the deadline is closer than `reserve` seconds (or the client runs out of time), the poll stops
cleanly after sending what it collected and reports `complete=False`; the next poll carries on.

Example:
    >>> work = lambda client: poll(client, ledger, clients.sqs, settings, deadline)   # doctest: +SKIP
    >>> connection.run(work).as_dict()["jobs_sent"]                                    # doctest: +SKIP
    ['0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11']
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flatfile_relay.ahead import Answer, in_order
from flatfile_relay.checkpoint import Checkpoint
from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.flatfile.errors import ContractError, RetriesExhaustedError
from flatfile_relay.ledger import CLOSED, IGNORED, PENDING, Ledger, LedgerEntry
from flatfile_relay.measurements import Measurement
from flatfile_relay.settings import Settings
from flatfile_relay.sources import Disposition, ImportSource, list_view
from flatfile_relay.sources.legacy import LegacySource
from flatfile_relay.timestamps import as_utc, format_timestamp, parse_timestamp_or_none
from flatfile_relay.walk import ListPage, Outcome, Walk, recheck_plan

if TYPE_CHECKING:
    from flatfile_relay.flatfile.client import FlatfileClient
    from flatfile_relay.jobs import ExportJob

__all__ = ["DEFAULT_RESERVE", "DELETED", "PollReport", "poll", "poll_source"]

logger = logging.getLogger("flatfile_relay.poller")

#: a 404 on re-check is recorded with this status
DELETED = "deleted"
#: ledger states from which an item ready for export gets an export job
_NEEDS_JOB = frozenset({PENDING, CLOSED, IGNORED})
#: seconds kept back by default, when the deadline nears, to send the collected jobs and answer
DEFAULT_RESERVE = 2.0
#: flush re-check jobs in groups of this many
_FLUSH_EVERY = 10


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
        deferred: pending batches left for a later poll by the re-check budget (RECHECK_BUDGET).
        full_walk: the poll had to walk the whole list (baseline, the periodic full walk, or for the pending
            batches: see the module docstring).
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
    deferred: int = 0
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
    """Run one poll of the legacy API's batches (see the module docstring) and return its report.

    `sqs` is a boto3 SQS client, `now` the poll's time (default: the current time), `reserve` the seconds
    before the deadline at which the poll stops starting new requests. Safe to run again after any failure:
    batches are queued at most once per ledger state change, and a job is sent before the ledger says so.

    Raises:
        JobSendError: SQS did not accept some jobs (those it did accept are marked queued first).
        FlatfileError: Flatfile failed in a way retrying within this poll cannot fix.
    """
    source = LegacySource(client, page_size=settings.batch_page_size)
    return poll_source(source, ledger, sqs, settings, deadline, now, reserve=reserve)


def poll_source(
    source: ImportSource[Any],
    ledger: Ledger,
    sqs: Any,
    settings: Settings,
    deadline: Deadline,
    now: datetime | None = None,
    *,
    reserve: float = DEFAULT_RESERVE,
) -> PollReport:
    """`poll`, for any source of imports: its list walked, its pending items re-checked, its own checkpoint.

    Example:
        >>> poll_source(LegacySource(client), ledger, clients.sqs, settings, deadline)  # doctest: +SKIP
        PollReport(pages=1, ...)
    """
    settings.require("export_jobs_queue_url")
    moment = as_utc(now) if now is not None else datetime.now(UTC)
    return _Poll(source, ledger, sqs, settings, deadline, moment, reserve).run()


class _Poll:
    """The state of one poll."""

    def __init__(self, source: ImportSource[Any], ledger: Ledger, sqs: Any, settings: Settings,
                 deadline: Deadline, now: datetime, reserve: float) -> None:
        self.source = source
        self.ledger = ledger
        self.sqs = sqs
        self.settings = settings
        self.deadline = deadline
        self.now = now
        self.reserve = reserve
        self.report = PollReport()
        self.seen: set[str] = set()
        self.known: set[str] = set()  # items the ledger knew before this poll (of those seen)
        self.outbox: list[tuple[ExportJob, str | None]] = []
        self.read: dict[str, LedgerEntry | None] = {}  # the entry of each job's item, as read before sending
        self.since = settings.export_since.astimezone(UTC) if settings.export_since else None
        self.baseline_done = False

    # -- the poll ------------------------------------------------------------------------------------

    def run(self) -> PollReport:
        checkpoint = self.ledger.checkpoint(self.source.name)
        self.baseline_done = checkpoint.baseline_completed_at is not None
        self.report.baseline = not self.baseline_done
        pending = [entry for entry in self.ledger.pending() if self.source.owns(entry.batch_id)]
        self.report.full_walk = checkpoint.full_walk_due(self.now, self.settings.full_walk_hours) or (
            checkpoint.walk_for_pending(self.now, len(pending), self.settings.recheck_budget)
        )
        walk = Walk(
            list_view(self.source, self.deadline), self._act, page_size=self.source.page_size,
            out_of_time=self._out_of_time, full=self.report.full_walk, newest_known=checkpoint.newest_created_at,
            resume_below=checkpoint.resume_below, resume=checkpoint.walk_resume,
        )
        checkpoint, walked = self._walk(walk, checkpoint)
        if walked:
            walked = self._recheck_pending(pending)
        self.report.complete = walked
        checkpoint = replace(checkpoint, last_poll_at=self.now, last_poll_complete=walked)
        if self.report.reached_end:
            # what the next full walk will cost, about: a walk carried on over several polls read only its
            # last stretch in this one, so the list's length counts too
            whole = -(-walk.total // self.source.page_size)
            checkpoint = replace(checkpoint, full_walk_pages=max(self.report.pages, whole))
        self.ledger.save_checkpoint(checkpoint, self.source.name)
        return self.report

    def _out_of_time(self) -> bool:
        return self.deadline.remaining() < self.reserve

    def _walk(self, walk: Walk[Any], checkpoint: Checkpoint) -> tuple[Checkpoint, bool]:
        """Walk the list (`flatfile_relay.walk.Walk`) and record what the walk established, also when it fails;
        the checkpoint as recorded, and True when the walk reached the end or stopped early (not cut short)."""
        outcome: Outcome | None = None
        try:
            outcome = walk.run()
            self.report.reached_end = outcome is Outcome.END
            self.report.early_stop = outcome is Outcome.STOP
        except DeadlineExceededError as error:
            logger.info("poll: walk cut short after %d pages: %s", walk.pages_read, error)
        finally:
            self.report.pages = walk.pages_read
            self._flush()
            walked = checkpoint.after_walk(walk, outcome, self.now)
            if walked.to_item() != checkpoint.to_item():  # nothing new learnt: nothing written
                self.ledger.save_checkpoint(walked, self.source.name)
        return walked, outcome in (Outcome.END, Outcome.STOP)

    def _act(self, page: ListPage[Any]) -> bool:
        """What the walk does with each page: decide, then send the jobs; True when every item was known."""
        known_before = self._handle_page(page)
        self._flush()
        return known_before

    def _handle_page(self, page: ListPage[Any]) -> bool:
        """Act on one page; True when the ledger knew every item on it before this poll (an item the source
        calls unrelated counts as known: nothing about it is recorded or can be learnt)."""
        fresh: list[tuple[str, Any]] = []
        ids = []
        for item in page.items:
            try:  # canonical ids: the same key for poller, webhook and exporter
                item_id = self.source.item_id(item)
            except ValueError as error:
                logger.error("poll: skipped an import the %s source listed with an unusable id: %s",
                             self.source.name, error)
                self.report.errors += 1
                continue
            if self.source.classify(item) is Disposition.UNRELATED:
                continue
            ids.append(item_id)
            if item_id not in self.seen:
                fresh.append((item_id, item))
        entries = self.ledger.get_many((item_id for item_id, _ in fresh), self.deadline)
        self.known.update(entries)
        for item_id, item in fresh:
            self.seen.add(item_id)
            self.report.batches_seen += 1
            self._decide(item_id, item, entries.get(item_id))
        return all(item_id in self.known for item_id in ids)

    def _decide(self, item_id: str, item: Any, entry: LedgerEntry | None) -> Disposition:
        """What one item needs, given the ledger's entry as it was before this poll; the source's disposition."""
        disposition = self.source.classify(item)
        status = self.source.status(item)
        created = self.source.created_at(item)
        created_at = format_timestamp(created) if created else (entry.batch_created_at if entry else None)
        if disposition is Disposition.EXPORT and self._outside_first_copy(created, entry):
            if entry is None and self.ledger.mark_closed(item_id, created_at=created_at, status=status, state=IGNORED):
                self.report.ignored += 1
        elif disposition is Disposition.EXPORT:
            if entry is None or entry.state in _NEEDS_JOB:
                self.outbox.append((self.source.export_job(item_id, item, "schedule"), created_at))
                self.read[item_id] = entry
        elif disposition is Disposition.CLOSED:
            if (entry is None or entry.state == PENDING) and self.ledger.mark_closed(
                item_id, created_at=created_at, status=status
            ):
                self.report.closed += 1
        elif disposition is Disposition.PENDING:
            if entry is None:
                self.ledger.mark_pending(item_id, created_at=created_at, status=status)
                self.report.pending += 1
            elif entry.state == PENDING:
                self.report.pending += 1
        # queued / exporting / exported and no longer ready: the exporter decides
        return disposition

    def _outside_first_copy(self, created: datetime | None, entry: LedgerEntry | None) -> bool:
        """An item ready for export that EXPORT_SINCE keeps out: created before it and already ready when the
        baseline walk first saw it (or ignored then). Items ready later — seen in progress first, or new to
        the list after the baseline — are exported whatever their age."""
        if self.since is None or created is None or created >= self.since:
            return False
        if entry is None:
            return not self.baseline_done
        return entry.state == IGNORED

    # -- the pending re-checks ---------------------------------------------------------------------------

    def _recheck_pending(self, pending: list[LedgerEntry]) -> bool:
        """Re-check pending items the walk did not show, within the budget (`flatfile_relay.walk.recheck_plan`);
        False if the deadline cut it short."""
        plan = recheck_plan(
            (entry for entry in pending if entry.batch_id not in self.seen),
            budget=self.settings.recheck_budget,
            young_since=self.now - timedelta(hours=self.settings.lookback_hours),
            created=lambda entry: parse_timestamp_or_none(entry.batch_created_at),
            checked=lambda entry: parse_timestamp_or_none(entry.checked_at),
        )
        self.report.deferred = plan.deferred
        checked_at = format_timestamp(self.now)
        cut = False

        def due() -> Iterator[LedgerEntry]:  # drawn only when a request can start: stops as the deadline nears
            nonlocal cut
            for entry in plan.chosen:
                if self._out_of_time():
                    cut = True
                    return
                yield entry

        def fetch(entry: LedgerEntry) -> Any:
            return self.source.read_item(entry.batch_id, self.deadline)

        answers = in_order(fetch, due(), self.settings.row_prefetch, name="flatfile-rechecks")
        try:
            with closing(answers):
                for entry, answer in answers:
                    if not self._recheck(entry, answer, checked_at):
                        return False
                    if len(self.outbox) >= _FLUSH_EVERY:
                        self._flush()
        finally:
            self._flush()
        if cut:
            logger.info("poll: the deadline is near, %d pending batches re-checked", self.report.rechecked)
        return not cut

    def _recheck(self, entry: LedgerEntry, answer: Answer[Any], checked_at: str) -> bool:
        """Act on one re-check's answer; False when the deadline cut it short."""
        self.seen.add(entry.batch_id)
        self.report.rechecked += 1
        try:
            item = answer.result()
        except DeadlineExceededError as error:
            logger.info("poll: pending re-check cut short: %s", error)
            return False
        # One item the source keeps answering garbage or 5xx for must not block the others (the walk just
        # worked, so the source itself is up); it stays pending and takes its turn again.
        except (ContractError, RetriesExhaustedError) as error:
            logger.error("poll: skipped the re-check of batch %s: %s", entry.batch_id, error)
            self.report.errors += 1
            self.ledger.mark_checked(entry.batch_id, at=checked_at)
            return True
        if item is None:  # gone
            if self.ledger.mark_closed(entry.batch_id, created_at=entry.batch_created_at, status=DELETED):
                self.report.closed += 1
            return True
        if self._decide(entry.batch_id, item, entry) in (Disposition.PENDING, Disposition.UNRELATED):
            self.ledger.mark_checked(entry.batch_id, at=checked_at)
        return True

    # -- side effects --------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Send the collected jobs, then mark the sent ones queued (also when some failed)."""
        if not self.outbox:
            return
        from flatfile_relay.jobs import JobSendError, queue_jobs  # deferred: see DEFERRED_IMPORTS

        outbox, self.outbox = self.outbox, []
        jobs = [(job, created_at, self.read.get(job.batch_id)) for job, created_at in outbox]
        try:
            sent = queue_jobs(self.sqs, self.settings.export_jobs_queue_url, self.ledger, jobs, self.deadline)
        except JobSendError as error:
            self.report.jobs_sent.extend(job.batch_id for job in error.sent)
            raise
        self.report.jobs_sent.extend(queued.job.batch_id for queued in sent)



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
   the newest batch ever seen, and a whole page holds batches the ledger already knew, none created after
   the newest batch an earlier walk saw (a batch known only from a webhook proves nothing about the ones
   below it): every batch created before them was seen by an earlier walk. Any other order walks the
   whole list.
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
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from flatfile_relay.ahead import in_order
from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.flatfile.errors import ContractError, NotFoundError, RetriesExhaustedError
from flatfile_relay.ids import require_batch_id
from flatfile_relay.ledger import (
    BASELINE_COMPLETED_AT,
    CLOSED,
    FULL_WALK_PAGES,
    IGNORED,
    LAST_FULL_WALK_AT,
    LAST_POLL_AT,
    LAST_POLL_COMPLETE,
    NEWEST_CREATED_AT,
    PENDING,
    RESUME_BELOW,
    WALK_RESUME,
    Ledger,
    LedgerEntry,
)
from flatfile_relay.measurements import Measurement
from flatfile_relay.settings import Settings
from flatfile_relay.timestamps import as_utc, format_timestamp, parse_timestamp_or_none

if TYPE_CHECKING:
    from flatfile_relay.flatfile.client import FlatfileClient
    from flatfile_relay.flatfile.pagination import BatchPage
    from flatfile_relay.jobs import ExportJob

__all__ = [
    "DEFAULT_RESERVE",
    "DELETED",
    "FINAL_STATUSES",
    "PENDING_WALK_EVERY",
    "SUBMITTED",
    "PollReport",
    "ResumePoint",
    "poll",
]

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
#: while more batches are pending than a poll re-checks, a full walk looks at every one at least this often
PENDING_WALK_EVERY = timedelta(hours=1)

#: a cut walk remembers this many of the last batches it read, to find its place again
_BOUNDARY = 10
# what a stretch of the walk ended with
_END, _STOP, _CUT, _JUMP, _MISSED = "end", "stop", "cut", "jump", "missed"
# the stretches of a walk: the top of the list; looking for a cut walk's last batches; reading on
_TOP, _SEARCH, _ON = "top", "search", "on"


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
        self.known: set[str] = set()  # batches the ledger knew before this poll (of those seen)
        self.outbox: list[tuple[ExportJob, str | None]] = []
        self.read: dict[str, LedgerEntry | None] = {}  # the entry of each job's batch, as read before sending
        self.since = settings.export_since.astimezone(UTC) if settings.export_since else None
        self.baseline_done = False
        self.list_total = 0  # the list's totalCount, as the last page read said

    # -- the poll ------------------------------------------------------------------------------------

    def run(self) -> PollReport:
        checkpoint = self.ledger.checkpoint()
        self.baseline_done = bool(checkpoint.get(BASELINE_COMPLETED_AT))
        self.report.baseline = not self.baseline_done
        pending = list(self.ledger.pending())
        self.report.full_walk = self._full_walk_due(checkpoint) or self._walk_for_pending(checkpoint, len(pending))
        walked = self._walk(checkpoint)
        if walked:
            walked = self._recheck_pending(pending)
        self.report.complete = walked
        fields: dict[str, Any] = {LAST_POLL_AT: format_timestamp(self.now), LAST_POLL_COMPLETE: walked}
        if self.report.reached_end:
            # what the next full walk will cost, about: a walk carried on over several polls read only its
            # last stretch in this one, so the list's length counts too
            whole = -(-self.list_total // self.settings.batch_page_size)
            fields[FULL_WALK_PAGES] = max(self.report.pages, whole)
        self.ledger.save_checkpoint(**fields)
        return self.report

    def _full_walk_due(self, checkpoint: dict[str, Any]) -> bool:
        if not checkpoint.get(BASELINE_COMPLETED_AT) or self.settings.full_walk_hours <= 0:
            return True
        last = parse_timestamp_or_none(checkpoint.get(LAST_FULL_WALK_AT))
        return last is None or self.now - last >= timedelta(hours=self.settings.full_walk_hours)

    def _out_of_time(self) -> bool:
        return self.deadline.remaining() < self.reserve

    def _walk(self, checkpoint: dict[str, Any]) -> bool:
        """Page through the list; True when the walk reached the end or stopped early (not cut short).

        The top comes first, as in every walk. When an earlier walk was cut short, the top is read only
        while it can hold batches no walk has seen (newest-first, down to a page of known ones), then the
        walk jumps to where the cut one stopped (`_resume`) and carries on from there.
        """
        walk = _WalkState(
            newest_known=parse_timestamp_or_none(checkpoint.get(NEWEST_CREATED_AT)),
            resume_below=parse_timestamp_or_none(checkpoint.get(RESUME_BELOW)),
            resume=ResumePoint.from_checkpoint(checkpoint.get(WALK_RESUME)),
        )
        finished = False
        try:
            if self._out_of_time():
                return False
            outcome = self._read(self._pages(0), walk, _TOP)
            resume, top = walk.resume, walk.position
            if outcome == _JUMP and resume is not None and top is not None:  # (a jump comes with both)
                outcome = self._resume(walk, resume, top)
            self.report.reached_end = outcome == _END
            self.report.early_stop = outcome == _STOP
            finished = outcome in (_END, _STOP)
        except DeadlineExceededError as error:
            logger.info("poll: walk cut short after %d pages: %s", self.report.pages, error)
        finally:
            self._flush()
            self._save_walk(checkpoint, finished, walk)
        return finished

    def _pages(self, start: int) -> Iterator[BatchPage]:
        return self.client.iter_batch_pages(self.deadline, page_size=self.settings.batch_page_size, start=start)

    def _resume(self, walk: _WalkState, resume: ResumePoint, top: ResumePoint) -> str:
        """Carry on from where a cut walk stopped: find its last batches again near the offset it reached
        (moved down by as many batches as the list grew, if the top showed the list newest-first, or not
        moved), then read on from there. When they cannot be found (deleted, or the order changed), the walk
        starts afresh from where the top stopped (`top`: where it stands): slower, never a gap."""
        walk.jumped, walk.position = True, None
        back = max(len(resume.ids), self.settings.batch_page_size // 4)
        grown = top.total - resume.total if walk.top_newest_first else 0
        starts = dict.fromkeys(max(0, resume.offset + shift - back) for shift in (grown, 0))
        for start in starts:
            outcome = self._read(self._pages(start), walk, _SEARCH, limit=start + 2 * back + len(resume.ids))
            if outcome != _MISSED:
                return outcome
        logger.warning("poll: the batches a cut walk stopped at were not found again (deleted, or the list's "
                       "order changed); walking on from offset %d instead", top.offset)
        walk.resume, walk.position = None, top
        return self._read(self._pages(top.offset), walk, _ON)

    def _read(self, pages: Iterator[BatchPage], walk: _WalkState, phase: str, limit: int = 0) -> str:
        """Handle pages until the walk's next step: `_END` of the list, `_STOP` early, `_CUT` by the deadline,
        `_JUMP` to a cut walk's resume point (phase `_TOP`), `_MISSED` it (phase `_SEARCH`: the boundary was
        not within `limit`)."""
        read: list[str] = []  # ids on the pages of a search, in list order
        for page in pages:
            self.report.pages += 1
            self.list_total = page.total_count
            known_before = self._handle_page(page)
            self._flush()
            walk.saw(page)
            if phase == _SEARCH:
                read.extend(page.ids)
                found = _boundary(read, walk.resume.ids if walk.resume else ())
                if found is None:
                    if page.offset + page.raw_count >= limit or not page.raw_count:
                        return _MISSED
                    if self._out_of_time():
                        return _CUT
                    continue
                phase, walk.resume = _ON, None  # found: from here on this is the cut walk, carried on
                walk.position = ResumePoint(page.offset + page.raw_count, tuple(read[-_BOUNDARY:]),
                                            page.total_count)
            else:
                walk.advance(page)
            if phase == _TOP and walk.starts_at_top is None and page.raw_count:
                first = page.newest_created_at
                walk.starts_at_top = first is not None and (walk.newest_known is None or first >= walk.newest_known)
            if phase == _TOP:
                walk.top_newest_first = page.newest_first_so_far
            newest_first = bool(walk.starts_at_top and walk.top_newest_first and page.newest_first_so_far)
            settled = bool(
                newest_first
                and page.items
                and known_before
                # known from a walk, not only from a webhook or a job: a batch created after the newest
                # one any walk saw may sit above an older one no walk has seen yet
                and walk.newest_known is not None
                and _all_older(page, walk.newest_known, or_equal=True)
            )
            if phase == _TOP and walk.resume is not None:
                position = walk.position
                if position is not None and position.offset >= walk.resume.offset - len(walk.resume.ids):
                    walk.resume = None  # the top itself reached the cut walk's last batches: just read on
                elif settled or not newest_first:
                    return _JUMP  # nothing unseen can sit lower down the top: carry on the cut walk
            elif (
                settled
                and not self.report.full_walk
                and (walk.resume_below is None or _all_older(page, walk.resume_below))
            ):
                return _STOP
            if self._out_of_time():
                logger.info("poll: the deadline is near, walk stopped after %d pages", self.report.pages)
                return _CUT
        return _MISSED if phase == _SEARCH else _END

    def _handle_page(self, page: BatchPage) -> bool:
        """Act on one page; True when the ledger knew every batch on it before this poll."""
        batches = []
        ids = []
        for batch in page.items:
            try:  # ids are UUIDs: in canonical form they are the same key for poller, webhook and exporter
                batch_id = require_batch_id(batch.get("id", ""))
            except ValueError as error:
                logger.error("poll: skipped a batch Flatfile listed with an unusable id: %s", error)
                self.report.errors += 1
                continue
            ids.append(batch_id)
            if batch_id not in self.seen:
                batches.append({**batch, "id": batch_id})
        entries = self.ledger.get_many((b["id"] for b in batches), self.deadline)
        self.known.update(entries)
        for batch in batches:
            self.seen.add(batch["id"])
            self.report.batches_seen += 1
            self._decide(batch, entries.get(batch["id"]))
        return all(batch_id in self.known for batch_id in ids)

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

    def _walk_for_pending(self, checkpoint: dict[str, Any], pending: int) -> bool:
        """Is a full walk due for the pending batches' sake? (see the module docstring)"""
        budget = self.settings.recheck_budget
        pages = checkpoint.get(FULL_WALK_PAGES)
        if isinstance(pages, int) and 0 < pages <= min(pending, budget):
            return True  # no dearer than re-checking them one by one, and it shows every one
        if pending <= budget:
            return False  # every one is re-checked at this poll
        last_walk = parse_timestamp_or_none(checkpoint.get(LAST_FULL_WALK_AT))
        last_poll = parse_timestamp_or_none(checkpoint.get(LAST_POLL_AT))
        period = timedelta(0) if last_poll is None else min(max(self.now - last_poll, timedelta(0)), PENDING_WALK_EVERY)
        return last_walk is None or self.now - last_walk + period >= PENDING_WALK_EVERY

    def _recheck_order(self, pending: list[LedgerEntry]) -> list[LedgerEntry]:
        """The pending batches the walk did not show, in the order the budget is spent on them: those created
        within LOOKBACK_HOURS youngest first, then the others least recently checked first (youngest first
        among equals)."""
        young_since = self.now - timedelta(hours=self.settings.lookback_hours)
        oldest = datetime.min.replace(tzinfo=UTC)

        def created(entry: LedgerEntry) -> datetime:
            return parse_timestamp_or_none(entry.batch_created_at) or oldest

        waiting = sorted((e for e in pending if e.batch_id not in self.seen), key=created, reverse=True)
        young = [e for e in waiting if created(e) >= young_since]
        older = [e for e in waiting if created(e) < young_since]
        older.sort(key=lambda e: parse_timestamp_or_none(e.checked_at) or oldest)  # stable: youngest first on ties
        return young + older

    def _recheck_pending(self, pending: list[LedgerEntry]) -> bool:
        """Re-check pending batches the walk did not show, within the budget; False if the deadline cut it short."""
        order = self._recheck_order(pending)
        chosen = order[: self.settings.recheck_budget]
        self.report.deferred = len(order) - len(chosen)
        checked_at = format_timestamp(self.now)
        cut = False

        def due() -> Iterator[LedgerEntry]:  # drawn only when a request can start: stops as the deadline nears
            nonlocal cut
            for entry in chosen:
                if self._out_of_time():
                    cut = True
                    return
                yield entry

        def fetch(entry: LedgerEntry) -> dict[str, Any]:
            return self.client.get_batch(entry.batch_id, self.deadline)

        answers = in_order(fetch, due(), self.settings.row_prefetch, name="flatfile-rechecks")
        try:
            with closing(answers):
                for entry, answer in answers:
                    self.seen.add(entry.batch_id)
                    self.report.rechecked += 1
                    try:
                        batch = answer.result()
                    except NotFoundError:
                        created_at = entry.batch_created_at
                        if self.ledger.mark_closed(entry.batch_id, created_at=created_at, status=DELETED):
                            self.report.closed += 1
                        continue
                    except DeadlineExceededError as error:
                        logger.info("poll: pending re-check cut short: %s", error)
                        return False
                    # One batch Flatfile keeps answering garbage or 5xx for must not block the others (the walk
                    # just worked, so Flatfile itself is up); it stays pending and takes its turn again.
                    except (ContractError, RetriesExhaustedError) as error:
                        logger.error("poll: skipped the re-check of batch %s: %s", entry.batch_id, error)
                        self.report.errors += 1
                        self.ledger.mark_checked(entry.batch_id, at=checked_at)
                        continue
                    batch["id"] = entry.batch_id
                    self._decide(batch, entry)
                    if batch.get("status") != SUBMITTED and batch.get("status") not in FINAL_STATUSES:
                        self.ledger.mark_checked(entry.batch_id, at=checked_at)
                    if len(self.outbox) >= _FLUSH_EVERY:
                        self._flush()
        finally:
            self._flush()
        if cut:
            logger.info("poll: the deadline is near, %d pending batches re-checked", self.report.rechecked)
        return not cut

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

    def _save_walk(self, checkpoint: dict[str, Any], finished: bool, walk: _WalkState) -> None:
        """Record what the walk established (nothing when it learnt nothing new)."""
        fields: dict[str, Any] = {}
        newest_known, newest_seen = walk.newest_known, walk.newest_seen
        # Cut while reading the top, before carrying on a cut walk: that walk's point stands, and the top may
        # hold more new batches below those read, so the newest known batch stays as it was (the next top is
        # read down past them, to a page of batches no newer than it).
        in_top = walk.resume is not None and not walk.jumped and not finished
        if self.report.reached_end:
            now = format_timestamp(self.now)
            fields[LAST_FULL_WALK_AT] = now
            if not checkpoint.get(BASELINE_COMPLETED_AT):
                fields[BASELINE_COMPLETED_AT] = now
        if self.report.reached_end and not walk.jumped:
            # this poll saw the whole list: the newest batch is exactly the newest seen (even if one was deleted)
            if newest_seen != newest_known:
                fields[NEWEST_CREATED_AT] = format_timestamp(newest_seen) if newest_seen else None
        elif newest_seen is not None and (newest_known is None or newest_seen > newest_known) and not in_top:
            fields[NEWEST_CREATED_AT] = format_timestamp(newest_seen)
        if finished:
            fields.update({name: None for name in (RESUME_BELOW, WALK_RESUME) if checkpoint.get(name) is not None})
        elif self.report.pages:
            if walk.position is not None and not in_top:  # else the cut walk's point stands
                fields[WALK_RESUME] = walk.position.as_checkpoint()
            # Everything above the lowest point any cut walk reached is known now; below it there may be
            # batches no walk has seen yet, so no early stop above that point.
            oldest, resume_below = walk.oldest_seen, walk.resume_below
            below = oldest if resume_below is None or oldest is None else min(oldest, resume_below)
            if below != resume_below and below is not None:
                fields[RESUME_BELOW] = format_timestamp(below)
        if fields:
            self.ledger.save_checkpoint(**fields)


@dataclass(frozen=True)
class ResumePoint:
    """Where a walk cut short stopped: the offset it reached, the ids of the last batches it read before it (in
    list order), and the list's `totalCount` then. Stored in the checkpoint as `walkResume`.

    Example:
        >>> ResumePoint.from_checkpoint({"offset": 2000, "ids": ["a", "b"], "totalCount": 100000}).offset
        2000
        >>> ResumePoint.from_checkpoint(None) is None
        True
    """

    offset: int
    ids: tuple[str, ...]
    total: int

    @classmethod
    def from_checkpoint(cls, value: Any) -> ResumePoint | None:
        """The point stored in the checkpoint; None when there is none (or it is unreadable: walk afresh)."""
        if not isinstance(value, dict):
            return None
        offset, ids, total = value.get("offset"), value.get("ids"), value.get("totalCount")
        if not isinstance(offset, int) or not isinstance(total, int) or not isinstance(ids, list) or not ids:
            return None
        return cls(offset, tuple(str(i) for i in ids), total)

    def as_checkpoint(self) -> dict[str, Any]:
        return {"offset": self.offset, "ids": list(self.ids), "totalCount": self.total}


@dataclass
class _WalkState:
    """What one poll's walk has established so far."""

    newest_known: datetime | None  # the newest createdAt any earlier walk saw
    resume_below: datetime | None  # no early stop above this (a cut walk's lowest point)
    resume: ResumePoint | None  # where a cut walk stopped, until it is carried on
    position: ResumePoint | None = None  # where this walk stands (None while looking for `resume`)
    jumped: bool = False  # the walk left the top for a cut walk's resume point
    starts_at_top: bool | None = None  # does the list start at or above the newest batch ever seen?
    top_newest_first: bool = False  # the top looked newest-first
    newest_seen: datetime | None = None
    oldest_seen: datetime | None = None

    def saw(self, page: BatchPage) -> None:
        dates = [d for d in (parse_timestamp_or_none(b.get("createdAt")) for b in page.items) if d is not None]
        if dates:
            self.newest_seen = max([*dates, *([self.newest_seen] if self.newest_seen else [])])
            self.oldest_seen = min([*dates, *([self.oldest_seen] if self.oldest_seen else [])])

    def advance(self, page: BatchPage) -> None:
        """The walk read on to the end of `page` (the last ids carry over from the page before it)."""
        if not page.raw_count:
            return
        last = self.position
        earlier = last.ids if last is not None and last.offset == page.offset else ()
        ids = (*earlier, *page.ids)[-_BOUNDARY:]
        self.position = ResumePoint(page.offset + page.raw_count, ids, page.total_count)


def _boundary(read: Sequence[str], ids: Sequence[str]) -> int | None:
    """Where a cut walk's last batches (`ids`, in list order) sit in `read`: the index of the last one found,
    when those found are next to each other in the same order (deleted ones may be missing); else None.

    Example:
        >>> _boundary(["n", "a", "c", "x"], ["a", "b", "c"]), _boundary(["c", "a"], ["a", "b", "c"])
        (2, None)
    """
    where = {batch_id: index for index, batch_id in enumerate(read)}
    found = [where[batch_id] for batch_id in ids if batch_id in where]
    if not found or any(later != earlier + 1 for earlier, later in pairwise(found)):
        return None
    return found[-1]


def _all_older(page: BatchPage, moment: datetime, *, or_equal: bool = False) -> bool:
    """True when every batch on the page was created before `moment` (or at it, with `or_equal`; an
    unreadable date: False)."""
    dates = [parse_timestamp_or_none(b.get("createdAt")) for b in page.items]
    return bool(dates) and all(d is not None and (d < moment or (or_equal and d == moment)) for d in dates)


def _status_text(status: Any) -> str | None:
    return None if status is None else str(status)

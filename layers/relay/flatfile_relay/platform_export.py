"""The Flatfile Platform's side of an export (`flatfile_relay.export_source.ExportSource`): one submit job.

The relay is the job's listener (architecture.md item 10):

- `open` reads the job (`GET /jobs/{id}`). Only a `workbook` job of an operation in FLATFILE_PLATFORM_OPERATIONS, in
  the key's environment, is exported: any other job reaches the exporter only by a mistake (a replay of a wrong
  id, the operations changed while the job waited), so it is a `ContractError` that names it, and the job itself
  is never touched (it belongs to some other listener). A `ready` job is acknowledged (`ACKNOWLEDGED_INFO`, the
  line the end user sees; the ledger marks `jobAcknowledgedAt` just before); an `executing` one is carried on only
  when it shows that line and the ledger has the mark (an earlier invocation's acknowledgement; the same line
  without the mark is another listener, another stack of the relay perhaps); another listener's job, or one
  someone else ended, is left alone (the ledger closes it); a job not ready yet goes back to the poller. A replay
  or a backfill never touches the job: it exports the workbook as it is.
- `pages` reads every sheet of the job's workbook in workbook order, every record (valid or not, messages
  included) in the API's order, in pages of up to 10,000 fetched ahead (FLATFILE_ROW_PREFETCH, at most
  `RECORD_PAGES_AHEAD`); a part never spans two sheets. Each row line is the record's own text with `batchId`,
  `sheet`, `sheetId` and `mapped` spliced in (`flatfile_relay.platform_rows`). Progress goes to the job at the
  end of each sheet but the last and every `PROGRESS_PAGES` pages, when its percentage moved.
- `counts` reads `GET sheets/{id}/counts` of every sheet once the last record is read (S requests): what was
  written must match them before anything is published (`flatfile_relay.reconcile`). The workbook's space (the
  manifest's `customer`) is read at the same time, the S + 1 requests in flight together.
- `finish` (the export is durable: manifest, notice, event) unlocks the sheets, then completes the job with an
  outcome the end user reads (`outcome_message`: "Exported 12,345 records to AWS"). A job found complete with that
  message is not completed again (an earlier invocation did, then stopped before the ledger's mark).
- `give_up` fails the job (`GIVE_UP_MESSAGE`: the data is safe in Flatfile) on a contract error or on the message's
  last delivery (SQS `ApproximateReceiveCount` = the queue's `maxReceiveCount`); other failures are retried.
- `close` unlocks the sheets this export holds, whatever happened.

Records edited during the export: the relay locks the sheets while it reads (`POST /sheets/{id}/lock`, so end
users cannot edit; a sheet locked by someone else stays theirs and is never unlocked by the relay) and pins what it
reads to the sheet's commit: every record page names the commit it was read at (`commitId`), and every page of a
sheet must name the commit of its first page (recorded with each part, so a continuation checks it too); before
the manifest, every sheet but the one read last is read again at one record to check that its commit has not
moved. A change anywhere (`SourceChangedError`) has the export forget its parts and read the job again from its
first record; a sheet whose pages name no commit falls back to its record count. A workbook of several sheets
(or an export carried on from its parts) has every sheet locked before its first page. A workbook of one sheet
has it locked only when it takes a second page, just before that page is asked for: a sheet held by one page is
one answer of the server, a view that cannot be mixed, and its job saves the lock and the unlock (a first page
that names no commit is then read again under the lock). Why both, measured with `make bench` and the
emulator's request log (requests per job of S sheets): the lock costs 2 x S (lock, unlock) and stops end users,
the commit pin costs nothing (it rides on the record pages), the check before the manifest costs S - 1; counts
before and after would cost 2 x S and miss an edit that changes a value but not a count; comparing commit lists
would cost 2 x S and read lists that only grow. Reconciliation costs S (`counts`). A job of one sheet of up to
10,000 records costs 7 requests in all: job, acknowledgement, workbook, records, counts, space, complete (9 with
the lock and unlock of a longer sheet).

Example:
    >>> outcome_message(12_345), outcome_message(1)
    ('Exported 12,345 records to AWS', 'Exported 1 record to AWS')
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from typing import Any

from flatfile_relay import export_source
from flatfile_relay.ahead import in_order
from flatfile_relay.deadline import Deadline
from flatfile_relay.errors import ContractError
from flatfile_relay.export_source import Handback, HandbackError, Opened, RowPage, SourceChangedError
from flatfile_relay.failures import ErrorKind, classify
from flatfile_relay.flatfile.errors import NotFoundError
from flatfile_relay.ids import PLATFORM
from flatfile_relay.jobs import ExportJob
from flatfile_relay.layout import submitted_date
from flatfile_relay.ledger import LeaseLostError, Ledger, LedgerEntry
from flatfile_relay.manifest import Sheet as ManifestSheet
from flatfile_relay.platform import (
    MAX_RECORD_PAGE_SIZE,
    Change,
    Job,
    PlatformClient,
    RecordPage,
    Sheet,
    SheetCounts,
    Space,
    Workbook,
)
from flatfile_relay.platform.records import ends_walk
from flatfile_relay.platform_rows import row_lines, sheet_tail
from flatfile_relay.reconcile import SourceCounts
from flatfile_relay.redaction import scrub
from flatfile_relay.schema_drift import ExportSchema, platform_schema
from flatfile_relay.settings import Settings
from flatfile_relay.tally import Tally

__all__ = [
    "ACKNOWLEDGED_INFO",
    "GIVE_UP_MESSAGE",
    "PROGRESS_PAGES",
    "RECORD_PAGES_AHEAD",
    "UNTOUCHED_TRIGGERS",
    "PlatformSource",
    "SheetsChangedError",
    "outcome_message",
]

logger = logging.getLogger("flatfile_relay.platform_export")

#: the job's info while the relay exports it (what the end user sees; also how the relay knows its own job)
ACKNOWLEDGED_INFO = "Exporting to AWS"
#: the outcome of a job the relay gives up on (what the end user reads)
GIVE_UP_MESSAGE = ("The export to AWS did not finish. Your data is safe in Flatfile: nothing was lost, and the "
                   "team will run the export again.")
#: progress is reported at most once every this many record pages of a sheet (and at the end of each sheet)
PROGRESS_PAGES = 5
#: record pages of 10,000 requested ahead at most (FLATFILE_ROW_PREFETCH counts legacy pages of 1,000 rows): two
#: hide a request's latency behind the processing of a page, and keep memory flat (see `make bench`)
RECORD_PAGES_AHEAD = 2
#: triggers whose exports never touch the job (no acknowledgement, progress, lock, completion or failure)
UNTOUCHED_TRIGGERS = frozenset({"replay", "backfill"})
#: requests made at once for the counts of the sheets and the space (before the manifest)
_READS_AT_ONCE = 4
#: what the relay allows itself after the invocation's deadline to fail a job it gives up on
_GIVE_UP_SECONDS = 5.0


class SheetsChangedError(SourceChangedError):
    """Records of the job's workbook changed while the relay exported them (a commit moved, a count changed)."""


def outcome_message(records: int) -> str:
    """What the end user reads once the job is complete."""
    return f"Exported {records:,} record{'' if records == 1 else 's'} to AWS"


@dataclass(frozen=True)
class _Resume:
    """Where the finished parts end: the sheet (its index in the workbook), the records of it they hold, whether
    that sheet is done, and the page size its walk kept to."""

    sheet: int = 0
    offset: int = 0
    done: bool = False
    page_size: int | None = None


def _resume(parts: Sequence[Mapping[str, Any]], workbook: Workbook) -> _Resume:
    """Where to carry on after `parts`; SheetsChangedError when the workbook's sheets are no longer where they
    were (a sheet added, removed or moved since the export began)."""
    if not parts:
        return _Resume()
    ids = [sheet.id for sheet in workbook.sheets]
    for part in parts:
        index = part.get("sheetIndex")
        if not isinstance(index, int) or not 0 <= index < len(ids) or ids[index] != part.get("sheetId"):
            raise SheetsChangedError(f"the sheets of workbook {workbook.id} changed since the export began")
    last = parts[-1]
    size = last.get("pageSize")
    return _Resume(int(last["sheetIndex"]), int(last.get("sheetEnd", 0)), bool(last.get("sheetDone")),
                   size if isinstance(size, int) and size > 0 else None)


def _marker(index: int, sheet: Sheet, begin: int, count: int, final: bool, page: RecordPage
            ) -> Callable[[int], dict[str, Any]]:
    """`RowPage.mark` of a page of sheet `index` whose `count` rows start at record `begin` of the sheet (it keeps
    the page's commit and size, not its records)."""
    commit, size = page.commit_id, page.page_size

    def mark(end: int) -> dict[str, Any]:
        return {"sheet": sheet.slug, "sheetId": sheet.id, "sheetIndex": index, "sheetEnd": begin + end,
                "sheetDone": final and end == count, "commitId": commit, "pageSize": size}

    return mark


class _Read:
    """What the export has read of each sheet (records, the commit it is pinned to, whether this invocation read
    it), and how far it is (the percentage reported last)."""

    def __init__(self, workbook: Workbook, parts: Sequence[Mapping[str, Any]]) -> None:
        self.rows: dict[str, int] = {}
        self.commits: dict[str, str | None] = {}
        self.fresh: set[str] = set()
        for part in parts:
            sheet_id = str(part.get("sheetId"))
            self.rows[sheet_id] = self.rows.get(sheet_id, 0) + int(part["rows"])
            self.commits.setdefault(sheet_id, part.get("commitId"))
        totals = [_record_total(sheet) for sheet in workbook.sheets]
        self.total = sum(total for total in totals if total is not None) if None not in totals else None
        self.done = sum(self.rows.values())
        self.reported = 0

    def pin(self, sheet: Sheet, commit: str | None) -> None:
        """A page of `sheet` read at `commit`: the sheet's first, or one from the commit it is pinned to."""
        if sheet.id in self.commits and self.commits[sheet.id] != commit:
            raise SheetsChangedError(f"sheet {sheet.slug} changed while the relay read it (commit "
                                     f"{self.commits[sheet.id]} then {commit})")
        self.commits[sheet.id] = commit
        self.fresh.add(sheet.id)

    def add(self, sheet_id: str, records: int) -> None:
        self.rows[sheet_id] = self.rows.get(sheet_id, 0) + records
        self.done += records

    def percent(self) -> int | None:
        """How far the export is (0..99), when it moved since the last report; None else (or when unknown)."""
        if not self.total:
            return None
        value = min(99, 100 * self.done // self.total)
        if value <= self.reported:
            return None
        self.reported = value
        return value


def _record_total(sheet: Sheet) -> int | None:
    counts = sheet.raw.get("recordCounts")
    total = counts.get("total") if isinstance(counts, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


class PlatformSource:
    """The records of one Platform submit job's workbook, for `flatfile_relay.exporter` (see the module docs)."""

    #: `finish` completes the job, and `open` tells a job the relay completed by the ledger's notice (`ExportSource`)
    record_before_finish = True

    def __init__(self, client: PlatformClient, job: ExportJob, ledger: Ledger, owner: str, settings: Settings, *,
                 last_delivery: bool = False, secret_values: Iterable[str] = ()) -> None:
        self.client, self.ledger, self.owner, self.settings = client, ledger, owner, settings
        self.job_id = job.batch_id
        self.touch = job.trigger not in UNTOUCHED_TRIGGERS
        self.last_delivery = last_delivery
        self.secret_values = (*client.account.secret_values, *secret_values)
        self.job: Job | None = None
        self.workbook: Workbook | None = None
        self.listener = False  # the relay is the job's listener (it may complete or fail it)
        self.locked: list[str] = []  # sheets this export holds locked (the ledger's `lockedSheets`)
        self.locking_done = False  # this invocation locked the sheets (a restart does not lock them again)
        self.deadline = Deadline.never()
        self.space: Space | None = None  # read with the counts, for the manifest

    # -- open: the job -----------------------------------------------------------------------------------

    def open(self, entry: LedgerEntry, deadline: Deadline) -> Opened | Handback:
        self.deadline = deadline
        self.locked = list(entry.locked_sheets)
        try:
            job = self.client.get_job(self.job_id, deadline)
        except NotFoundError:
            return Handback(export_source.NOT_FOUND, None, "Flatfile Platform answered 404 for the job")
        self._check_job(job)
        self.job = job
        if self.touch:
            handback = self._take(job, entry, deadline)
            if handback is not None:
                return handback
        workbook = self.client.get_workbook(job.source, deadline)
        if workbook.environment_id != self.client.environment_id:
            raise ContractError(f"job {job.id}: its workbook {workbook.id} belongs to environment "
                                f"{workbook.environment_id}, not to {self.client.environment_id}")
        self.workbook = workbook
        created = job.raw.get("createdAt")
        return Opened(job.id, submitted_date(job.raw), created if isinstance(created, str) else None)

    def _check_job(self, job: Job) -> None:
        """Only submit jobs of the configured operations, in the key's environment, are exported."""
        operations = self.settings.platform_operations
        if job.type != "workbook" or job.operation not in operations:
            raise ContractError(
                f"Flatfile Platform job {job.id} is a {job.name[:80]} job; the relay exports only workbook jobs of "
                f"the operations in FLATFILE_PLATFORM_OPERATIONS ({', '.join(operations)}): the job is left as it is"
            )
        if job.environment_id is not None and job.environment_id != self.client.environment_id:
            raise ContractError(f"Flatfile Platform job {job.id} belongs to environment {job.environment_id}, not "
                                f"to {self.client.environment_id}: the job is left as it is")

    def _take(self, job: Job, entry: LedgerEntry, deadline: Deadline) -> Handback | None:
        """Become (or stay) the job's listener; a `Handback` when the job is not the relay's to export now."""
        marked = entry.job_acknowledged_at is not None
        if job.status == "ready":
            self.ledger.record_job_acknowledged(self.job_id, owner=self.owner)
            marked = True
        taken = self.client.acknowledge(job, deadline, info=ACKNOWLEDGED_INFO)
        self.job = taken.job
        if taken.change is Change.ACKNOWLEDGED or (taken.change is Change.RESUMED and marked):
            self.listener = True
            return None
        if taken.change in (Change.TAKEN, Change.RESUMED):
            return Handback(export_source.LEFT_ALONE, taken.job.status, "acknowledged by another listener")
        if taken.change is Change.NOT_READY:
            return Handback(export_source.NOT_READY, taken.job.status, f"job status {taken.job.status!r}")
        return self._ended(taken.job, entry, marked)

    def _ended(self, job: Job, entry: LedgerEntry, marked: bool) -> Handback | None:
        """A job that has ended: the relay's own (finish that export, or export again after giving up on it),
        else left alone."""
        if marked and entry.notice is not None:
            self.listener = True  # the export is durable: `finish` sees the job ended and leaves it so
            return None
        if marked and job.status == "failed" and job.outcome_message == GIVE_UP_MESSAGE:
            logger.info("job %s: the relay gave up on it earlier; exporting it again without touching it", job.id)
            return None
        return Handback(export_source.LEFT_ALONE, job.status, f"job {job.status} by someone else")

    # -- pages: the records ------------------------------------------------------------------------------

    def pages(self, parts: Sequence[Mapping[str, Any]], next_skip: int, deadline: Deadline) -> Iterator[RowPage]:
        workbook = self._workbook()
        resume = _resume(parts, workbook)
        read = _Read(workbook, parts)
        if self.listener and self.touch and not self.locking_done and (len(workbook.sheets) > 1 or parts):
            self._lock(workbook.sheets, deadline)
            self.locking_done = True
        for index, sheet in enumerate(workbook.sheets):
            if index < resume.sheet or (index == resume.sheet and resume.done):
                continue
            start = resume.offset if index == resume.sheet else 0
            size = resume.page_size if index == resume.sheet and resume.page_size else MAX_RECORD_PAGE_SIZE
            yield from self._sheet(index, sheet, start, size, read, deadline)
            if index < len(workbook.sheets) - 1:
                self._report(read.percent(), deadline)
        fresh = read.fresh & {workbook.sheets[-1].id} if workbook.sheets else set()
        self._check_sheets([sheet for sheet in workbook.sheets if sheet.id not in fresh], read, deadline)

    def _sheet(self, index: int, sheet: Sheet, start: int, page_size: int, read: _Read, deadline: Deadline
               ) -> Iterator[RowPage]:
        """The pages of one sheet from record `start`, each from the sheet's pinned commit."""
        first_page = start // page_size + 1
        drop = start - (first_page - 1) * page_size
        tail = sheet_tail(self.job_id, sheet.slug, sheet.id)
        pages = self.client.iter_record_pages(sheet.id, deadline, page_size=page_size, start_page=first_page,
                                              prefetch=min(self.client.record_prefetch, RECORD_PAGES_AHEAD),
                                              exact_numbers=True, until_length=True)
        first: RecordPage | None = None
        with closing(pages):
            for number, page in enumerate(pages, start=1):
                first = first or replace(page, records=[], texts=None)  # its length and commit, not its records
                read.pin(sheet, page.commit_id)
                final = ends_walk(page, first, True)
                if not final and self.listener and self.touch and not self.locking_done:
                    self._lock_before_second_page(sheet, page, deadline)
                records = page.records[drop:]
                texts = page.texts[drop:] if page.texts is not None else None
                begin, drop = page.offset + len(page.records) - len(records), 0
                if final and page.commit_id is None and first.total is not None and page.next_offset != first.total:
                    raise SheetsChangedError(f"sheet {sheet.slug} held {first.total} records when its reading began "
                                             f"and {page.next_offset} when it ended")
                mark = _marker(index, sheet, begin, len(records), final, page)
                yield RowPage(mark, row_lines(records, texts, tail), records, closes_part=final, group=sheet.slug)
                read.add(sheet.id, len(records))
                if number % PROGRESS_PAGES == 0 and not final:
                    self._report(read.percent(), deadline)

    def _check_sheets(self, sheets: Sequence[Sheet], read: _Read, deadline: Deadline) -> None:
        """The sheets read before the last one are still as they were read: same commit, same record count."""
        for sheet in sheets:
            with closing(self.client.iter_record_pages(sheet.id, deadline, page_size=1, exact_numbers=True)) as pages:
                now = next(pages)
            pinned = read.commits.get(sheet.id)
            if (pinned is not None and now.commit_id != pinned) or (
                    now.total is not None and now.total != read.rows.get(sheet.id, 0)):
                raise SheetsChangedError(f"sheet {sheet.slug} changed after the relay read it (commit {pinned} then "
                                         f"{now.commit_id}; {read.rows.get(sheet.id, 0)} records read, {now.total} "
                                         "now)")

    # -- locks and progress ------------------------------------------------------------------------------

    def _lock(self, sheets: Sequence[Sheet], deadline: Deadline) -> None:
        """Lock every sheet (recorded in the ledger first: whoever resumes the export unlocks them)."""
        wanted = [sheet.id for sheet in sheets]
        ours = set(self.locked)
        self.ledger.record_locks(self.job_id, owner=self.owner, sheet_ids=list(dict.fromkeys([*self.locked, *wanted])))
        held = [sheet_id for sheet_id in wanted if self.client.lock_sheet(sheet_id, deadline) or sheet_id in ours]
        refused = [sheet_id for sheet_id in wanted if sheet_id not in held]
        self.locked = held
        if refused:
            logger.info("job %s: sheet(s) %s locked by someone else: left so", self.job_id, ", ".join(refused))
            self.ledger.record_locks(self.job_id, owner=self.owner, sheet_ids=held)

    def _lock_before_second_page(self, sheet: Sheet, first: RecordPage, deadline: Deadline) -> None:
        """The one sheet of the workbook takes more than a page: lock it before the second is asked for. An edit
        made before the lock moves the commit the next pages name (`_Read.pin`); a first page that names no commit
        could hide one, so the sheet is read again from its first page, under the lock."""
        self._lock([sheet], deadline)
        self.locking_done = True
        if first.commit_id is None:
            raise SheetsChangedError(f"sheet {sheet.slug} takes more than one page and its first page, read before "
                                     "the lock, names no commit to check it by")

    def _unlock(self, deadline: Deadline) -> None:
        """Unlock the sheets this export holds; the ones that stay locked stay in the ledger (raises the first
        failure once the others are tried)."""
        if not self.locked:
            return
        failed: list[str] = []
        first: Exception | None = None
        for sheet_id in self.locked:
            try:
                self.client.unlock_sheet(sheet_id, deadline)
            except Exception as error:  # noqa: BLE001 - tried for every sheet, then the first failure is raised
                failed.append(sheet_id)
                first = first or error
        self.locked = failed
        try:
            self.ledger.record_locks(self.job_id, owner=self.owner, sheet_ids=failed)
        except LeaseLostError:  # the ledger closed the export (left alone): nobody resumes it to unlock anything
            logger.info("job %s: the export is no longer the relay's; its locks are given back", self.job_id)
        if first is not None:
            raise first

    def _report(self, percent: int | None, deadline: Deadline) -> None:
        """Tell the end user how far the export is; stop when someone else ended the job meanwhile."""
        if percent is None or not (self.listener and self.touch):
            return
        job = self.client.report_progress(self.job_id, percent, deadline)
        if job.ended:
            raise HandbackError(Handback(export_source.LEFT_ALONE, job.status, f"job {job.status} during the export"))

    # -- the end -----------------------------------------------------------------------------------------

    def count(self, rows: Sequence[Mapping[str, Any]], tally: Tally) -> None:
        tally.add_records(rows)

    def schemas(self, tallies: Mapping[str, Tally]) -> dict[str, ExportSchema]:
        """Each sheet's configured fields (`key`, `label`, `type`), whatever its records hold."""
        return {sheet.slug: platform_schema(sheet.slug, sheet.fields) for sheet in self._workbook().sheets}

    def counts(self, deadline: Deadline) -> dict[str, SourceCounts]:
        """`GET sheets/{id}/counts` of every sheet: `total`, `valid` and `error` (records with an error); the space
        `manifest_fields` needs is read alongside (`None` among the keys)."""
        workbook = self._workbook()
        keys: list[Sheet | None] = [None, *workbook.sheets]

        def read(sheet: Sheet | None) -> Space | SheetCounts:
            if sheet is None:
                return self.client.get_space(workbook.space_id, deadline)
            return self.client.sheet_counts(sheet.id, deadline)

        found: dict[str, SourceCounts] = {}
        with closing(in_order(read, keys, min(len(keys), _READS_AT_ONCE), name="flatfile-counts")) as answers:
            for sheet, answer in answers:
                counts = answer.result()
                if isinstance(counts, Space):
                    self.space = counts
                elif sheet is not None:
                    found[sheet.slug] = SourceCounts(
                        {"rows": counts.total, "valid": counts.valid, "invalid": counts.error, "deleted": None},
                        {"rows": "total", "valid": "valid", "invalid": "error"})
        return found

    def manifest_fields(self, parts: Sequence[Mapping[str, Any]], deadline: Deadline) -> dict[str, Any]:
        workbook, job = self._workbook(), self._job()
        space = self.space if self.space is not None else self.client.get_space(workbook.space_id, deadline)
        rows = {sheet.id: 0 for sheet in workbook.sheets}
        for part in parts:
            rows[str(part.get("sheetId"))] = rows.get(str(part.get("sheetId")), 0) + int(part["rows"])
        created = job.raw.get("createdAt")
        return {
            "source": PLATFORM,
            "batch": scrub({"job": job.raw, "workbook": workbook.raw}, self.secret_values),
            "filename": workbook.name, "submitted_at": created if isinstance(created, str) else None,
            "customer": space.user_info, "workbook_id": workbook.id, "space_id": workbook.space_id,
            "environment_id": workbook.environment_id,
            "sheets": tuple(ManifestSheet(id=sheet.id, slug=sheet.slug, name=sheet.name, row_count=rows[sheet.id])
                            for sheet in workbook.sheets),
        }

    def finish(self, row_count: int, deadline: Deadline) -> None:
        self._unlock(deadline)
        job = self._job()
        if not (self.listener and self.touch):
            return
        message = outcome_message(row_count)
        if job.ended:
            if not (job.status == "complete" and job.outcome_message == message):
                logger.warning("job %s was %s by someone else before the relay completed it", job.id, job.status)
            return
        done = self.client.complete(job.id, message, deadline)
        if done.change is Change.ENDED_BY_OTHER:
            logger.warning("job %s was %s by someone else before the relay completed it", job.id, done.job.status)

    def give_up(self, error: BaseException) -> None:
        if not (self.listener and self.touch) or self.job is None or self.job.ended:
            return
        if isinstance(error, HandbackError):
            return
        if classify(error) is not ErrorKind.CONTRACT and not self.last_delivery:
            return
        deadline = Deadline.after(max(self.deadline.remaining(), 0.0) + _GIVE_UP_SECONDS)
        self._quiet_unlock(deadline)
        failed = self.client.fail(self.job_id, GIVE_UP_MESSAGE, deadline)
        logger.warning("job %s: the relay gave up on it (%s): %s", self.job_id, type(error).__name__,
                       failed.change.value)

    def close(self) -> None:
        self._quiet_unlock(self.deadline if self.deadline.remaining() > 0 else Deadline.after(_GIVE_UP_SECONDS))

    def _quiet_unlock(self, deadline: Deadline) -> None:
        try:
            self._unlock(deadline)
        except Exception:  # the sheets stay in the ledger: the next invocation unlocks them
            logger.warning("job %s: could not unlock sheet(s) %s; the next invocation tries again", self.job_id,
                           ", ".join(self.locked), exc_info=True)

    def _job(self) -> Job:
        if self.job is None:
            raise RuntimeError("open() the Platform source first")
        return self.job

    def _workbook(self) -> Workbook:
        if self.workbook is None:
            raise RuntimeError("open() the Platform source first")
        return self.workbook

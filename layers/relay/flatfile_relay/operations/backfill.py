"""`{"mode": "backfill", "since": ..., "until": ..., "dryRun": false, "source": ...}`: queue the exports created in
[since, until) that are neither exported nor queued, with trigger `backfill`, of every source the secret turns on
(or of `source` alone).

- The legacy API: every `submitted` batch. That includes batches `EXPORT_SINCE` kept out of the first copy
  (ledger state `ignored`), batches settled as cancelled that were submitted since, and batches the ledger never
  saw.
- The Flatfile Platform: every `complete` submit job (a job `workbook:<operation>` of FLATFILE_PLATFORM_OPERATIONS),
  completed by another listener or before the relay was there. A backfill's export never touches the job: it
  stays complete, with its outcome. (A job still `ready` is the poll's to export and complete.)

The protocol is the poller's: each job is sent before the ledger says `queued`, and the mark lands only if the
entry is still as read. With `dryRun` the exports are listed and nothing is sent or written. Each source has an
equal share of the time left; when time runs short the backfill stops after queueing what it found (`complete:
false`): run it again, what is queued already is skipped. A source Flatfile refuses (a wrong key, its API down) is
reported (`ok: false`, `error`) while the other is still backfilled.

Example:
    >>> answer = backfill(request, connection, ledger, clients.sqs, settings, deadline)     # doctest: +SKIP
    >>> [(b["source"], b["batchId"]) for b in answer["batches"]]                             # doctest: +SKIP
    [('legacy', '0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11'), ('platform', 'us_jb_4fX2kQ')]
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flatfile_relay.connection import FlatfileConnection
from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.errors import RelayError
from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay.ids import LEGACY, PLATFORM
from flatfile_relay.jobs import ExportJob, InvalidJobError, JobSendError, queue_jobs, require_batch_id
from flatfile_relay.ledger import EXPORTED, EXPORTING, QUEUED, SUBMITTED, Ledger, LedgerEntry
from flatfile_relay.operations.problems import describe
from flatfile_relay.operations.requests import BackfillRequest
from flatfile_relay.settings import Settings
from flatfile_relay.sources import Disposition, list_view
from flatfile_relay.sources.platform import PlatformSource
from flatfile_relay.timestamps import format_timestamp, parse_timestamp_or_none
from flatfile_relay.walk import created_since, pages

__all__ = ["COMPLETE", "DEFAULT_RESERVE", "backfill"]

logger = logging.getLogger("flatfile_relay.operations")

#: seconds kept back by default, when the deadline nears, to queue the exports found and answer
DEFAULT_RESERVE = 2.0
#: the status of a Platform job a backfill exports again
COMPLETE = "complete"
#: ledger states of an export that is done, or on its way
_ON_ITS_WAY = frozenset({QUEUED, EXPORTING, EXPORTED})
#: exports looked up in the ledger (and queued) together
_GROUP = 100

Found = dict[str, Any]  # {"batchId", "source", "createdAt", "filename", "ledgerState", ...} as the answer lists it


def backfill(
    request: BackfillRequest, connection: FlatfileConnection, ledger: Ledger, sqs: Any, settings: Settings,
    deadline: Deadline, *, reserve: float = DEFAULT_RESERVE,
) -> dict[str, Any]:
    """List each source's exports in the window and queue (or, with dryRun, list) those not exported nor queued.

    The answer names each one: `{"batchId", "source", "createdAt", "filename", "ledgerState"}` in `batches` (a
    Platform job adds `workbookId`), and the ids whose job was sent in `queued`; `ok: false` and `error` (one
    line per source, prefixed by its name when several ran) when Flatfile failed a source.

    Raises:
        JobSendError: SQS refused some jobs (those sent are marked queued first).
        MalformedSecretError: the secret turns no source on.
    """
    settings.require("export_jobs_queue_url")
    names = [request.source] if request.source else list(connection.sources())
    run = _Backfill(request, ledger, sqs, settings, reserve)
    errors: dict[str, str] = {}
    complete = True
    for index, name in enumerate(names):
        share = deadline.share(len(names) - index)

        def work(client: Any, name: str = name, share: Deadline = share) -> bool:
            return run.source(name, client, share)

        try:
            complete &= connection.run(work, source=name)
        except JobSendError:
            raise
        except RelayError as error:
            logger.error("backfill of the %s source failed: %s", name, describe(error))
            errors[name] = describe(error)
    answer = {
        "mode": "backfill", "ok": not errors, "dryRun": request.dry_run, "complete": complete and not errors,
        "since": request.since.isoformat(), "until": request.until.isoformat() if request.until else None,
        "batches": run.found, "queued": run.queued,
    }
    if errors:
        answer["error"] = "; ".join(text if len(names) == 1 else f"{name}: {text}" for name, text in errors.items())
    return answer


class _Backfill:
    """What one backfill found and queued, source after source."""

    def __init__(self, request: BackfillRequest, ledger: Ledger, sqs: Any, settings: Settings, reserve: float
                 ) -> None:
        self.request, self.ledger, self.sqs, self.settings, self.reserve = request, ledger, sqs, settings, reserve
        self.found: list[Found] = []
        self.queued: list[str] = []

    def source(self, name: str, client: Any, deadline: Deadline) -> bool:
        """Backfill one source; True when its list was read down to `since`."""
        candidates = _platform(self.request, client, self.settings, deadline) if name == PLATFORM else \
            _legacy(self.request, client, deadline)
        group: list[Found] = []
        complete = False
        try:
            for candidate in candidates:
                if candidate is not None:
                    group.append(candidate)
                if len(group) >= _GROUP:
                    self._flush(group, deadline)
                if deadline.remaining() < self.reserve:
                    break
            else:
                complete = True
        except DeadlineExceededError:
            pass  # reported as complete: false; what was found is still queued below
        self._flush(group, deadline)
        return complete

    def _flush(self, group: list[Found], deadline: Deadline) -> None:
        entries = self.ledger.get_many(found["batchId"] for found in group)
        chosen: list[tuple[ExportJob, str | None, LedgerEntry | None]] = []
        for found in group:
            entry = entries.get(found["batchId"])
            if entry is not None and entry.state in _ON_ITS_WAY:
                continue
            self.found.append({**found, "ledgerState": entry.state if entry else None})
            job = ExportJob.create(found["batchId"], trigger="backfill", source=found["source"])
            chosen.append((job, found["createdAt"], entry))
        group.clear()
        if chosen and not self.request.dry_run:
            sent = queue_jobs(self.sqs, self.settings.export_jobs_queue_url, self.ledger, chosen, deadline)
            self.queued.extend(item.job.batch_id for item in sent)


def _legacy(request: BackfillRequest, client: FlatfileClient, deadline: Deadline) -> Iterator[Found | None]:
    """The submitted batches created in the window (the list walked down to `since`); None for each other batch
    listed (the caller watches the time after every one)."""
    for batch in client.iter_batches(deadline, created_since=request.since):
        created = parse_timestamp_or_none(batch.get("createdAt"))
        if created is None or not _in_window(request, created) or batch.get("status") != SUBMITTED:
            yield None
            continue
        try:
            batch_id = require_batch_id(batch["id"])
        except InvalidJobError as error:
            logger.error("backfill: skipped a batch Flatfile listed with an unusable id: %s", error)
            yield None
            continue
        yield {"batchId": batch_id, "source": LEGACY, "createdAt": str(batch["createdAt"]),
               "filename": batch.get("filename") or batch.get("originalFile")}


def _platform(request: BackfillRequest, client: Any, settings: Settings, deadline: Deadline
              ) -> Iterator[Found | None]:
    """The complete submit jobs created in the window (the job list, newest first, walked down to `since`); None
    for each other job listed."""
    source = PlatformSource(client, settings.platform_operations, page_size=settings.batch_page_size)
    for job in created_since(pages(list_view(source, deadline)), request.since, source.created_at):
        created = job.created_at
        wanted = source.classify(job) is not Disposition.UNRELATED and job.status == COMPLETE
        if created is None or not wanted or not _in_window(request, created):
            yield None
            continue
        try:
            job_id = source.item_id(job)
        except ValueError as error:
            logger.error("backfill: skipped a job the Flatfile Platform listed with an unusable id: %s", error)
            yield None
            continue
        yield {"batchId": job_id, "source": PLATFORM, "createdAt": format_timestamp(created), "filename": None,
               "workbookId": job.source}


def _in_window(request: BackfillRequest, created: datetime) -> bool:
    return created >= request.since and (request.until is None or created < request.until)


"""`{"mode": "backfill", "since": ..., "until": ..., "dryRun": false}`: queue the submitted batches created in
[since, until) that are neither exported nor queued, with trigger `backfill`.

That includes batches `EXPORT_SINCE` kept out of the first copy (ledger state `ignored`), batches settled as
cancelled that were submitted since, and batches the ledger never saw. The protocol is the poller's: each
job is sent before the ledger says `queued`, and the mark lands only if the entry is still as read. With
`dryRun` the batches are listed and nothing is sent or written. When time runs short the backfill stops
after queueing what it found (`complete: false`): run it again, batches queued already are skipped.

Example:
    >>> work = lambda client: backfill(request, client, ledger, clients.sqs, settings, deadline)  # doctest: +SKIP
    >>> [b["batchId"] for b in connection.run(work)["batches"]]                                  # doctest: +SKIP
    ['0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11']
"""

from __future__ import annotations

import logging
from typing import Any

from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay.jobs import ExportJob, InvalidJobError, queue_jobs, require_batch_id
from flatfile_relay.ledger import EXPORTED, EXPORTING, QUEUED, SUBMITTED, Ledger, LedgerEntry
from flatfile_relay.operations.requests import BackfillRequest
from flatfile_relay.settings import Settings
from flatfile_relay.timestamps import parse_timestamp_or_none

__all__ = ["DEFAULT_RESERVE", "backfill"]

logger = logging.getLogger("flatfile_relay.operations")

#: seconds kept back by default, when the deadline nears, to queue the batches found and answer
DEFAULT_RESERVE = 2.0
#: ledger states of a batch that is exported, or on its way
_ON_ITS_WAY = frozenset({QUEUED, EXPORTING, EXPORTED})
#: batches looked up in the ledger (and queued) together
_GROUP = 100


def backfill(
    request: BackfillRequest, client: FlatfileClient, ledger: Ledger, sqs: Any, settings: Settings,
    deadline: Deadline, *, reserve: float = DEFAULT_RESERVE,
) -> dict[str, Any]:
    """Walk the batch list down to `since` and queue (or, with dryRun, list) the batches in the window.

    The answer names each batch: `{"batchId", "createdAt", "filename", "ledgerState"}` in `batches`, and the
    ids whose job was sent in `queued`.

    Raises:
        JobSendError: SQS refused some jobs (those sent are marked queued first).
        FlatfileError: Flatfile refused the listing (wrong key, foreign license...).
    """
    settings.require("export_jobs_queue_url")
    found: list[dict[str, Any]] = []
    queued: list[str] = []
    group: list[tuple[dict[str, Any], str]] = []

    def flush() -> None:
        entries = ledger.get_many(batch["id"] for batch, _ in group)
        chosen: list[tuple[ExportJob, str | None, LedgerEntry | None]] = []
        for batch, created_at in group:
            entry = entries.get(batch["id"])
            if entry is not None and entry.state in _ON_ITS_WAY:
                continue
            found.append({"batchId": batch["id"], "createdAt": created_at,
                          "filename": batch.get("filename") or batch.get("originalFile"),
                          "ledgerState": entry.state if entry else None})
            chosen.append((ExportJob.create(batch["id"], trigger="backfill"), created_at, entry))
        group.clear()
        if chosen and not request.dry_run:
            sent = queue_jobs(sqs, settings.export_jobs_queue_url, ledger, chosen, deadline)
            queued.extend(item.job.batch_id for item in sent)

    complete = False
    try:
        for batch in client.iter_batches(deadline, created_since=request.since):
            created = parse_timestamp_or_none(batch.get("createdAt"))
            in_window = created is not None and (request.until is None or created < request.until)
            if in_window and batch.get("status") == SUBMITTED:
                try:
                    group.append(({**batch, "id": require_batch_id(batch["id"])}, str(batch["createdAt"])))
                except InvalidJobError as error:
                    logger.error("backfill: skipped a batch Flatfile listed with an unusable id: %s", error)
            if len(group) >= _GROUP:
                flush()
            if deadline.remaining() < reserve:
                break
        else:
            complete = True
    except DeadlineExceededError:
        pass  # reported as complete: false; what was found is still queued below
    flush()
    return {
        "mode": "backfill", "ok": True, "dryRun": request.dry_run, "complete": complete,
        "since": request.since.isoformat(), "until": request.until.isoformat() if request.until else None,
        "batches": found, "queued": queued,
    }

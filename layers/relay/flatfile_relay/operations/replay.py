"""`{"mode": "replay", "batchIds": [...]}`: export batches and Platform jobs again, with trigger `replay`.

`batchIds` takes batch UUIDs (the legacy source) and job ids (`us_jb_…`, the Flatfile Platform) alike: each
gets an export job of its own source. The exporter exports again only for a replay's job (any other trigger
finds it exported and stops), rewriting the same keys and sending a new notice; a Platform job is never
acknowledged or completed again. Only ids the ledger knows are accepted: an id it has never seen is most likely
a typo (one the relay never saw is a job for `backfill`), and then nothing is sent.

Example:
    >>> replay(request, ledger, clients.sqs, settings, deadline)["queued"]      # doctest: +SKIP
    ['0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11', 'us_jb_4fX2kQ']
"""

from __future__ import annotations

from typing import Any

from flatfile_relay.deadline import Deadline
from flatfile_relay.ids import PLATFORM, source_of
from flatfile_relay.jobs import ExportJob, send_jobs
from flatfile_relay.ledger import Ledger
from flatfile_relay.operations.requests import InvalidRequestError, ReplayRequest
from flatfile_relay.settings import Settings

__all__ = ["replay"]


def replay(request: ReplayRequest, ledger: Ledger, sqs: Any, settings: Settings, deadline: Deadline) -> dict[str, Any]:
    """Send one `replay` job per batch or job; `{"mode": "replay", "ok": True, "queued": [...], "previousState":
    {...}}`.

    Raises:
        InvalidRequestError: some ids are unknown to the ledger (nothing is sent).
        JobSendError: SQS refused some jobs (`.sent` were sent).
    """
    entries = ledger.get_many(request.batch_ids)
    unknown = [batch_id for batch_id in request.batch_ids if batch_id not in entries]
    if unknown:
        named = ", ".join(f"no {'job' if source_of(each) == PLATFORM else 'batch'} {each}" for each in unknown)
        raise InvalidRequestError(
            f"the ledger knows {named}: nothing was replayed (replay re-exports batches and jobs the relay has "
            "seen; backfill queues the others)"
        )
    jobs = [ExportJob.create(each, trigger="replay", source=source_of(each)) for each in request.batch_ids]
    sent = send_jobs(sqs, settings.export_jobs_queue_url, jobs, deadline)
    return {
        "mode": "replay",
        "ok": True,
        "queued": [job.batch_id for job in sent],
        "previousState": {batch_id: entries[batch_id].state for batch_id in request.batch_ids},
    }

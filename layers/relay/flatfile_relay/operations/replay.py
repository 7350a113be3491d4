"""`{"mode": "replay", "batchIds": [...]}`: export batches again, with trigger `replay`.

The exporter exports a batch again only for a replay's job (any other trigger finds it exported and stops),
rewriting the same keys and sending a new notice. Only batches the ledger knows are accepted: an id it has
never seen is most likely a typo (a batch the relay never saw is a job for `backfill`), and then nothing is
sent.

Example:
    >>> replay(request, ledger, clients.sqs, settings, deadline)["queued"]      # doctest: +SKIP
    ['0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11']
"""

from __future__ import annotations

from typing import Any

from flatfile_relay.deadline import Deadline
from flatfile_relay.jobs import ExportJob, send_jobs
from flatfile_relay.ledger import Ledger
from flatfile_relay.operations.requests import InvalidRequestError, ReplayRequest
from flatfile_relay.settings import Settings

__all__ = ["replay"]


def replay(request: ReplayRequest, ledger: Ledger, sqs: Any, settings: Settings, deadline: Deadline) -> dict[str, Any]:
    """Send one `replay` job per batch; `{"mode": "replay", "ok": True, "queued": [...], "previousState": {...}}`.

    Raises:
        InvalidRequestError: some ids are unknown to the ledger (nothing is sent).
        JobSendError: SQS refused some jobs (`.sent` were sent).
    """
    entries = ledger.get_many(request.batch_ids)
    unknown = [batch_id for batch_id in request.batch_ids if batch_id not in entries]
    if unknown:
        raise InvalidRequestError(
            f"the ledger knows no batch {', '.join(unknown)}: nothing was replayed (replay re-exports batches "
            "the relay has seen; backfill queues the others)"
        )
    jobs = [ExportJob.create(batch_id, trigger="replay") for batch_id in request.batch_ids]
    sent = send_jobs(sqs, settings.export_jobs_queue_url, jobs, deadline)
    return {
        "mode": "replay",
        "ok": True,
        "queued": [job.batch_id for job in sent],
        "previousState": {batch_id: entries[batch_id].state for batch_id in request.batch_ids},
    }

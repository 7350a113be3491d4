"""`{"mode": "status"}`: what the ledger and the queues hold, read-only.

The answer: ledger counts by state, the oldest pending batch, the poller's last poll and last full walk
(from the checkpoint), the export backlog and each DLQ's depth. Each part is read on its own: one that
fails shows its problem in place and the others are still reported.

Example:
    >>> status(ledger, clients, settings, deadline)["ledger"]      # doctest: +SKIP
    {'exported': 12, 'pending': 2, 'closed': 1}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flatfile_relay.aws import AwsClients
from flatfile_relay.checkpoint import is_checkpoint_id
from flatfile_relay.deadline import Deadline
from flatfile_relay.ledger import Ledger
from flatfile_relay.operations.check import queues
from flatfile_relay.operations.problems import describe
from flatfile_relay.settings import Settings
from flatfile_relay.timestamps import format_timestamp

__all__ = ["count_states", "status"]

#: seconds kept back from the deadline while counting the ledger (a huge ledger gets a partial count)
_RESERVE = 1.0


def status(ledger: Ledger, clients: AwsClients, settings: Settings, deadline: Deadline) -> dict[str, Any]:
    """`{"mode": "status", "ok": bool, "ledger": {...}, "oldestPending": ..., "poller": {...},
    "exportBacklog": {...}, "deadLetters": {...}}`; a part that could not be read is `"error: ..."`."""
    problems: list[str] = []

    def read(action: Callable[[], Any]) -> Any:
        try:
            return action()
        except Exception as error:  # noqa: BLE001 - reported in place, the other parts still answer
            problems.append(describe(error))
            return f"error: {problems[-1]}"

    answer: dict[str, Any] = {"mode": "status"}
    answer["ledger"] = read(lambda: count_states(clients.dynamodb, settings.ledger_table, deadline))
    answer["oldestPending"] = read(lambda: _oldest_pending(ledger))
    answer["poller"] = read(lambda: _poller(ledger))
    answer["exportBacklog"] = read(lambda: _backlog(clients, settings.export_jobs_queue_url))
    answer["deadLetters"] = {
        label: read(lambda url=url: _depth(clients, url))  # type: ignore[misc]
        for label, url in queues(settings).items()
        if label.endswith("DLQ")
    }
    answer["ok"] = not problems
    return answer


def count_states(dynamodb: Any, table: str, deadline: Deadline) -> dict[str, Any]:
    """Batches by ledger state (a Scan reading only the state; the poller's checkpoints are not batches);
    `partial: true` when time ran short."""
    counts: Counter[str] = Counter()
    kwargs: dict[str, Any] = {"TableName": table, "ProjectionExpression": "batchId, #s",
                              "ExpressionAttributeNames": {"#s": "state"}}
    while True:
        page = dynamodb.scan(**kwargs)
        for item in page.get("Items", []):
            if not is_checkpoint_id(item["batchId"]["S"]):
                counts[item.get("state", {}).get("S", "unknown")] += 1
        kwargs["ExclusiveStartKey"] = page.get("LastEvaluatedKey")
        if not kwargs["ExclusiveStartKey"]:
            return dict(sorted(counts.items()))
        if deadline.remaining() < _RESERVE:
            return {**dict(sorted(counts.items())), "partial": True}


def _oldest_pending(ledger: Ledger) -> dict[str, Any] | None:
    entry = next(iter(ledger.pending()), None)
    if entry is None:
        return None
    return {"batchId": entry.batch_id, "createdAt": entry.batch_created_at, "status": entry.batch_status,
            "firstSeenAt": entry.extra.get("firstSeenAt")}


def _poller(ledger: Ledger) -> dict[str, Any]:
    checkpoint = ledger.checkpoint()
    return {
        "lastPollAt": _timestamp(checkpoint.last_poll_at),
        "lastPollComplete": checkpoint.last_poll_complete,
        "lastFullWalkAt": _timestamp(checkpoint.last_full_walk_at),
        "baselineCompletedAt": _timestamp(checkpoint.baseline_completed_at),
    }


def _timestamp(moment: datetime | None) -> str | None:
    return format_timestamp(moment) if moment is not None else None


def _attributes(clients: AwsClients, url: str, *names: str) -> dict[str, int]:
    answer = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names))["Attributes"]
    return {name: int(answer.get(name, 0)) for name in names}


def _backlog(clients: AwsClients, url: str) -> dict[str, int]:
    counts = _attributes(clients, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    return {"waiting": counts["ApproximateNumberOfMessages"],
            "inFlight": counts["ApproximateNumberOfMessagesNotVisible"]}


def _depth(clients: AwsClients, url: str) -> int:
    return _attributes(clients, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"]


__all__ = ["count_states", "status"]

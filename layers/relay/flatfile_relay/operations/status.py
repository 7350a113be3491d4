"""`{"mode": "status"}`: what the ledger and the queues hold, read-only.

The answer: ledger counts by state and the oldest pending import, of all sources and per source (`sources`:
`legacy` batches and `platform` jobs, told apart by their ids), each source's last poll and last full walk (from
its checkpoint), the export backlog and each DLQ's depth. Each part is read on its own: one that fails shows its
problem in place and the others are still reported. It reads no secret: it answers for both sources, also
while the secret is broken.

Example:
    >>> status(ledger, clients, settings, deadline)["ledger"]                       # doctest: +SKIP
    {'exported': 12, 'pending': 2, 'closed': 1}
    >>> status(ledger, clients, settings, deadline)["sources"]["platform"]["ledger"]  # doctest: +SKIP
    {'exported': 3}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flatfile_relay.aws import AwsClients
from flatfile_relay.checkpoint import is_checkpoint_id
from flatfile_relay.deadline import Deadline
from flatfile_relay.ids import SOURCES, source_of
from flatfile_relay.ledger import Ledger, LedgerEntry
from flatfile_relay.operations.check import queues
from flatfile_relay.operations.problems import describe
from flatfile_relay.settings import Settings
from flatfile_relay.timestamps import format_timestamp

__all__ = ["count_states", "count_states_by_source", "status"]

#: seconds kept back from the deadline while counting the ledger (a huge ledger gets a partial count)
_RESERVE = 1.0


def status(ledger: Ledger, clients: AwsClients, settings: Settings, deadline: Deadline) -> dict[str, Any]:
    """`{"mode": "status", "ok": bool, "ledger": {...}, "oldestPending": ..., "sources": {source: {"ledger",
    "oldestPending", "poller"}}, "exportBacklog": {...}, "deadLetters": {...}}`; a part that could not be read is
    `"error: ..."`."""
    problems: list[str] = []

    def read(action: Callable[[], Any]) -> Any:
        try:
            return action()
        except Exception as error:  # noqa: BLE001 - reported in place, the other parts still answer
            problems.append(describe(error))
            return f"error: {problems[-1]}"

    by_source = read(lambda: count_states_by_source(clients.dynamodb, settings.ledger_table, deadline))
    oldest = read(lambda: _oldest_pending(ledger))
    answer: dict[str, Any] = {"mode": "status"}
    answer["ledger"] = by_source if isinstance(by_source, str) else _total(by_source.values())
    answer["oldestPending"] = oldest if isinstance(oldest, str) else min(
        oldest.values(), key=lambda found: found.get("createdAt") or "", default=None)
    answer["sources"] = {source: {
        "ledger": by_source if isinstance(by_source, str) else by_source[source],
        "oldestPending": oldest if isinstance(oldest, str) else oldest.get(source),
        "poller": read(lambda source=source: _poller(ledger, source)),  # type: ignore[misc]
    } for source in SOURCES}
    answer["exportBacklog"] = read(lambda: _backlog(clients, settings.export_jobs_queue_url))
    answer["deadLetters"] = {
        label: read(lambda url=url: _depth(clients, url))  # type: ignore[misc]
        for label, url in queues(settings).items()
        if label.endswith("DLQ")
    }
    answer["ok"] = not problems
    return answer


def count_states(dynamodb: Any, table: str, deadline: Deadline) -> dict[str, Any]:
    """Batches and jobs by ledger state, of all sources (see `count_states_by_source`)."""
    return _total(count_states_by_source(dynamodb, table, deadline).values())


def count_states_by_source(dynamodb: Any, table: str, deadline: Deadline) -> dict[str, dict[str, Any]]:
    """Each source's batches or jobs by ledger state (a Scan reading only the id and the state; the poller's
    checkpoints are not exports); `partial: true` in each when time ran short."""
    counts: dict[str, Counter[str]] = {source: Counter() for source in SOURCES}
    kwargs: dict[str, Any] = {"TableName": table, "ProjectionExpression": "batchId, #s",
                              "ExpressionAttributeNames": {"#s": "state"}}
    partial = False
    while True:
        page = dynamodb.scan(**kwargs)
        for item in page.get("Items", []):
            key = item["batchId"]["S"]
            if not is_checkpoint_id(key) and not key.startswith("#"):  # nor the reserved items (`#schema:`)
                counts[source_of(key)][item.get("state", {}).get("S", "unknown")] += 1
        kwargs["ExclusiveStartKey"] = page.get("LastEvaluatedKey")
        if not kwargs["ExclusiveStartKey"]:
            break
        if deadline.remaining() < _RESERVE:
            partial = True
            break
    return {source: {**dict(sorted(count.items())), **({"partial": True} if partial else {})}
            for source, count in counts.items()}


def _total(counts: Any) -> dict[str, Any]:
    """The counts of several sources added up (`partial` kept)."""
    total: Counter[str] = Counter()
    partial = False
    for count in counts:
        partial |= bool(count.get("partial"))
        total.update({state: number for state, number in count.items() if state != "partial"})
    return {**dict(sorted(total.items())), **({"partial": True} if partial else {})}


def _oldest_pending(ledger: Ledger) -> dict[str, dict[str, Any]]:
    """Each source's oldest pending batch or job (the pending index is oldest first)."""
    oldest: dict[str, dict[str, Any]] = {}
    for entry in ledger.pending():
        oldest.setdefault(source_of(entry.batch_id), _pending(entry))
        if len(oldest) == len(SOURCES):
            break
    return oldest


def _pending(entry: LedgerEntry) -> dict[str, Any]:
    return {"batchId": entry.batch_id, "createdAt": entry.batch_created_at, "status": entry.batch_status,
            "firstSeenAt": entry.extra.get("firstSeenAt")}


def _poller(ledger: Ledger, source: str) -> dict[str, Any]:
    checkpoint = ledger.checkpoint(source)
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

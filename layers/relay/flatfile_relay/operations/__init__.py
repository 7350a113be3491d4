"""Operator modes: the poller invoked with `{"mode": ...}` checks, reports, replays or backfills instead of
polling. Any event without a `mode` is a scheduled poll.

    {"mode": "check"}                                   verify configuration and access, write nothing
    {"mode": "status"}                                  ledger counts, oldest pending, last poll, queue depths
    {"mode": "replay", "batchIds": ["..."]}             export these batches again (trigger replay)
    {"mode": "backfill", "since": "2024-01-01", "until": "2024-02-01", "dryRun": true}
                                                        queue (or list) the batches created in [since, until)

An operator mode always answers, and never fails the invocation: a bad request (unknown mode, a misspelt or
invalid field) or a failure on the way is an answer with `"ok": false` and an `error` naming the problem,
logged at ERROR. So an operator who invoked it synchronously reads the problem in the answer, and a request
sent asynchronously is not retried and never lands in the poller's DLQ (where it would look like a failed
poll): its answer is in the poller's log.

Example:
    >>> operate({"mode": "chek"}, runtime, deadline)["error"]          # doctest: +SKIP
    "unknown mode 'chek': use one of check, status, replay, backfill (an event without a mode is a scheduled poll)"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flatfile_relay.connection import FlatfileRuntime
    from flatfile_relay.deadline import Deadline

__all__ = ["is_operator_request", "operate"]


def is_operator_request(event: Any) -> bool:
    """True when the event asks for an operator mode; any event without `mode` is a scheduled poll.

    Example:
        >>> is_operator_request({}), is_operator_request({"mode": "status"})
        (False, True)
    """
    return isinstance(event, dict) and "mode" in event


def operate(event: Any, runtime: FlatfileRuntime, deadline: Deadline) -> dict[str, Any]:
    """Parse the operator's event, run its mode and return the answer (`ok: false` and `error` on failure).

    The modes and their request models are imported on the first operator request: a poll never needs them.
    """
    from flatfile_relay.operations.dispatch import run_request  # deferred: see DEFERRED_IMPORTS

    return run_request(event, runtime, deadline)

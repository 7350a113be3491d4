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

import logging
from typing import Any

from flatfile_relay.deadline import Deadline
from flatfile_relay.jobs import JobSendError
from flatfile_relay.operations.backfill import backfill
from flatfile_relay.operations.check import check
from flatfile_relay.operations.problems import describe
from flatfile_relay.operations.replay import replay
from flatfile_relay.operations.requests import (
    BackfillRequest,
    CheckRequest,
    InvalidRequestError,
    OperatorRequest,
    ReplayRequest,
    StatusRequest,
    is_operator_request,
    parse_request,
)
from flatfile_relay.operations.status import status
from flatfile_relay.runtime import Runtime

__all__ = ["InvalidRequestError", "is_operator_request", "operate", "parse_request"]

logger = logging.getLogger("flatfile_relay.operations")


def operate(event: Any, runtime: Runtime, deadline: Deadline) -> dict[str, Any]:
    """Parse the operator's event, run its mode and return the answer (`ok: false` and `error` on failure)."""
    mode = str(event.get("mode"))[:64] if isinstance(event, dict) else "?"
    try:
        answer = _run(parse_request(event), runtime, deadline)
    except InvalidRequestError as error:
        logger.error("operator mode %s refused: %s", mode, error)
        return {"mode": mode, "ok": False, "error": str(error)}
    except Exception as error:
        answer = {"mode": mode, "ok": False, "error": describe(error)}
        if isinstance(error, JobSendError):
            answer["queued"] = [job.batch_id for job in error.sent]
            answer["notQueued"] = [job.batch_id for job in error.failed]
        logger.exception("operator mode %s failed: %s", mode, answer["error"])
        return answer
    if answer["ok"]:
        logger.info("operator mode %s answered", mode, extra={"operation": answer})
    else:
        logger.error("operator mode %s found problems", mode, extra={"operation": answer})
    return answer


def _run(request: OperatorRequest, runtime: Runtime, deadline: Deadline) -> dict[str, Any]:
    settings, clients = runtime.settings, runtime.clients
    if isinstance(request, CheckRequest):
        return check(runtime.connection, clients, settings, deadline)
    if isinstance(request, StatusRequest):
        return status(runtime.ledger, clients, settings, deadline)
    if isinstance(request, ReplayRequest):
        return replay(request, runtime.ledger, clients.sqs, settings, deadline)
    if isinstance(request, BackfillRequest):
        return runtime.connection.run(
            lambda client: backfill(request, client, runtime.ledger, clients.sqs, settings, deadline)
        )
    raise AssertionError(f"no operation for {request!r}")  # pragma: no cover - the parser admits no other

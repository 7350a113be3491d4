"""Run an operator's request: parse it, run its mode, shape the answer (see `flatfile_relay.operations`).

Example:
    >>> run_request({"mode": "status"}, runtime, deadline)["ok"]          # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
from typing import Any

from flatfile_relay.connection import FlatfileRuntime
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
    parse_request,
)
from flatfile_relay.operations.status import status

__all__ = ["run_request"]

logger = logging.getLogger("flatfile_relay.operations")


def run_request(event: Any, runtime: FlatfileRuntime, deadline: Deadline) -> dict[str, Any]:
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


def _run(request: OperatorRequest, runtime: FlatfileRuntime, deadline: Deadline) -> dict[str, Any]:
    settings, clients = runtime.settings, runtime.clients
    if isinstance(request, CheckRequest):
        return check(runtime.connection, clients, settings, deadline)
    if isinstance(request, StatusRequest):
        return status(runtime.ledger, clients, settings, deadline)
    if isinstance(request, ReplayRequest):
        return replay(request, runtime.ledger, clients.sqs, settings, deadline)
    if isinstance(request, BackfillRequest):
        return backfill(request, runtime.connection, runtime.ledger, clients.sqs, settings, deadline)
    raise AssertionError(f"no operation for {request!r}")  # pragma: no cover - the parser admits no other

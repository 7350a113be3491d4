"""Poller function: one scheduled poll of every Flatfile source the secret turns on (the legacy API's batches,
the Flatfile Platform's submit jobs), queueing an export job per import ready for export.

Any event without a `mode` is a poll, and its content is ignored (a ScheduleV2 sends its `Input`;
correctness never depends on the time inside it). An event with a `mode` is an operator's request
(`flatfile_relay.operations`).
Everything lives in `flatfile_relay.polls` and `flatfile_relay.poller`; this module wires it to Lambda: settings,
AWS clients, the Flatfile connection and the ledger are created on the first invocation and reused while the
execution environment stays warm. Each source is reported on its own: a log line with a `source` field, its
metrics with a `Source` dimension (`PollFailures` when it failed). A source that failed fails the invocation once
every source ran, so the asynchronous invocation is retried and then lands in the poller's DLQ; a configuration
problem is logged at ERROR with its message first. A secret that still holds the stack's placeholders is not an
error: one WARNING line, the `NotConfigured` metric, and the invocation succeeds (every scheduled poll would
otherwise land in the DLQ until someone fills the secret in). What a failure is,
`flatfile_relay.failures.classify` says.

Example (what the scheduler does):
    >>> handler({}, context)          # doctest: +SKIP
    {'complete': True, 'jobs_sent': [], 'pages': 2, ..., 'sources': {'legacy': {...}, 'platform': {...}}}
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from flatfile_relay.connection import FlatfileRuntime
from flatfile_relay.deadline import Deadline
from flatfile_relay.failures import ErrorKind, classify
from flatfile_relay.measurements import request_measurements
from flatfile_relay.observability import get_logger, get_metrics, publish, publish_apart, traced
from flatfile_relay.operations import is_operator_request, operate
from flatfile_relay.poller import PollReport
from flatfile_relay.polls import SourcePoll, poll_sources

logger = get_logger()
metrics = get_metrics()

#: seconds of the invocation kept back to send collected jobs, save progress and answer
RESERVE_SECONDS = 15.0
#: batch ids listed in the summary log line at most (the handler's answer lists them all)
LOGGED_IDS = 100

runtime = FlatfileRuntime("secret_id", "ledger_table", "export_jobs_queue_url")
reset = runtime.reset


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Poll every source and return what each did (see `flatfile_relay.polls.Polls.as_dict`), or the operator
    mode the event names (`{"mode": "check"}`...: see `flatfile_relay.operations`; it always answers)."""
    remaining = context.get_remaining_time_in_millis() / 1000.0
    deadline = Deadline.from_lambda_context(context, reserve=min(RESERVE_SECONDS, remaining / 4))
    try:
        if is_operator_request(event):
            metrics.add_metric(name="OperatorRequests", unit=MetricUnit.Count, value=1)
            return operate(event, runtime, deadline)
        return _poll(deadline)
    finally:
        publish(metrics, request_measurements(runtime.take_request_counts()))


def _poll(deadline: Deadline) -> dict[str, Any]:
    try:
        settings, sqs, ledger = runtime.settings, runtime.clients.sqs, runtime.ledger
        polls = poll_sources(runtime.connection, ledger, sqs, settings, deadline)
    except Exception as error:
        if classify(error) is ErrorKind.NOT_CONFIGURED:
            metrics.add_metric(name="NotConfigured", unit=MetricUnit.Count, value=1)
            logger.warning(f"not configured, poll skipped: {error}", extra=_error_fields(error))
            return {"status": "not-configured", "message": str(error)}
        metrics.add_metric(name="PollFailures", unit=MetricUnit.Count, value=1)
        _log_failure(error, None)
        raise
    for source_poll in polls.polls:
        _publish(source_poll)
    publish(metrics, polls.measurements())
    if polls.errors:  # every source ran: now the invocation fails, for Lambda's retry and then the DLQ
        raise polls.errors[0]
    return polls.as_dict()


def _publish(source_poll: SourcePoll) -> None:
    """One source's metrics (dimension `Source`) and log line."""
    source = source_poll.source
    publish_apart(metrics, source_poll.measurements(), Source=source)
    if source_poll.error is not None:
        _log_failure(source_poll.error, source)
    elif source_poll.report is not None:
        _log_report(source, source_poll.report)


def _log_report(source: str, report: PollReport) -> None:
    summary = report.as_dict()
    summary["jobs_sent_count"] = len(report.jobs_sent)
    if len(report.jobs_sent) > LOGGED_IDS:  # keep the log line well under CloudWatch's event size limit
        summary["jobs_sent"] = [*report.jobs_sent[:LOGGED_IDS], "..."]
    if report.complete:
        logger.info("poll finished", extra={"source": source, "poll": summary})
    else:
        logger.warning("poll stopped before finishing (out of time): the next poll carries on",
                       extra={"source": source, "poll": summary})


def _log_failure(error: Exception, source: str | None) -> None:
    """One line naming the failure (with its stack trace unless a human must fix the configuration)."""
    extra = {**_error_fields(error), **({"source": source} if source else {})}
    if classify(error) is ErrorKind.CONFIGURATION:
        what = "the poll cannot run" if source is None else f"the {source} source cannot be polled"
        logger.error(f"{error} ({what} until the configuration is fixed)", extra=extra)
    else:
        what = "poll failed" if source is None else f"poll of the {source} source failed"
        logger.exception(f"{what}: {type(error).__name__}: {error}", exc_info=error, extra=extra)


def _error_fields(error: Exception) -> dict[str, str]:
    return {"error_type": type(error).__name__, "error_kind": classify(error).value}

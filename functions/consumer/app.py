"""Consumer function (sample): notices from SQS → verify and read the export → one summary log line each.

Both sources: a legacy batch's summary counts its rows; a Flatfile Platform submit job's also counts each sheet's
records (valid, invalid), checked against the manifest (`flatfile_relay.consumer`).

A notice fails alone (it shows up in `batchItemFailures`, comes back later, then goes to the DLQ) when
its manifest or one of its parts does not check out, or reading them fails; the other notices of the event
are processed. The log line says which (`flatfile_relay.failures.classify`): a notice rejected (it breaks
the contract), a configuration problem, or a failure (with its stack trace).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from flatfile_relay.consumer import handle_notice
from flatfile_relay.failures import ErrorKind, classify
from flatfile_relay.observability import get_logger, get_metrics, traced
from flatfile_relay.runtime import Runtime
from flatfile_relay.sqs_batch import partial_batch_response

if TYPE_CHECKING:  # Powertools' batch utility is imported with the first event (`flatfile_relay.sqs_batch`)
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

logger = get_logger()
metrics = get_metrics()
runtime = Runtime()
reset = runtime.reset

def record_handler(record: SQSRecord) -> dict[str, Any]:
    """Summarise the batch of one notice; raise to fail this notice only."""
    try:
        summary = handle_notice(record.body, runtime.clients.s3)
    except Exception as error:
        kind = classify(error)
        metrics.add_metric(name="NoticesRejected", unit=MetricUnit.Count, value=1)
        extra = {"messageId": record.message_id, "error_kind": kind.value}
        described = f"{type(error).__name__}: {error}"
        if kind is ErrorKind.CONTRACT:
            logger.error(f"notice rejected: {described}", extra=extra)
        elif kind in (ErrorKind.CONFIGURATION, ErrorKind.NOT_CONFIGURED):
            logger.error(f"notice failed, the configuration needs a fix: {described}", extra=extra)
        else:
            logger.exception(f"notice failed: {described}", extra=extra)
        raise
    metrics.add_metric(name="RowsConsumed", unit=MetricUnit.Count, value=summary.rows)
    sheets = "".join(f"; sheet {sheet.slug}: {sheet.rows} records, {sheet.invalid} invalid" for sheet in summary.sheets)
    invalid = summary.invalid_fields()
    fields = f"; fields with invalid cells: {', '.join(invalid)}" if invalid else ""
    logger.info(f"{summary.source} export {summary.batch_id}: {summary.rows} rows consumed{sheets}{fields}",
                extra={"summary": summary.to_dict()})
    return summary.to_dict()


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """SQS event in, `{"batchItemFailures": [...]}` out."""
    return partial_batch_response(event, context, record_handler)

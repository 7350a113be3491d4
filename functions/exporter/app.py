"""Exporter function: export jobs from SQS (BatchSize 1) → `flatfile_relay.exporter.export_batch` (a legacy batch)
or `export_platform_job` (a Flatfile Platform submit job), by the job's `source`.

Each record is one export job. A record fails by raising (it comes back after the visibility timeout and
lands in the DLQ after maxReceiveCount); the others in the same event are not affected. A Platform job's record on
its last delivery (`ApproximateReceiveCount` reaching EXPORT_JOBS_MAX_RECEIVE_COUNT) fails the Flatfile job before
it goes to the DLQ. Exported rows that disagree with the source's own counts publish nothing and fail the record
(retried); on its last delivery the failure is for good (`ReconciliationFailed` is counted). Every outcome
(exported, skipped, busy, continued, left alone, ...) acknowledges the job. A failure is logged by what
`flatfile_relay.failures.classify` says it is: a secret not configured yet is one warning, a configuration problem
one error naming it (a Platform job while the secret holds no Platform keys names them), anything else an error
with its stack trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from flatfile_relay.connection import FlatfileRuntime
from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import ExportOutcome, export_batch, export_platform_job
from flatfile_relay.failures import ErrorKind, classify
from flatfile_relay.ids import PLATFORM
from flatfile_relay.jobs import ExportJob, InvalidJobError
from flatfile_relay.measurements import request_measurements
from flatfile_relay.observability import get_logger, get_metrics, publish, traced
from flatfile_relay.reconcile import ReconciliationFailedError
from flatfile_relay.sqs_batch import partial_batch_response

if TYPE_CHECKING:  # Powertools' batch utility is imported with the first event (`flatfile_relay.sqs_batch`)
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

#: Seconds of the Lambda's time kept back from the exporter (to log, flush metrics and answer).
DEADLINE_RESERVE = 10.0

logger = get_logger()
metrics = get_metrics()
runtime = FlatfileRuntime("secret_id", "ledger_table", "export_bucket", "notices_queue_url", "export_jobs_queue_url")
reset = runtime.reset


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> dict[str, Any]:
    """Export the batch of one job; raise to fail this record only."""
    try:
        job = ExportJob.from_message(record.body)
    except InvalidJobError as error:
        metrics.add_metric(name="ExportJobsFailed", unit=MetricUnit.Count, value=1)
        logger.error(f"invalid export job: {error}", extra={"messageId": record.message_id})
        raise
    deadline = Deadline.from_lambda_context(lambda_context, reserve=DEADLINE_RESERVE)
    owner = lambda_context.aws_request_id

    def work(client: Any) -> ExportOutcome:
        clients, settings = runtime.clients, runtime.settings
        last_delivery = _deliveries(record) >= settings.export_jobs_max_receive_count
        if job.source == PLATFORM:
            return export_platform_job(
                job, client, clients.s3, clients.sqs, runtime.ledger, settings, deadline, owner, events=clients.events,
                last_delivery=last_delivery, secret_values=runtime.connection.secret().secret_values,
            )
        return export_batch(job, client, clients.s3, clients.sqs, runtime.ledger, settings, deadline, owner,
                            events=clients.events, last_delivery=last_delivery)

    try:
        outcome = runtime.connection.run(work, source=job.source)
    except Exception as error:
        _failed(error, job, record)
        raise
    publish(metrics, outcome.measurements())
    logger.info(f"export job for batch {job.batch_id}: {outcome.status}",
                extra={"outcome": outcome.to_dict(), "trigger": job.trigger, "resume": job.resume})
    return outcome.to_dict()


def _deliveries(record: SQSRecord) -> int:
    """How many times SQS has delivered the record (1 when it does not say)."""
    try:
        return int(record.attributes.approximate_receive_count)
    except (KeyError, TypeError, ValueError):
        return 1


def _failed(error: Exception, job: ExportJob, record: SQSRecord) -> None:
    """Log and count an export job that failed, by what the failure is (the job fails either way)."""
    kind = classify(error)
    extra = {"batchId": job.batch_id, "messageId": record.message_id, "error_kind": kind.value}
    if kind is ErrorKind.NOT_CONFIGURED:  # kept: retried, then in the DLQ to redrive once the secret is filled in
        metrics.add_metric(name="NotConfigured", unit=MetricUnit.Count, value=1)
        logger.warning(f"not configured, export of batch {job.batch_id} postponed: {error}", extra=extra)
        return
    metrics.add_metric(name="ExportJobsFailed", unit=MetricUnit.Count, value=1)
    if isinstance(error, ReconciliationFailedError):
        metrics.add_metric(name="ReconciliationFailed", unit=MetricUnit.Count, value=1)
    if kind is ErrorKind.CONFIGURATION:
        logger.error(f"export of batch {job.batch_id} needs a configuration fix: {type(error).__name__}: {error}",
                     extra=extra)
    else:
        logger.exception(f"export of batch {job.batch_id} failed: {type(error).__name__}: {error}", extra=extra)


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """SQS event in, `{"batchItemFailures": [...]}` out."""
    try:
        return partial_batch_response(event, context, record_handler)
    finally:
        publish(metrics, request_measurements(runtime.take_request_counts()))

"""Webhook function (Function URL): Flatfile Portal v2 POSTs, and Flatfile Platform ``job:ready`` events a
listener forwards → raw payload in S3 + one export job per batch or Platform job.

`flatfile_relay.webhook` checks the token, reads and parses the body and accepts the delivery
(`flatfile_relay.webhook_platform` tells a forwarded Platform event apart); this module maps what it says to HTTP
(JSON bodies that never echo the token):

    202 accepted: ``{"status": "accepted", "batchId", "eventId", "part", "queued"}`` (``queued``: this POST
        sent the export job; later parts of a batch find it queued already). Any path of the URL works.
        A Platform event: ``{"status": "accepted", "source": "platform", "batchId": <job id>, "eventId",
        "queued"}``.
    200 ignored: ``{"status": "ignored", "eventType", "queued": false}`` for an authenticated, well-formed
        event that is not ``batch:v1:upload``: nothing stored or queued (metric `WebhookIgnored`). A Platform
        event of another topic, job operation or environment: ``{"status": "ignored", "source": "platform",
        "eventType", "reason", "queued": false}`` (`PlatformEvent.ignored_because`).
    400 malformed body (`InvalidPayloadError`), 413 too large (`PayloadTooLargeError`), 415 a content type
        that is not JSON (`UnsupportedMediaTypeError`), 401 token missing or wrong or no ``webhookToken``
        configured in the webhook secret: nothing stored or queued. 405 any method but POST.
    500 a human must fix the configuration (`flatfile_relay.failures.classify`; the log says what), 503
        anything else (AWS failed or was too slow for the invocation's time): retry later (``Retry-After``).

Never logged: the token, the query string, the headers, the body.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from flatfile_relay.aws import PROMPT, AwsClients
from flatfile_relay.deadline import Deadline
from flatfile_relay.failures import ErrorKind, classify
from flatfile_relay.observability import get_logger, get_metrics, traced
from flatfile_relay.runtime import Runtime
from flatfile_relay.webhook import (
    UPLOAD_EVENT,
    Delivery,
    InvalidPayloadError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    WebhookOutcome,
    accept_delivery,
    check_content_type,
    decode_body,
)
from flatfile_relay.webhook_platform import PlatformEvent, parse_delivery
from flatfile_relay.webhook_tokens import TokenGate, WebhookTokenSource

TOKEN_HEADER = "X-Webhook-Token"  # noqa: S105 - a header name, not a secret
TOKEN_PARAMETER = "token"  # noqa: S105 - a query parameter name
MISCONFIGURED = "the webhook is misconfigured; the function's log says what to fix"
"""The 500 answer's error (the log says what to fix)."""
DEADLINE_RESERVE = 2.0
"""Seconds kept back from the Lambda's remaining time to answer."""

logger = get_logger()
metrics = get_metrics()
app = LambdaFunctionUrlResolver(debug=False)  # POWERTOOLS_DEV would print every event, token included


class _WebhookRuntime(Runtime):
    """The function's warm state, plus the token gate (which remembers when it last re-read the secret).

    The webhook reads its own secret (WEBHOOK_SECRET_ID) only, never the Flatfile credentials. Its AWS clients,
    the secret's included, make few and short attempts (`PROMPT`) and start no call that could outlast the
    invocation's `deadline`: a slow AWS is answered 503 before Lambda's timeout would make it a 502.
    """

    deadline: Deadline | None = None

    @cached_property
    def clients(self) -> AwsClients:
        return AwsClients(config=PROMPT, deadline=lambda: self.deadline)

    @cached_property
    def gate(self) -> TokenGate:
        return TokenGate(WebhookTokenSource(self.settings.webhook_secret_id, client=self.clients.secretsmanager))

    def reset(self) -> None:
        super().reset()
        self.__dict__.pop("gate", None)


runtime = _WebhookRuntime("webhook_secret_id", "ledger_table", "export_jobs_queue_url", "export_bucket")
reset = runtime.reset


@app.post(".*")
def receive() -> Response[str]:
    """One delivery: what the library says, as an HTTP answer."""
    runtime.deadline = Deadline.from_lambda_context(app.lambda_context, reserve=DEADLINE_RESERVE)
    try:
        return _accept()
    except PayloadTooLargeError as error:
        return _reject(413, str(error), "too large")
    except UnsupportedMediaTypeError as error:
        return _reject(415, str(error), "not json", {"Accept-Post": "application/json"})
    except InvalidPayloadError as error:
        return _reject(400, str(error), "bad body")
    except Exception as error:  # noqa: BLE001 - answered 500 or 503, and logged
        return _failed(error)


@app.not_found  # every path is routed for POST: what is left is another method
def wrong_method(_error: NotFoundError) -> Response[str]:
    return _reject(405, "method not allowed: Flatfile webhooks are POST requests", "wrong method",
                   {"Allow": "POST"})


def _accept() -> Response[str]:
    """Authenticate, then read, parse, store and queue."""
    event = app.current_event
    verdict = runtime.gate.check(_presented_token())
    if verdict == "missing":
        return _reject(401, f"missing webhook token: pass it in the {TOKEN_PARAMETER!r} query parameter or "
                            f"the {TOKEN_HEADER} header", "missing token")
    if verdict != "accepted":
        return _reject(401, "invalid webhook token", verdict)
    check_content_type(event.headers.get("content-type"))
    raw = decode_body(event.body, base64_encoded=bool(event.is_base64_encoded))
    delivery = parse_delivery(raw)
    if isinstance(delivery, PlatformEvent):
        return _accept_platform(delivery, raw)
    logger.append_keys(batchId=delivery.batch_id, eventId=delivery.event_id, part=delivery.part)
    if not delivery.is_upload:  # a 2xx: Flatfile would retry anything else
        return _ignored(delivery, f"event type is not {UPLOAD_EVENT}", {"eventType": delivery.event_type})
    outcome = _store_and_queue(delivery, raw)
    return _json(202, {"status": "accepted", "batchId": delivery.batch_id, "eventId": delivery.event_id,
                       "part": delivery.part, "queued": outcome.queued})


def _accept_platform(delivery: PlatformEvent, raw: bytes) -> Response[str]:
    """A Platform event a listener forwarded: a ready submit job of the configured environment is queued."""
    logger.append_keys(source=delivery.source, batchId=delivery.batch_id or None, eventId=delivery.event_id)
    settings = runtime.settings
    reason = delivery.ignored_because(settings.platform_operations, settings.platform_environment_id)
    if reason is not None:  # a 2xx: the listener would retry anything else, and the poll finds every job anyway
        return _ignored(delivery, reason, {"source": delivery.source, "eventType": delivery.event_type,
                                           "reason": reason})
    outcome = _store_and_queue(delivery, raw)
    return _json(202, {"status": "accepted", "source": delivery.source, "batchId": delivery.batch_id,
                       "eventId": delivery.event_id, "queued": outcome.queued})


def _ignored(delivery: Delivery, reason: str, fields: dict[str, Any]) -> Response[str]:
    """200: authenticated and well-formed, but nothing to export (nothing stored or queued)."""
    logger.info(f"webhook ignored: {reason}", extra=delivery.describe())
    metrics.add_metric(name="WebhookIgnored", unit=MetricUnit.Count, value=1)
    return _json(200, {"status": "ignored", **fields, "queued": False})


def _store_and_queue(delivery: Delivery, raw: bytes) -> WebhookOutcome:
    """Store the raw body and queue the export job (`accept_delivery`), logged and counted."""
    outcome = accept_delivery(delivery, raw, runtime.clients.s3, runtime.clients.sqs, runtime.ledger,
                              runtime.settings, deadline=runtime.deadline)
    logger.info("webhook accepted", extra=outcome.describe())
    metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=1)
    if outcome.queued:
        metrics.add_metric(name="WebhookJobsSent", unit=MetricUnit.Count, value=1)
    if outcome.duplicate:  # the payload stored first is kept (a redelivery, or a replay with a changed body)
        metrics.add_metric(name="WebhookDuplicates", unit=MetricUnit.Count, value=1)
    return outcome


def _failed(error: Exception) -> Response[str]:
    """500 when a human must fix the configuration, else 503 (the sender retries)."""
    metrics.add_metric(name="WebhookFailed", unit=MetricUnit.Count, value=1)
    kind = classify(error)
    if kind in (ErrorKind.CONFIGURATION, ErrorKind.NOT_CONFIGURED):
        logger.error(f"webhook misconfigured: {error}", extra={"status": 500, "error_kind": kind.value})
        return _json(500, {"error": MISCONFIGURED})
    logger.exception("webhook failed; the sender may retry", extra={"status": 503, "error_kind": kind.value})
    return _json(503, {"error": "the webhook could not be accepted right now; retry later"},
                 {"Retry-After": "30"})


def _presented_token() -> str | None:
    """The header's token, else the query parameter's (a hand-built event may have only the raw query)."""
    event = app.current_event
    header = (event.headers.get(TOKEN_HEADER.lower()) or "").strip()
    query = event.query_string_parameters or dict(parse_qsl(event.get("rawQueryString") or "",
                                                            keep_blank_values=True))
    return header or query.get(TOKEN_PARAMETER) or None


def _reject(status: int, message: str, reason: str, headers: dict[str, str] | None = None) -> Response[str]:
    """A 4xx answer; logged with the reason and the caller's address, never the token or query string."""
    if reason == "not-configured":
        logger.error("webhook refused: the webhook secret has no 'webhookToken' of at least 32 characters; add "
                     "one (several separated by commas while rotating) and send it in the X-Webhook-Token header "
                     "(or, where only a URL can be given, as ?token=...)")
    source_ip = app.current_event.raw_event.get("requestContext", {}).get("http", {}).get("sourceIp")
    logger.warning(f"webhook rejected ({status}): {message}",
                   extra={"status": status, "reason": reason, "sourceIp": source_ip})
    metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
    return _json(status, {"error": message}, headers)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type="application/json",
                    body=json.dumps(body, separators=(",", ":")),
                    headers={"Cache-Control": "no-store", **(headers or {})})


@logger.inject_lambda_context(clear_state=True, log_event=False,
                              correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL)
@traced
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (Function URL, payload format 2.0)."""
    return app.resolve(event, context)

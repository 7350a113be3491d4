"""Webhook function (Function URL): Flatfile Portal v2 POSTs → raw payload in S3 + one export job per batch.

The logic lives in `flatfile_relay.webhook`; this module only adapts HTTP to it.

Requests:
    POST to any path of the Function URL (the URL belongs to this function alone, so the path means
    nothing; a webhook configured as ``https://<url>/flatfile?token=...`` works as well). The token comes
    from the ``X-Webhook-Token`` header or, when that header is absent, the ``token`` query parameter.
    Bodies up to `flatfile_relay.webhook.MAX_BODY_BYTES` (5 MiB) decoded; base64 bodies are decoded.

Responses (JSON; none ever echoes the token):
    202 ``{"status": "accepted", "batchId", "eventId", "part", "queued"}`` — payload stored; ``queued`` says
        whether this POST sent the export job (later parts of a batch find it queued already).
    400 malformed body (not JSON, not the Portal v2 shape, batch id not a UUID) — nothing stored or queued.
    401 token missing or wrong, or no ``webhookToken`` in the secret — nothing stored or queued.
    405 any method but POST.
    413 body too large — nothing stored or queued.
    500 the deployment is misconfigured (a setting missing; the secret missing, malformed or not readable
        under the policy; bucket, queue or table missing): a human must fix it and the log says what.
        Nothing is queued (a secret problem is found before anything is stored).
    503 AWS failed for a while (throttling, network): retry later. The payload may be stored, but a job is
        only ever recorded as queued after SQS accepted it; the poller is the safety net either way.

Never logged: the token, the query string, the headers, the body (a 400's message may quote up to 40
characters of a bad batch id). Log lines carry the batch id, event id, part, sizes and the caller's address.
"""

from __future__ import annotations

import base64
import binascii
import json
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from flatfile_relay.deadline import Deadline
from flatfile_relay.observability import get_logger, get_metrics, traced
from flatfile_relay.runtime import Runtime
from flatfile_relay.webhook import (
    MAX_BODY_BYTES,
    InvalidPayloadError,
    PayloadTooLargeError,
    TokenGate,
    WebhookDelivery,
    WebhookError,
    accept_delivery,
    failure_status,
)

TOKEN_HEADER = "X-Webhook-Token"  # noqa: S105 - a header name, not a secret
TOKEN_PARAMETER = "token"  # noqa: S105 - a query parameter name
DEADLINE_RESERVE = 2.0
"""Seconds kept back from the Lambda's remaining time to answer."""

logger = get_logger()
metrics = get_metrics()
app = LambdaFunctionUrlResolver(debug=False)  # POWERTOOLS_DEV would print every event, token included


class _WebhookRuntime(Runtime):
    """The function's warm state, plus the token gate (which remembers when it last re-read the secret)."""

    @cached_property
    def gate(self) -> TokenGate:
        return TokenGate(self.connection.credentials)

    def reset(self) -> None:
        super().reset()
        self.__dict__.pop("gate", None)


runtime = _WebhookRuntime("secret_id", "ledger_table", "export_jobs_queue_url", "export_bucket")
reset = runtime.reset


# -- routes ---------------------------------------------------------------------------------------------


@app.route(".*", method=["POST"])
def receive() -> Response[str]:
    """Authenticate, parse, store, queue."""
    presented = _presented_token()
    if presented is None:
        return _reject(401, f"missing webhook token: pass it in the {TOKEN_PARAMETER!r} query parameter "
                            f"or the {TOKEN_HEADER} header", "missing token")
    try:
        verdict = runtime.gate.check(presented)
    except Exception as error:  # noqa: BLE001 - mapped to 500/503 with a logged reason
        return _failure(error, "reading the settings and the webhook token from the secret")
    if verdict != "accepted":
        if verdict == "not-configured":
            logger.error(
                "webhook refused: the Flatfile secret has no 'webhookToken'; add one (several separated by "
                "commas while rotating) and put it in the webhook URL as ?token=...",
                extra={"status": 401},
            )
        return _reject(401, "invalid webhook token", "wrong token")

    try:
        raw = _body_bytes()
        delivery = WebhookDelivery.parse(raw)
    except WebhookError as error:
        return _reject(error.status, str(error), "too large" if error.status == 413 else "bad body")

    try:
        deadline = Deadline.from_lambda_context(app.lambda_context, reserve=DEADLINE_RESERVE)
        outcome = accept_delivery(
            delivery, raw, runtime.clients.s3, runtime.clients.sqs, runtime.ledger, runtime.settings,
            deadline=deadline,
        )
    except Exception as error:  # noqa: BLE001 - mapped to 500/503 with a logged reason
        return _failure(error, f"accepting webhook part {delivery.part} of batch {delivery.batch_id}")

    logger.info("webhook accepted", extra=outcome.describe())
    metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=1)
    if outcome.queued:
        metrics.add_metric(name="WebhookJobsSent", unit=MetricUnit.Count, value=1)
    return _json(202, {
        "status": "accepted",
        "batchId": delivery.batch_id,
        "eventId": delivery.event_id,
        "part": delivery.part,
        "queued": outcome.queued,
    })


@app.route(".*", method=["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def wrong_method() -> Response[str]:
    """Only POST delivers webhooks."""
    return _reject(405, "method not allowed: Flatfile webhooks are POST requests", "wrong method",
                   headers={"Allow": "POST"})


# -- helpers --------------------------------------------------------------------------------------------


def _presented_token() -> str | None:
    """The header's token, else the query parameter's; None when neither holds one."""
    event = app.current_event
    header = event.headers.get(TOKEN_HEADER.lower())
    if header and header.strip():
        return header.strip()
    query = event.query_string_parameters or {}
    if not query and event.raw_query_string:  # an event built by hand may carry only the raw query string
        query = dict(parse_qsl(event.raw_query_string, keep_blank_values=True))
    value = query.get(TOKEN_PARAMETER)
    return value if value else None


def _body_bytes() -> bytes:
    """The request body as bytes (base64 decoded when Lambda encoded it), refusing oversize bodies early."""
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        if len(body) > (MAX_BODY_BYTES + 2) // 3 * 4:
            raise _too_large(len(body) * 3 // 4)
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidPayloadError("body is marked base64 but is not valid base64") from None
    if len(body) > MAX_BODY_BYTES:  # characters: a lower bound of the bytes
        raise _too_large(len(body))
    return body.encode("utf-8", "surrogatepass")


def _too_large(size: int) -> WebhookError:
    return PayloadTooLargeError(f"body is about {size} bytes; the webhook accepts at most {MAX_BODY_BYTES}")


def _reject(status: int, message: str, reason: str, headers: dict[str, str] | None = None) -> Response[str]:
    """A 4xx answer; logged with the reason and the caller's address, never the token or query string."""
    logger.warning(
        f"webhook rejected ({status}): {message}",
        extra={"status": status, "reason": reason, "sourceIp": _source_ip()},
    )
    metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
    return _json(status, {"error": message}, headers)


def _failure(error: Exception, doing: str) -> Response[str]:
    """Map an unexpected error to 500 (a human must fix the configuration) or 503 (try again later)."""
    metrics.add_metric(name="WebhookFailed", unit=MetricUnit.Count, value=1)
    if failure_status(error) == 500:
        logger.error(f"webhook misconfigured while {doing}: {error}", extra={"status": 500})
        return _json(500, {"error": "the webhook is misconfigured; the function's log says what to fix"})
    logger.exception(f"webhook failed while {doing}; the sender may retry", extra={"status": 503})
    return _json(503, {"error": "the webhook could not be accepted right now; retry later"},
                 {"Retry-After": "30"})


def _source_ip() -> str | None:
    try:
        return str(app.current_event.request_context.http.source_ip)
    except (AttributeError, KeyError, TypeError):
        return None


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


# -- entry point ----------------------------------------------------------------------------------------


@traced
@metrics.log_metrics
@logger.inject_lambda_context(log_event=False, clear_state=True,
                              correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (Function URL, payload format 2.0)."""
    result: dict[str, Any] = app.resolve(event, context)
    return result

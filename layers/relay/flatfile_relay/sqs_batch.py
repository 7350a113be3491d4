"""Handlers fed by SQS: Powertools' partial batch response, written once for the exporter and the consumer.

Powertools' batch utility is imported with the first event, not with the handler (it imports asyncio and every
event data class: a good part of a cold start).

A record fails by raising; it is reported in `batchItemFailures` (SQS delivers it again, then to the DLQ)
while the other records of the event are acknowledged.

Example:
    >>> def record_handler(record):
    ...     if record.body == "garbage":
    ...         raise ValueError("not an export job")
    >>> event = {"Records": [{"messageId": "m-0", "body": "{}"}, {"messageId": "m-1", "body": "garbage"}]}
    >>> partial_batch_response(event, None, record_handler)
    {'batchItemFailures': [{'itemIdentifier': 'm-1'}]}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

__all__ = ["partial_batch_response"]


def partial_batch_response(
    event: dict[str, Any], context: Any, record_handler: Callable[..., Any]
) -> PartialItemFailureResponse:
    """Run `record_handler` on every record of an SQS event and report the ones that raised.

    An event without records answers an empty `batchItemFailures` (Powertools would raise on it), and a
    batch whose every record failed is reported like any other (not raised).
    """
    if isinstance(event, dict) and event.get("Records") == []:
        return {"batchItemFailures": []}
    # deferred: see DEFERRED_IMPORTS (Powertools' batch utility imports asyncio and every event data class)
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

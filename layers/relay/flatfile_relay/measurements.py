"""What the library measures, as plain values: the functions publish them as CloudWatch metrics (EMF).

The reports of the library (`PollReport.measurements()`, `ExportOutcome.measurements()`) and the Flatfile
client's `RequestCounts` turn into `Measurement`s here, without Powertools; each function publishes them in
one place (`flatfile_relay.observability.publish`). The metric names are the ones template.yaml's alarms and
dashboard use (namespace `FlatfileRelay`, dimension `service`).

Example:
    >>> from flatfile_relay.flatfile import RequestCounts
    >>> request_measurements(RequestCounts(requests=4, retries=1, throttles=1))[0]
    Measurement(name='FlatfileRequests', value=4, unit='Count')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # the counts are only read here: the webhook and the consumer never import the HTTP client
    from flatfile_relay.flatfile.transport import RequestCounts

__all__ = ["COUNT", "SECONDS", "Measurement", "request_measurements"]

COUNT = "Count"
SECONDS = "Seconds"


class Measurement(NamedTuple):
    """One metric value; `unit` is a CloudWatch unit name (`Count`, `Seconds`)."""

    name: str
    value: float
    unit: str = COUNT


def request_measurements(counts: RequestCounts) -> list[Measurement]:
    """Flatfile requests sent (every attempt), retries and throttled answers (HTTP 429)."""
    return [
        Measurement("FlatfileRequests", counts.requests),
        Measurement("FlatfileRetries", counts.retries),
        Measurement("FlatfileThrottles", counts.throttles),
    ]

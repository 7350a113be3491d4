"""Logger, Metrics and Tracer for the functions, with secrets redacted from every log line.

One Powertools Logger per execution environment; the library's own loggers (`flatfile_relay.*`) write
through it, and the redaction filter sits on its handlers. The Tracer (which imports the X-Ray SDK and
costs ~250 ms of cold start) is created only when tracing is enabled.

Example:
    >>> logger = get_logger()          # doctest: +SKIP
    >>> tracer = get_tracer()          # None unless tracing is on     # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from flatfile_relay.measurements import Measurement
from flatfile_relay.redaction import install_redaction, redact_exception
from flatfile_relay.settings import SettingsError

__all__ = [
    "NAMESPACE",
    "SERVICE",
    "TRACER_DISABLED",
    "get_logger",
    "get_metrics",
    "get_tracer",
    "publish",
    "publish_apart",
    "traced",
    "tracing_enabled",
]

F = TypeVar("F", bound=Callable[..., Any])

SERVICE = "flatfile-relay"
NAMESPACE = "FlatfileRelay"


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each record to the `sys.stdout` of that moment.

    In Lambda stdout never changes; under the local runner and in tests it is redirected per run, and a
    handler bound to the stream of its creation would keep writing to a closed file.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        """The stream is always the current stdout."""


@functools.cache
def get_logger() -> Logger:
    """The function's Powertools Logger; `flatfile_relay.*` loggers share its output and redaction."""
    logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE), logger_handler=_StdoutHandler())
    install_redaction(logger)
    # botocore at DEBUG would log whole API answers, secret values included
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger(noisy).level))
    library = logging.getLogger("flatfile_relay")
    library.setLevel(logger.log_level)
    for handler in logger.handlers:
        if handler not in library.handlers:
            library.addHandler(handler)
    library.propagate = False
    return logger


@functools.cache
def get_metrics() -> Metrics:
    """The function's Powertools Metrics (EMF to stdout)."""
    return Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE), service=SERVICE)


def publish(metrics: Metrics, measurements: Iterable[Measurement]) -> None:
    """Add the library's measurements to the function's metrics (flushed when the invocation ends).

    Example:
        >>> publish(get_metrics(), report.measurements())      # doctest: +SKIP
    """
    for measurement in measurements:
        metrics.add_metric(name=measurement.name, unit=MetricUnit(measurement.unit), value=measurement.value)


def publish_apart(metrics: Metrics, measurements: Iterable[Measurement], **dimensions: str) -> None:
    """Publish measurements with more dimensions than the function's others (`service`), at once, in an EMF
    document of their own: one document holds one set of dimensions, and the function's shared metrics (flushed
    when the invocation ends) must not take these on.

    Example:
        >>> publish_apart(get_metrics(), report.measurements(), Source="platform")      # doctest: +SKIP
    """
    shared = metrics.provider
    own = AmazonCloudWatchEMFProvider(namespace=shared.namespace, service=shared.service,
                                      default_dimensions=dict(shared.default_dimensions))
    for name, value in dimensions.items():
        own.add_dimension(name=name, value=value)
    for measurement in measurements:
        own.add_metric(name=measurement.name, unit=MetricUnit(measurement.unit), value=measurement.value)
    if own.metric_set:
        own.flush_metrics()


TRACER_DISABLED = "POWERTOOLS_TRACE_DISABLED"
"""Powertools' variable that turns its Tracer off (documented in Powertools' environment variables)."""
#: the words Powertools reads as true and as false (anything else is an error); test_observability checks
#: them against Powertools' own
_TRUE = frozenset({"1", "y", "yes", "t", "true", "on"})
_FALSE = frozenset({"0", "n", "no", "f", "false", "off"})


def tracing_enabled() -> bool:
    """Whether to trace: in Lambda (``LAMBDA_TASK_ROOT`` is set) unless ``POWERTOOLS_TRACE_DISABLED`` is true.

    The variable is read with Powertools' own truth rules (``true``, ``1``, ``yes``, ... ; anything else
    but the false words is a `SettingsError`), so a Tracer is never created only to disable itself.

    Example:
        >>> tracing_enabled()          # outside Lambda      # doctest: +SKIP
        False
    """
    if not os.environ.get("LAMBDA_TASK_ROOT"):
        return False
    disabled = os.environ.get(TRACER_DISABLED, "false").strip().lower()
    if disabled not in _TRUE | _FALSE:
        raise SettingsError(
            f"{TRACER_DISABLED} must be true or false (or 1/0, yes/no, on/off), not {disabled[:32]!r}"
        )
    return disabled in _FALSE


@functools.cache
def get_tracer() -> Any | None:
    """A Powertools Tracer when tracing is on (in Lambda, not disabled), else None."""
    if not tracing_enabled():
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def traced(handler: F) -> F:
    """Wrap a Lambda handler so that no exception leaves it holding a secret, and with the Tracer when tracing
    is on.

    An exception a handler raises reaches Lambda (its log line and, for the poller, the dead-letter record) and
    X-Ray (the Tracer keeps it as metadata): `redact_exception` cleans it first, inside the Tracer.
    """
    redacted = _redacting(handler)
    tracer = get_tracer()
    if tracer is None:
        return redacted
    wrapped: F = tracer.capture_lambda_handler(redacted)
    return wrapped


def _redacting(handler: F) -> F:
    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except Exception as error:
            cleaned = redact_exception(error)
            if cleaned is error:
                raise
            raise cleaned from None

    return run  # type: ignore[return-value]

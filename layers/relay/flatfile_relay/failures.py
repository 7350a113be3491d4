"""What a failure means for a handler: one verdict for any exception, the relay's own and AWS's.

Every handler asks `classify` and acts on its answer (the poller: warn and succeed, or log and raise; the
exporter and the consumer: fail the record, logged by kind; the webhook: 500 or 503):

- `not-configured`: the secret still holds the stack's placeholders (`credentials.NotConfiguredError`);
  expected right after a deployment;
- `configuration`: a human must fix something (`errors.ConfigurationError`, or an AWS error whose code is in
  `CONFIGURATION_ERROR_CODES`: a secret, bucket, queue or table that is missing or not allowed);
- `transient`: try again later (`errors.TransientError`, any other AWS error: throttling, network, 5xx;
  Powertools' `GetParameterError` when what it wraps is not a configuration problem);
- `contract`: the input breaks the contract, retrying will not help (`errors.ContractError`);
- `unexpected`: anything else (a bug): logged with its stack trace.

The exception's causes count too (`__cause__`, else `__context__` unless suppressed): a configuration
problem anywhere in the chain makes the whole failure one (`JobSendError` around a queue that is gone,
Powertools' `GetParameterError` around Secrets Manager's `ResourceNotFoundException`); otherwise the first
link the relay knows decides.

Example:
    >>> from flatfile_relay.settings import SettingsError
    >>> classify(SettingsError("missing configuration: EXPORT_BUCKET"))
    <ErrorKind.CONFIGURATION: 'configuration'>
    >>> classify(KeyError("x")).value
    'unexpected'
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from flatfile_relay.credentials import NotConfiguredError
from flatfile_relay.errors import ConfigurationError, ContractError, TransientError

__all__ = ["CONFIGURATION_ERROR_CODES", "GET_PARAMETER_ERROR", "ErrorKind", "classify"]

CONFIGURATION_ERROR_CODES = frozenset({
    "ResourceNotFoundException", "AccessDeniedException", "AccessDenied", "DecryptionFailure",
    "InvalidRequestException", "KMS.AccessDeniedException", "NoSuchBucket", "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
})
"""AWS error codes a human must fix: the secret, bucket, queue or table is missing, or not allowed."""

GET_PARAMETER_ERROR = "aws_lambda_powertools.utilities.parameters.exceptions.GetParameterError"
"""Powertools' wrapper around a failed secret read, recognised by name: importing it would load Powertools'
parameter providers, which a function needs only when it reads a secret."""

#: links of a chain looked at, at most (a chain is short; this only guards against a cycle)
_MAX_LINKS = 8


class ErrorKind(enum.Enum):
    """What a failure means for a handler (see the module docstring)."""

    NOT_CONFIGURED = "not-configured"
    CONFIGURATION = "configuration"
    TRANSIENT = "transient"
    CONTRACT = "contract"
    UNEXPECTED = "unexpected"


def classify(error: BaseException) -> ErrorKind:
    """What `error` means for a handler, its causes included.

    Example:
        >>> from botocore.exceptions import ClientError
        >>> throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "GetSecretValue")
        >>> classify(throttled).value
        'transient'
    """
    kinds = [_kind(link) for link in _chain(error)]
    for decisive in (ErrorKind.NOT_CONFIGURED, ErrorKind.CONFIGURATION):
        if decisive in kinds:
            return decisive
    return next((kind for kind in kinds if kind is not None), ErrorKind.UNEXPECTED)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what caused it: `__cause__`, else `__context__` unless `raise ... from None` hid it."""
    current: BaseException | None = error
    for _ in range(_MAX_LINKS):
        if current is None:
            return
        yield current
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)


def _kind(error: BaseException) -> ErrorKind | None:
    """What this one link says by itself (None: nothing; its causes may say more)."""
    if isinstance(error, NotConfiguredError):
        return ErrorKind.NOT_CONFIGURED
    if isinstance(error, ConfigurationError):
        return ErrorKind.CONFIGURATION
    if isinstance(error, TransientError):
        return ErrorKind.TRANSIENT
    if isinstance(error, ContractError):
        return ErrorKind.CONTRACT
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        return ErrorKind.CONFIGURATION if code in CONFIGURATION_ERROR_CODES else ErrorKind.TRANSIENT
    if isinstance(error, BotoCoreError) or _is_get_parameter_error(error):
        return ErrorKind.TRANSIENT
    return None


def _is_get_parameter_error(error: BaseException) -> bool:
    return any(f"{kind.__module__}.{kind.__qualname__}" == GET_PARAMETER_ERROR for kind in type(error).__mro__)

"""Errors raised by the Flatfile client, grouped by what the caller should do about them.

Each is a `FlatfileError` (a redacted message and the HTTP `status`) and one of the relay's three kinds
(`flatfile_relay.errors`, whose docstring draws the whole tree):

    FlatfileError                 every error of the client (never raised itself)
    ├── ConfigurationError        a human must fix the configuration; retrying will not help
    │   └── RefusedError              Flatfile refused what the secret holds (re-read it, bypassing the cache)
    │       ├── CredentialsRejectedError  Flatfile refuses the access key (401 even after a fresh token)
    │       ├── ForbiddenError            Flatfile refuses access (403)
    │       │   └── LicenseForbiddenError     the licenseKey is not a license of this account
    │       └── BadRequestError           Flatfile rejected the request as malformed (400)
    ├── TransientError            try again later (next invocation)
    │   ├── RetriesExhaustedError     kept failing (429, 5xx, network, garbage body) until attempts ran out
    │   └── body.SlowBodyError        a body slower than the cap (retried inside the transport, never raised out)
    └── ContractError             Flatfile answered something the relay does not understand
        ├── NotFoundError             unknown batch (404): nothing to export
        ├── GraphQLError              the GraphQL answer holds `errors`
        └── body.BodyTooLargeError    an answer larger than the relay reads

`ConfigurationError`, `TransientError` and `ContractError` here are the client's own, below the relay's
classes of the same names: `except flatfile_relay.errors.TransientError` catches this package's too.
When the caller's deadline passes (or would, before the next try), a call stops with the deadline's own
`flatfile_relay.deadline.DeadlineExceededError`, a transient error too.

Every message says what to do and never holds a secret, a token or a URL with its query string: messages
pass through `flatfile_relay.redaction.redact` as a last line of defence.

Example:
    >>> try:
    ...     raise NotFoundError("Flatfile has no batch 42.")
    ... except FlatfileError as error:
    ...     print(type(error).__name__, error)
    NotFoundError Flatfile has no batch 42.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flatfile_relay import errors
from flatfile_relay.redaction import redact

__all__ = [
    "BadRequestError",
    "ConfigurationError",
    "ContractError",
    "CredentialsRejectedError",
    "FlatfileError",
    "ForbiddenError",
    "GraphQLError",
    "LicenseForbiddenError",
    "NotFoundError",
    "RefusedError",
    "RetriesExhaustedError",
    "TransientError",
]


class FlatfileError(errors.RelayError):
    """Base class of every error of the Flatfile client; each one raised is also one of the relay's three kinds.

    Attributes:
        message: the redacted message (also `str(error)`).
        status: the HTTP status that caused it, if any.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.message = redact(message)
        self.status = status
        super().__init__(self.message)


class ConfigurationError(FlatfileError, errors.ConfigurationError):
    """A human must fix the configuration (access key, license, base URL); retrying will not help."""


class RefusedError(ConfigurationError):
    """Flatfile refused what the secret holds (the access key or the license key): 400, 401 or 403.

    The secret may have been fixed since it was read: whoever keeps it cached reads it again, uncached.
    """


class CredentialsRejectedError(RefusedError):
    """Flatfile rejects the access key: the exchange answered 401/403, or a fresh token got 401 again."""


class ForbiddenError(RefusedError):
    """Flatfile answered 403: the credentials may not read this resource."""


class LicenseForbiddenError(ForbiddenError):
    """Flatfile answered 403 to the batch list: the licenseKey is not a license of this account."""


class BadRequestError(RefusedError):
    """Flatfile answered 400; `server_message` holds what it said (its `message`, joined if a list)."""

    def __init__(self, message: str, *, server_message: str = "", status: int | None = 400) -> None:
        super().__init__(message, status=status)
        self.server_message = redact(server_message)


class TransientError(FlatfileError, errors.TransientError):
    """Try again later: the failure is expected to pass (the next invocation resumes the work)."""


class RetriesExhaustedError(TransientError):
    """Every attempt failed with a retryable error.

    Attributes:
        attempts: how many attempts were made.
        last_status: the HTTP status of the last attempt, None if it got no answer.
        last_error: a short summary of the last failure (e.g. `HTTP 503`, `ReadTimeout`).

    When the last failure was an unreadable body, `__cause__` is the `ContractError` describing it.
    """

    def __init__(
        self, message: str, *, attempts: int = 0, last_status: int | None = None, last_error: str = ""
    ) -> None:
        super().__init__(message, status=last_status)
        self.attempts = attempts
        self.last_status = last_status
        self.last_error = redact(last_error)


class ContractError(FlatfileError, errors.ContractError):
    """Flatfile answered something the relay does not understand (unexpected shape, type or status)."""


class NotFoundError(ContractError):
    """Flatfile does not know the batch (404), or GraphQL answered no batch: there is nothing to export."""


class GraphQLError(ContractError):
    """The GraphQL answer holds `errors`.

    Attributes:
        messages: the `message` of each error.
        codes: the `extensions.code` of each error (e.g. `NOT_FOUND`; None when absent).
        data: the partial `data` that came with the errors, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        messages: Sequence[str] = (),
        codes: Sequence[str | None] = (),
        data: Any = None,
    ) -> None:
        super().__init__(message)
        self.messages = [redact(item) for item in messages]
        self.codes = list(codes)
        self.data = data

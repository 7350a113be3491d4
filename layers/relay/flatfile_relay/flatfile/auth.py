"""How requests prove who they are: an API key header, or a bearer token from the access-key exchange.

`ApiKeyAuth` sends `X-Api-Key: <accessKeyId>+<secretAccessKey>` (REST only). `TokenAuth` exchanges the access
key for a token (`POST /auth/access-key/exchange`), caches it until shortly before it expires and sends
`Authorization: Bearer <token>` (REST and GraphQL). A `TokenAuth` holds no connection: keep one at module
level to reuse its token across warm Lambda invocations and clients.

Example:
    >>> account = Account("FF00" + "A" * 36, "s" * 40, "00000000-0000-0000-0000-000000000000")
    >>> ApiKeyAuth(account).headers(Deadline.never()) == {"X-Api-Key": account.api_key_header}
    True
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from flatfile_relay.checks import whole_number
from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.flatfile.account import Account
from flatfile_relay.flatfile.errors import BadRequestError, ConfigurationError, ContractError, CredentialsRejectedError
from flatfile_relay.flatfile.transport import Reply, Transport
from flatfile_relay.redaction import register_secret

__all__ = [
    "EXCHANGE_PATH",
    "MAX_EXPIRES_IN",
    "MIN_EXPIRES_IN",
    "ApiKeyAuth",
    "Auth",
    "TokenAuth",
    "check_expires_in",
    "jwt_claims",
    "server_message",
    "token_expiry",
]

logger = logging.getLogger("flatfile_relay.flatfile")

EXCHANGE_PATH = "/auth/access-key/exchange"
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")  # printable ASCII: what a bearer token can be
MIN_EXPIRES_IN = 60
MAX_EXPIRES_IN = 86_400


class Auth(Protocol):
    """What the client needs from an auth."""

    @property
    def refreshable(self) -> bool:
        """True if `invalidate()` followed by `headers()` can produce different credentials."""
        ...

    def headers(self, deadline: Deadline, transport: Transport | None = None) -> dict[str, str]:
        """The headers to send with the next attempt."""
        ...

    def invalidate(self, sent_headers: Mapping[str, str] | None = None) -> None:
        """Forget credentials that got a 401 (only if `sent_headers` still hold the current ones)."""
        ...


class ApiKeyAuth:
    """`X-Api-Key: <accessKeyId>+<secretAccessKey>`; nothing to refresh, so a 401 is final."""

    refreshable = False

    def __init__(self, credentials: Account) -> None:
        self.credentials = credentials
        credentials.register_secrets()

    def headers(self, deadline: Deadline, transport: Transport | None = None) -> dict[str, str]:
        """The API key header (needs no request)."""
        return {"X-Api-Key": self.credentials.api_key_header}

    def invalidate(self, sent_headers: Mapping[str, str] | None = None) -> None:
        """Nothing to forget."""

    def __repr__(self) -> str:
        return f"ApiKeyAuth({self.credentials!r})"


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT, decoded without checking the signature; None if `token` is not a JWT.

    Example:
        >>> jwt_claims("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjEwMH0.c2ln")
        {'exp': 100}
        >>> jwt_claims("not-a-jwt") is None
        True
    """
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    return claims if isinstance(claims, dict) else None


def _epoch(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def token_expiry(token: str, *, requested_at: float, expires_in: int) -> float:
    """When a token from the exchange expires, as a `time.time()` value on this machine's clock.

    - a JWT with numeric `iat` and `exp` (exp > iat): `requested_at + min(exp - iat, expires_in)`: the
      lifetime is measured on the server's clock, so a skewed clock here does not matter (one second
      less when `iat` is a whole number: the server may have rounded its issue time down);
    - a JWT with only a usable `exp` that lies after `requested_at`: `min(exp, requested_at + expires_in)`;
    - otherwise (no or invalid `exp`, an `exp` already past here, or not a JWT at all):
      `requested_at + expires_in`, what was asked for; a 401 still triggers one re-exchange.

    `requested_at` is the time the exchange was sent, so every estimate errs on the early side.

    Example:
        >>> token_expiry("opaque-token", requested_at=1000.0, expires_in=3600)
        4600.0
    """
    asked = requested_at + expires_in
    claims = jwt_claims(token)
    if claims is None:
        return asked
    exp, iat = _epoch(claims.get("exp")), _epoch(claims.get("iat"))
    if exp is not None and iat is not None and exp > iat:
        lifetime = min(exp - iat, float(expires_in)) - (1.0 if iat.is_integer() else 0.0)
        return requested_at + max(0.0, lifetime)
    if exp is not None and exp > requested_at:
        return min(exp, asked)
    return asked


def check_expires_in(expires_in: int) -> int:
    """Validate the requested token lifetime (60..86400 seconds, what the exchange accepts).

    Example:
        >>> check_expires_in(10)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        flatfile_relay.flatfile.errors.ConfigurationError: The token lifetime in seconds (FLATFILE_TOKEN_TTL) must ...
    """
    return whole_number(expires_in, "The token lifetime in seconds (FLATFILE_TOKEN_TTL)", low=MIN_EXPIRES_IN,
                        high=MAX_EXPIRES_IN, error=ConfigurationError)


class TokenAuth:
    """`Authorization: Bearer <token>` from the access-key exchange, refreshed before it expires.

    The token is refreshed `refresh_margin` seconds before its expiry (default: 10% of its lifetime, at
    most 300 s; never more than half of it). Thread-safe: concurrent callers wait for one exchange.

    Args:
        credentials: the account whose access key is exchanged.
        transport: default transport for the exchange (a client passes its own on every call).
        expires_in: the lifetime to ask for, 60..86400 seconds; the server may grant less (the JWT `exp`
            is read, see `token_expiry`).
        refresh_margin: seconds before expiry to refresh; None for the default.
        clock: wall clock, injectable for tests.

    Example:
        >>> account = Account("FF00" + "A" * 36, "s" * 40, "00000000-0000-0000-0000-000000000000")
        >>> TokenAuth(account, expires_in=900)  # doctest: +ELLIPSIS
        TokenAuth(Account(access_key_id='FF00…', ...), expires_in=900, token=None)
    """

    refreshable = True

    def __init__(
        self,
        credentials: Account,
        transport: Transport | None = None,
        *,
        expires_in: int = 3600,
        refresh_margin: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.credentials = credentials
        self.expires_in = check_expires_in(expires_in)
        if refresh_margin is not None and not refresh_margin >= 0:
            raise ValueError(f"refresh_margin must be zero or more seconds, got {refresh_margin!r}")
        self.refresh_margin = refresh_margin
        self._transport = transport
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._refresh_at = 0.0
        self.exchanges = 0
        """How many exchanges succeeded (for tests and metrics)."""
        credentials.register_secrets()

    @property
    def expires_at(self) -> float | None:
        """`time.time()` at which the current token expires; None without a token."""
        return self._expires_at if self._token is not None else None

    def headers(self, deadline: Deadline, transport: Transport | None = None) -> dict[str, str]:
        """The bearer header with a valid token, exchanging the access key first if needed."""
        return {"Authorization": f"Bearer {self.token(deadline, transport)}"}

    def token(self, deadline: Deadline, transport: Transport | None = None) -> str:
        """A token valid for at least the refresh margin, exchanging the access key if needed.

        Raises:
            CredentialsRejectedError: Flatfile refuses the access key.
            BadRequestError: Flatfile refuses the exchange request (e.g. the requested lifetime).
            TransientError: the exchange kept failing, or the deadline passed.
        """
        token = self._token
        if token is not None and self._clock() < self._refresh_at:
            return token
        remaining = deadline.remaining()
        timeout = -1 if math.isinf(remaining) else min(remaining, threading.TIMEOUT_MAX)
        if not self._lock.acquire(timeout=timeout):
            raise DeadlineExceededError(
                "Stopped waiting for another thread's token exchange: the deadline passed. "
                "The work resumes at the next invocation."
            )
        try:
            if self._token is not None and self._clock() < self._refresh_at:
                return self._token  # another thread refreshed it while we waited
            return self._exchange(deadline, transport or self._transport)
        finally:
            self._lock.release()

    def invalidate(self, sent_headers: Mapping[str, str] | None = None) -> None:
        """Force a new exchange at the next call.

        With `sent_headers` (the headers that got a 401), the token is only dropped if it is still the one
        that was sent, so a token another thread just refreshed is kept.
        """
        with self._lock:
            stale = sent_headers is None or sent_headers.get("Authorization") == f"Bearer {self._token}"
            if stale:
                self._token = None

    def _exchange(self, deadline: Deadline, transport: Transport | None) -> str:
        if transport is None:
            raise ValueError("TokenAuth needs a transport to exchange the access key: pass one")
        requested_at = self._clock()
        reply = transport.request(
            "POST",
            EXCHANGE_PATH,
            deadline=deadline,
            json_body={
                "accessKeyId": self.credentials.access_key_id,
                "secretAccessKey": self.credentials.secret_access_key,
                "expiresIn": self.expires_in,
            },
        )
        token = self._read_token(reply)
        register_secret(token)
        expires_at = token_expiry(token, requested_at=requested_at, expires_in=self.expires_in)
        lifetime = max(0.0, expires_at - requested_at)
        margin = min(300.0, lifetime * 0.1) if self.refresh_margin is None else self.refresh_margin
        margin = min(margin, lifetime / 2)
        self._token, self._expires_at, self._refresh_at = token, expires_at, expires_at - margin
        self.exchanges += 1
        logger.info("Flatfile access key exchanged for a token valid for %.0fs", lifetime)
        return token

    def _read_token(self, reply: Reply) -> str:
        key = self.credentials.redacted_access_key_id
        if reply.status in (401, 403):
            raise CredentialsRejectedError(
                f"Flatfile rejected the access key {key} (HTTP {reply.status} from the token exchange): "
                "check accessKeyId and secretAccessKey in the secret, and that the key is still active.",
                status=reply.status,
            )
        if reply.status == 400:
            message = server_message(reply.body)
            raise BadRequestError(
                f"Flatfile refused the token exchange as a bad request ({message or 'no details'}): check "
                f"FLATFILE_TOKEN_TTL (asked for {self.expires_in}s) and the access key format in the secret.",
                server_message=message,
            )
        if reply.status == 404:
            raise ConfigurationError(
                f"Flatfile has no token exchange at {EXCHANGE_PATH} (HTTP 404): check FLATFILE_BASE_URL, "
                "or use FLATFILE_AUTH=api_key.",
                status=404,
            )
        if not reply.ok:
            raise ContractError(
                f"Flatfile answered the token exchange with unexpected HTTP {reply.status}.",
                status=reply.status,
            )
        body = reply.body
        token = body.get("accessToken") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise ContractError(
                f"Flatfile's token exchange answered HTTP {reply.status} without an `accessToken` string "
                f"(got {_shape(body)}); the API may have changed."
            )
        token = token.strip()
        if not _HEADER_SAFE.fullmatch(token):
            # Sent as is, the HTTP library would refuse the header with an error quoting the token.
            raise ContractError(
                f"Flatfile's token exchange answered HTTP {reply.status} with an `accessToken` holding spaces, "
                "line breaks, control or non-ASCII characters, which cannot be sent in a header; the API may "
                "have changed."
            )
        return token

    def __repr__(self) -> str:
        state = "None" if self._token is None else "'***'"
        return f"TokenAuth({self.credentials!r}, expires_in={self.expires_in}, token={state})"


def server_message(body: Any) -> str:
    """The `message` of a NestJS error body (a string or a list of strings), '' if none.

    Example:
        >>> server_message({"statusCode": 400, "message": ["skip must be a number", "take too big"]})
        'skip must be a number; take too big'
    """
    if not isinstance(body, dict):
        return ""
    message = body.get("message")
    if isinstance(message, list):
        text = "; ".join(str(item) for item in message)
    elif isinstance(message, str):
        text = message
    else:
        text = str(body.get("error") or "")
    return text[:500]


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        keys = sorted(str(key) for key in value)[:10]
        return f"an object with keys {keys}"
    return f"a JSON {type(value).__name__}" if value is not None else "no body"

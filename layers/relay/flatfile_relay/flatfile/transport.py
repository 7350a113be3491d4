"""HTTP transport: one pooled session, a timeout on every call, retries bounded by the deadline.

Retries are the relay's own loop (`flatfile_relay.retry`, not urllib3's `Retry`) so that every wait is capped
by the caller's deadline and the auth headers are rebuilt before every attempt (a refreshed token is always
used, never a stale one).

Retried, with exponential backoff and full jitter (or the server's `Retry-After`): HTTP 408, 429, 500,
502, 503 and 504, connection errors, timeouts, truncated bodies, and 2xx answers whose body is not JSON.
A request whose answer was lost is sent again, so a request that is not idempotent must be safe to repeat or its
caller must read back what happened: the legacy client sends GETs, the token exchange and GraphQL reads; the
Platform client's job and lock POSTs read the job or sheet back when a repeat is refused
(`flatfile_relay.platform.client`).

Every attempt is counted in a `RequestCounts` (requests sent, retries, throttled answers): the functions
publish those counts as metrics after each invocation (this package itself publishes nothing).

Example:
    >>> transport = Transport("https://api.us.flatfile.io", timeout=10)
    >>> transport.url_for("/health")
    'https://api.us.flatfile.io/health'
    >>> transport.close()
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from flatfile_relay.checks import whole_number
from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.flatfile.body import MAX_BODY_BYTES, MAX_READ_SECONDS, read_body
from flatfile_relay.flatfile.errors import ConfigurationError, ContractError, RetriesExhaustedError
from flatfile_relay.redaction import install_redaction
from flatfile_relay.retry import Again, Backoff, GaveUp, Stop, retry

__all__ = [
    "LOOPBACK_HOSTS",
    "RETRYABLE_STATUSES",
    "HeadersFactory",
    "Reply",
    "RequestCounts",
    "Transport",
    "parse_retry_after",
]

logger = logging.getLogger("flatfile_relay.flatfile")
install_redaction(logger)  # our own records are redacted before any handler sees them

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

HeadersFactory = Callable[[], Mapping[str, str]]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait according to a `Retry-After` header (delta-seconds or an HTTP-date), or None.

    Negative values and dates in the past give 0; values that are neither give None (use backoff).

    Example:
        >>> parse_retry_after("2")
        2.0
        >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0)
        10.0
        >>> parse_retry_after("soon") is None
        True
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass
class RequestCounts:
    """What a transport sent: HTTP requests (every attempt), retries, throttled answers (HTTP 429).

    Several transports may share one (a client replaced after the secret changed keeps counting in it).

    Example:
        >>> counts = RequestCounts(requests=3, retries=1, throttles=1)
        >>> counts.take(), counts.requests
        (RequestCounts(requests=3, retries=1, throttles=1), 0)
    """

    requests: int = 0
    retries: int = 0
    throttles: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, requests: int = 0, retries: int = 0, throttles: int = 0) -> None:
        """Count more (safe from several threads: pages fetched ahead are requested in parallel)."""
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.throttles += throttles

    def take(self) -> RequestCounts:
        """The counts so far, then start again from zero (once per invocation)."""
        with self._lock:
            taken = RequestCounts(self.requests, self.retries, self.throttles)
            self.requests = self.retries = self.throttles = 0
        return taken


@dataclass(frozen=True)
class Reply:
    """An answer the transport does not retry: any status but 408, 429 and 5xx.

    `body` is the decoded JSON (None when absent or, for non-2xx statuses, unreadable); `sent_headers` are
    the request headers of the attempt that got this answer (they hold credentials: never log them).
    """

    status: int
    body: Any
    headers: Mapping[str, str] = field(repr=False)
    sent_headers: Mapping[str, str] = field(repr=False)

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300


class _KeepHeaders(requests.auth.AuthBase):
    """An auth that changes nothing: stops requests from replacing our Authorization header from ~/.netrc."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


_KEEP_HEADERS = _KeepHeaders()
_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_URL_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
)


@dataclass(frozen=True)
class _Call:
    """One request to send, the same for every attempt (`headers` is called anew for each)."""

    method: str
    url: str
    what: str  # e.g. "GET /rest/batches": for messages and logs (no query string: it may hold the license)
    params: Mapping[str, str] | None
    json_body: Any
    headers: HeadersFactory | None
    parse_json: bool
    decode: Callable[[bytes], Any]


class Transport:
    """Sends requests to one Flatfile base URL through one pooled `requests.Session`.

    Args:
        base_url: e.g. `https://api.us.flatfile.io` (a path prefix is allowed, a query is not).
        timeout: read timeout per request, seconds (capped by the deadline).
        connect_timeout: connect timeout per request, seconds (capped by the deadline).
        max_attempts: attempts per request, the first included.
        backoff_base, backoff_cap: full-jitter backoff parameters, seconds.
        max_retry_after: a `Retry-After` longer than this (seconds) ends the retries at once.
        max_body_bytes, max_read_seconds: the largest body read, and the longest it may take to arrive (capped
            by the deadline); see `flatfile_relay.flatfile.body`.
        session: a session to use instead of a new one; the caller keeps ownership (close() leaves it open).
        pool_maxsize: connections kept per host.
        counts: where attempts are counted (default: a `RequestCounts` of its own, `transport.counts`).
        user_agent: the product sending the requests (e.g. `flatfile-relay/0.1.0`), put before the HTTP
            library's own `User-Agent`.
        setting, example: the setting that holds the base URL and an example value, named in the messages of
            configuration errors (the Platform client passes `FLATFILE_PLATFORM_URL`).
        sleep, rand: the waits between attempts and the backoff's draws (tests pass their own).
        clock: the wall clock, epoch seconds (an HTTP-date `Retry-After` is read against it).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        max_retry_after: float = 300.0,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_read_seconds: float = MAX_READ_SECONDS,
        session: requests.Session | None = None,
        pool_maxsize: int = 10,
        counts: RequestCounts | None = None,
        user_agent: str = "",
        setting: str = "FLATFILE_BASE_URL",
        example: str = "https://api.us.flatfile.io",
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.setting = setting
        self.hint = f"set {setting} to e.g. {example}"
        self.base_url = _check_base_url(base_url, self.hint)
        for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if not value > 0:
                raise ValueError(f"{name} must be more than 0 seconds, got {value!r}")
        whole_number(max_attempts, "max_attempts")
        if backoff_base < 0 or backoff_cap < 0 or max_retry_after < 0:
            raise ValueError("backoff_base, backoff_cap and max_retry_after must not be negative")
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.max_body_bytes, self.max_read_seconds = max_body_bytes, max_read_seconds
        self.counts = RequestCounts() if counts is None else counts
        self.user_agent = " ".join(part for part in (user_agent.strip(), requests.utils.default_user_agent()) if part)
        self._sleep = sleep
        self._backoff = Backoff(backoff_base, backoff_cap, rand)
        self._clock = clock
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_maxsize, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._session = session

    def url_for(self, path: str) -> str:
        """The absolute URL of an API path such as `/rest/batches`."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def request(
        self,
        method: str,
        path: str,
        *,
        deadline: Deadline,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: HeadersFactory | None = None,
        max_attempts: int | None = None,
        parse_json: bool = True,
        decode: Callable[[bytes], Any] = json.loads,
    ) -> Reply:
        """Send the request, retrying what is worth retrying, and return the first other answer.

        `headers` is called before every attempt (so a refreshed token is used). With `parse_json`, a 2xx
        whose body is not JSON is retried; without it, `Reply.body` is None. `decode` reads a 2xx body
        (default `json.loads`; it raises ValueError when the body is unreadable). The attempts are
        `flatfile_relay.retry.retry`'s: a wait is the server's `Retry-After` or the backoff, never past the
        deadline nor longer than `max_retry_after`.

        Raises:
            RetriesExhaustedError: every attempt failed (its `__cause__` is a ContractError when the last
                failure was an unreadable body).
            DeadlineExceededError: the deadline passed, or the next wait would cross it.
            ConfigurationError: the URL is unusable, or Flatfile answered with a redirect.
            BodyTooLargeError: the body is larger than `max_bytes` (a body slower than `max_read_seconds` is
                retried like a read timeout).
        """
        call = _Call(method, self.url_for(path), f"{method} {path}", params, json_body, headers, parse_json, decode)
        if deadline.expired:  # a request never starts once the deadline has passed
            raise _deadline_error(call.what, "")
        attempts = self.max_attempts if max_attempts is None else max_attempts
        outcome = retry(
            lambda attempt: self._attempt(call, deadline),
            attempts=attempts,
            backoff=self._backoff,
            deadline=deadline,
            sleep=self._sleep,
            max_wait=self.max_retry_after,
            on_retry=lambda attempt, failed, wait: self._retrying(call.what, attempts, attempt, failed, wait),
        )
        if isinstance(outcome, GaveUp):
            raise self._gave_up(call.what, outcome) from outcome.last.cause
        return outcome

    def _attempt(self, call: _Call, deadline: Deadline) -> Reply | Again:
        """Send `call` once: the answer, or `Again` when the failure is worth another attempt."""
        sent = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if call.headers is not None:
            sent.update(call.headers())
        timeout = (max(0.001, deadline.cap(self.connect_timeout)), max(0.001, deadline.cap(self.timeout)))
        started = self._clock()
        self.counts.add(requests=1)
        try:
            response = self._session.request(
                call.method,
                call.url,
                params=call.params,
                json=call.json_body,
                headers=sent,
                timeout=timeout,
                allow_redirects=False,
                auth=_KEEP_HEADERS,
                stream=True,
            )
            try:
                content = read_body(response, what=call.what, max_bytes=self.max_body_bytes,
                                    max_seconds=deadline.cap(self.max_read_seconds))
            finally:
                response.close()
        except _NETWORK_ERRORS as exc:
            return Again(_summarise(exc))
        except _URL_ERRORS:
            raise ConfigurationError(
                f"Cannot send {call.what}: {self.base_url!r} is not a usable URL; {self.hint}"
            ) from None
        logger.debug("Flatfile %s -> HTTP %s in %.3fs", call.what, response.status_code, self._clock() - started)
        return self._answer(call, response, content, sent)

    def _answer(self, call: _Call, response: requests.Response, content: bytes, sent: dict[str, str]) -> Reply | Again:
        """What an answer means: a `Reply` to return, `Again` (429, 5xx, an unreadable 2xx body), or a redirect."""
        status = response.status_code
        if 300 <= status < 400:
            raise _redirect_error(call.what, response.headers.get("Location", ""), self.setting)
        if status in RETRYABLE_STATUSES:
            if status == 429:
                self.counts.add(throttles=1)
            wait = parse_retry_after(response.headers.get("Retry-After"), now=self._clock())
            return Again(f"HTTP {status}", wait=wait, status=status)
        ok = 200 <= status < 300
        body, readable = _decode(content, expect_json=call.parse_json and ok and status != 204,
                                 decode=call.decode if ok else json.loads)
        if readable or not (call.parse_json and ok):
            return Reply(status, body if call.parse_json else None, response.headers, sent)
        cause = ContractError(
            f"Flatfile answered {call.what} with HTTP {status} but a body that is not JSON ({_describe(content)})."
        )
        return Again(f"HTTP {status} with a body that is not JSON", cause=cause, status=status)

    def _retrying(self, what: str, attempts: int, attempt: int, failed: Again, wait: float) -> None:
        """Log and count a retry, before its wait."""
        logger.warning(
            "Flatfile %s failed (%s, attempt %d/%d); retrying in %.2fs",
            what,
            failed.reason,
            attempt,
            attempts,
            wait,
            extra={"flatfile_status": failed.status, "attempt": attempt, "wait_seconds": round(wait, 3)},
        )
        self.counts.add(retries=1)

    def _gave_up(self, what: str, gave_up: GaveUp) -> Exception:
        """The error for a request the retry loop gave up on."""
        failure, status = gave_up.last.reason, gave_up.last.status
        if gave_up.stop is Stop.DEADLINE:
            reason = "" if gave_up.wait is None else (
                f"the next attempt would start in {gave_up.wait:.2f}s, past the deadline "
                f"({gave_up.remaining:.2f}s left)"
            )
            return _deadline_error(what, failure, reason)
        if gave_up.stop is Stop.TOO_LONG:
            message = (
                f"Flatfile answered {what} with {failure} and asked to wait {gave_up.wait:.0f}s (Retry-After), "
                f"more than the {self.max_retry_after:.0f}s the relay waits. Try again later."
            )
        else:
            message = (
                f"Flatfile kept failing {what}: gave up after {gave_up.attempts} attempt(s), last: {failure}. "
                "Try again later (the next invocation resumes); if it persists, check Flatfile's status "
                f"and {self.setting}."
            )
        return RetriesExhaustedError(message, attempts=gave_up.attempts, last_status=status, last_error=failure)

    def close(self) -> None:
        """Close the pooled connections (unless the session was supplied by the caller)."""
        if self._owns_session:
            self._session.close()

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r}, max_attempts={self.max_attempts})"


def _check_base_url(base_url: str, hint: str) -> str:
    if not isinstance(base_url, str) or not base_url.strip():
        raise ConfigurationError(f"The Flatfile base URL is empty: {hint}")
    text = base_url.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigurationError(f"The Flatfile base URL is not a valid URL: {hint}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"The Flatfile base URL must start with https:// and name a host: {hint}")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            "The Flatfile base URL must not hold a user name or password (the credentials belong in the "
            f"secret): {hint}"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(f"The Flatfile base URL must not have a query or fragment: {hint}")
    if parts.scheme == "http" and parts.hostname.lower() not in LOOPBACK_HOSTS:
        raise ConfigurationError(
            "The Flatfile base URL must use https:// (plain http would send the credentials in clear; "
            f"it is allowed only to a loopback host, {', '.join(sorted(LOOPBACK_HOSTS))}): {hint}"
        )
    return text


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Hosts the Flatfile base URL may reach over plain http (an emulator on this machine); every other needs https."""


def _decode(content: bytes, *, expect_json: bool, decode: Callable[[bytes], Any] = json.loads) -> tuple[Any, bool]:
    """(decoded JSON, readable). An empty body is None, readable only when no JSON is expected."""
    if not content.strip():
        return None, not expect_json
    try:
        return decode(content), True
    except (ValueError, RecursionError):
        return None, False


def _describe(content: bytes) -> str:
    if not content.strip():
        return "empty"
    return f"{len(content)} bytes starting {content[:20]!r}"


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")
_INNER = re.compile(
    r"\b(RemoteDisconnected|ConnectionResetError|NewConnectionError|NameResolutionError|"
    r"ReadTimeoutError|ConnectTimeoutError|IncompleteRead|InvalidChunkLength|SSLError)\b"
)


def _summarise(exc: BaseException) -> str:
    """A short description of a network error, without its URL (requests puts the query in it)."""
    name = type(exc).__name__
    text = str(exc)
    errno = _ERRNO.search(text)
    if errno:
        return f"{name}: {errno.group(0).strip()}"
    inner = _INNER.search(text)
    if inner and inner.group(1) != name:
        return f"{name}: {inner.group(1)}"
    return name


def _deadline_error(what: str, failure: str, reason: str = "") -> DeadlineExceededError:
    last = f" after {failure}" if failure else ""
    reason = reason or "the deadline (the Lambda's time left) has passed"
    return DeadlineExceededError(
        f"Stopped {what}{last}: {reason}. "
        "The work resumes at the next invocation; if this keeps happening, raise the function timeout."
    )


def _redirect_error(what: str, location: str, setting: str) -> ConfigurationError:
    target = urlsplit(location)
    where = f"{target.scheme}://{target.hostname}" if target.hostname else "another path"
    return ConfigurationError(
        f"Flatfile answered {what} with a redirect to {where}; the relay does not follow redirects "
        f"(they could carry the credentials elsewhere): set {setting} to the final API address."
    )

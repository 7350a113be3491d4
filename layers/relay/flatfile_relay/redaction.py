"""Keep secrets and tokens out of log lines.

Register every secret value once (the Flatfile client registers the secret access key, the API key header
and each token it receives); `RedactionFilter` then replaces them with `***` in log records, together with
anything shaped like a bearer token, a JWT or a `"secretAccessKey": "..."` pair. A registered value is also
found percent-encoded (as in a URL, ``a+b/c`` as ``a%2Bb%2Fc``), and a ``token=`` pair also when its ``=`` is
encoded (``token%3D...``, a URL inside another URL's query) or when it follows a ``#``.

An exception that leaves a handler (`redact_exception`) is redacted too: Lambda writes its message into the
poller's dead-letter record and its own log line, and X-Ray keeps it as trace metadata, out of reach of the
logging filter.

Example:
    >>> register_secret("s3cr3t-value")
    >>> redact("sent s3cr3t-value with Authorization: Bearer abc.def")
    'sent *** with Authorization: Bearer ***'

Install the filter once, at start-up, on the loggers whose handlers write the logs (the Powertools Logger
of a function, or the root logger), so records propagated from library loggers are redacted too:

    logger = Logger(service="poller")
    install_redaction(logger)

Known limit: keys appended to a Powertools Logger with `append_keys` live in its formatter, not in the
record, so the filter cannot see them: never append secrets.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from flatfile_relay.errors import TransientError

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "RedactedError",
    "RedactionFilter",
    "install_redaction",
    "redact",
    "redact_exception",
    "register_secret",
    "scrub",
]

REDACTED = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not registered: replacing them everywhere would mangle ordinary text."""

_MAX_SECRETS = 1024
"""Registered values kept at most (oldest dropped first); tokens are registered at every refresh."""

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer <token>
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',;}\]]+"), r"\1" + REDACTED),
    # a JWT: three base64url parts, the first two JSON objects ("eyJ" is the base64 of '{"')
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), REDACTED),
    # X-Api-Key header values and secret-looking JSON / query / keyword pairs (the "=" percent-encoded too)
    (
        re.compile(
            r"(?i)((?:x-api-key|secret_?access_?key|access_?token|webhook_?token|api_?key|password|token)"
            r"[\"']?\s*(?:[:=]|%(?:25)*3D)\s*[\"']?)[^\s\"',;&}\]]+"
        ),
        r"\1" + REDACTED,
    ),
)

_lock = threading.Lock()
_secrets: dict[str, None] = {}  # insertion-ordered set
_compiled: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Redact `value` from every log line from now on (None, empty and very short values are ignored).

    Example:
        >>> register_secret("another-secret")
        >>> redact("value=another-secret!")
        'value=***!'
    """
    global _compiled
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        for form in _forms(value):
            _secrets[form] = None
        while len(_secrets) > _MAX_SECRETS:
            del _secrets[next(iter(_secrets))]
        _compiled = None


def _forms(value: str) -> list[str]:
    """A secret as it may be written: as it is, and percent-encoded (upper- and lower-case hex, ``+`` for space).

    Example:
        >>> _forms("a+b/c")
        ['a+b/c', 'a%2Bb%2Fc', 'a%2bb%2fc']
    """
    found = [value]
    for encoded in (quote(value, safe=""), quote_plus(value, safe="")):
        for form in (encoded, re.sub(r"%[0-9A-F]{2}", lambda hex_: hex_[0].lower(), encoded)):
            if form not in found:
                found.append(form)
    return found


def redact(text: str) -> str:
    """Return `text` with registered secrets and token-shaped values replaced by `***`.

    Example:
        >>> redact("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig")
        'token ***'
    """
    pattern = _secret_pattern()
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for regex, replacement in _PATTERNS:
        text = regex.sub(replacement, text)
    return text


def _secret_pattern() -> re.Pattern[str] | None:
    global _compiled
    with _lock:
        if _compiled is None and _secrets:
            # Longest first, so a value containing another one is replaced whole.
            alternatives = sorted(_secrets, key=len, reverse=True)
            _compiled = re.compile("|".join(re.escape(value) for value in alternatives))
        return _compiled


def _redact_value(value: Any, depth: int = 0) -> Any:
    """Redact strings inside `value` (dicts, lists and tuples up to a few levels deep)."""
    if isinstance(value, str):
        return redact(value)
    if depth >= 4:
        return value
    if type(value) is dict:
        return {key: _redact_value(item, depth + 1) for key, item in value.items()}
    if type(value) is list:
        return [_redact_value(item, depth + 1) for item in value]
    if type(value) is tuple:
        return tuple(_redact_value(item, depth + 1) for item in value)
    return value


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """A copy of a JSON value whose strings (keys included) hold neither `secrets` nor any ``token=`` value.

    For documents the relay stores that come from elsewhere (Flatfile shows the webhook URL, token and
    all, on a batch): every occurrence of the exact `secrets`, and the value of every ``token=`` URL
    parameter (whichever token it is: the webhook's live in a secret the exporter does not read), become
    `***`; nothing else in the document changes.

    Example:
        >>> scrub({"hook": "https://relay.example/?a=1&token=tok-9&b=2", "n": [1, "tok-123"]}, ["tok-123"])
        {'hook': 'https://relay.example/?a=1&token=***&b=2', 'n': [1, '***']}
    """
    wanted = sorted({form for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH for form in _forms(s)},
                    key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(secret) for secret in wanted)) if wanted else None

    def clean(text: str) -> str:
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        return _URL_TOKEN.sub(r"\1" + REDACTED, text)

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return clean(item)
        if isinstance(item, dict):
            return {walk(key): walk(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        return item

    return walk(value)


_URL_TOKEN = re.compile(
    r"(?i)((?:[?&;#]|%(?:25)*(?:3F|26|3B|23))token(?:=|%(?:25)*3D))"  # ?token= &token= #token=, or encoded
    r"(?:[^&#\s%]|%(?!(?:25)*(?:26|23|3B))[0-9A-F]{2})+"  # the value: up to the next parameter, encoded or not
)
"""A ``token`` URL parameter's value (the webhook URL Flatfile shows on a batch), also in a fragment and in a
URL percent-encoded inside another one."""


class RedactedError(TransientError):
    """Stands in for an exception whose message held a secret and could not be redacted in place.

    A `TransientError`: what cannot be redacted in place is an exception whose text does not come from its
    arguments, in practice an `OSError` (a socket or a file), and it replaces only what already leaves a
    handler (the handler has classified the original by then).
    """


def redact_exception(error: BaseException) -> BaseException:
    """Redact the message of `error` and of the exceptions chained to it, in place; return what to raise.

    Usually `error` itself (its type and traceback kept). An exception whose text does not come from its
    arguments (an `OSError` naming a file, say) and still holds a secret is replaced by a `RedactedError` that
    names its type and carries the redacted text.

    Example:
        >>> register_secret("hunter2-secret")
        >>> str(redact_exception(ValueError("refused hunter2-secret")))
        'refused ***'
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        _redact_in_place(current)
        current = current.__cause__ or current.__context__
    if not _leaks(error):
        return error
    return RedactedError(f"{type(error).__name__}: {redact(_message(error))}")


def _redact_in_place(error: BaseException) -> None:
    if _leaks(error):
        error.args = (redact(_message(error)),)
    notes = getattr(error, "__notes__", None)
    if isinstance(notes, list):
        error.__notes__ = [redact(note) if isinstance(note, str) else note for note in notes]


def _leaks(error: BaseException) -> bool:
    """True when the exception's text (`str` or `repr`) holds something `redact` would replace."""
    try:
        text = f"{error}\n{error!r}"
    except Exception:  # noqa: BLE001 - an exception whose text cannot be made shows nothing
        return False
    return redact(text) != text


def _message(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # noqa: BLE001
        return ""


_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class RedactionFilter(logging.Filter):
    """A logging filter that redacts secrets in the message, its arguments, extras and exception text.

    It never drops a record. The message is rendered (`msg % args`) and redacted; a dict message (the
    structured logging of Powertools) is redacted value by value.

    Example:
        >>> import logging
        >>> handler = logging.StreamHandler()
        >>> handler.addFilter(RedactionFilter())
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            record.msg = _redact_value(record.msg)
            if record.args:
                record.args = _redact_value(record.args)
        else:
            try:
                message = record.getMessage()
            except (TypeError, ValueError, KeyError):  # a bad format string: keep what we can, redacted
                message = f"{record.msg} {record.args}"
            record.msg = redact(message)
            record.args = ()
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRIBUTES:
                setattr(record, key, _redact_value(value))
        if record.exc_info and record.exc_info[1] is not None:
            self._redact_exception(record)
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True

    @staticmethod
    def _redact_exception(record: logging.LogRecord) -> None:
        if record.exc_info is None:
            return
        exc_type, exc, tb = record.exc_info
        text = "".join(traceback.format_exception(exc_type, exc, tb)).rstrip("\n")
        cleaned = redact(text)
        if cleaned == text:
            return
        # The exception holds a secret: log only its redacted text. Standard formatters print exc_text;
        # the Powertools formatter reads the `exception` / `exception_name` extras.
        record.exc_info = None
        record.exc_text = cleaned
        setattr(record, "exception", cleaned)  # noqa: B010 - not a LogRecord attribute
        setattr(record, "exception_name", exc_type.__name__ if exc_type else "Exception")  # noqa: B010


_FILTER = RedactionFilter()


def install_redaction(*loggers: Any) -> RedactionFilter:
    """Add the redaction filter to the loggers and to every handler they have (default: the root logger).

    Accepts standard `logging.Logger` objects and Powertools `Logger` objects; adding twice is harmless.
    Filters on handlers also see records propagated from child loggers, which filters on a logger don't.

    Example:
        >>> import logging
        >>> install_redaction(logging.getLogger("my.service"))  # doctest: +ELLIPSIS
        <flatfile_relay.redaction.RedactionFilter object at ...>
    """
    targets: Iterable[Any] = loggers or (logging.getLogger(),)
    for logger in targets:
        _add_filter(logger)
        for handler in list(getattr(logger, "handlers", ()) or ()):
            _add_filter(handler)
    return _FILTER


def _add_filter(target: Any) -> None:
    # A Powertools Logger forwards `filters` and `addFilter` to the standard logger it wraps.
    filters = getattr(target, "filters", None) or []
    if not any(isinstance(existing, RedactionFilter) for existing in filters):
        target.addFilter(_FILTER)

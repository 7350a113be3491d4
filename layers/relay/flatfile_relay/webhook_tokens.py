"""The webhook's tokens: read from a secret of their own, checked in constant time, re-read when rotated.

The webhook secret (`WEBHOOK_SECRET_ID`) is a JSON object ``{"webhookToken": "token-a,token-b"}``: one token,
or several separated by commas while rotating (a JSON list of strings is accepted too). It holds nothing
else, so the public webhook function never reads the Flatfile access key. A token shorter than
`MIN_TOKEN_LENGTH` characters is ignored with a logged warning (the other tokens stay valid): a short shared
secret in a URL can be guessed.

Example:
    >>> tokens = WebhookTokens.from_secret('{"webhookToken": "' + "a" * 32 + ', short"}')
    >>> len(tokens), tokens.accepts("a" * 32), tokens.accepts("short")
    (1, True, False)
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from flatfile_relay.credentials import MalformedSecretError
from flatfile_relay.json_types import json_type
from flatfile_relay.redaction import register_secret

__all__ = [
    "MIN_TOKEN_LENGTH",
    "SECRET_NAME",
    "TokenGate",
    "TokenVerdict",
    "WebhookTokenSource",
    "WebhookTokens",
    "parse_webhook_tokens",
]

logger = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 32
"""Shorter tokens are ignored (the stack generates 40 characters)."""

SECRET_NAME = "the webhook secret"  # noqa: S105 - a name in messages, not a secret

TokenVerdict = Literal["accepted", "missing", "rejected", "not-configured"]


def parse_webhook_tokens(value: Any, secret: str = SECRET_NAME) -> tuple[str, ...]:
    """The tokens a ``webhookToken`` value holds (comma-separated text or a JSON list), blanks and repeats dropped.

    Raises `MalformedSecretError` (naming `secret`) for anything but strings.

    Example:
        >>> parse_webhook_tokens(" one, two ,, one"), parse_webhook_tokens(None)
        (('one', 'two'), ())
    """
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        items = [value]
    tokens: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise MalformedSecretError(
                f"'webhookToken' in {secret} must be a string (several tokens separated by "
                f"commas), got a JSON {json_type(item)}.",
                key="webhookToken",
            )
        if item.strip() and item.strip() not in tokens:
            tokens.append(item.strip())
    return tuple(tokens)


@dataclass(frozen=True, repr=False)
class WebhookTokens:
    """The tokens the webhook accepts (empty: none configured)."""

    tokens: tuple[str, ...] = ()

    @classmethod
    def from_secret(cls, value: Any) -> WebhookTokens:
        """Parse the webhook secret (JSON text or the decoded object); short tokens are dropped with a warning.

        Raises:
            MalformedSecretError: not a JSON object, or `webhookToken` not a string (list); the message names
                the key, never a value.
        """
        data = value if isinstance(value, dict) else _json_object(value)
        found = parse_webhook_tokens(data.get("webhookToken"))
        for token in found:
            register_secret(token)
        kept = tuple(token for token in found if len(token) >= MIN_TOKEN_LENGTH)
        if len(kept) < len(found):
            logger.warning("%d token(s) in 'webhookToken' of %s ignored: shorter than %d characters; put "
                           "a longer random token there (docs/deploy.md, 'Rotating the webhook token')",
                           len(found) - len(kept), SECRET_NAME, MIN_TOKEN_LENGTH)
        return cls(kept)

    def accepts(self, presented: str | None) -> bool:
        """True when `presented` equals one of the tokens, each compared in constant time, all of them every time.

        Example:
            >>> tokens = WebhookTokens(("old-token", "new-token"))
            >>> [tokens.accepts(token) for token in ("new-token", "old-token", "guess", None)]
            [True, True, False, False]
        """
        if not presented or not self.tokens:
            return False
        candidate = presented.encode("utf-8", "surrogatepass")
        matched = False
        for known in self.tokens:
            matched |= hmac.compare_digest(candidate, known.encode("utf-8", "surrogatepass"))
        return matched

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"WebhookTokens(<{len(self.tokens)} token{'' if len(self.tokens) == 1 else 's'}>)"


def _json_object(value: Any) -> dict[str, Any]:
    expected = 'a JSON object like {"webhookToken": "<token>"}'
    try:
        data = json.loads(value)
    except (TypeError, ValueError):  # no chaining: the JSON error holds the text
        raise MalformedSecretError(f"{SECRET_NAME.capitalize()} is not valid JSON: store {expected}.") from None
    if not isinstance(data, dict):
        raise MalformedSecretError(f"{SECRET_NAME.capitalize()} must be {expected}, got a JSON {json_type(data)}.")
    return data


class WebhookTokenSource:
    """Reads the webhook secret through Powertools Parameters (cached; `force` bypasses the cache).

    `secrets` is a Powertools `SecretsProvider` (built on first use when not given, on `client`: a Secrets
    Manager client, e.g. the function's own with its timeouts; None: Powertools' default one).

    Example:
        >>> source = WebhookTokenSource("arn:aws:secretsmanager:...:secret:webhook")   # doctest: +SKIP
        >>> source(force=True)                                                         # doctest: +SKIP
        WebhookTokens(<1 token>)
    """

    def __init__(self, secret_id: str, secrets: Any | None = None, *, client: Any | None = None) -> None:
        self.secret_id = secret_id
        self._secrets = secrets
        self._client = client

    def __call__(self, *, force: bool = False) -> WebhookTokens:
        if self._secrets is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._secrets = SecretsProvider(boto3_client=self._client)
        return WebhookTokens.from_secret(self._secrets.get(self.secret_id, force_fetch=force))


class TokenGate:
    """Checks tokens against the secret; re-reads it bypassing the cache at most every `refresh_after` s.

    The secret is cached (Powertools, 300 s by default). When a token does not match, or the cached secret has
    no token or is malformed, the gate reads the secret once more bypassing the cache, but at most once per
    `refresh_after` seconds: a token just added while rotating works within that time, and neither wrong tokens
    nor an unconfigured secret turn requests into Secrets Manager reads. A token removed from the secret may
    still be accepted until the cache expires.

    `tokens` is a callable like `WebhookTokenSource` (keyword `force` bypasses the cache).

    Example:
        >>> gate = TokenGate(lambda force=False: WebhookTokens(("tok-1",)))
        >>> gate.check("tok-1"), gate.check("tok-2"), gate.check(None)
        ('accepted', 'rejected', 'missing')
    """

    def __init__(
        self,
        tokens: Callable[..., WebhookTokens],
        *,
        refresh_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens = tokens
        self._refresh_after = refresh_after
        self._clock = clock
        self._last_refresh: float | None = None
        self._lock = threading.Lock()

    def check(self, presented: str | None) -> TokenVerdict:
        """Judge a presented token: ``accepted``, ``missing``, ``rejected`` or ``not-configured``.

        No token presented: ``missing`` without reading the secret. Raises what reading the secret raises
        (`MalformedSecretError`, Powertools `GetParameterError`).
        """
        if not presented:
            return "missing"
        try:
            tokens = self._tokens(force=False)
        except MalformedSecretError:
            if not self._refresh_due():
                raise
            tokens = self._tokens(force=True)
        if tokens.accepts(presented):
            return "accepted"
        if self._refresh_due():
            tokens = self._tokens(force=True)
            if tokens.accepts(presented):
                return "accepted"
        return "rejected" if tokens else "not-configured"

    def _refresh_due(self) -> bool:
        """True (and the time noted) when the last forced read is `refresh_after` seconds old or none was made."""
        with self._lock:
            now = self._clock()
            if self._last_refresh is not None and now - self._last_refresh < self._refresh_after:
                return False
            self._last_refresh = now
            return True

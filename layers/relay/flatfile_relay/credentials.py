"""Flatfile credentials, parsed from the relay's Secrets Manager secret.

The secret is a JSON object:

    {"accessKeyId": "FF00...", "secretAccessKey": "...", "licenseKey": "<uuid>"}

Surrounding whitespace is ignored, and so is any other key: the ``webhookToken`` that stacks created before
the webhook had a secret of its own left in this one is never read (the webhook reads its tokens from its own
secret, `flatfile_relay.webhook_tokens`). A secret that still holds the `REPLACE_ME` placeholders the stack
created raises `NotConfiguredError` (nobody has filled it in yet). Parsing registers the secret values for
log redaction, and `repr()` / `str()` never show them. `Credentials` is the Flatfile client's `Account`
(access key and license key), so it is passed to the client as it is.

Example:
    >>> credentials = Credentials.from_secret(
    ...     '{"accessKeyId": "FF00AAAA", "secretAccessKey": "shh-secret", "licenseKey": "lic-1234",'
    ...     ' "webhookToken": 5}'
    ... )
    >>> print(credentials)
    Credentials(access_key_id='FF00…', secret_access_key='***', license_key='lic-…')
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flatfile_relay.flatfile.account import Account
from flatfile_relay.flatfile.errors import ConfigurationError
from flatfile_relay.json_types import json_type

__all__ = [
    "PLACEHOLDER",
    "Credentials",
    "MalformedSecretError",
    "NotConfiguredError",
    "load_secret_object",
]

_REQUIRED = (
    ("accessKeyId", "the Access Key ID from the Flatfile dashboard (starts FF00)"),
    ("secretAccessKey", "the Secret Access Key shown when the access key was created"),
    ("licenseKey", "the license key (a UUID) of the embed whose imports the relay exports"),
)
_HEADER_KEYS = frozenset({"accessKeyId", "secretAccessKey"})
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
#: the value template.yaml's secret holds until someone puts the real credentials in it
PLACEHOLDER = "REPLACE_ME"
_EXPECTED = (
    "a JSON object with keys accessKeyId, secretAccessKey and licenseKey (the legacy API), or platformSecretKey and "
    "platformEnvironmentId (the Flatfile Platform), or both"
)


class MalformedSecretError(ConfigurationError):
    """A secret (Flatfile's, or the webhook's) is not valid; `key` names the offending JSON key (None: the whole
    secret).

    A `ConfigurationError` (a human must fix the secret; retrying will not help), like Flatfile refusing
    the keys. The message names the key, never its value.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class NotConfiguredError(MalformedSecretError):
    """The secret still holds the `REPLACE_ME` placeholders the stack created: nobody has filled it in yet.

    Expected right after a deployment, so the functions report it as a warning (metric `NotConfigured`)
    rather than a failure (`flatfile_relay.failures.classify` calls it `not-configured`); `key` names the
    first key still holding a placeholder.
    """


@dataclass(frozen=True, repr=False)
class Credentials(Account):
    """The access key and license key of one Flatfile account, as the relay's secret holds them."""

    @classmethod
    def from_secret(cls, value: str | bytes | bytearray | Mapping[str, Any]) -> Credentials:
        """Parse the secret (its JSON text, or the already decoded object).

        Raises:
            MalformedSecretError: not JSON, not an object, or a key missing, empty or not a string;
                `error.key` names the key and the message says what it should hold (never its value).
            NotConfiguredError: a key still holds the `REPLACE_ME` placeholder of a new deployment.
        """
        data = load_secret_object(value)
        fields = [_required(data, key, meaning) for key, meaning in _REQUIRED]
        placeholders = [key for (key, _), field in zip(_REQUIRED, fields, strict=True) if field == PLACEHOLDER]
        if placeholders:
            raise NotConfiguredError(
                f"The Flatfile secret is not configured yet: {', '.join(map(repr, placeholders))} still "
                f"hold{'s' if len(placeholders) == 1 else ''} the {PLACEHOLDER} placeholder the stack created. "
                "Put your Flatfile access key, secret access key and license key in it (README, 'Deploying').",
                key=placeholders[0],
            )
        credentials = cls(fields[0], fields[1], fields[2])
        credentials.register_secrets()
        return credentials


def load_secret_object(value: str | bytes | bytearray | Mapping[str, Any]) -> Mapping[str, Any]:
    """The secret's JSON object (from its text, or as it is when already decoded); MalformedSecretError when it
    is not one, saying what it should hold and never quoting it.

    Example:
        >>> load_secret_object('{"licenseKey": "x"}')
        {'licenseKey': 'x'}
    """
    if isinstance(value, Mapping):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedSecretError(f"The Flatfile secret is not UTF-8 text: store {_EXPECTED}.") from None
    if not isinstance(value, str):
        raise MalformedSecretError(f"The Flatfile secret must be {_EXPECTED}, got a {type(value).__name__}.")
    try:
        data = json.loads(value)
    except ValueError as error:
        # No chaining: the JSON error object holds the whole secret text.
        where = (
            f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        )
        raise MalformedSecretError(
            f"The Flatfile secret is not valid JSON{where}: store {_EXPECTED}."
        ) from None
    if not isinstance(data, dict):
        raise MalformedSecretError(f"The Flatfile secret must be {_EXPECTED}, got a JSON {json_type(data)}.")
    return data


def _required(data: Mapping[str, Any], key: str, meaning: str) -> str:
    if key not in data or data[key] is None:
        raise MalformedSecretError(f"The Flatfile secret has no {key!r}: add {meaning}.", key=key)
    value = data[key]
    if not isinstance(value, str):
        raise MalformedSecretError(
            f"{key!r} in the Flatfile secret must be a string, got a JSON {json_type(value)}: "
            f"set it to {meaning}.",
            key=key,
        )
    if not value.strip():
        raise MalformedSecretError(f"{key!r} in the Flatfile secret is empty: set it to {meaning}.", key=key)
    value = value.strip()
    # Both travel in a header (X-Api-Key); a line break there would make the HTTP library fail with an
    # error that quotes the whole header, secret included.
    if key in _HEADER_KEYS and not _PRINTABLE_ASCII.fullmatch(value):
        raise MalformedSecretError(
            f"{key!r} in the Flatfile secret holds a space, a line break, a control or a non-ASCII character, "
            f"which Flatfile keys never do (pasted with extra text?): set it to {meaning}.",
            key=key,
        )
    return value

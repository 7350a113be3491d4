"""PlatformAccount: the secret key and the environment the Platform client reads and acknowledges jobs in.

A secret key (`sk_…`, Flatfile dashboard → Developer settings) belongs to one environment (`us_env_…`): the
relay lists that environment's jobs and answers them. Plain values: where they come from (the relay reads the
`platformSecretKey` and `platformEnvironmentId` of its Secrets Manager secret) is the caller's business.
`repr()` and `str()` never show the key; building an account registers it for log redaction.

Example:
    >>> account = PlatformAccount("sk_" + "k" * 32, "us_env_a1b2c3d4")
    >>> account
    PlatformAccount(secret_key='sk_k…', environment_id='us_env_a1b2c3d4')
    >>> account.authorization == "Bearer sk_" + "k" * 32
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flatfile_relay.flatfile.errors import ConfigurationError
from flatfile_relay.redaction import register_secret

__all__ = ["DEFAULT_BASE_URL", "PlatformAccount"]

#: the Platform API's address, the SDK's `FlatfileEnvironment.PRODUCTION` (FLATFILE_PLATFORM_URL's default)
DEFAULT_BASE_URL = "https://api.x.flatfile.com/v1"

#: what a key or an id that travels in a header or a URL may hold: printable ASCII without spaces
_PRINTABLE = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True, repr=False)
class PlatformAccount:
    """A Flatfile Platform secret key and the environment it belongs to.

    Raises:
        ConfigurationError: a value is empty or holds a space, a line break or a non-ASCII character (which
            would end up quoted, key and all, in an HTTP library's error); the message names the value's key in
            the secret, never the value.
    """

    secret_key: str
    environment_id: str

    def __post_init__(self) -> None:
        for name, value, key in (("secret_key", self.secret_key, "platformSecretKey"),
                                 ("environment_id", self.environment_id, "platformEnvironmentId")):
            if not isinstance(value, str) or not _PRINTABLE.fullmatch(value):
                raise ConfigurationError(
                    f"The Flatfile Platform {name.replace('_', ' ')} is empty or holds a space, a line break or a "
                    f"character that is not ASCII: set {key} in the secret to the value shown in the Flatfile "
                    "dashboard."
                )
        register_secret(self.secret_key)

    @property
    def authorization(self) -> str:
        """The `Authorization` header value: `Bearer <secret key>`."""
        return f"Bearer {self.secret_key}"

    @property
    def redacted_secret_key(self) -> str:
        """The key as messages show it: its first four characters (e.g. `sk_a…`)."""
        return self.secret_key[:4] + "…" if len(self.secret_key) > 4 else "***"

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Every value that must never be shown: the secret key and the header holding it."""
        return (self.secret_key, self.authorization)

    def register_secrets(self) -> None:
        """Register `secret_values` with `flatfile_relay.redaction` (done when the account is built)."""
        for value in self.secret_values:
            register_secret(value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(secret_key={self.redacted_secret_key!r}, environment_id={self.environment_id!r})"

    __str__ = __repr__

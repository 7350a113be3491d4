"""Account: the keys the client reads one license's imports with.

An access key (`accessKeyId` + `secretAccessKey`, created in the Flatfile dashboard) and the license key
of the embed whose imports are read. Plain values: where they come from (the relay reads them from a
Secrets Manager secret) is the caller's business. `repr()` and `str()` never show the secret.

Example:
    >>> account = Account("FF00" + "A" * 36, "s" * 40, "00000000-0000-0000-0000-000000000000")
    >>> account.api_key_header == "FF00" + "A" * 36 + "+" + "s" * 40
    True
    >>> account
    Account(access_key_id='FF00…', secret_access_key='***', license_key='0000…')
"""

from __future__ import annotations

from dataclasses import dataclass

from flatfile_relay.redaction import register_secret

__all__ = ["Account"]


@dataclass(frozen=True, repr=False)
class Account:
    """A Flatfile access key and the license key whose imports it reads."""

    access_key_id: str
    secret_access_key: str
    license_key: str

    @property
    def api_key_header(self) -> str:
        """The `X-Api-Key` header value: `<accessKeyId>+<secretAccessKey>`."""
        return f"{self.access_key_id}+{self.secret_access_key}"

    @property
    def redacted_access_key_id(self) -> str:
        """The access key id as shown in messages: its first four characters (e.g. `FF00…`)."""
        return _shown(self.access_key_id)

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Every value that must never be shown: the secret access key and the API key header."""
        return (self.secret_access_key, self.api_key_header)

    def register_secrets(self) -> None:
        """Register `secret_values` with `flatfile_relay.redaction` so log lines never show them."""
        for value in self.secret_values:
            register_secret(value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._fields_shown()})"

    __str__ = __repr__

    def _fields_shown(self) -> str:
        return (
            f"access_key_id={self.redacted_access_key_id!r}, secret_access_key='***', "
            f"license_key={_shown(self.license_key)!r}"
        )


def _shown(value: str, keep: int = 4) -> str:
    """`value` as messages show it: its first `keep` characters, or `***` when it is not longer than that."""
    return value[:keep] + "…" if len(value) > keep else "***"

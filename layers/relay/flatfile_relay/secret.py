"""The Flatfile secret: the legacy API's keys, the Flatfile Platform's, or both (architecture.md items 3 and 10).

    {"accessKeyId": "FF00…", "secretAccessKey": "…", "licenseKey": "<uuid>",     # the legacy source
     "platformSecretKey": "sk_…", "platformEnvironmentId": "us_env_…"}             # the Platform source

Each complete set turns its source on; other keys are ignored. A set still holding the stack's `REPLACE_ME`
placeholders counts as absent, so a team on one source may leave the other's placeholders in place. A set
with some of its keys but not all (or a bad value) is a mistake: that source stays off and reports it
(`FlatfileSecret.account` raises it) while the other source runs. A secret with no usable set at all is
malformed (the error names the missing keys), or not configured yet when it holds nothing but placeholders.
Parsing registers every key value for log redaction; `repr()` never shows them.

Example:
    >>> secret = FlatfileSecret.parse('{"platformSecretKey": "sk_' + 'k' * 24 + '",'
    ...                               ' "platformEnvironmentId": "us_env_1"}')
    >>> secret.sources
    ('platform',)
    >>> secret.account("legacy")
    Traceback (most recent call last):
    ...
    flatfile_relay.credentials.MalformedSecretError: The Flatfile secret has no keys of the legacy API ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flatfile_relay.credentials import (
    PLACEHOLDER,
    Credentials,
    MalformedSecretError,
    NotConfiguredError,
    load_secret_object,
)
from flatfile_relay.flatfile.errors import ConfigurationError
from flatfile_relay.ids import LEGACY, PLATFORM, SOURCES
from flatfile_relay.platform.account import PlatformAccount

__all__ = ["LEGACY_KEYS", "PLATFORM_KEYS", "FlatfileSecret"]

#: the keys of the legacy source (Portal v2 / Concierge)
LEGACY_KEYS = ("accessKeyId", "secretAccessKey", "licenseKey")
#: the keys of the Flatfile Platform source
PLATFORM_KEYS = ("platformSecretKey", "platformEnvironmentId")
_KEYS = {LEGACY: LEGACY_KEYS, PLATFORM: PLATFORM_KEYS}
_NAMES = {LEGACY: "the legacy API (Portal v2)", PLATFORM: "the Flatfile Platform"}

Account = Credentials | PlatformAccount


@dataclass(frozen=True, repr=False)
class FlatfileSecret:
    """The accounts a secret turns on, and why a source whose keys are there in part is off.

    Attributes:
        legacy: the legacy API's access key and license key, or None.
        platform: the Platform's secret key and environment, or None.
        problems: (source, what is wrong with its keys), for sources whose keys are there in part or bad.
    """

    legacy: Credentials | None = None
    platform: PlatformAccount | None = None
    problems: tuple[tuple[str, MalformedSecretError], ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, value: str | bytes | bytearray | Mapping[str, Any]) -> FlatfileSecret:
        """Read the secret (its JSON text, or the decoded object).

        Raises:
            MalformedSecretError: not a JSON object, or no source's keys are complete and usable (the message
                names what is missing or wrong, never a value).
            NotConfiguredError: nothing but the stack's placeholders (nobody has filled the secret in yet).
        """
        data = load_secret_object(value)
        accounts: dict[str, Account] = {}
        problems: list[tuple[str, MalformedSecretError]] = []
        placeholders: list[NotConfiguredError] = []
        for source in SOURCES:
            try:
                account = _account(source, data)
            except NotConfiguredError as error:
                placeholders.append(error)
            except MalformedSecretError as error:
                problems.append((source, error))
            else:
                if account is not None:
                    accounts[source] = account
        if not accounts:
            raise problems[0][1] if problems else placeholders[0] if placeholders else _no_keys()
        legacy, platform = accounts.get(LEGACY), accounts.get(PLATFORM)
        return cls(legacy if isinstance(legacy, Credentials) else None,
                   platform if isinstance(platform, PlatformAccount) else None, tuple(problems))

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources this secret turns on, in `ids.SOURCES` order."""
        return tuple(source for source in SOURCES if self._accounts().get(source) is not None)

    def account(self, source: str) -> Account:
        """The account of `source`; MalformedSecretError saying why it is off when it is."""
        account = self._accounts().get(source)
        if account is not None:
            return account
        for name, problem in self.problems:
            if name == source:
                raise problem
        keys = ", ".join(_KEYS[source])
        raise MalformedSecretError(
            f"The Flatfile secret has no keys of {_NAMES[source]}: add {keys} to use it.", key=_KEYS[source][0]
        )

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Every value that must never be shown, of both sources."""
        return tuple(value for account in self._accounts().values() if account for value in account.secret_values)

    def _accounts(self) -> dict[str, Account | None]:
        return {LEGACY: self.legacy, PLATFORM: self.platform}

    def __repr__(self) -> str:
        return f"FlatfileSecret(legacy={self.legacy!r}, platform={self.platform!r})"


def _account(source: str, data: Mapping[str, Any]) -> Account | None:
    """The account of one source; None when none of its keys is set; errors as `FlatfileSecret.parse` says."""
    keys = _KEYS[source]
    present = [key for key in keys if data.get(key) not in (None, "")]
    if not present:
        return None
    if source == LEGACY:
        return Credentials.from_secret(data)
    missing = [key for key in keys if key not in present]
    if missing:
        raise MalformedSecretError(
            f"The Flatfile secret has {', '.join(present)} but no {', '.join(missing)}: the Flatfile Platform needs "
            "both its secret key (sk_…) and the id of its environment (us_env_…).", key=missing[0],
        )
    values = [data[key] for key in keys]
    if PLACEHOLDER in values:
        raise NotConfiguredError(
            f"The Flatfile secret is not configured yet: {keys[values.index(PLACEHOLDER)]!r} still holds the "
            f"{PLACEHOLDER} placeholder the stack created.", key=keys[values.index(PLACEHOLDER)],
        )
    try:
        return PlatformAccount(*(value.strip() if isinstance(value, str) else value for value in values))
    except ConfigurationError as error:
        raise MalformedSecretError(str(error), key=keys[0]) from None


def _no_keys() -> MalformedSecretError:
    return MalformedSecretError(
        "The Flatfile secret holds the keys of neither source: add accessKeyId, secretAccessKey and licenseKey "
        "(the legacy API, Portal v2), or platformSecretKey and platformEnvironmentId (the Flatfile Platform), "
        "or both."
    )

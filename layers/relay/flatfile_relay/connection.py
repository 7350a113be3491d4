"""Flatfile credentials from Secrets Manager, and the clients kept warm across invocations.

The secret (`flatfile_relay.secret.FlatfileSecret`: the legacy API's keys, the Platform's, or both) is read
through Powertools Parameters (cached, `POWERTOOLS_PARAMETERS_MAX_AGE`, default 300 s). A secret that turned
out malformed, or whose keys Flatfile refused, is never served from the cache again: the next read bypasses
it, so fixing the secret takes effect at the next invocation. Each source's client (and so the legacy bearer
token) lives as long as the execution environment and that source's keys. `connection.counts` counts the
requests of every client it made, of both sources (`counts.take()` once per invocation). `FlatfileRuntime` is
the warm state of a function that talks to Flatfile: a `Runtime` with a connection.

Example:
    >>> connection = FlatfileConnection(Settings.from_env())           # doctest: +SKIP
    >>> connection.sources()                                           # doctest: +SKIP
    ('legacy', 'platform')
    >>> jobs = connection.run(lambda client: client.list_jobs(deadline), source="platform")   # doctest: +SKIP
    >>> runtime = FlatfileRuntime("secret_id", "ledger_table")        # nothing is read or created yet
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar, cast

from flatfile_relay import __version__, platform
from flatfile_relay.credentials import Credentials, MalformedSecretError
from flatfile_relay.flatfile import FlatfileClient, RefusedError, RequestCounts
from flatfile_relay.ids import LEGACY
from flatfile_relay.platform import PlatformAccount
from flatfile_relay.runtime import Runtime
from flatfile_relay.secret import FlatfileSecret
from flatfile_relay.settings import Settings

__all__ = ["USER_AGENT", "FlatfileConnection", "FlatfileRuntime"]

T = TypeVar("T")
Client = Any  # a FlatfileClient (legacy) or a PlatformClient (platform)

USER_AGENT = f"flatfile-relay/{__version__}"
"""Who the relay's requests to Flatfile say they come from (the HTTP library's own name follows)."""


class FlatfileConnection:
    """Where the functions get their Flatfile clients from: one per source the secret turns on.

    `secrets` is a Powertools `SecretsProvider` (built lazily on first use when not given);
    `session` an optional `requests.Session` for the clients.
    """

    def __init__(self, settings: Settings, secrets: Any | None = None, session: Any | None = None) -> None:
        settings.require("secret_id")
        self.settings = settings
        self._secrets = secrets
        self._session = session
        self._distrust_cache = False
        self._clients: dict[str, tuple[object, Client]] = {}
        self._lock = threading.Lock()
        self.counts = RequestCounts()

    def secret(self, *, force: bool = False) -> FlatfileSecret:
        """What the secret holds; `force` (or an earlier bad secret) bypasses the cache."""
        provider = self._provider()
        raw = provider.get(self.settings.secret_id, force_fetch=force or self._distrust_cache)
        try:
            secret = FlatfileSecret.parse(raw)
        except MalformedSecretError:
            self._distrust_cache = True
            raise
        self._distrust_cache = bool(secret.problems)  # a source off by a mistake: read afresh until fixed
        return secret

    def sources(self) -> tuple[str, ...]:
        """The sources the secret turns on (`legacy`, `platform`)."""
        return self.secret().sources

    def credentials(self, *, force: bool = False) -> Credentials:
        """The legacy API's keys; MalformedSecretError names the missing ones when the secret has none."""
        return cast("Credentials", self.secret(force=force).account(LEGACY))

    def client(self, source: str = LEGACY) -> Client:
        """A client of `source` for its current keys (the same one while they do not change)."""
        account = self.secret().account(source)
        with self._lock:
            held = self._clients.get(source)
            if held is not None and held[0] == account:
                return held[1]
            if held is not None:
                held[1].close()
            client = self._new_client(account)
            self._clients[source] = (account, client)
            return client

    def run(self, work: Callable[[Client], T], source: str = LEGACY) -> T:
        """Run `work(client)` with `source`'s client; if Flatfile refuses its keys, re-read the secret once and
        retry.

        Refused means `RefusedError` (the access key or the Platform's secret key, 401; no right, 403; the
        license key, 400 when it is not even a UUID). `work` must be safe to start again (the relay's work is
        idempotent). When the fresh secret holds the same keys, or they are refused again, the error
        propagates and the next invocation reads the secret afresh.
        """
        client = self.client(source)
        try:
            return work(client)
        except RefusedError:
            self._distrust_cache = True
            held = self._clients.get(source)
            if held is not None and self.secret(force=True).account(source) == held[0]:
                self._distrust_cache = True
                raise
            try:
                return work(self.client(source))
            except RefusedError:
                self._distrust_cache = True
                raise

    def _new_client(self, account: Credentials | PlatformAccount) -> Client:
        settings = self.settings
        if isinstance(account, PlatformAccount):
            # the client (and `requests`' part of it) is imported with the first Platform client (PEP 562)
            return platform.PlatformClient(
                settings.platform_base_url, account, timeout=settings.request_timeout,
                max_attempts=settings.max_attempts, session=self._session, record_prefetch=settings.row_prefetch,
                counts=self.counts, user_agent=USER_AGENT,
            )
        return FlatfileClient(
            settings.flatfile_base_url, account, auth=settings.auth_mode,
            expires_in=settings.token_ttl, timeout=settings.request_timeout, max_attempts=settings.max_attempts,
            batch_page_size=settings.batch_page_size, row_prefetch=settings.row_prefetch, session=self._session,
            counts=self.counts, user_agent=USER_AGENT,
        )

    def _provider(self) -> Any:
        if self._secrets is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._secrets = SecretsProvider()
        return self._secrets


class FlatfileRuntime(Runtime):
    """The warm state of a function that talks to Flatfile (the poller, the exporter): a `Runtime` plus the
    Flatfile connection, built on first use like the rest."""

    @cached_property
    def connection(self) -> FlatfileConnection:
        return FlatfileConnection(self.settings)

    def take_request_counts(self) -> RequestCounts:
        """Flatfile requests, retries and throttles since the last call (zero while no connection exists)."""
        connection = self.__dict__.get("connection")
        return connection.counts.take() if isinstance(connection, FlatfileConnection) else RequestCounts()

    def reset(self) -> None:
        super().reset()
        self.__dict__.pop("connection", None)

"""Flatfile credentials from Secrets Manager, and a client kept warm across invocations.

The secret is read through Powertools Parameters (cached, `POWERTOOLS_PARAMETERS_MAX_AGE`, default
300 s). A secret that turned out malformed, or whose credentials Flatfile rejected, is never served from
the cache again: the next read bypasses it, so fixing the secret takes effect at the next invocation.
The client (and so its bearer token) lives as long as the execution environment and the credentials.
`connection.counts` counts the requests of every client it made (`counts.take()` once per invocation).
`FlatfileRuntime` is the warm state of a function that talks to Flatfile: a `Runtime` with a connection.

Example:
    >>> connection = FlatfileConnection(Settings.from_env())           # doctest: +SKIP
    >>> batches = connection.run(lambda client: list(client.iter_batches(deadline)))   # doctest: +SKIP
    >>> runtime = FlatfileRuntime("secret_id", "ledger_table")        # nothing is read or created yet
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from flatfile_relay import __version__
from flatfile_relay.credentials import Credentials, MalformedSecretError
from flatfile_relay.flatfile import FlatfileClient, RefusedError, RequestCounts
from flatfile_relay.runtime import Runtime
from flatfile_relay.settings import Settings

__all__ = ["USER_AGENT", "FlatfileConnection", "FlatfileRuntime"]

T = TypeVar("T")

USER_AGENT = f"flatfile-relay/{__version__}"
"""Who the relay's requests to Flatfile say they come from (the HTTP library's own name follows)."""


class FlatfileConnection:
    """Where the functions get their `FlatfileClient` from.

    `secrets` is a Powertools `SecretsProvider` (built lazily on first use when not given);
    `session` an optional `requests.Session` for the client.
    """

    def __init__(self, settings: Settings, secrets: Any | None = None, session: Any | None = None) -> None:
        settings.require("secret_id")
        self.settings = settings
        self._secrets = secrets
        self._session = session
        self._distrust_cache = False
        self._client: FlatfileClient | None = None
        self._credentials: Credentials | None = None
        self._lock = threading.Lock()
        self.counts = RequestCounts()

    def credentials(self, *, force: bool = False) -> Credentials:
        """The credentials in the secret; `force` (or an earlier bad secret) bypasses the cache."""
        provider = self._provider()
        raw = provider.get(self.settings.secret_id, force_fetch=force or self._distrust_cache)
        try:
            credentials = Credentials.from_secret(raw)
        except MalformedSecretError:
            self._distrust_cache = True
            raise
        self._distrust_cache = False
        return credentials

    def client(self) -> FlatfileClient:
        """A client for the current credentials (the same one while they do not change)."""
        credentials = self.credentials()
        with self._lock:
            if self._client is None or credentials != self._credentials:
                if self._client is not None:
                    self._client.close()
                self._client = FlatfileClient(
                    self.settings.flatfile_base_url,
                    credentials,
                    auth=self.settings.auth_mode,
                    expires_in=self.settings.token_ttl,
                    timeout=self.settings.request_timeout,
                    max_attempts=self.settings.max_attempts,
                    batch_page_size=self.settings.batch_page_size,
                    row_prefetch=self.settings.row_prefetch,
                    session=self._session,
                    counts=self.counts,
                    user_agent=USER_AGENT,
                )
                self._credentials = credentials
            return self._client

    def run(self, work: Callable[[FlatfileClient], T]) -> T:
        """Run `work(client)`; if Flatfile rejects the credentials, re-read the secret once and retry.

        Rejected means Flatfile refused what the secret holds (`RefusedError`: the access key, 401, or the
        license key, 403, or 400 when it is not even a UUID). `work` must be safe to
        start again (the relay's work is idempotent). When the fresh secret holds the same credentials, or
        they are rejected again, the error propagates and the next invocation reads the secret afresh.
        """
        client = self.client()
        try:
            return work(client)
        except RefusedError:
            self._distrust_cache = True
            fresh = self.credentials(force=True)
            if fresh == self._credentials:
                self._distrust_cache = True
                raise
            try:
                return work(self.client())
            except RefusedError:
                self._distrust_cache = True
                raise

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

"""What a function keeps warm between invocations: settings, AWS clients, the ledger.

The functions that talk to Flatfile (the poller, the exporter) use `flatfile_relay.connection.FlatfileRuntime`,
which adds the Flatfile connection; the webhook and the consumer never import the HTTP client.

Each part is built on first use (never at import) and then reused while the execution environment lives.
A part whose construction fails (a missing setting, say) is not kept, so a fix applies at the next
invocation.

Example:
    >>> runtime = Runtime("ledger_table")   # nothing is read or created yet
    >>> runtime.ledger                      # doctest: +SKIP
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from flatfile_relay.aws import AwsClients
from flatfile_relay.settings import Settings

if TYPE_CHECKING:
    from flatfile_relay.ledger import Ledger

__all__ = ["Runtime"]


class Runtime:
    """The lazily built state of one function; `required` names the settings it cannot do without."""

    def __init__(self, *required: str) -> None:
        self._required = required

    @cached_property
    def settings(self) -> Settings:
        settings = Settings.from_env()
        settings.require(*self._required)
        return settings

    @cached_property
    def clients(self) -> AwsClients:
        return AwsClients()

    @cached_property
    def ledger(self) -> Ledger:
        from flatfile_relay.ledger import Ledger  # deferred: see DEFERRED_IMPORTS (the consumer has no ledger)

        return Ledger(self.settings.ledger_table, self.clients.dynamodb)

    def reset(self) -> None:
        """Forget everything built so far, as a new execution environment would (tests use it)."""
        for name in ("settings", "clients", "ledger"):
            self.__dict__.pop(name, None)

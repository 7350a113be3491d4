"""Recorders for what the code under test did: Secrets Manager reads, log records."""

from __future__ import annotations

import logging
from typing import Any


def counting_secrets() -> Any:
    """A Powertools SecretsProvider that counts its reads of Secrets Manager (cache hits are not reads)."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    class CountingSecrets(SecretsProvider):
        reads = 0

        def _get(self, name: str, **sdk_options: Any) -> str | bytes:
            self.reads += 1
            return super()._get(name, **sdk_options)

    return CountingSecrets()


class Records(logging.Handler):
    """Collects the log records a logger emits."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at(self, level: str) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelname == level]

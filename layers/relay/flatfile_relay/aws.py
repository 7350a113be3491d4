"""AWS clients, created on first use and reused for the life of the execution environment.

boto3 clients are built the standard way, so `AWS_ENDPOINT_URL` (and the per-service variants)
redirect every call — that is how local runs and tests reach moto.

Example:
    >>> clients = AwsClients(boto3.session.Session(region_name="eu-west-1"))   # nothing is created yet
    >>> clients.s3.meta.region_name                                         # built now, then reused
    'eu-west-1'
    >>> clients.s3 is clients.s3
    True
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

__all__ = ["AwsClients"]

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


class AwsClients:
    """The boto3 clients a function uses, each built lazily on first access."""

    def __init__(self, session: Any | None = None) -> None:
        self._session = session

    def _client(self, service: str) -> Any:
        session = self._session or boto3.session.Session()
        return session.client(service, config=_CONFIG)

    @cached_property
    def s3(self) -> Any:
        return self._client("s3")

    @cached_property
    def sqs(self) -> Any:
        return self._client("sqs")

    @cached_property
    def events(self) -> Any:
        return self._client("events")

    @cached_property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @cached_property
    def secretsmanager(self) -> Any:
        return self._client("secretsmanager")

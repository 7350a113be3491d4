"""AWS clients, created on first use and reused for the life of the execution environment.

boto3 clients are built the standard way, so `AWS_ENDPOINT_URL` (and the per-service variants)
redirect every call — that is how local runs and tests reach moto.

Two configurations: `STANDARD` (six attempts, 30 s reads) for the functions that work in the background, and
`PROMPT` (two attempts, 2 s to connect, 5 s to read) for the webhook, which must answer its caller within its
own 30 s timeout. Given a `deadline` (a callable returning the invocation's `Deadline`, or None), the clients
refuse to start a call that could outlast it (`DeadlineExceededError`): an AWS that answers slowly ends in a
clean error the function turns into an answer (the webhook's 503), never in Lambda's timeout (a 502).

Example:
    >>> clients = AwsClients(boto3.session.Session(region_name="eu-west-1"))   # nothing is created yet
    >>> clients.s3.meta.region_name                                         # built now, then reused
    'eu-west-1'
    >>> clients.s3 is clients.s3
    True
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from flatfile_relay.deadline import Deadline, DeadlineExceededError

__all__ = ["PROMPT", "STANDARD", "AwsClients", "longest_call"]

STANDARD = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
"""For work in the background (poller, exporter, consumer): patient retries (six attempts in all)."""
PROMPT = Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=2, read_timeout=5)
"""For a function that answers a caller within its timeout (the webhook): one retry, short waits."""

#: longest wait botocore's standard retry mode makes before a second attempt (random, up to base * 2^0 s)
_FIRST_BACKOFF = 1.0


def longest_call(config: Config) -> float:
    """Seconds one call may take at most with `config`: every attempt connecting and reading as long as
    allowed, and the backoff between attempts.

    Example:
        >>> longest_call(PROMPT)
        15.0
    """
    retries = config.retries or {}
    # botocore's `max_attempts` counts the retries (it becomes `total_max_attempts` - 1 when a client is made)
    attempts = int(retries.get("total_max_attempts", int(retries.get("max_attempts", 4)) + 1))
    waits = sum(min(_FIRST_BACKOFF * 2.0**attempt, 20.0) for attempt in range(attempts - 1))
    per_attempt = float(config.connect_timeout) + float(config.read_timeout)
    return attempts * per_attempt + waits


class AwsClients:
    """The boto3 clients a function uses, each built lazily on first access.

    `config` is `STANDARD` or `PROMPT`; `deadline`, when given, returns the invocation's deadline (or None),
    and no call starts that `longest_call` says could outlast it.
    """

    def __init__(self, session: Any | None = None, *, config: Config = STANDARD,
                 deadline: Callable[[], Deadline | None] | None = None) -> None:
        self._session = session
        self._config = config
        self._deadline = deadline

    def _client(self, service: str) -> Any:
        session = self._session or boto3.session.Session()
        client = session.client(service, config=self._config)
        if self._deadline is not None:
            client.meta.events.register("before-call", self._refuse_past_deadline)
        return client

    def _refuse_past_deadline(self, model: Any, **_: Any) -> None:
        deadline = self._deadline() if self._deadline is not None else None
        if deadline is None:
            return
        needed, left = longest_call(self._config), deadline.remaining()
        if left < needed:
            raise DeadlineExceededError(
                f"Stopped before {model.service_model.service_id} {model.name}: {left:.1f}s left, and one call may "
                f"take {needed:.0f}s; the caller can try again later"
            )

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

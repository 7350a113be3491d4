"""`{"mode": "check"}`: verify the configuration step by step, writing nothing.

Steps, in order: the secret parses (and turns which sources on); for the legacy API, the access key exchanges
for a token, one page of the batch list with the license key, one GraphQL query with the bearer token; for the
Flatfile Platform, the secret key opens its environment (`GET /environments/{id}`) and one page of its job list
(which also says which submit operations the relay looks for); then the ledger, the bucket and each queue answer
a read-only call; the alarms notify someone. A source's steps are there when the secret holds its keys (in part
or in full), or when the secret cannot be read at all. A failed step does not stop the others (a step that needs
an earlier one's result says so); the answer always holds one line per step, `ok`, a `warning` (the relay works,
but something deserves a look) or the problem, and `sources`: which are on. A failed check is an answer, not a
failed invocation; `ok` is true when no step failed.

Example:
    >>> report = check(connection, clients, settings, deadline)      # doctest: +SKIP
    >>> report["steps"]["batch list"]                                 # doctest: +SKIP
    'error: Flatfile refused the batch list (HTTP 403): the licenseKey in the secret is not a license ...'
    >>> report["steps"]["platform jobs"]                              # doctest: +SKIP
    'ok (3 jobs in environment us_env_…; the relay exports the ready jobs of workbook:submitActionFg)'
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from flatfile_relay.aws import AwsClients
from flatfile_relay.connection import FlatfileConnection
from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile import FlatfileClient, NotFoundError
from flatfile_relay.ids import LEGACY, PLATFORM, SOURCES
from flatfile_relay.operations.problems import describe
from flatfile_relay.secret import FlatfileSecret
from flatfile_relay.settings import Settings

__all__ = ["OK", "check", "queues"]

OK = "ok"
WARNING = "warning"
NOBODY = "warning: alarms notify no one: neither AlertEmail nor AlertTopicArn is set; redeploy with one"

Step = Callable[..., None]  # step(name, action, needs=None): runs one step and records its line


def check(
    connection: FlatfileConnection, clients: AwsClients, settings: Settings, deadline: Deadline
) -> dict[str, Any]:
    """Run every step; `{"mode": "check", "ok": bool, "sources": {source: "on" | "off: ..." | "error: ..."},
    "steps": {step: "ok" | "error: ..." | "skipped: ..."}}`."""
    steps: dict[str, str] = {}
    found: dict[str, Any] = {}

    def step(name: str, action: Callable[[], str | None], needs: str | None = None) -> None:
        if needs is not None and steps.get(needs) != OK and not steps.get(needs, "").startswith(OK + " "):
            steps[name] = f"skipped: needs the {needs} step"
            return
        try:
            steps[name] = action() or OK
        except Exception as error:  # noqa: BLE001 - every failure is reported in its step's line
            steps[name] = f"error: {describe(error)}"

    def secret() -> None:
        found["secret"] = connection.secret(force=True)  # what the next poll would read (no cache)

    step("secret", secret)
    secret_value: FlatfileSecret | None = found.get("secret")
    if secret_value is None or _mentions(secret_value, LEGACY):
        _legacy_steps(step, connection, deadline)
    if secret_value is None or _mentions(secret_value, PLATFORM):
        _platform_steps(step, connection, settings, deadline)
    step("ledger", lambda: _ledger(clients, settings))
    step("bucket", lambda: _bucket(clients, settings))
    for label, url in queues(settings).items():
        step(label, lambda url=url: _queue(clients, url))  # type: ignore[misc]
    if settings.alert_topics is not None:
        step("alarms", lambda: _alarms(settings))
    ok = all(line.startswith((OK, WARNING)) for line in steps.values())
    return {"mode": "check", "ok": ok, "sources": _sources(secret_value), "steps": steps}


def _mentions(secret: FlatfileSecret, source: str) -> bool:
    """The secret turns `source` on, or holds some of its keys."""
    return source in secret.sources or any(name == source for name, _ in secret.problems)


def _sources(secret: FlatfileSecret | None) -> dict[str, str]:
    """Each source: `on`, `off` (no keys), or the problem with its keys (`error: ...`)."""
    if secret is None:
        return {}
    problems = dict(secret.problems)
    return {source: "on" if source in secret.sources else
            f"error: {describe(problems[source])}" if source in problems else "off: the secret has no keys of it"
            for source in SOURCES}


def _legacy_steps(step: Step, connection: FlatfileConnection, deadline: Deadline) -> None:
    """The legacy API: the token exchange, a page of the batch list, a GraphQL query."""
    found: dict[str, Any] = {}

    def client() -> FlatfileClient:
        if "client" not in found:
            found["client"] = connection.client(LEGACY)  # the problem with its keys, when they are there in part
        legacy: FlatfileClient = found["client"]
        return legacy

    def token() -> None:
        legacy = client()
        legacy.token_auth.invalidate()  # a token kept from an earlier invocation proves nothing
        legacy.token_auth.token(deadline, legacy.transport)

    def batch_list() -> str:
        page = client().list_batches(0, 1, deadline)
        found["batch"] = page.items[0]["id"] if page.items else None
        return f"ok ({page.total} batches listed for the license)"

    def graphql() -> None:
        # any batch will do: a known one when the list had one, else an id nobody has (not found: the token
        # was accepted all the same)
        with suppress(NotFoundError):
            client().graphql_get_batch(found.get("batch") or str(uuid.uuid4()), deadline)

    step("token exchange", token, needs="secret")
    step("batch list", batch_list, needs="secret")
    step("graphql", graphql, needs="token exchange")


def _platform_steps(step: Step, connection: FlatfileConnection, settings: Settings, deadline: Deadline) -> None:
    """The Flatfile Platform: the environment (the key and the environment id belong together), a page of jobs."""

    def environment() -> str:
        answer = connection.client(PLATFORM).get_environment(deadline)
        name = answer.get("name")
        return f"ok (environment {answer.get('id')}{f', {name}' if isinstance(name, str) else ''})"

    def jobs() -> str:
        client = connection.client(PLATFORM)
        page = client.list_jobs(deadline, page_size=1, sort_direction="desc")
        count = page.total_count if page.total_count is not None else len(page.jobs)
        names = ", ".join(f"workbook:{operation}" for operation in settings.platform_operations)
        return (f"ok ({count} jobs in environment {client.environment_id}; the relay exports the ready jobs of "
                f"{names})")

    step("platform environment", environment, needs="secret")
    step("platform jobs", jobs, needs="platform environment")


def queues(settings: Settings) -> dict[str, str]:
    """The queues the poller's environment names, by label (a DLQ whose variable is unset is left out)."""
    named = {
        "export-jobs queue": settings.export_jobs_queue_url,
        "notices queue": settings.notices_queue_url,
        "export-jobs DLQ": settings.export_jobs_dlq_url,
        "notices DLQ": settings.notices_dlq_url,
        "consumer queue": settings.consumer_queue_url,
        "consumer DLQ": settings.consumer_dlq_url,
        "poller DLQ": settings.poller_dlq_url,
    }
    return {label: url for label, url in named.items() if url}


def _ledger(clients: AwsClients, settings: Settings) -> str:
    table = clients.dynamodb.describe_table(TableName=settings.ledger_table)["Table"]
    return f"ok ({table.get('TableStatus', 'status unknown')})"


def _bucket(clients: AwsClients, settings: Settings) -> None:
    # a listing under the relay's prefix: what the poller's IAM policy allows (not HeadBucket, which would
    # need s3:ListBucket on the whole bucket)
    clients.s3.list_objects_v2(Bucket=settings.export_bucket, Prefix=settings.export_prefix, MaxKeys=1)


def _alarms(settings: Settings) -> str:
    """Who the alarms notify (the template's ALERT_TOPICS): a warning when no one."""
    topics = settings.alert_topics or ()
    return f"ok (alarms notify {', '.join(topics)})" if topics else NOBODY


def _queue(clients: AwsClients, url: str) -> None:
    clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])


__all__ = ["OK", "check", "queues"]

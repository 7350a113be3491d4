"""`{"mode": "check"}`: verify the configuration step by step, writing nothing.

Steps, in order: the secret parses; the access key exchanges for a token; one page of the batch list with
the license key; one GraphQL query with the bearer token; the ledger, the bucket and each queue answer a
read-only call; the alarms notify someone. A failed step does not stop the others (a step that needs an
earlier one's result says so); the answer always holds one line per step, `ok`, a `warning` (the relay works,
but something deserves a look) or the problem. A failed check is an answer, not a failed invocation; `ok` is
true when no step failed.

Example:
    >>> report = check(connection, clients, settings, deadline)      # doctest: +SKIP
    >>> report["steps"]["batch list"]                                 # doctest: +SKIP
    'error: Flatfile refused the batch list (HTTP 403): the licenseKey in the secret is not a license ...'
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
from flatfile_relay.operations.problems import describe
from flatfile_relay.settings import Settings

__all__ = ["OK", "check", "queues"]

OK = "ok"
WARNING = "warning"
NOBODY = "warning: alarms notify no one: neither AlertEmail nor AlertTopicArn is set; redeploy with one"


def check(
    connection: FlatfileConnection, clients: AwsClients, settings: Settings, deadline: Deadline
) -> dict[str, Any]:
    """Run every step; `{"mode": "check", "ok": bool, "steps": {step: "ok" | "error: ..." | "skipped: ..."}}`."""
    steps: dict[str, str] = {}
    found: dict[str, Any] = {}

    def step(name: str, action: Callable[[], str | None], needs: str | None = None) -> None:
        if needs is not None and steps.get(needs) != OK:
            steps[name] = f"skipped: needs the {needs} step"
            return
        try:
            steps[name] = action() or OK
        except Exception as error:  # noqa: BLE001 - every failure is reported in its step's line
            steps[name] = f"error: {describe(error)}"

    def secret() -> None:
        connection.credentials(force=True)  # what the next poll would read (no cache)
        found["client"] = connection.client()

    def token() -> None:
        client: FlatfileClient = found["client"]
        client.token_auth.invalidate()  # a token kept from an earlier invocation proves nothing
        client.token_auth.token(deadline, client.transport)

    def batch_list() -> str:
        client: FlatfileClient = found["client"]
        page = client.list_batches(0, 1, deadline)
        found["batch"] = page.items[0]["id"] if page.items else None
        return f"ok ({page.total} batches listed for the license)"

    def graphql() -> None:
        client: FlatfileClient = found["client"]
        # any batch will do: a known one when the list had one, else an id nobody has (not found: the token
        # was accepted all the same)
        with suppress(NotFoundError):
            client.graphql_get_batch(found.get("batch") or str(uuid.uuid4()), deadline)

    step("secret", secret)
    step("token exchange", token, needs="secret")
    step("batch list", batch_list, needs="secret")
    step("graphql", graphql, needs="token exchange")
    step("ledger", lambda: _ledger(clients, settings))
    step("bucket", lambda: _bucket(clients, settings))
    for label, url in queues(settings).items():
        step(label, lambda url=url: _queue(clients, url))  # type: ignore[misc]
    if settings.alert_topics is not None:
        step("alarms", lambda: _alarms(settings))
    ok = all(line.startswith((OK, WARNING)) for line in steps.values())
    return {"mode": "check", "ok": ok, "steps": steps}


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

"""Every metric an alarm or the dashboard watches is one the functions actually emit.

The pipeline runs through the local runner (template.yaml's resources in moto, the emulator over HTTP, every
handler invoked like Lambda), along the good paths and the failing ones: a throttled Flatfile, a webhook
accepted and one rejected, export jobs and notices that fail, polls of both sources and a poll of each that
fails, a secret still holding its placeholders, a webhook event that is not an upload, a webhook that cannot
read its secret, a batch whose counts never agree with its rows. The EMF documents the handlers printed are
collected; each metric of the relay's namespace that template.yaml watches must be among them with the same
dimensions (an alarm on a metric nobody emits would never fire).
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.cloudwatch import NAMESPACE, Watched, alarm_metrics, dashboard_metrics, emitted_metrics

from flatfile_relay.jobs import ExportJob
from flatfile_relay_devkit.emulator import Emulator, EmulatorConfig, FaultRule
from flatfile_relay_devkit.local.runner import LocalRun
from flatfile_relay_devkit.local.template import load_yaml

ROOT = Path(__file__).resolve().parents[3]
PLACEHOLDER = "REPLACE_ME"


def webhook_event(token: str, batch_id: str, event_type: str = "batch:v1:upload") -> dict[str, Any]:
    """events/webhook.json for another batch, with this token (and event type)."""
    event: dict[str, Any] = json.loads((ROOT / "events" / "webhook.json").read_text(encoding="utf-8"))
    body = json.loads(event["body"])
    body["data"]["meta"]["batch"]["id"] = batch_id
    body["event"]["type"] = event_type
    event["body"] = json.dumps(body)
    event["queryStringParameters"] = {"token": token}
    event["rawQueryString"] = f"token={token}"
    return event


def exercise(run: LocalRun) -> dict[str, Any]:
    """Every path that emits a metric the template watches; returns what the steps answered."""
    answers: dict[str, Any] = {}
    secrets, secret_id = run.clients.secretsmanager, run.settings.secret_id
    good = dict(run.emulator.secret)
    token = good["webhookToken"]

    def put_secret(value: dict[str, str]) -> None:
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))

    # the good path, with Flatfile throttling once: poll (first copy), export, consume
    run.emulator.inject(FaultRule(kind="429", path="/rest/batches", count=1, retry_after=0.01))
    run.cycle()
    # the webhook: one delivery accepted (its batch is exported: a lag measured from the submission), one
    # rejected
    submitted = next(b["id"] for b in run.emulator.state.account_batches() if b["status"] == "submitted")
    run.clients.dynamodb.delete_item(TableName=run.settings.ledger_table, Key={"batchId": {"S": submitted}})
    answers["accepted"] = run.lambdas.invoke("WebhookFunction", webhook_event(token, submitted))
    answers["rejected"] = run.lambdas.invoke("WebhookFunction", webhook_event("wrong-token", submitted))
    # an event that is not an upload: 200, nothing queued, counted
    answers["ignored"] = run.lambdas.invoke("WebhookFunction", webhook_event(token, submitted, "space:v1:created"))
    # an export job and a notice nobody can use: they fail (and end in their DLQs)
    run.clients.sqs.send_message(QueueUrl=run.settings.export_jobs_queue_url, MessageBody="not a job")
    # a batch whose counts never agree with its rows: it ends in the DLQ (ReconciliationFailed)
    skewed = run.emulator.state.add_batch("submitted")["id"]
    run.emulator.state.add_rows(skewed, [{"sku": "S-1"}])
    run.emulator.state.skew_counts(skewed, countRows=1)
    run.clients.sqs.send_message(QueueUrl=run.settings.export_jobs_queue_url,
                                 MessageBody=ExportJob.create(skewed, trigger="webhook").to_message())
    run.export()
    run.clients.sqs.send_message(QueueUrl=run.deployment.refs["ConsumerQueue"], MessageBody='{"not": "a notice"}')
    run.consume()
    # both sources: a poll of each (metrics with the Source dimension)
    both = {**good, **run.emulator.platform_secret}
    put_secret(both)
    answers["both sources"] = run.poll()
    # a poll that fails: the license key is not this account's (the Platform is polled all the same)
    put_secret({**both, "licenseKey": str(uuid.uuid4())})
    with pytest.raises(Exception, match="license") as failed:
        run.poll()
    answers["failed poll"] = type(failed.value).__name__
    # and one whose Platform key is refused (the legacy API is polled all the same)
    put_secret({**both, "platformSecretKey": "sk_" + "w" * 32})
    with pytest.raises(Exception, match="secret key") as refused:
        run.poll()
    answers["refused platform poll"] = type(refused.value).__name__
    # a secret still holding the placeholders: the poll succeeds without polling
    put_secret({"accessKeyId": PLACEHOLDER, "secretAccessKey": PLACEHOLDER, "licenseKey": PLACEHOLDER})
    answers["not configured poll"] = run.poll()
    # a webhook secret the webhook cannot use at all: 500
    secrets.put_secret_value(SecretId=run.deployment.refs["WebhookSecret"], SecretString="[]")
    answers["broken webhook"] = run.lambdas.invoke("WebhookFunction", webhook_event(token, submitted))
    return answers


@pytest.fixture(scope="module")
def emitted(moto_server: Any) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    moto_server.reset()
    printed = io.StringIO()
    with Emulator(EmulatorConfig(), host="127.0.0.1", port=0) as emulator, contextlib.redirect_stdout(printed):
        # secrets read afresh at every invocation: the steps change the secret between invocations
        run = LocalRun(ROOT, emulator, moto_server, env_overrides={"POWERTOOLS_PARAMETERS_MAX_AGE": "0"})
        answers = exercise(run)
    assert answers["accepted"]["statusCode"] == 202
    assert answers["rejected"]["statusCode"] == 401
    assert answers["failed poll"] == "LicenseForbiddenError"
    assert answers["refused platform poll"] == "CredentialsRejectedError"
    assert set(answers["both sources"]["sources"]) == {"legacy", "platform"}
    assert answers["not configured poll"]["status"] == "not-configured"
    assert answers["ignored"]["statusCode"] == 200
    assert answers["broken webhook"]["statusCode"] == 500
    return emitted_metrics(printed.getvalue())


@pytest.fixture(scope="module")
def watched() -> list[Watched]:
    template = load_yaml(ROOT / "template.yaml")
    assert isinstance(template, dict)
    return alarm_metrics(template) + dashboard_metrics(template)


def local_dimensions(watched: Watched) -> tuple[tuple[str, str], ...]:
    """The dimensions as the local run emits them: it names each function by its logical id."""
    return tuple((name, value.removeprefix("!Ref ")) for name, value in watched.dimensions)


def test_every_watched_relay_metric_is_emitted_with_the_same_dimensions(
    emitted: set[tuple[str, str, tuple[tuple[str, str], ...]]], watched: list[Watched]
) -> None:
    ours = [w for w in watched if w.namespace == NAMESPACE]
    assert len({w.name for w in ours}) >= 15
    missing = [
        f"{w.where}: {w.name} {dict(w.dimensions)}"
        for w in ours
        if (w.namespace, w.name, local_dimensions(w)) not in emitted
    ]
    assert missing == [], "watched but never emitted:\n" + "\n".join(missing)


def test_each_function_reports_its_cold_start(emitted: set[tuple[str, str, tuple[tuple[str, str], ...]]]) -> None:
    cold = {dict(dimensions)["function_name"] for namespace, name, dimensions in emitted if name == "ColdStart"}
    assert cold == {"PollerFunction", "ExporterFunction", "WebhookFunction", "ConsumerFunction"}


def test_only_the_relay_namespace_is_emitted(emitted: set[tuple[str, str, tuple[tuple[str, str], ...]]]) -> None:
    """AWS namespaces (SQS, Lambda) are CloudWatch's own: their alarms name the stack's resources instead
    (tests/unit/test_template_operations.py)."""
    assert {namespace for namespace, _, _ in emitted} == {NAMESPACE}

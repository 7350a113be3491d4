"""functions/exporter/app.py with Platform jobs: dispatched by the job's source, a configuration error naming the
missing keys, and the last delivery (real SQS semantics: receive counts and the redrive to the DLQ) failing the
job with the data safe in Flatfile."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from support.functions import ROOT
from support.platform_export import job_posts, unlocked
from support.relay import Relay

from flatfile_relay.jobs import ExportJob
from flatfile_relay.ledger import EXPORTED
from flatfile_relay.platform_export import GIVE_UP_MESSAGE
from flatfile_relay_devkit.emulator import FaultRule
from flatfile_relay_devkit.local.lambda_runtime import LocalLambda


@pytest.fixture
def relay(platform_relay: Callable[..., Relay]) -> Relay:
    """The exporter's relay (parts of up to 1,000 rows) with both sources' keys and the emulator's samples."""
    return platform_relay(part_max_rows=1000)


def body(job_id: str, trigger: str = "schedule") -> str:
    return ExportJob.create(job_id, trigger=trigger).to_message()


def test_the_handler_exports_each_job_from_its_own_source(relay: Relay,
                                                          captured_logs: pytest.CaptureFixture[str]) -> None:
    job_id = relay.submit("customers_orders")
    batch_id = relay.emu.samples["single"]

    assert relay.invoke_exporter([body(job_id), body(batch_id)]) == {"batchItemFailures": []}

    assert relay.entry(job_id).state == relay.entry(batch_id).state == EXPORTED
    notices = {notice["batchId"]: notice for notice in relay.notice_bodies()}
    assert (notices[job_id]["source"], notices[job_id]["rowCount"]) == ("platform", 42)
    assert notices[batch_id]["source"] == "legacy"
    assert relay.emu.platform.job(job_id)["outcome"] == {"message": "Exported 42 records to AWS"}
    logged = [json.loads(line) for line in captured_logs.readouterr().out.splitlines()
              if line.startswith("{") and '"level"' in line]
    assert any(line["message"] == f"export job for batch {job_id}: exported" for line in logged)


def test_a_platform_job_while_the_secret_holds_no_platform_keys_names_them(
    relay: Relay, captured_logs: pytest.CaptureFixture[str]
) -> None:
    relay.put_secret(relay.emu.secret)  # the legacy keys only
    job_id = relay.submit("products")

    assert relay.invoke_exporter([body(job_id)]) == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}

    [error] = [json.loads(line) for line in captured_logs.readouterr().out.splitlines()
               if line.startswith("{") and '"level":"ERROR"' in line]
    assert error["error_kind"] == "configuration"
    assert "platformSecretKey, platformEnvironmentId" in error["message"]
    assert "exception" not in error
    assert relay.emu.platform.job(job_id)["status"] == "ready"  # untouched
    assert relay.emu.requests_to("/v1/") == []


def test_the_last_delivery_fails_the_job_and_the_message_reaches_the_dlq(relay: Relay) -> None:
    job_id = relay.submit("customers_orders")
    relay.emu.inject(FaultRule(kind="503", path="/v1/sheets/*/records", count=None))
    relay.sqs.send_message(QueueUrl=relay.queue_url, MessageBody=body(job_id))
    runtime = LocalLambda(relay.deployment, ROOT, env_overrides={**relay.env, "FLATFILE_MAX_ATTEMPTS": "1"})

    report = runtime.drain("ExporterFunction")

    assert (report.delivered, report.failed, report.succeeded) == (5, 5, 0)  # maxReceiveCount, then the DLQ
    [dead] = relay.drain(relay.deployment.refs["ExportJobsDLQ"])
    assert json.loads(dead["Body"])["batchId"] == job_id
    job = relay.emu.platform.job(job_id)
    assert (job["status"], job["outcome"]) == ("failed", {"message": GIVE_UP_MESSAGE})
    [failed] = job_posts(relay, job_id, "fail")
    records = relay.emu.requests_to("/v1/sheets/", "GET")
    assert failed.at >= max(record.at for record in records)  # on the last delivery, not before
    assert len(job_posts(relay, job_id, "ack")) == 1
    assert job_posts(relay, job_id, "complete") == []
    assert unlocked(relay, relay.emu.platform.sample_id("customers_orders"))
    assert relay.notices() == []
